// The web console's routes: its embedded assets and the read models behind its
// views (one order's saga, recent orders, queues), and the DLQ operations
// (list, redrive a rule's letters or one).
#include "orderly/hosts/embedded/console.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "orderly/hosts/embedded/backup.hpp"
#include "orderly/services/contracts/events.hpp"
#include "orderly/services/orders/api.hpp"

namespace orderly::hosts::embedded {

namespace json = boost::json;
namespace ph = platform::http;
using platform::ErrorKind;

std::string entity_tag(std::string_view body) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : body) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return fmt::format("\"{:016x}-{:x}\"", h, body.size());
}

void apply_entity_tag(const ph::Request& req, ph::Response& res) {
  if (req.method != "GET" || res.status != 200) return;
  std::string tag = entity_tag(res.body);
  if (auto inm = req.header("if-none-match"); inm && inm->find(tag) != std::string::npos) {
    res.status = 304;
    res.body.clear();
  }
  res.with("ETag", std::move(tag));
}

namespace {

ph::Response asset_response(const ph::Request& req, const ConsoleAsset& a) {
  ph::Response res;
  res.status = 200;
  res.body = std::string(a.body);
  res.with("Content-Type", std::string(a.content_type))
      .with("Content-Security-Policy", std::string(kConsoleCsp))
      .with("X-Content-Type-Options", "nosniff")
      .with("Referrer-Policy", "no-referrer")
      .with("X-Frame-Options", "DENY")
      .with("Cross-Origin-Opener-Policy", "same-origin")
      .with("Cache-Control", "no-cache");
  apply_entity_tag(req, res);
  return res;
}

// Small whole numbers from a query string: nullopt when absent, an error text
// when malformed or out of [lo, hi].
tl::expected<std::optional<std::int64_t>, std::string> int_param(const ph::Request& req,
                                                                 std::string_view name,
                                                                 std::int64_t lo, std::int64_t hi) {
  auto v = req.query_param(name);
  if (!v) return std::nullopt;
  char* end = nullptr;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || n < lo || n > hi)
    return tl::unexpected(fmt::format("must be an integer from {} to {}", lo, hi));
  return static_cast<std::int64_t>(n);
}

bool may_see(const ph::Request& req, const services::orders::Order& o) {
  return req.identity && (req.identity->admin() || req.identity->subject == o.customer_id);
}

// What of an event's data the console may show: the reason of a refusal or a
// compensation, never the rest (OrderPlaced carries the payment token and the
// address).
json::object event_json(const adapters::embedded::ArchivedEvent& a) {
  json::object out{{"id", a.event_id}, {"type", a.type}};
  boost::system::error_code ec;
  auto v = json::parse(a.body, ec);
  if (ec || !v.is_object()) return out;
  const auto& e = v.get_object();
  for (const char* k : {"source", "time", "causationid"})
    if (const auto* f = e.if_contains(k); f && f->is_string()) out[k] = f->get_string();
  if (const auto* d = e.if_contains("data"); d && d->is_object())
    if (const auto* r = d->get_object().if_contains("reason"); r && r->is_string())
      out["reason"] = r->get_string();
  return out;
}

json::object dead_letter_json(const adapters::embedded::DeadLetter& d) {
  return {{"id", d.id},
          {"rule", d.rule},
          {"eventId", d.event_id},
          {"type", d.event_type},
          {"receiveCount", d.receive_count},
          {"lastError", d.last_error},
          {"deadAt", platform::format_rfc3339(d.dead_at)}};
}

// A redrive's answer: `$relay` is 400 (its letters can only be inspected).
ph::Response redrive_answer(const Result<std::size_t>& n, const ph::Request& req,
                            json::object body) {
  if (!n) {
    if (n.error().kind == ErrorKind::invalid_input)
      return ph::problem(400, "not-redrivable", "Not redrivable", n.error().message, req);
    return ph::problem_for(n.error(), req);
  }
  body["redriven"] = *n;
  return ph::Response::json(200, body);
}

