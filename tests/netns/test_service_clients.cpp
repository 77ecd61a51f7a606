// The built-in TCP service as real clients see it: curl gets an HTTP
// response (no --http0.9 needed) whose body says who served it and whom it
// saw; nc and nslab's own probes still get the greeting and the echo.
#include <boost/test/unit_test.hpp>

#include "nslab/lab_fixture.h"
#include "nslab/witness.h"
#include "text.h"

using nslab::testing::has;

namespace {

nslab::Topology served() {
  nslab::Topology t("served");
  t.add_node("red");
  t.add_node("blue").service(nslab::Protocol::tcp, 80);
  t.link("red:eth0 10.0.0.1/24", "blue:eth0 10.0.0.2/24");
  return t;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(curl_gets_http_from_a_built_in_service, nslab::LabFixture) {
  auto& lab = build(served());
  auto& red = lab.node("red");
  auto get = nslab::run_in_node(red, "curl -sS -i --max-time 5 http://10.0.0.2/");
  BOOST_TEST(get.status == 0, get.output);
  BOOST_TEST(has(get.output, "HTTP/1.1 200 OK\r\n"), get.output);
  BOOST_TEST(has(get.output, "Content-Length: 14\r\n"), get.output);
  BOOST_TEST(has(get.output, "\r\n\r\nblue 10.0.0.1\n"), get.output);
  auto body = nslab::run_in_node(red, "curl -sS --max-time 5 http://10.0.0.2/some/path?x=1");
  BOOST_TEST(body.output == "blue 10.0.0.1\n");
  auto old = nslab::run_in_node(red, "curl -sS -i --http1.0 --max-time 5 http://10.0.0.2/");
  BOOST_TEST(has(old.output, "HTTP/1.0 200 OK\r\n"), old.output);
  auto head = nslab::run_in_node(red, "curl -sS -I --max-time 5 http://10.0.0.2/");
  BOOST_TEST(head.status == 0, head.output);
  BOOST_TEST(has(head.output, "HTTP/1.1 200 OK"), head.output);
  BOOST_TEST(!has(head.output, "blue 10.0.0.1"), head.output);
  // A request with a body: the response is whole, not cut by a reset.
  auto post = nslab::run_in_node(red, "curl -sS --max-time 5 --data-binary @/etc/services http://10.0.0.2/form");
  BOOST_TEST(post.status == 0, post.output);
  BOOST_TEST(post.output == "blue 10.0.0.1\n");
  // Several requests one after another, with curl's keep-alive asked for:
  // each gets its answer (the service closes after each).
  auto two = nslab::run_in_node(red, "curl -sS --max-time 5 http://10.0.0.2/a http://10.0.0.2/b");
  BOOST_TEST(two.output == "blue 10.0.0.1\nblue 10.0.0.1\n", two.output);
}

BOOST_FIXTURE_TEST_CASE(raw_tcp_clients_still_get_the_greeting_and_the_echo, nslab::LabFixture) {
  auto& lab = build(served());
  auto& red = lab.node("red");
  auto echo = nslab::run_in_node(red, "printf 'hello\\nGET / HTTP/1.1\\n' | nc -N -w 5 10.0.0.2 80");
  BOOST_TEST(echo.status == 0, echo.output);
  BOOST_TEST(echo.output == "blue 10.0.0.1\nhello\nGET / HTTP/1.1\n", echo.output);
  // A client that says nothing for a second is greeted all the same.
  auto silent = nslab::run_in_node(red, "sleep 1 | nc -N -w 5 10.0.0.2 80");
  BOOST_TEST(silent.output == "blue 10.0.0.1\n", silent.output);
  // nslab's probes: served_by from the greeting, and a payload echoed.
  auto r = lab.probe(
      nslab::Probe{.from = "red", .to = "blue", .protocol = nslab::Protocol::tcp, .port = 80, .want_served_by = true});
  BOOST_TEST(r.verdict == nslab::Verdict::reachable);
  BOOST_TEST(r.served_by == "blue");
  BOOST_TEST(r.seen_from == "10.0.0.1");
  auto p = lab.probe(
      nslab::Probe{.from = "red", .to = "blue", .protocol = nslab::Protocol::tcp, .port = 80, .payload = "hello\n"});
  BOOST_TEST(!p.payload_problem().has_value(), p.detail);
  BOOST_TEST(has(p.detail, "served by blue"), p.detail);
  // A plain probe still names who served it.
  auto plain = lab.tcp("red", "blue", 80);
  BOOST_TEST(has(plain.detail, "served by blue"), plain.detail);
}
