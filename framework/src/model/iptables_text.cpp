// iptables rule lines as a user types them after `iptables`, read into the
// input of iptables-restore. Pure text work: validation runs it without
// privilege, and the lab loads what it renders.
#include "iptables_text.h"

#include "nslab/values.h"

#include <algorithm>
#include <map>
#include <optional>
#include <fmt/format.h>

namespace nslab {

SourceLocation line_of(const SourceLocation& first, int index) {
  SourceLocation w = first;
  if (w.known()) w.line += index;
  return w;
}

namespace {

// `column` counts bytes from the start of that line of the rules.
SourceLocation at(const SourceLocation& first, int index, int column) {
  SourceLocation w = line_of(first, index);
  if (w.known()) w.column += column;
  return w;
}

struct Word {
  std::string text;
  bool quoted = false;  // some of it was quoted or escaped: never an option
  int line = 0;         // index of its line in the rules
  int column = 0;
};

// One rule line (continued lines joined): its words and where it starts.
struct Command {
  std::vector<Word> words;
  int line = 0;
  std::string source;  // as written, for messages
};

std::string shown(char c) {
  return fmt::format("0x{:02x}", static_cast<unsigned>(static_cast<unsigned char>(c)));
}

// Splits rule lines into words as sh does, without expanding anything:
// blanks separate words, '...' keeps everything, "..." keeps everything but
// \" \\ \$ \` (backslash escapes), a backslash outside quotes escapes the next
// character, a backslash at the end of a line continues the rule on the next,
// and '#' at the start of a word starts a comment. A quote must close on its
// line. Control characters are refused: no tool would see them as typed.
std::vector<Command> tokenise(std::string_view text, const SourceLocation& where) {
  std::vector<Command> out;
  Command cur;
  Word word;
  bool in_word = false;
  int line = 0;
  std::size_t line_start = 0, command_start = 0;
  auto column = [&](std::size_t i) { return static_cast<int>(i - line_start); };
  auto fail = [&](std::size_t i, const std::string& what) {
    throw ConfigError(fmt::format("iptables line {}: {}", line + 1, what), at(where, line, column(i)));
  };
  auto start_word = [&](std::size_t i) {
    if (in_word) return;
    if (cur.words.empty()) {
      cur.line = line;
      command_start = i;
    }
    in_word = true;
    word.line = line;
    word.column = column(i);
  };
  auto end_word = [&] {
    if (!in_word) return;
    cur.words.push_back(std::move(word));
    word = Word{};
    in_word = false;
  };
  auto end_command = [&](std::size_t i) {
    end_word();
    if (!cur.words.empty()) {
      std::string src(text.substr(command_start, i - command_start));
      std::string flat;
      for (std::size_t k = 0; k < src.size(); ++k) {
        if (src[k] == '\\' && k + 1 < src.size() && src[k + 1] == '\n') {
          ++k;
          continue;
        }
        flat += src[k] == '\n' ? ' ' : src[k];
      }
      while (!flat.empty() && (flat.back() == ' ' || flat.back() == '\t' || flat.back() == '\r')) flat.pop_back();
      cur.source = flat;
      out.push_back(std::move(cur));
    }
    cur = Command{};
  };
  auto control = [](char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f; };
  auto newline = [&](std::size_t i) {  // text[i] is '\n'
    ++line;
    line_start = i + 1;
  };
  std::size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n') {
      end_command(i);
      newline(i);
      ++i;
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      ++i;  // CRLF ends a line like LF
    } else if (c == ' ' || c == '\t') {
      end_word();
      ++i;
    } else if (c == '#' && !in_word) {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '\\') {
      if (i + 1 < text.size() && text[i + 1] == '\n') {
        end_word();  // sh joins the lines; a word never spans them here
        newline(i + 1);
        i += 2;
        continue;
      }
      if (i + 1 >= text.size()) break;  // a backslash at the very end continues nothing
      if (control(text[i + 1])) fail(i + 1, fmt::format("control character {} after a backslash", shown(text[i + 1])));
      start_word(i);
      word.text += text[i + 1];
      word.quoted = true;
      i += 2;
    } else if (c == '\'' || c == '"') {
      start_word(i);
      word.quoted = true;
      std::size_t open = i++;
      for (;;) {
        if (i >= text.size() || text[i] == '\n')
          fail(open, fmt::format("unterminated {} quote (a quote must close on its line)", c));
        char q = text[i];
        if (q == c) {
          ++i;
          break;
        }
        if (c == '"' && q == '\\' && i + 1 < text.size() &&
            (text[i + 1] == '"' || text[i + 1] == '\\' || text[i + 1] == '$' || text[i + 1] == '`')) {
          word.text += text[i + 1];
          i += 2;
          continue;
        }
        if (control(q)) fail(i, fmt::format("control character {} inside quotes", shown(q)));
        word.text += q;
        ++i;
      }
    } else if (control(c)) {
      fail(i, fmt::format("control character {}", shown(c)));
    } else {
      start_word(i);
      word.text += c;
      ++i;
    }
  }
  end_command(text.size());
  return out;
}

