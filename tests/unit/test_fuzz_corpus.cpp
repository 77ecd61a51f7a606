// Regression test for the scenario fuzzer: every input in fuzz/corpus (seed
// scenarios and what libFuzzer found) loads or fails with a ScenarioError,
// never anything else; so do pathological nestings.
#include <boost/test/unit_test.hpp>

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nslab/scenario.h"

namespace {

std::vector<std::string> corpus() {
  std::vector<std::string> files;
  if (DIR* d = ::opendir(NSLAB_FUZZ_CORPUS)) {
    while (auto* e = ::readdir(d))
      if (e->d_name[0] != '.') files.push_back(std::string(NSLAB_FUZZ_CORPUS) + "/" + e->d_name);
    ::closedir(d);
  }
  return files;
}

// True when parsing ends in a Scenario or a ScenarioError.
bool loads_or_explains(const std::string& text) {
  try {
    nslab::parse_scenario(text, "fuzz.yaml");
  } catch (const nslab::ScenarioError& e) {
    return std::string(e.what()).rfind("fuzz.yaml", 0) == 0;
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fuzz_corpus)

BOOST_AUTO_TEST_CASE(every_corpus_input_loads_or_is_explained) {
  auto files = corpus();
  BOOST_TEST(files.size() > 100u);
  for (const auto& f : files) {
    std::stringstream buf;
    buf << std::ifstream(f, std::ios::binary).rdbuf();
    BOOST_TEST(loads_or_explains(buf.str()), f);
  }
}

// Every mistake of a link kinds file is named at its own line and column.
BOOST_AUTO_TEST_CASE(link_kind_mistakes_are_each_positioned) {
  std::stringstream buf;
  buf << std::ifstream(std::string(NSLAB_FUZZ_CORPUS) + "/link-kinds-mistakes.yaml").rdbuf();
  try {
    nslab::parse_scenario(buf.str(), "fuzz.yaml");
    BOOST_FAIL("link-kinds-mistakes.yaml loaded");
  } catch (const nslab::ScenarioError& e) {
    std::istringstream lines(e.what());
    std::size_t n = 0;
    for (std::string line; std::getline(lines, line); ++n)
      BOOST_TEST((line.rfind("fuzz.yaml:", 0) == 0 && line.find(": ", 10) != std::string::npos), line);
    BOOST_TEST(n >= 10u, e.what());
  }
}

BOOST_AUTO_TEST_CASE(pathological_nesting) {
  BOOST_TEST(loads_or_explains(std::string(50000, '[')));
  BOOST_TEST(loads_or_explains(std::string(50000, '{')));
  std::string deep = "nodes:\n";
  for (int i = 0; i < 2000; ++i) deep += std::string(2 * (i + 1), ' ') + "x" + std::to_string(i) + ":\n";
  BOOST_TEST(loads_or_explains(deep));
  BOOST_TEST(loads_or_explains(std::string("\0\xff\xfe", 3)));
  // Merge keys of merge keys, and aliases that expand exponentially.
  std::string laughs = "x-0: &a0 { <<: { a: 1 } }\n";
  for (int i = 1; i < 40; ++i)
    laughs += "x-" + std::to_string(i) + ": &a" + std::to_string(i) + " [ *a" + std::to_string(i - 1) + ", *a" +
              std::to_string(i - 1) + " ]\n";
  BOOST_TEST(loads_or_explains(laughs + "nodes: { n: { <<: *a39 } }\n"));
}

BOOST_AUTO_TEST_SUITE_END()
