// service_http.h: HTTP/1.x request lines recognised, and answered.
#include "service_http.h"

#include <fmt/format.h>

namespace nslab::service_http {

namespace {

constexpr std::size_t kMaxMethod = 20, kMaxTarget = 8192, kMaxHead = 65536;

bool upper(char c) {
  return c >= 'A' && c <= 'Z';
}

}  // namespace

Request classify(std::string_view s) {
  std::size_t i = 0;
  // METHOD SP
  while (i < s.size() && upper(s[i]))
    if (++i > kMaxMethod) return Request::raw;
  if (i == s.size()) return Request::maybe;
  if (i == 0 || s[i] != ' ') return Request::raw;
  // TARGET SP
  std::size_t start = ++i;
  while (i < s.size() && s[i] != ' ' && static_cast<unsigned char>(s[i]) > 0x20 && s[i] != 0x7f) ++i;
  if (i - start > kMaxTarget) return Request::raw;
  if (i == s.size()) return Request::maybe;
  if (s[i] != ' ' || i == start) return Request::raw;
  ++i;
  // HTTP/1.D CRLF (or LF)
  constexpr std::string_view version = "HTTP/1.";
  for (std::size_t k = 0; k < version.size(); ++k, ++i) {
    if (i == s.size()) return Request::maybe;
    if (s[i] != version[k]) return Request::raw;
  }
  if (i == s.size()) return Request::maybe;
  if (s[i] < '0' || s[i] > '9') return Request::raw;
  ++i;
  if (i < s.size() && s[i] == '\r') ++i;
  if (i == s.size()) return Request::maybe;
  if (s[i] != '\n') return Request::raw;
  // The headers end at the first empty line (the request line's own end counts
  // as the start of a line).
  auto rest = s.substr(i);
  if (rest.find("\n\r\n") != std::string_view::npos || rest.find("\n\n") != std::string_view::npos ||
      s.size() > kMaxHead)
    return Request::complete;
  return Request::request_line;
}

std::string response(std::string_view request, const std::string& greeting) {
  auto sp = request.find(' ');
  bool head = request.substr(0, sp) == "HEAD";
  auto v = request.find("HTTP/1.");
  char minor = v != std::string_view::npos && v + 7 < request.size() ? request[v + 7] : '1';
  return fmt::format(
      "HTTP/1.{} 200 OK\r\nServer: nslab\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: "
      "close\r\n\r\n{}",
      minor == '0' ? '0' : '1', greeting.size(), head ? std::string() : greeting);
}

}  // namespace nslab::service_http
