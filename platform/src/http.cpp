// Server-independent HTTP: problems, strict body parsing, the router.
#include "orderly/platform/http.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <exception>
#include <string>
#include <unordered_map>

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::platform::http {

namespace json = boost::json;

void add_scopes(Identity& who, std::string_view scopes, std::string_view resource_server) {
  std::size_t i = 0;
  while (i < scopes.size()) {
    const auto j = scopes.find(' ', i);
    auto s =
        std::string(scopes.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (!s.empty()) {
      // Only "<resource_server>/<name>", exactly: the prefix is compared whole.
      if (!resource_server.empty() && s.size() > resource_server.size() + 1 &&
          std::string_view(s).substr(0, resource_server.size()) == resource_server &&
          s[resource_server.size()] == '/')
        who.scopes.insert(s.substr(resource_server.size() + 1));
      who.scopes.insert(std::move(s));
    }
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
}

const std::string& Request::param(const std::string& name) const {
  static const std::string empty;
  auto it = params.find(name);
  return it == params.end() ? empty : it->second;
}

std::optional<std::string> Request::header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  if (it == headers.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> Request::query_param(std::string_view name) const {
  auto it = query.find(std::string(name));
  if (it == query.end()) return std::nullopt;
  return it->second;
}

Response Response::json(int status, const json::value& v) {
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = json::serialize(v);
  return r;
}

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(a) == std::tolower(b);
        }))
      return v;
  return std::nullopt;
}

Response problem(int status, std::string_view slug, std::string_view title, std::string detail,
                 const Request& req, const std::vector<FieldError>& errors) {
  json::object p{{"type", "https://orderly.dev/problems/" + std::string(slug)},
                 {"title", title},
                 {"status", status},
                 {"detail", std::move(detail)},
                 {"instance", req.path.empty() ? "/" : req.path},
                 {"requestId", req.request_id}};
  if (!errors.empty()) {
    json::array a;
    for (const auto& e : errors)
      a.push_back(json::object{{"path", e.path}, {"message", e.message}});
    p["errors"] = std::move(a);
  }
  Response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/problem+json");
  r.body = json::serialize(p);
  return r;
}

Response problem_for(const Error& e, const Request& req) {
  // Worth calling again as it is: say when (RFC 9110 Retry-After, in seconds).
  if (retry_action(e.kind) == RetryAction::retry_call)
    return problem(503, "unavailable", "Temporarily unavailable", e.message, req)
        .with("Retry-After", "1");
  switch (e.kind) {
    case ErrorKind::invalid_input:
      if (!e.fields.empty()) return validation_problem(req, e.fields);
      return problem(422, "validation", "Invalid request", e.message, req);
    case ErrorKind::not_found:
      return problem(404, "not-found", "Not found", e.message, req);
    case ErrorKind::failed_precondition:
      return problem(409, "conflict", "Not allowed in the current state", e.message, req);
    case ErrorKind::conflict:
      return problem(409, "conflict", "Conflict", e.message, req);
    case ErrorKind::unauthorized:
      return problem(401, "unauthorized", "Unauthorized", e.message, req)
          .with("WWW-Authenticate", "Bearer");
    case ErrorKind::forbidden:
      return problem(403, "forbidden", "Forbidden", e.message, req);
    case ErrorKind::transient:  // answered above
    case ErrorKind::permanent:
      break;
  }
  // Internal detail stays in the logs, not in the response.
  return problem(500, "internal", "Internal error", "the request could not be completed", req);
}

namespace {

// A basic_parser handler that builds nothing: it rejects duplicate keys and
// deep nesting, which the value parser would silently accept or collapse.
struct StrictChecker {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::size_t max_depth = 32;
  std::vector<std::set<std::string>> keys;  // one set per open object
  std::vector<bool> is_object;
  std::string key;
  std::string error;

