// Fails on purpose: a matrix expectation that is wrong in one cell. Not a
// test of its own; tests/ci/junit_logger_test.sh runs it with Boost.Test's
// JUnit logger and checks that the report carries the difference table.
#include <boost/test/unit_test.hpp>

#include "nslab/lab_fixture.h"
#include "seed_topologies.h"

BOOST_FIXTURE_TEST_CASE(wrong_on_purpose, nslab::LabFixture) {
  build(nslab::seed::host_access());
  nslab::MatrixSpec spec;
  spec.nodes = {"red", "blue", "green"};
  spec.exceptions.push_back({"red", "green", nslab::Verdict::blocked, {}});
  check_matrix(spec);
}