// A word as iptables-restore reads it back: it splits on blanks and
// understands "..." with backslash escapes (and nothing else).
std::string restore_word(const std::string& w) {
  bool plain = !w.empty();
  for (char c : w) plain = plain && c != ' ' && c != '\t' && c != '"' && c != '\'' && c != '\\' && c != '#';
  if (plain) return w;
  std::string out = "\"";
  for (char c : w) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// Names that go unquoted into iptables-restore's ":CHAIN POLICY" lines.
std::optional<std::string> chain_problem(const std::string& chain) {
  if (chain.empty() || chain.size() > 28) return fmt::format("chain name \"{}\" must have 1 to 28 characters", chain);
  if (chain[0] == '-' || chain[0] == '!')
    return fmt::format("chain name \"{}\" cannot start with '{}'", chain, chain[0]);
  for (char c : chain)
    if (c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '\\' || c == '#')
      return fmt::format("chain name \"{}\" cannot hold blanks, quotes, '\\' or '#'", chain);
  return std::nullopt;
}

// The chains a table is born with: only they take a policy (-P), and -N
// cannot make them again.
const std::vector<std::string_view>& builtin_chains(const std::string& table) {
  static const std::map<std::string, std::vector<std::string_view>, std::less<>> chains = {
      {"filter", {"INPUT", "FORWARD", "OUTPUT"}},
      {"nat", {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"}},
      {"mangle", {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}},
      {"raw", {"PREROUTING", "OUTPUT"}},
      {"security", {"INPUT", "FORWARD", "OUTPUT"}},
  };
  return chains.at(table);
}

bool is_builtin(const std::string& table, const std::string& chain) {
  const auto& b = builtin_chains(table);
  return std::find(b.begin(), b.end(), chain) != b.end();
}

std::string builtin_list(const std::string& table) {
  std::string out;
  for (auto c : builtin_chains(table)) out += fmt::format("{}{}", out.empty() ? "" : ", ", c);
  return out;
}

}  // namespace

namespace {

bool known_table(const std::string& t) {
  return t == "filter" || t == "nat" || t == "mangle" || t == "raw" || t == "security";
}

// "[12:345]": the packet and byte counters iptables-save -c writes.
bool counters(const std::string& w) {
  if (w.size() < 5 || w.front() != '[' || w.back() != ']') return false;
  auto colon = w.find(':');
  if (colon == std::string::npos || colon == 1 || colon + 2 >= w.size()) return false;
  for (std::size_t i = 1; i + 1 < w.size(); ++i)
    if (i != colon && (w[i] < '0' || w[i] > '9')) return false;
  return true;
}

}  // namespace

IptablesRules parse_iptables(std::string_view text, const SourceLocation& where) {
  IptablesRules p;
  // The table block ("*filter" ... "COMMIT") being read, and its line.
  std::optional<std::string> block;
  int block_line = 0;
  auto line_no = [&](int index) { return where.known() ? where.line + index : index + 1; };
  auto use = [&](const std::string& table) {
    if (std::find(p.tables.begin(), p.tables.end(), table) == p.tables.end()) p.tables.push_back(table);
  };
  for (auto& cmd : tokenise(text, where)) {
    const int index = cmd.line;
    const std::string& line = cmd.source;
    auto& w = cmd.words;
    auto word_at = [&](const Word& x) { return at(where, x.line, x.column); };
    auto fail = [&](const Word& x, const std::string& why) {
      throw ConfigError(fmt::format("iptables line \"{}\": {}", line, why), word_at(x));
    };
    const std::string& first = w[0].text;
    if (!w[0].quoted && first.size() > 1 && first[0] == '*') {  // "*filter"
      std::string table = first.substr(1);
      if (block)
        fail(w[0], fmt::format("table {} starts before the COMMIT of table {} (line {})", table, *block,
                               line_no(block_line)));
      if (!known_table(table)) {
        std::string hint = closest(table, {"filter", "nat", "mangle", "raw", "security"});
        fail(w[0], fmt::format("table \"{}\" is not filter, nat, mangle, raw or security{}", table,
                               hint.empty() ? "" : fmt::format("; did you mean \"*{}\"?", hint)));
      }
      if (w.size() != 1) fail(w[1], "a table line is \"*TABLE\" alone");
      block = table;
      block_line = index;
      use(table);
      continue;
    }
    if (!w[0].quoted && first == "COMMIT") {
      if (!block) fail(w[0], "COMMIT ends a table that no \"*TABLE\" line started");
      if (w.size() != 1) fail(w[1], "COMMIT stands alone on its line");
      block.reset();
      continue;
    }
    if (!w[0].quoted && first.size() > 1 && first[0] == ':') {  // ":INPUT DROP [0:0]"
      if (!block) fail(w[0], "a chain line \":CHAIN POLICY [0:0]\" belongs inside \"*TABLE\" ... COMMIT");
      std::string chain = first.substr(1);
      if (w.size() < 2 || w.size() > 3 || (w.size() == 3 && !counters(w[2].text)))
        fail(w[0], "a chain line is \":CHAIN POLICY [PACKETS:BYTES]\"");
      if (auto why = chain_problem(chain)) fail(w[0], *why);
      const std::string& policy = w[1].text;
      if (is_builtin(*block, chain)) {
        if (policy != "ACCEPT" && policy != "DROP")
          fail(w[1], fmt::format("the policy of built-in chain {} is ACCEPT or DROP, not \"{}\"", chain, policy));
      } else if (policy != "-") {
        fail(w[1], fmt::format("chain {} is not built into table {} ({}): its policy is \"-\", not \"{}\"", chain,
                               *block, builtin_list(*block), policy));
      }
      p.chains[*block].push_back({index, chain, policy});
      continue;
    }
    if (!w[0].quoted && counters(first)) {  // "[3:180] -A INPUT ...": the counters go
      if (w.size() == 1) fail(w[0], "counters with no rule after them");
      w.erase(w.begin());
    }
    if (!w[0].quoted && (w[0].text == "iptables" || w[0].text == "ip6tables")) w.erase(w.begin());
    std::string table = block.value_or("filter");
    std::vector<Word> rest;
    for (std::size_t i = 0; i < w.size(); ++i) {
      if (!w[i].quoted && (w[i].text == "-t" || w[i].text == "--table") && i + 1 < w.size()) {
        if (block)
          fail(w[i], fmt::format("inside \"*{}\" (line {}) the table is {}; a rule there takes no {}", *block,
                                 line_no(block_line), *block, w[i].text));
        table = w[++i].text;
        if (!known_table(table))
          throw ConfigError(fmt::format("iptables line \"{}\": table \"{}\" is not filter, nat, mangle, raw or "
                                        "security",
                                        line, table),
                            word_at(w[i]));
        continue;
      }
      rest.push_back(std::move(w[i]));
    }
    if (rest.empty()) throw ConfigError(fmt::format("iptables line \"{}\" has no rule", line), line_of(where, index));
    const std::string& op = rest[0].text;
    if (op == "-P" || op == "--policy") {
      if (rest.size() != 3)
        throw ConfigError(fmt::format("iptables line \"{}\": -P takes CHAIN POLICY", line), line_of(where, index));
      if (auto why = chain_problem(rest[1].text))
        throw ConfigError(fmt::format("iptables line \"{}\": {}", line, *why), word_at(rest[1]));
      if (!is_builtin(table, rest[1].text)) {
        std::vector<std::string> names(builtin_chains(table).begin(), builtin_chains(table).end());
        std::string hint = closest(rest[1].text, names);
        throw ConfigError(fmt::format("iptables line \"{}\": -P sets the policy of a built-in chain, and "
                                      "\"{}\" is not one of table {} ({}){}",
                                      line, rest[1].text, table, builtin_list(table),
                                      hint.empty() ? "" : fmt::format("; did you mean \"{}\"?", hint)),
                          word_at(rest[1]));
      }
      if (rest[2].text != "ACCEPT" && rest[2].text != "DROP")
        throw ConfigError(
            fmt::format("iptables line \"{}\": a policy is ACCEPT or DROP, not \"{}\"", line, rest[2].text),
            word_at(rest[2]));
      p.chains[table].push_back({index, rest[1].text, rest[2].text});
    } else if (op == "-N" || op == "--new-chain") {
      if (rest.size() != 2)
        throw ConfigError(fmt::format("iptables line \"{}\": -N takes CHAIN", line), line_of(where, index));
      if (auto why = chain_problem(rest[1].text))
        throw ConfigError(fmt::format("iptables line \"{}\": {}", line, *why), word_at(rest[1]));
      if (is_builtin(table, rest[1].text))
        throw ConfigError(fmt::format("iptables line \"{}\": chain {} is built into table {}; -N makes a new "
                                      "chain",
                                      line, rest[1].text, table),
                          word_at(rest[1]));
      p.chains[table].push_back({index, rest[1].text, "-"});
    } else if (op == "-A" || op == "--append" || op == "-I" || op == "--insert") {
      IptablesRule r;
      r.line = index;
      if (rest.size() < 2 || (!rest[1].quoted && rest[1].text.starts_with("-")))
        throw ConfigError(fmt::format("iptables line \"{}\": {} takes a CHAIN", line, op), word_at(rest[0]));
      r.chain = rest[1].text;
      bool insert = op == "-I" || op == "--insert";
      if (insert) {
        r.insert_at = 1;
        if (rest.size() > 2 && !rest[2].quoted && !rest[2].text.empty() &&
            std::all_of(rest[2].text.begin(), rest[2].text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
          if (rest[2].text.size() > 6 || std::stoi(rest[2].text) < 1)
            fail(rest[2], fmt::format("rule number {} is not from 1 to 999999", rest[2].text));
          r.insert_at = std::stoi(rest[2].text);
        }
      }
      for (const auto& x : rest) r.text += (r.text.empty() ? "" : " ") + restore_word(x.text);
      p.rules[table].push_back(std::move(r));
    } else {
      throw ConfigError(fmt::format("iptables line \"{}\": only -A, -I, -P and -N build a lab's "
                                    "rules (got \"{}\")",
                                    line, op),
                        line_of(where, index));
    }
    use(table);
  }
  if (block)
    throw ConfigError(fmt::format("iptables line {}: table \"*{}\" has no COMMIT: iptables-restore would load "
                                  "none of it",
                                  line_no(block_line), *block),
                      line_of(where, block_line));
  return p;
}

std::string IptablesRules::restore_input() const {
  std::string out;
  for (const auto& table : tables) {
    out += "*" + table + "\n";
    if (auto it = chains.find(table); it != chains.end())
      for (const auto& c : it->second) out += fmt::format(":{} {} [0:0]\n", c.name, c.policy);
    if (auto it = rules.find(table); it != rules.end())
      for (const auto& r : it->second) out += r.text + "\n";
    out += "COMMIT\n";
  }
  return out;
}

std::string iptables_restore_input(std::string_view lines, const SourceLocation& where) {
  return parse_iptables(lines, where).restore_input();
}

}  // namespace nslab