  bool push(bool object, boost::system::error_code& ec) {
    if (is_object.size() >= max_depth) {
      error = fmt::format("nesting deeper than {} levels", max_depth);
      ec = json::error::too_deep;
      return false;
    }
    is_object.push_back(object);
    if (object) keys.emplace_back();
    return true;
  }
  bool pop() {
    if (is_object.back()) keys.pop_back();
    is_object.pop_back();
    return true;
  }
  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code& ec) { return push(true, ec); }
  bool on_object_end(std::size_t, boost::system::error_code&) { return pop(); }
  bool on_array_begin(boost::system::error_code& ec) { return push(false, ec); }
  bool on_array_end(std::size_t, boost::system::error_code&) { return pop(); }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code& ec) {
    key.append(s.data(), s.size());
    if (!keys.back().insert(key).second) {
      error = fmt::format("duplicate key \"{}\"", key);
      ec = json::error::syntax;
      return false;
    }
    key.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, boost::system::error_code&) { return true; }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
};

}  // namespace

Result<json::value> parse_json_body(std::string_view body, std::size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth + 1;
  json::basic_parser<StrictChecker> checker(opts);
  checker.handler().max_depth = max_depth;
  boost::system::error_code ec;
  checker.write_some(false, body.data(), body.size(), ec);
  if (ec) {
    const auto& why = checker.handler().error;
    return fail(ErrorKind::invalid_input, "malformed JSON: {}", why.empty() ? ec.message() : why);
  }
  auto v = json::parse(body, ec, {}, opts);
  if (ec) return fail(ErrorKind::invalid_input, "malformed JSON: {}", ec.message());
  return v;
}

tl::expected<json::object, Response> json_object_body(const Request& req) {
  auto ct = req.header("content-type");
  std::string media = ct ? ct->substr(0, ct->find(';')) : std::string();
  while (!media.empty() && media.back() == ' ') media.pop_back();
  for (auto& ch : media) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (media != "application/json")
    return tl::unexpected(problem(415, "unsupported-media-type", "Unsupported media type",
                                  "send the body as application/json", req));
  auto v = parse_json_body(req.body);
  if (!v)
    return tl::unexpected(problem(400, "malformed-json", "Malformed JSON", v.error().message, req));
  if (!v->is_object())
    return tl::unexpected(validation_problem(req, {{"$", "must be a JSON object"}}));
  return std::move(v->get_object());
}

Response validation_problem(const Request& req, const std::vector<FieldError>& errors) {
  std::string detail = errors.size() == 1 ? "1 field is invalid"
                                          : fmt::format("{} fields are invalid", errors.size());
  return problem(422, "validation", "Invalid request", std::move(detail), req, errors);
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    const auto j = path.find('/', i);
    out.push_back(path.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j;
  }
  return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, std::string scope,
                 std::function<Response(Request&)> handler) {
  std::vector<std::string> segments;
  for (auto seg : split_path(pattern)) segments.emplace_back(seg);
  routes_.push_back({std::move(method), std::move(pattern), std::move(scope), std::move(handler),
                     std::move(segments)});
}

Router::Match Router::match(Request& req) const {
  const auto segments = split_path(req.path);
  std::set<std::string> allowed;
  for (const auto& r : routes_) {
    const auto& pat = r.segments;
    if (pat.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < pat.size() && ok; ++i) {
      if (pat[i].size() > 2 && pat[i].front() == '{' && pat[i].back() == '}') {
        auto decoded = percent_decode(segments[i]);
        ok = decoded.has_value() && !decoded->empty();
        if (ok) params.emplace(pat[i].substr(1, pat[i].size() - 2), std::move(*decoded));
      } else {
        ok = pat[i] == segments[i];
      }
    }
    if (!ok) continue;
    if (r.method != req.method) {
      allowed.insert(r.method);
      continue;
    }
    req.params = std::move(params);
    return {&r, std::nullopt};
  }
  if (!allowed.empty()) {
    std::string allow;
    for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
    return {nullptr, problem(405, "method-not-allowed", "Method not allowed",
                             fmt::format("{} is not allowed on {}", req.method, req.path), req)
                         .with("Allow", allow)};
  }
  return {nullptr,
          problem(404, "not-found", "Not found", fmt::format("no route for {}", req.path), req)};
}

