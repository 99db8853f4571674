// Command templates: values are quoted for their place, so whatever a
// database server calls a database, the shell sees literal text.
#include "base/shell_template.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/shell_command.h"

namespace lifeboat {
namespace {

// What /bin/sh makes of `command`: each argument of printf on its own line
// between < and >.
std::string run(const std::string& command) {
  ShellCommand c(command, "test command");
  std::string out = c.read_to_end(1 << 20);
  c.finish();
  return out;
}

ShellTemplate parse(const std::string& text) { return ShellTemplate::parse(text, {"db", "account"}, "--t"); }

// Values a database server may well hand us, and some written to break out.
const std::vector<std::string> kNasty = {
    "plain",
    "it's",
    "two words",
    "a\"b",
    "$(touch /tmp/lifeboat-pwned)",
    "`touch /tmp/lifeboat-pwned`",
    "x'; touch /tmp/lifeboat-pwned; echo '",
    "x\"; touch /tmp/lifeboat-pwned; echo \"",
    "back\\slash\\",
    "$HOME ${HOME} $1 $$",
    "semi;colon|pipe&amp>gt<lt",
    "new\nline",
    "*",
    "-n",
    "{db}",
    "ünïcode",
    "\x01\x7f\xff",
};

TEST(ShellTemplate, EveryPlaceKeepsTheValueLiteral) {
  ::unlink("/tmp/lifeboat-pwned");
  // printf '<%s>' prints each argument exactly; the expected output is the
  // value as one argument (or, inside a larger quoted word, that word).
  struct Place {
    std::string tmpl;
    std::string before, after;
  };
  const std::vector<Place> places = {
      {"printf '<%s>' {db}", "<", ">"},
      {"printf '<%s>' x{db}y", "<x", "y>"},
      {"printf '<%s>' '{db}'", "<", ">"},
      {"printf '<%s>' 'a {db} b'", "<a ", " b>"},
      {"printf '<%s>' \"{db}\"", "<", ">"},
      {"printf '<%s>' \"LIKE '{db}\\_%'\"", "<LIKE '", "\\_%'>"},
      {"printf '<%s>' \"a\"{db}'b'", "<a", "b>"},
  };
  for (const auto& place : places) {
    ShellTemplate t = parse(place.tmpl);
    ASSERT_TRUE(t.uses("db")) << place.tmpl;
    for (const auto& value : kNasty) {
      std::string out = run(t.expand({{"db", value}, {"account", "acct"}}));
      EXPECT_EQ(out, place.before + value + place.after) << place.tmpl << " with " << value;
    }
  }
  EXPECT_NE(::access("/tmp/lifeboat-pwned", F_OK), 0) << "a value was run as a command";
}

TEST(ShellTemplate, TheDocumentedMariaDbListCommandForm) {
  // docs/CLI.md: --db-list-command "mysql -N -B -r -e \"SHOW DATABASES LIKE '{account}\_%'\""
  // (here with printf standing in for mysql): the SQL must read LIKE 'alice\_%'.
  ShellTemplate t = parse("printf '%s' \"SHOW DATABASES LIKE '{account}\\_%'\"");
  EXPECT_EQ(run(t.expand({{"account", "alice"}})), "SHOW DATABASES LIKE 'alice\\_%'");
  EXPECT_EQ(run(t.expand({{"account", "o'hara $(id)"}})), "SHOW DATABASES LIKE 'o'hara $(id)\\_%'");
}

TEST(ShellTemplate, OnlyKnownNamesArePlaceholdersAndCommentsDoNotCount) {
  ShellTemplate t = parse("awk '{print}' {db} # not {account}");
  EXPECT_TRUE(t.uses("db"));
  EXPECT_FALSE(t.uses("account"));
  EXPECT_EQ(t.expand({{"db", "x y"}}), "awk '{print}' 'x y' # not {account}");
  // A quote inside a comment does not change how later lines are read.
  ShellTemplate c = parse("true # it's\nprintf '%s' {db}");
  EXPECT_EQ(run(c.expand({{"db", "a;b"}})), "a;b");
  // '#' inside a word is not a comment.
  EXPECT_EQ(run(parse("printf '%s' a#{db}").expand({{"db", "b c"}})), "a#b c");
}

TEST(ShellTemplate, RefusesWhatItCannotFollow) {
  for (const char* bad : {"dump $(cat x) {db}", "dump `cat x` {db}", "dump ${X:-y} {db}",
                          "dump \"$(id)\" {db}", "dump $'a' {db}", "cat <<EOF {db}",
                          "dump '{db}", "dump \"{db}", "dump {db} \\", "", "   "}) {
    try {
      parse(bad);
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
      EXPECT_NE(e.message().find("--t"), std::string::npos) << e.message();
    }
  }
  // The same characters are fine where they are literal.
  EXPECT_NO_THROW(parse("echo '$(x) `y` ${z} <<' {db}"));
  EXPECT_NO_THROW(parse("echo \"<<\" $HOME {db} 2>&1 | gzip"));
}

TEST(ShellTemplate, NulInAValueIsRefused) {
  ShellTemplate t = parse("echo {db}");
  EXPECT_THROW(t.expand({{"db", std::string("a\0b", 3)}}), Error);
}

TEST(ShellQuote, OneLiteralWord) {
  EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
  EXPECT_EQ(shell_quote(""), "''");
}

}  // namespace
}  // namespace lifeboat