ph::Response saga(EmbeddedHost& host, ph::Request& req) {
  auto o = host.orders().get_order(req.param("orderId"));
  if (!o) return ph::problem_for(o.error(), req);
  if (!*o || !may_see(req, **o))
    return ph::problem(404, "not-found", "Not found", "no such order", req);
  const auto& order = **o;
  json::object out{{"orderId", order.id}, {"status", services::orders::to_string(order.status)}};
  json::array events, failures, pending, dead;
  if (!order.timeline.empty()) {
    auto c = host.bus().correlated(order.timeline.front().event_id);
    if (!c) return ph::problem_for(c.error(), req);
    for (const auto& e : c->events) events.push_back(event_json(e));
    // Delivery errors name internals: for operators only.
    if (req.identity->admin()) {
      for (const auto& f : c->failures)
        failures.push_back(json::object{{"rule", f.rule},
                                        {"eventId", f.event_id},
                                        {"receiveCount", f.receive_count},
                                        {"error", f.error},
                                        {"at", platform::format_rfc3339(f.at)}});
      for (const auto& p : c->pending)
        pending.push_back(json::object{{"rule", p.rule},
                                       {"eventId", p.event_id},
                                       {"receiveCount", p.receive_count},
                                       {"inFlight", p.in_flight},
                                       {"lastError", p.last_error},
                                       {"visibleAt", platform::format_rfc3339(p.visible_at)}});
      for (const auto& d : c->dead) dead.push_back(dead_letter_json(d));
    }
  }
  out["events"] = std::move(events);
  if (req.identity->admin()) {
    out["failures"] = std::move(failures);
    out["pending"] = std::move(pending);
    out["deadLetters"] = std::move(dead);
  }
  return ph::Response::json(200, out);
}

ph::Response admin_orders(EmbeddedHost& host, ph::Request& req) {
  std::vector<platform::FieldError> errors;
  auto limit = int_param(req, "limit", 1, 100);
  if (!limit) errors.push_back({"limit", limit.error()});
  auto before = int_param(req, "before", 1, std::numeric_limits<std::int64_t>::max());
  if (!before) errors.push_back({"before", before.error()});
  std::optional<services::orders::Status> status;
  if (auto s = req.query_param("status")) {
    auto parsed = services::orders::parse_status(*s);
    if (parsed)
      status = *parsed;
    else
      errors.push_back({"status", "must be PENDING, CONFIRMED, SHIPPED, DELIVERED or CANCELLED"});
  }
  std::int64_t since_ms = 0;
  if (auto s = req.query_param("since")) {
    auto t = platform::parse_rfc3339(*s);
    if (t)
      since_ms = platform::to_unix_ms(*t);
    else
      errors.push_back({"since", "must be an RFC 3339 time"});
  }
  if (!errors.empty()) return ph::validation_problem(req, errors);
  const auto customer = req.query_param("customer");
  const std::size_t want = static_cast<std::size_t>(limit->value_or(20));

  // Newest OrderPlaced first; each order read as it is now. A filter that
  // matches little is bounded by the number of orders looked at per request.
  constexpr std::size_t kPage = 200, kMaxScanned = 2000;
  json::array items;
  std::int64_t cursor = before->value_or(0);
  std::size_t scanned = 0;
  bool more = true;
  while (items.size() < want && scanned < kMaxScanned && more) {
    auto page = host.bus().latest_of_type(std::string(services::contracts::OrderPlaced::kType),
                                          cursor, since_ms, kPage);
    if (!page) return ph::problem_for(page.error(), req);
    more = page->size() == kPage;
    for (const auto& a : *page) {
      cursor = a.seq;
      ++scanned;
      boost::system::error_code ec;
      auto v = json::parse(a.body, ec);
      const json::value* id = nullptr;
      if (!ec && v.is_object())
        if (const auto* d = v.get_object().if_contains("data"); d && d->is_object())
          id = d->get_object().if_contains("orderId");
      if (!id || !id->is_string()) continue;
      auto o = host.orders().get_order(std::string(id->get_string()));
      if (!o) return ph::problem_for(o.error(), req);
      if (!*o) continue;
      if (customer && (*o)->customer_id != *customer) continue;
      if (status && (*o)->status != *status) continue;
      items.push_back(services::orders::api_json(**o));
      if (items.size() == want) break;
    }
    if (page->empty()) more = false;
  }
  json::object out{{"items", std::move(items)}};
  // Where to go on from: the last order looked at (older ones remain).
  out["nextBefore"] = more || scanned >= kMaxScanned ? json::value(cursor) : json::value(nullptr);
  return ph::Response::json(200, out);
}

