// How a built-in TCP service tells an HTTP/1.x client from a raw one: by the
// first bytes the client sends (service_host.h). Pure functions, unit-tested.
#pragma once

#include <string>
#include <string_view>

namespace nslab::service_http {

enum class Request {
  raw,           // not HTTP: greet, then echo
  maybe,         // a prefix of an HTTP/1.x request line: wait for more
  request_line,  // an HTTP/1.x request line, its headers not yet ended
  complete,      // request line and headers (up to the empty line)
};

// What the bytes a client sent first are.
Request classify(std::string_view bytes);

// The response to a complete request: 200 OK with the greeting as body
// ("NODE CLIENT-ADDRESS\n"), Content-Length, Connection: close; no body for
// HEAD. In the request's own HTTP version (1.0 or 1.1).
std::string response(std::string_view request, const std::string& greeting);

}  // namespace nslab::service_http