std::string Router::route_of(Request& req) const {
  auto m = match(req);
  return m.route ? m.route->pattern : std::string("unmatched");
}

std::string log_client(std::string_view a) {
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(std::string(a), ec);
  if (ec) return "-";
  if (addr.is_v4() || (addr.is_v6() && addr.to_v6().is_v4_mapped())) {
    auto b =
        addr.is_v4()
            ? addr.to_v4().to_bytes()
            : boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, addr.to_v6()).to_bytes();
    b[3] = 0;
    return boost::asio::ip::address_v4(b).to_string();
  }
  auto b = addr.to_v6().to_bytes();
  for (std::size_t i = 6; i < b.size(); ++i) b[i] = 0;
  return boost::asio::ip::address_v6(b).to_string();
}

Response observe(Request& req, const std::string& route,
                 const std::optional<std::string>& parent_traceparent,
                 const std::function<Response(Request&)>& handler) {
  static auto& duration = metrics::registry().histogram("orderly_http_request_duration_seconds",
                                                        "HTTP requests by route, method and status",
                                                        {"route", "method", "status"});
  const auto start = std::chrono::steady_clock::now();
  std::optional<TraceContext> parent;
  if (parent_traceparent) parent = parse_traceparent(*parent_traceparent);
  log::Scope scope({.request_id = req.request_id});
  Span span(req.method + " " + route, parent);
  const bool recording = span.recording();
  if (recording) {
    span.set("kind", "server");
    span.set("http.method", boost::json::string(req.method));
    span.set("http.route", boost::json::string(route));
  }
  Response res;
  try {
    res = handler(req);
  } catch (const std::exception&) {
    res = problem(500, "internal", "Internal error", "the request could not be completed", req);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (recording) span.set("http.status", res.status);
  // The labelled child, found once per (route, method, status) and thread: the
  // family's lookup takes a lock shared by every HTTP thread.
  thread_local std::unordered_map<std::string, metrics::Histogram*> children;
  thread_local std::string key;
  key.assign(route).append(1, '\0').append(req.method).append(1, '\0');
  key += std::to_string(res.status);
  auto it = children.find(key);
  if (it == children.end())
    it = children.emplace(key, &duration.with({route, req.method, std::to_string(res.status)}))
             .first;
  it->second->observe(seconds);
  const auto level = res.status >= 500 ? log::Level::error : log::Level::info;
  if (log::enabled(level))
    log::write(level, "request",
               {{"route", route},
                {"method", req.method},
                {"path", req.path},
                {"status", res.status},
                {"duration_ms", seconds * 1000},
                {"client", log_client(req.client)}});
  return res;
}

Response Router::handle(Request& req) const {
  auto m = match(req);
  if (!m.route) return std::move(*m.error);
  if (!m.route->scope.empty()) {
    if (!req.identity)
      return problem(401, "unauthorized", "Unauthorized",
                     req.auth_error.value_or("a bearer token is required"), req)
          .with("WWW-Authenticate", req.auth_error
                                        ? "Bearer realm=\"orderly\", error=\"invalid_token\""
                                        : "Bearer realm=\"orderly\"");
    if (!req.identity->has(m.route->scope) && !req.identity->admin())
      return problem(403, "forbidden", "Forbidden",
                     fmt::format("the token lacks the {} scope", m.route->scope), req);
  }
  try {
    return m.route->handler(req);
  } catch (const std::exception&) {
    return problem(500, "internal", "Internal error", "the request could not be completed", req);
  }
}

}  // namespace orderly::platform::http
