// libFuzzer target: the HTTP request path up to the router, from raw bytes.
// The input is what a client sends on the socket: Beast's request parser with
// the server's limits reads it (request line, headers, chunked or sized body),
// the server's own mapping makes the Request (header list semantics, query
// decoding, request id), the router matches the route (path parameters, scope
// of a caller with some scopes) and the route decodes the body as a JSON
// object (duplicate keys, depth, UTF-8). Every answer is a status the API
// documents, and its head never carries a CR or LF from the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "orderly/adapters/http/server.hpp"
#include "orderly/platform/http.hpp"

namespace ph = orderly::platform::http;

namespace {
const ph::Router& router() {
  static ph::Router r = [] {
    ph::Router x;
    auto body = [](ph::Request& req) -> ph::Response {
      auto b = ph::json_object_body(req);
      if (!b) return std::move(b.error());
      return ph::Response::json(200, {{"fields", static_cast<std::int64_t>(b->size())}});
    };
    x.add("POST", "/v1/orders", "orders:write", body);
    x.add("GET", "/v1/orders/{orderId}", "orders:read", [](ph::Request& req) {
      return ph::Response::json(200, {{"id", req.param("orderId")}});
    });
    x.add("POST", "/v1/orders/{orderId}/cancel", "orders:write", body);
    x.add("PUT", "/v1/products/{sku}", "admin", body);
    x.add("GET", "/v1/products", "", [](ph::Request&) { return ph::Response::json(200, {}); });
    return x;
  }();
  return r;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  auto parsed = orderly::adapters::http::parse_request(raw, 64 * 1024);
  if (!parsed) return 0;  // the server answers 400, 413 or 431 and reads no further
  ph::Request& req = *parsed;
  ph::Identity who;
  who.subject = "fuzz";
  ph::add_scopes(who, "orderly/orders:read orderly/orders:write");
  req.identity = who;
  auto res = router().handle(req);
  if (res.status < 200 || res.status >= 600 || res.status == 500) std::abort();
  // Echo what came in as headers: the head the server would write must stay
  // one header per line whatever the input held.
  for (const auto& [k, v] : req.headers) res.with(k, v);
  const auto head = orderly::adapters::http::response_head(res, req.request_id, 11, true, 0);
  std::size_t lines = 0;
  for (std::size_t i = 0; i + 1 < head.size(); ++i)
    if (head[i] == '\r') {
      if (head[i + 1] != '\n') std::abort();
      ++lines;
    }
  for (std::size_t i = 0; i < head.size(); ++i)
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) std::abort();
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n") std::abort();
  if (lines < 3) std::abort();  // status line, X-Request-Id, Content-Length
  return 0;
}
