// The gateway: the table's routes, health, readiness, metrics, JWKS, admin DLQ,
// the console;
// auth, rate limit, shedding.
#include "orderly/hosts/embedded/gateway.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

#include "orderly/hosts/embedded/console.hpp"
#include "orderly/platform/metrics.hpp"

namespace orderly::hosts::embedded {

namespace json = boost::json;
namespace ph = platform::http;

Result<std::unique_ptr<Gateway>> Gateway::create(EmbeddedHost& host,
                                                 const adapters::http::KeyPair& keys,
                                                 GatewayOptions options) {
  json::object jwks = keys.jwks();
  if (options.jwks_file) {
    std::ifstream in(*options.jwks_file);
    std::stringstream ss;
    ss << in.rdbuf();
    boost::system::error_code ec;
    auto v = json::parse(ss.str(), ec);
    if (ec || !v.is_object())
      return platform::fail(platform::ErrorKind::invalid_input, "{} is not a JWKS document",
                            *options.jwks_file);
    jwks = v.get_object();
  }
  auto verifier = adapters::http::TokenVerifier::create(options.jwt, jwks);
  if (!verifier) return tl::unexpected(verifier.error());
  return std::unique_ptr<Gateway>(
      new Gateway(host, std::move(*verifier), keys.jwks(), std::move(options)));
}

Gateway::Gateway(EmbeddedHost& host, adapters::http::TokenVerifier verifier, json::object jwks,
                 GatewayOptions o)
    : host_(host),
      verifier_(std::move(verifier)),
      jwks_(std::move(jwks)),
      options_(std::move(o)),
      limiter_(options_.rate_limit, platform::SystemClock::instance()),
      verify_limiter_(options_.verify_limit, platform::SystemClock::instance()) {
  for (const ServiceSpec* spec : service_table())
    if (spec->routes) spec->routes(router_, host_.service(spec->name));

  router_.add("GET", "/healthz", "", [](ph::Request&) {
    ph::Response res;  // a fixed answer: no JSON serialiser per probe
    res.body = R"({"status":"ok"})";
    return res.with("Content-Type", "application/json");
  });
  router_.add("GET", "/readyz", "", [this](ph::Request& req) { return readiness(req); });
  // Business figures (revenue, orders by status): admin only, never public.
  router_.add("GET", "/metrics", "admin", [](ph::Request&) {
    ph::Response res;
    res.status = 200;
    res.body = platform::metrics::registry().prometheus();
    return res.with("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  });
  router_.add("GET", "/.well-known/jwks.json", "", [this](ph::Request&) {
    return ph::Response::json(200, jwks_).with("Cache-Control", "max-age=300");
  });
  // The console, its read models and the DLQ operations (hosts/embedded/src/console.cpp).
  add_console_routes(router_, host_);
}

bool Gateway::overloaded() {
  // The backlog is counted at most every 100 ms, not on every request.
  const auto now = platform::to_unix_ms(platform::SystemClock::instance().now());
  auto last = backlog_checked_ms_.load();
  if (now - last >= 100 && backlog_checked_ms_.compare_exchange_strong(last, now)) {
    auto b = host_.bus().backlog();
    if (b) backlog_ = *b;
  }
  return backlog_.load() > options_.max_backlog;
}

// Ready when the workers run, every store answers a read, and the bus backlog
// is under the load-shedding bound (above it POST /v1/orders gets 503 anyway).
ph::Response Gateway::readiness(ph::Request& req) {
  json::object stores;
  bool ok = ready_.load();
  for (const ServiceSpec* spec : service_table()) {
    auto probe = host_.store(spec->name).get("HEALTH#probe", "probe");
    stores[spec->name] = probe ? "ok" : probe.error().message;
    ok = ok && probe.has_value();
  }
  // A relay that has not completed a pass for 10 s (it normally does one at
  // least every idle poll, 100 ms) is stalled: nothing new reaches the queues.
  const auto relay = host_.bus().relay_health();
  const auto now_ms = platform::to_unix_ms(platform::SystemClock::instance().now());
  const bool relay_ok = !ready_.load() || now_ms - relay.last_ok_ms < 10'000;
  // Likewise the workers: each pass over the rules takes at most an idle poll
  // when there is nothing to do, so 10 s without a good one is a stall.
  const auto workers = host_.bus().worker_health();
  const bool workers_ok = !ready_.load() || now_ms - workers.last_ok_ms < 10'000;
  ok = ok && relay_ok && workers_ok;
  auto backlog = host_.bus().backlog();
  json::object bus{{"backlog", backlog ? json::value(*backlog) : json::value(nullptr)},
                   {"maxBacklog", options_.max_backlog},
                   {"relay", relay_ok ? "ok" : "stalled"},
                   {"relayErrors", relay.errors},
                   {"workers", workers_ok ? "ok" : "stalled"},
                   {"workerErrors", workers.errors}};
  if (!relay.last_error.empty()) bus["relayLastError"] = relay.last_error;
  if (!workers.last_error.empty()) bus["workerLastError"] = workers.last_error;
  if (!backlog) bus["error"] = backlog.error().message;
  ok = ok && backlog && *backlog <= options_.max_backlog;
  json::object body{{"status", ok ? "ready" : "not-ready"},
                    {"workers", ready_.load() ? "running" : "stopped"},
                    {"stores", std::move(stores)},
                    {"bus", std::move(bus)}};
  if (!ok) {
    // A problem (RFC 9457) with the same details as extension members.
    ph::Response res =
        ph::problem(503, "not-ready", "Not ready",
                    "a store, the workers or the bus backlog is not fit to take orders", req)
            .with("Retry-After", "1");
    boost::system::error_code ec;
    auto doc = json::parse(res.body, ec);
    if (!ec && doc.is_object()) {
      for (auto& [k, v] : body)
        if (k != "status") doc.as_object()[k] = v;
      res.body = json::serialize(doc);
    }
    return res;
  }
  return ph::Response::json(200, body);
}

ph::Response Gateway::handle(ph::Request& req) {
  const std::string route = router_.route_of(req);
  return ph::observe(req, route, req.header("traceparent"),
                     [this](ph::Request& r) { return handle_inner(r); });
}

ph::Response Gateway::handle_inner(ph::Request& req) {
  if (auto auth = req.header("authorization")) {
    constexpr std::string_view kBearer = "Bearer ";
    const bool bearer =
        auth->size() > kBearer.size() &&
        std::equal(kBearer.begin(), kBearer.end(), auth->begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); });
    if (!bearer) {
      req.auth_error = "use an Authorization: Bearer token";
    } else {
      const auto token = std::string_view(*auth).substr(kBearer.size());
      const auto now = platform::SystemClock::instance().now();
      auto who = verifier_.known(token, now);
      if (!who) {
        // A token never seen, or forged: metered per client before any
        // signature check, so a flood of forgeries cannot buy CPU.
        if (auto wait = verify_limiter_.acquire("ip:" + req.client))
          return ph::problem(429, "rate-limited", "Too many requests",
                             "too many new tokens from this client; slow down", req)
              .with("Retry-After", std::to_string(wait->count()));
        if (verifying_.fetch_add(1) >= options_.max_verifications) {
          --verifying_;
          return ph::problem(503, "overloaded", "Service overloaded",
                             "too many tokens being verified; retry later", req)
              .with("Retry-After", "1");
        }
        who = verifier_.verify(token, now);
        --verifying_;
      }
      // A bad token is refused by the routes that need one; public routes ignore it.
      if (*who)
        req.identity = std::move(**who);
      else
        req.auth_error = who->error().message;
    }
  }
  // Probes and the metrics scrape are not rate limited (openapi.yaml says so).
  if (req.path != "/healthz" && req.path != "/readyz" && req.path != "/metrics") {
    const std::string key = req.identity ? "sub:" + req.identity->subject : "ip:" + req.client;
    if (auto wait = limiter_.acquire(key))
      return ph::problem(429, "rate-limited", "Too many requests", "slow down", req)
          .with("Retry-After", std::to_string(wait->count()));
  }
  if (req.method == "POST" && req.path == "/v1/orders" && overloaded())
    return ph::problem(503, "overloaded", "Service overloaded",
                       "the event backlog is over its bound; retry later", req)
        .with("Retry-After", "2");
  ph::Response res = router_.handle(req);
  // Validators on the API's reads, so that a poller (the console) gets 304s.
  if (req.path.rfind("/v1/", 0) == 0) apply_entity_tag(req, res);
  return res;
}

}  // namespace orderly::hosts::embedded
