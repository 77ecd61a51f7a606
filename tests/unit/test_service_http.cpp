// How a built-in TCP service tells an HTTP/1.x client from a raw one by its
// first bytes, and what it answers (service_http.h).
#include <boost/test/unit_test.hpp>

#include "service_http.h"

using nslab::service_http::classify;
using nslab::service_http::Request;
using nslab::service_http::response;

BOOST_AUTO_TEST_CASE(request_lines_are_told_from_raw_bytes) {
  BOOST_TEST((classify("") == Request::maybe));
  BOOST_TEST((classify("GE") == Request::maybe));
  BOOST_TEST((classify("GET /index.html HTT") == Request::maybe));
  BOOST_TEST((classify("GET / HTTP/1.1\r\nHost: x\r\n") == Request::request_line));
  BOOST_TEST((classify("GET / HTTP/1.1\r\nHost: x\r\n\r\n") == Request::complete));
  BOOST_TEST((classify("GET / HTTP/1.0\n\n") == Request::complete));
  BOOST_TEST((classify("POST /form HTTP/1.1\r\nContent-Length: 3\r\n\r\nx=1") == Request::complete));
  // Raw: a probe's payload, a greeting-like line, HTTP/2's preface, lower case.
  BOOST_TEST((classify("hello\n") == Request::raw));
  BOOST_TEST((classify("red 10.0.0.1\n") == Request::raw));
  BOOST_TEST((classify("PRI * HTTP/2.0\r\n") == Request::raw));
  BOOST_TEST((classify("get / HTTP/1.1\r\n") == Request::raw));
  BOOST_TEST((classify("GET  / HTTP/1.1\r\n") == Request::raw));
  BOOST_TEST((classify("GET / HTTP/1.x\r\n") == Request::raw));
  BOOST_TEST((classify(std::string(21, 'A')) == Request::raw));
  BOOST_TEST((classify(std::string("\x16\x03\x01", 3)) == Request::raw));  // a TLS hello
}

BOOST_AUTO_TEST_CASE(the_response_carries_the_greeting_with_its_length) {
  const std::string greeting = "blue 10.0.0.1\n";
  auto r = response("GET / HTTP/1.1\r\nHost: x\r\n\r\n", greeting);
  BOOST_TEST(r.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, r);
  BOOST_TEST(r.find("\r\nContent-Length: 14\r\n") != std::string::npos, r);
  BOOST_TEST(r.find("\r\nConnection: close\r\n") != std::string::npos, r);
  BOOST_TEST(r.substr(r.find("\r\n\r\n") + 4) == greeting);
  auto old = response("GET / HTTP/1.0\r\n\r\n", greeting);
  BOOST_TEST(old.rfind("HTTP/1.0 200 OK\r\n", 0) == 0u, old);
  auto head = response("HEAD / HTTP/1.1\r\n\r\n", greeting);
  BOOST_TEST(head.find("Content-Length: 14\r\n") != std::string::npos, head);
  BOOST_TEST(head.substr(head.size() - 4) == "\r\n\r\n");
}
