// Command templates: a command line for /bin/sh with {name} placeholders,
// e.g. `mysqldump --single-transaction {db}`, filled with values from
// outside lifeboat's control (database names come from a database server,
// account names from directory names) that must never become shell syntax.
//
// Each value is quoted for the place the placeholder has in the template,
// so it is literal text there whatever bytes it holds:
//   unquoted      mysqldump {db}        ->  mysqldump 'it'\''s'
//   in '...'      -e 'USE {db}'         ->  -e 'USE it'\''s'
//   in "..."      -e "LIKE '{db}%'"     ->  -e "LIKE 'it's%'"  (\ $ ` " escaped)
// To know the place, the template's quoting is followed (quotes,
// backslashes, comments). Templates whose quoting cannot be followed that
// simply are refused rather than guessed at: command substitution $( ) and
// ` `, ${ } expansions, $'...', here-documents (<<). Such logic belongs in a
// script that takes the value as an argument: `dump-one.sh {db}`.
//
// Only the names given to parse() are placeholders; any other {text} (an
// awk program, say) is left as it is.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace lifeboat {

class ShellTemplate {
 public:
  // Throws Error(kInvalidArgument) "<what> ...: <reason>" if the template is
  // empty, its quotes are unbalanced, or it uses a construct listed above.
  static ShellTemplate parse(std::string_view text, const std::vector<std::string>& names,
                             std::string_view what);

  // Whether {name} occurs as a placeholder (not in a comment).
  bool uses(std::string_view name) const;
  // The command line with every placeholder replaced by its value, quoted
  // for its place. Throws Error(kInvalidArgument) if a used name has no
  // value or a value contains a NUL byte (a shell cannot take one).
  std::string expand(const std::map<std::string, std::string, std::less<>>& values) const;

  const std::string& text() const { return text_; }

 private:
  enum class Quoting { kNone, kSingle, kDouble };
  struct Piece {
    std::string literal;  // template text before the placeholder (or the tail)
    std::string name;     // empty for the tail
    Quoting quoting = Quoting::kNone;
  };
  std::string text_;
  std::string what_;
  std::vector<Piece> pieces_;
};

// Quotes `value` as one literal shell word: it's -> 'it'\''s'.
std::string shell_quote(std::string_view value);

}  // namespace lifeboat
