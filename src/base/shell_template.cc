#include "base/shell_template.h"

#include <cstring>

#include "base/error.h"

namespace lifeboat {

namespace {

bool separates_words(char c) { return std::strchr(" \t\n;&|()<>", c) != nullptr; }

// Value as literal text inside '...': each ' closes the quote, adds an
// escaped quote, and reopens.
std::string in_single_quotes(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char c : value) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out;
}

// Inside "...", a backslash keeps its meaning only before \ $ ` " and a
// newline; escaping the first four is what makes any value literal (a
// newline is literal there already).
std::string in_double_quotes(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 8);
  for (char c : value) {
    if (c == '\\' || c == '$' || c == '`' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::string shell_quote(std::string_view value) { return "'" + in_single_quotes(value) + "'"; }

ShellTemplate ShellTemplate::parse(std::string_view text, const std::vector<std::string>& names,
                                   std::string_view what) {
  ShellTemplate t;
  t.text_ = text;
  t.what_ = what;
  auto refuse = [&](const std::string& why) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + " '" + std::string(text) + "': " + why);
  };
  if (text.find_first_not_of(" \t\n") == std::string_view::npos) refuse("the command is empty");
  const std::string script_hint =
      "lifeboat cannot tell how a value would be quoted there; move that logic into a script "
      "and pass the value to it as an argument";

  Quoting q = Quoting::kNone;
  bool word_start = true;
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const char next = i + 1 < text.size() ? text[i + 1] : '\0';
    if (c == '{') {
      bool matched = false;
      for (const auto& name : names) {
        if (text.compare(i + 1, name.size(), name) == 0 && i + 1 + name.size() < text.size() &&
            text[i + 1 + name.size()] == '}') {
          t.pieces_.push_back({std::move(literal), name, q});
          literal.clear();
          i += name.size() + 2;
          word_start = false;
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    if (q == Quoting::kSingle) {
      if (c == '\'') q = Quoting::kNone;
      literal += c;
      ++i;
      continue;
    }
    if (c == '`') refuse("it uses ` ` (command substitution); " + script_hint);
    if (c == '$' && (next == '(' || next == '{'))
      refuse(std::string("it uses $") + next + " " + (next == '(' ? ")" : "}") + "; " + script_hint);
    if (c == '\\') {
      if (i + 1 >= text.size()) refuse("it ends with a backslash");
      literal += text.substr(i, 2);
      i += 2;
      word_start = false;
      continue;
    }
    if (q == Quoting::kDouble) {
      if (c == '"') q = Quoting::kNone;
      literal += c;
      ++i;
      continue;
    }
    // Unquoted.
    if (c == '$' && (next == '\'' || next == '"'))
      refuse(std::string("it uses $") + next + "...; " + script_hint);
    if (c == '<' && next == '<') refuse("it uses a here-document (<<); " + script_hint);
    if (c == '#' && word_start) {  // a comment: runs to the end of the line, nothing in it counts
      size_t end = text.find('\n', i);
      if (end == std::string_view::npos) end = text.size();
      literal += text.substr(i, end - i);
      i = end;
      continue;
    }
    if (c == '\'') q = Quoting::kSingle;
    if (c == '"') q = Quoting::kDouble;
    word_start = separates_words(c);
    literal += c;
    ++i;
  }
  if (q != Quoting::kNone)
    refuse(std::string("a ") + (q == Quoting::kSingle ? "'" : "\"") + " quote is not closed");
  t.pieces_.push_back({std::move(literal), "", Quoting::kNone});
  return t;
}

bool ShellTemplate::uses(std::string_view name) const {
  for (const auto& p : pieces_)
    if (!p.name.empty() && p.name == name) return true;
  return false;
}

std::string ShellTemplate::expand(
    const std::map<std::string, std::string, std::less<>>& values) const {
  std::string out;
  for (const auto& p : pieces_) {
    out += p.literal;
    if (p.name.empty()) continue;
    auto it = values.find(p.name);
    if (it == values.end())
      throw Error(ErrorCode::kInternal, what_ + ": no value for {" + p.name + "}");
    const std::string& v = it->second;
    if (v.find('\0') != std::string::npos)
      throw Error(ErrorCode::kInvalidArgument,
                  what_ + ": the value for {" + p.name + "} contains a NUL byte");
    switch (p.quoting) {
      case Quoting::kNone: out += shell_quote(v); break;
      case Quoting::kSingle: out += in_single_quotes(v); break;
      case Quoting::kDouble: out += in_double_quotes(v); break;
    }
  }
  return out;
}

}  // namespace lifeboat
