#include "nslab/coverage.h"

#include <fmt/format.h>

namespace nslab {

namespace {

std::string xml_escaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out += c;
    }
  }
  return out;
}

// LCOV takes one path a line; a path with a newline could forge records.
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out += static_cast<unsigned char>(c) < 0x20 ? '_' : c;
  return out;
}

}  // namespace

void RuleCoverage::add(const std::vector<RuleHit>& hits) {
  for (const auto& h : hits) {
    auto [it, fresh] = lines_.try_emplace({h.where.file, h.where.line}, h);
    if (!fresh) {
      it->second.packets += h.packets;
      it->second.bytes += h.bytes;
    }
  }
}

std::size_t RuleCoverage::lines_hit() const {
  std::size_t n = 0;
  for (const auto& [k, h] : lines_) n += h.packets > 0;
  return n;
}

double RuleCoverage::percent() const {
  return lines_.empty() ? 100.0 : 100.0 * static_cast<double>(lines_hit()) / static_cast<double>(lines_.size());
}

std::vector<RuleHit> RuleCoverage::missed() const {
  std::vector<RuleHit> out;
  for (const auto& [k, h] : lines_)
    if (h.packets == 0) out.push_back(h);
  return out;
}

std::string RuleCoverage::lcov() const {
  std::string out;
  std::string file;
  std::size_t found = 0, hit = 0;
  auto end_file = [&] {
    if (file.empty()) return;
    out += fmt::format("LF:{}\nLH:{}\nend_of_record\n", found, hit);
  };
  for (const auto& [k, h] : lines_) {
    if (k.first != file || out.empty()) {
      end_file();
      file = k.first;
      found = hit = 0;
      out += fmt::format("TN:nslab\nSF:{}\n", one_line(file.empty() ? "(rules built in code)" : file));
    }
    out += fmt::format("DA:{},{}\n", k.second, h.packets);
    ++found;
    hit += h.packets > 0;
  }
  end_file();
  return out;
}

std::string RuleCoverage::cobertura() const {
  std::map<std::string, std::vector<const RuleHit*>> files;
  for (const auto& [k, h] : lines_) files[k.first].push_back(&h);
  auto rate = [](std::size_t hit, std::size_t all) {
    return all == 0 ? std::string("1") : fmt::format("{:.4f}", static_cast<double>(hit) / static_cast<double>(all));
  };
  std::string classes;
  for (const auto& [file, hs] : files) {
    std::size_t hit = 0;
    std::string lines;
    for (const auto* h : hs) {
      hit += h->packets > 0;
      lines += fmt::format("          <line number=\"{}\" hits=\"{}\" branch=\"false\"/>\n", h->where.line, h->packets);
    }
    std::string name = file.substr(file.find_last_of('/') + 1);
    classes += fmt::format(
        "        <class name=\"{}\" filename=\"{}\" line-rate=\"{}\" branch-rate=\"0\" complexity=\"0\">\n"
        "          <methods/>\n          <lines>\n{}          </lines>\n        </class>\n",
        xml_escaped(name), xml_escaped(file), rate(hit, hs.size()), lines);
  }
  return fmt::format(
      "<?xml version=\"1.0\" ?>\n"
      "<!DOCTYPE coverage SYSTEM \"http://cobertura.sourceforge.net/xml/coverage-04.dtd\">\n"
      "<coverage line-rate=\"{0}\" branch-rate=\"0\" lines-covered=\"{1}\" lines-valid=\"{2}\" branches-covered=\"0\" "
      "branches-valid=\"0\" complexity=\"0\" version=\"nslab\" timestamp=\"0\">\n"
      "  <sources><source>.</source></sources>\n"
      "  <packages>\n    <package name=\"firewall\" line-rate=\"{0}\" branch-rate=\"0\" complexity=\"0\">\n"
      "      <classes>\n{3}      </classes>\n    </package>\n  </packages>\n</coverage>\n",
      rate(lines_hit(), lines_.size()), lines_hit(), lines_.size(), classes);
}

}  // namespace nslab
