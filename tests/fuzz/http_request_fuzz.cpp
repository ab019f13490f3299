// libFuzzer target: an HTTP request as the gateway's router sees it, after the
// server has read it: "METHOD TARGET\n" then the body. The router matches the
// route (path parameters, query string), checks the scope of a caller with
// some scopes, and the route decodes the body as a JSON object (duplicate
// keys, depth, UTF-8). Every answer is a status the API documents.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto line_end = all.find('\n');
  const auto line = all.substr(0, line_end);
  const auto space = line.find(' ');
  if (space == std::string_view::npos) return 0;
  ph::Request req;
  req.method = std::string(line.substr(0, space));
  req.target = std::string(line.substr(space + 1));
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) {
    std::string_view rest(req.target);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const auto pair = rest.substr(0, amp);
      const auto eq = pair.find('=');
      req.query[std::string(pair.substr(0, eq))] =
          eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  req.headers["content-type"] = "application/json";
  req.body =
      line_end == std::string_view::npos ? std::string() : std::string(all.substr(line_end + 1));
  req.request_id = "fuzz";
  ph::Identity who;
  who.subject = "fuzz";
  ph::add_scopes(who, "orderly/orders:read orderly/orders:write");
  req.identity = who;
  const auto res = router().handle(req);
  if (res.status < 200 || res.status >= 600 || res.status == 500) std::abort();
  return 0;
}
