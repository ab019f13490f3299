// HTTP, independent of any server: the request and response a route sees,
// problem+json (RFC 9457) errors, and a router with path parameters. The
// Beast server (adapters/http) and the API Gateway mapper (adapters/aws) both
// feed this router, so routes are written once.
//
//   Router r;
//   r.add("GET", "/v1/orders/{orderId}", "orders:read", [&](const Request& req) {
//     return Response::json(200, to_json(order(req.param("orderId"))));
//   });
//   Response res = r.handle(request);   // 404 and 405 (with Allow) as problems
#pragma once

#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/error.hpp"
#include "orderly/platform/json_reader.hpp"

namespace orderly::platform::http {

// Who is calling, from a verified token.
struct Identity {
  std::string subject;  // the customer id
  std::set<std::string> scopes;
  [[nodiscard]] bool has(std::string_view scope) const {
    return scopes.count(std::string(scope)) > 0;
  }
  [[nodiscard]] bool admin() const { return has("admin"); }
};

// The OAuth resource server whose scopes are Orderly's (Cognito's identifier,
// infra RESOURCE_SERVER_ID): "orderly/orders:read" grants "orders:read".
inline constexpr std::string_view kResourceServer = "orderly";

// Adds space-separated OAuth scopes, each as written. A scope of Orderly's
// resource server ("orderly/orders:read", as Cognito writes it) also grants
// its bare name; another resource server's never does ("other-api/admin" is
// not admin).
void add_scopes(Identity& who, std::string_view space_separated,
                std::string_view resource_server = kResourceServer);

// A client address as logs keep it: IPv4 truncated to its /24 (203.0.113.7 ->
// 203.0.113.0), IPv6 to its /48 (2001:db8:1:2::5 -> 2001:db8:1::), anything
// else to "-". An address is personal data; its network is enough to see where
// a flood comes from. Rate limiting uses the whole address, never logged.
std::string log_client(std::string_view address);

struct Request {
  std::string method;
  std::string target;  // path and query, as received
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string request_id;
  std::string client;  // peer address, for rate limiting anonymous callers
  std::optional<Identity> identity;
  std::optional<std::string> auth_error;      // why a presented token was refused
  std::map<std::string, std::string> params;  // from the route pattern

  [[nodiscard]] const std::string& param(const std::string& name) const;
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
  [[nodiscard]] std::optional<std::string> query_param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  static Response json(int status, const boost::json::value& v);
  Response& with(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

// An RFC 9457 problem. `type` is a slug under https://orderly.dev/problems/.
Response problem(int status, std::string_view slug, std::string_view title, std::string detail,
                 const Request& req, const std::vector<FieldError>& errors = {});
// The problem an error kind maps to (invalid_input 422 with Error::fields in
// errors[], not_found 404, failed_precondition 409, conflict 409, unauthorized
// 401, forbidden 403, permanent 500). An error worth retrying as it is
// (transient) is 503 with Retry-After.
Response problem_for(const Error& e, const Request& req);

// Parses a request body strictly: valid UTF-8, no duplicate keys, at most
// `max_depth` levels of nesting. Errors are 400 problems' details.
Result<boost::json::value> parse_json_body(std::string_view body, std::size_t max_depth = 32);

// The JSON object body of a request, or the problem to answer with:
// 415 unless Content-Type is application/json, 400 for malformed JSON,
// 422 when it is not an object.
tl::expected<boost::json::object, Response> json_object_body(const Request& req);
// 422 with every field error listed.
Response validation_problem(const Request& req, const std::vector<FieldError>& errors);

struct Route {
  std::string method;
  std::string pattern;  // segments, "{name}" captures one
  std::string scope;    // required scope; empty = public
  std::function<Response(Request&)> handler;
  std::vector<std::string> segments;  // the pattern, split once
};

class Router {
 public:
  void add(std::string method, std::string pattern, std::string scope,
           std::function<Response(Request&)> handler);
  // The matching route, with req.params filled; 404/405 when none.
  struct Match {
    const Route* route = nullptr;
    std::optional<Response> error;
  };
  Match match(Request& req) const;
  // The matched route's pattern ("/v1/orders/{orderId}"), or "unmatched": a
  // bounded label for metrics, never the raw path.
  std::string route_of(Request& req) const;
  // match() + scope check + handler; exceptions become 500 problems.
  Response handle(Request& req) const;
  [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Serves one request as the server side of a trace: a span (a child of
// `parent`: the caller's traceparent, or the X-Ray trace on Lambda), the
// request id in every log line, the access log line ("request", with route,
// method, status and duration_ms; 5xx at ERROR) and
// orderly_http_request_duration_seconds{route,method,status}.
Response observe(Request& req, const std::string& route,
                 const std::optional<std::string>& parent_traceparent,
                 const std::function<Response(Request&)>& handler);

}  // namespace orderly::platform::http