ph::Response queues(EmbeddedHost& host, ph::Request& req) {
  json::array items;
  for (const auto& rule : host.bus().rule_names()) {
    auto q = host.bus().stats(rule);
    if (!q) return ph::problem_for(q.error(), req);
    items.push_back(json::object{{"rule", rule},
                                 {"ready", q->ready},
                                 {"delayed", q->delayed},
                                 {"inFlight", q->in_flight},
                                 {"dead", q->dead},
                                 {"oldestAgeMs", q->oldest_age_ms}});
  }
  return ph::Response::json(200, json::object{{"items", std::move(items)}});
}

ph::Response redrive_one(EmbeddedHost& host, ph::Request& req) {
  char* end = nullptr;
  const auto& raw = req.param("id");
  const long long id = std::strtoll(raw.c_str(), &end, 10);
  if (raw.empty() || *end != '\0' || id < 1)
    return ph::validation_problem(req, {{"id", "must be a dead letter's id (a positive integer)"}});
  return redrive_answer(host.bus().redrive(req.param("rule"), id), req,
                        {{"rule", req.param("rule")}, {"id", static_cast<std::int64_t>(id)}});
}

}  // namespace

void add_console_routes(ph::Router& router, EmbeddedHost& host) {
  // A consistent online backup into <data-dir>/backups/<time>/ (backup.hpp).
  router.add("POST", "/v1/admin/backup", "admin", [&host](ph::Request& req) -> ph::Response {
    std::string stamp = platform::format_rfc3339(platform::SystemClock::instance().now());
    for (char& ch : stamp)
      if (ch == ':') ch = '-';
    auto m = backup(host, host.options().data_dir + "/backups/" + stamp);
    if (!m) return ph::problem_for(m.error(), req);
    return ph::Response::json(200, to_json(*m));
  });
  auto index = [](ph::Request& req) {
    return asset_response(req, *find_console_asset("index.html"));
  };
  router.add("GET", "/console", "", index);
  router.add("GET", "/console/", "", index);
  router.add("GET", "/console/{asset}", "", [](ph::Request& req) -> ph::Response {
    const auto* a = find_console_asset(req.param("asset"));
    if (!a) return ph::problem(404, "not-found", "Not found", "no such console asset", req);
    return asset_response(req, *a);
  });
  router.add("GET", "/v1/orders/{orderId}/saga", "orders:read",
             [&host](ph::Request& req) { return saga(host, req); });
  router.add("GET", "/v1/admin/orders", "admin",
             [&host](ph::Request& req) { return admin_orders(host, req); });
  router.add("GET", "/v1/admin/queues", "admin",
             [&host](ph::Request& req) { return queues(host, req); });
  router.add("GET", "/v1/admin/dlq", "admin", [&host](ph::Request& req) -> ph::Response {
    auto dead = host.bus().dead_letters(req.query_param("rule").value_or(""), 1000);
    if (!dead) return ph::problem_for(dead.error(), req);
    json::array items;
    for (const auto& d : *dead) items.push_back(dead_letter_json(d));
    return ph::Response::json(200, json::object{{"items", std::move(items)}});
  });
  router.add("POST", "/v1/admin/dlq/{rule}/redrive", "admin", [&host](ph::Request& req) {
    return redrive_answer(host.bus().redrive(req.param("rule")), req,
                          {{"rule", req.param("rule")}});
  });
  router.add("POST", "/v1/admin/dlq/{rule}/{id}/redrive", "admin",
             [&host](ph::Request& req) { return redrive_one(host, req); });
}

}  // namespace orderly::hosts::embedded
