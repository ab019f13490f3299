// HttpServer: HTTP/1.1 on Boost.Beast and Asio, feeding platform::http routes.
//
//   auto server = HttpServer::start({.port = 0}, [&](Request& r) { return router.handle(r); });
//   std::printf("listening on %u\n", (*server)->port());
//   (*server)->stop();   // stop accepting, finish in-flight requests, close
//
// Keep-alive, TCP_NODELAY, a body limit (413 above it), read and write
// timeouts, an X-Request-Id on every response (the caller's, if sane, or a
// new UUIDv7), and a JSON access log line per request (method, path, status,
// duration, request id; never headers or bodies, so no token is logged).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "orderly/platform/error.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::adapters::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: the OS picks
  int threads = 2;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds read_timeout{30'000};  // a whole request, headers and body
  std::chrono::milliseconds write_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};  // between keep-alive requests
  // Open connections, in all and per client address; one over is answered
  // 503 (best effort) and closed at once, before any request is read.
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_client = 1'024;
  // One JSON line per request; empty: no access log.
  std::function<void(const std::string& line)> access_log;
};

using Handler = std::function<platform::http::Response(platform::http::Request&)>;

class HttpServer {
 public:
  static platform::Result<std::unique_ptr<HttpServer>> start(ServerOptions options,
                                                             Handler handler);
  ~HttpServer();
  [[nodiscard]] std::uint16_t port() const;
  // Stops accepting, lets requests in flight finish, closes idle connections, joins the threads.
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The pieces of a request's and a response's path, exposed for tests and fuzzing.

// Bytes as a client sent them -> the Request handlers see: Beast's parser with
// the server's limits (body_limit, 16 KiB of headers), then the same mapping
// the server does (lower-case header names, list semantics, query decoding,
// request id). A malformed or incomplete request is invalid_input.
platform::Result<platform::http::Request> parse_request(std::string_view raw,
                                                        std::size_t body_limit);
// The target's path and decoded query parameters into r.path and r.query.
void split_target(platform::http::Request& r);
// Status line and headers of a response. The server owns framing: a handler's
// Content-Length, Connection, Transfer-Encoding and X-Request-Id are replaced,
// and a header with a bad name or a CR, LF or NUL in its value is dropped.
std::string response_head(const platform::http::Response& res, const std::string& request_id,
                          unsigned version, bool keep_alive, std::size_t content_length);

}  // namespace orderly::adapters::http
