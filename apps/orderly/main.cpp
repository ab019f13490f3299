// orderly: the command line. `orderly up` hosts the whole system in one
// process; the other commands operate on its data directory.
//
//   orderly up --port 8080 --data-dir .orderly
//   orderly token --data-dir .orderly --customer alice
//   orderly orders show ORDER_ID --data-dir .orderly
//   orderly events tail --data-dir .orderly
//   orderly dlq list --data-dir .orderly
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "demo.hpp"
#include "invoke.hpp"
#include "orderly/adapters/http/jwt.hpp"
#include "orderly/adapters/http/otlp.hpp"
#include "orderly/adapters/http/server.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/trace.hpp"
#include "orderly/services/system/api.hpp"
#include "orderly/services/system/embedded_system.hpp"

namespace {

using namespace orderly;
using adapters::embedded::DurableBus;
namespace json = boost::json;

struct Common {
  std::string data_dir = ".orderly";
  std::string durability = "normal";
};

struct UpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  int workers = 2;
  int http_threads = 2;
  double saga_timeout_s = 30;
  double carrier_delay_s = 5;
  double rate_limit = 100;
  double rate_burst = 200;
  std::int64_t max_backlog = 100'000;
  std::string log_level = "info";
  std::string issuer = "orderly-local";
  std::string audience = "orderly-api";
  std::string jwks_file;
  std::string otlp_endpoint;
};

int fail(const platform::Error& e) {
  std::fprintf(stderr, "orderly: %s\n", e.describe().c_str());
  return 1;
}

platform::Result<std::unique_ptr<DurableBus>> open_bus(const Common& c) {
  auto d = adapters::embedded::parse_durability(c.durability);
  if (!d) return tl::unexpected(d.error());
  if (!std::filesystem::exists(c.data_dir + "/bus.db"))
    return platform::fail(platform::ErrorKind::not_found, "no bus in {} (run orderly up first)",
                          c.data_dir);
  return DurableBus::open({.path = c.data_dir + "/bus.db", .durability = *d});
}

int cmd_up(const Common& c, const UpOptions& up) {
  // Block the stop signals before any thread starts, then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // One JSON object per line on stdout (platform/log.hpp); the human banner goes to stderr.
  platform::log::Config log_config;
  log_config.service = "orderly";
  log_config.level = platform::log::parse_level(up.log_level).value_or(platform::log::Level::info);
  platform::log::configure(std::move(log_config));
  // Spans also go to an OpenTelemetry collector when one is named.
  std::unique_ptr<adapters::http::OtlpExporter> otlp;
  std::string otlp_endpoint = up.otlp_endpoint;
  if (const char* e = std::getenv("ORDERLY_OTLP_ENDPOINT"); e && otlp_endpoint.empty())
    otlp_endpoint = e;
  if (!otlp_endpoint.empty()) {
    auto exporter = adapters::http::OtlpExporter::start({.endpoint = otlp_endpoint});
    if (!exporter) return fail(exporter.error());
    otlp = std::move(*exporter);
    platform::set_span_exporter([o = otlp.get()](const platform::SpanRecord& s) { o->enqueue(s); });
  }

  auto durability = adapters::embedded::parse_durability(c.durability);
  if (!durability) return fail(durability.error());
  auto keys = adapters::http::KeyPair::load_or_create(c.data_dir);
  if (!keys) return fail(keys.error());

  // The deployment: five services on their own SQLite stores and one durable
  // bus, behind one HTTP gateway.
  auto sys = services::system::EmbeddedSystem::open({
      .data_dir = c.data_dir,
      .durability = *durability,
      .workers = up.workers,
      .saga_timeout = platform::Millis{static_cast<std::int64_t>(up.saga_timeout_s * 1000)},
      .carrier_delay = platform::Millis{static_cast<std::int64_t>(up.carrier_delay_s * 1000)},
  });
  if (!sys) return fail(sys.error());
  auto api = services::system::Api::create(
      **sys, *keys,
      {.jwt = {.issuer = up.issuer, .audience = up.audience},
       .jwks_file = up.jwks_file.empty() ? std::nullopt : std::optional<std::string>(up.jwks_file),
       .rate_limit = {up.rate_limit, up.rate_burst},
       .max_backlog = up.max_backlog});
  if (!api) return fail(api.error());
  if (auto s = (*sys)->start(); !s) return fail(s.error());
  // The gateway logs each request itself, inside its span (platform::http::observe).
  auto server = adapters::http::HttpServer::start(
      {.host = up.host, .port = static_cast<std::uint16_t>(up.port), .threads = up.http_threads},
      [a = api->get()](platform::http::Request& r) { return a->handle(r); });
  if (!server) return fail(server.error());
  (*api)->set_ready(true);

  const std::string url = fmt::format("http://{}:{}", up.host, (*server)->port());
  platform::log::info("listening on " + url, {{"url", url},
                                              {"data_dir", c.data_dir},
                                              {"durability", c.durability},
                                              {"workers", up.workers}});
  std::fprintf(stderr, "orderly: listening on %s\n", url.c_str());
  std::fprintf(stderr, "orderly: try it:\n");
  std::fprintf(stderr,
               "  TOKEN=$(build/bin/orderly token --data-dir %s --customer alice | tail -n1)\n",
               c.data_dir.c_str());
  std::fprintf(
      stderr,
      "  curl -s -X POST %s/v1/orders -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: "
      "application/json' "
      "-d '{\"items\":[{\"sku\":\"KB-MECH-01\",\"quantity\":1}],\"paymentToken\":\"tok_ok\","
      "\"shippingAddress\":{\"name\":\"Alice\",\"line1\":\"1 Main "
      "St\",\"city\":\"London\",\"postalCode\":\"N1 1AA\","
      "\"country\":\"GB\"}}'\n",
      url.c_str());

  int sig = 0;
  sigwait(&stop_signals, &sig);
  platform::log::info("stopping: finishing in-flight requests and handlers", {{"signal", sig}});
  (*api)->set_ready(false);
  (*server)->stop();  // no new requests; the ones in flight are answered
  (*sys)->stop();     // handlers finish and settle; the outboxes are flushed
  if (otlp) {
    platform::set_span_exporter({});
    otlp->stop();
  }
  platform::log::info("stopped");
  return 0;
}

int cmd_token(const Common& c, const std::string& customer, bool admin,
              const std::vector<std::string>& scopes, long ttl, const UpOptions& up) {
  auto keys = adapters::http::KeyPair::load_or_create(c.data_dir);
  if (!keys) return fail(keys.error());
  std::set<std::string> s(scopes.begin(), scopes.end());
  if (s.empty()) s = {"orders:read", "orders:write"};
  if (admin) s.insert("admin");
  std::printf("%s\n", adapters::http::issue_token(
                          *keys, {.issuer = up.issuer, .audience = up.audience}, customer, s,
                          std::chrono::seconds(ttl), platform::SystemClock::instance().now())
                          .c_str());
  return 0;
}

// Every archived event of the order's saga (its correlation id is the id of the
// OrderPlaced that started it), as the tree of causes: each line is an event,
// indented under the event that caused it, with the time since the order was
// placed and the time spent on that hop.
void print_causal_chain(const Common& c, const std::string& root_id) {
  auto bus = open_bus(c);
  if (!bus) return;
  std::map<std::string, platform::CloudEvent> events;
  for (std::int64_t after = 0;;) {
    auto page = (*bus)->archive_since(after, 2000);
    if (!page || page->empty()) break;
    after = page->back().seq;
    for (const auto& a : *page) {
      auto e = platform::parse_event(a.body);
      if (!e) continue;
      if (e->id == root_id || e->correlationid == root_id) events.emplace(e->id, std::move(*e));
    }
  }
  auto root = events.find(root_id);
  if (root == events.end()) return;
  std::multimap<std::string, const platform::CloudEvent*> children;  // cause -> effects
  for (const auto& [id, e] : events)
    if (id != root_id) children.emplace(e.causationid.value_or(root_id), &e);
  const auto t0 = platform::parse_rfc3339(root->second.time);
  std::string trace;
  if (root->second.traceparent) trace = root->second.traceparent->substr(3, 32);
  std::printf("\ncausal chain (%zu events, trace %s)\n%10s %10s  %s\n", events.size(),
              trace.empty() ? "none" : trace.c_str(), "SINCE", "HOP", "EVENT");
  std::function<void(const platform::CloudEvent&, int)> walk = [&](const platform::CloudEvent& e,
                                                                   int depth) {
    const auto at = platform::parse_rfc3339(e.time);
    long long since = t0 && at ? static_cast<long long>((*at - *t0).count()) : 0;
    long long hop = 0;
    if (e.causationid)
      if (auto p = events.find(*e.causationid); p != events.end())
        if (auto pt = platform::parse_rfc3339(p->second.time); pt && at)
          hop = static_cast<long long>((*at - *pt).count());
    std::printf("%8lldms %8lldms  %*s%s  (%s)\n", since, hop, depth * 2, "", e.type.c_str(),
                e.source.c_str());
    std::vector<const platform::CloudEvent*> kids;
    for (auto [it, end] = children.equal_range(e.id); it != end; ++it) kids.push_back(it->second);
    std::sort(kids.begin(), kids.end(),
              [](const auto* a, const auto* b) { return a->time < b->time; });
    for (const auto* k : kids) walk(*k, depth + 1);
  };
  walk(root->second, 0);
}

int cmd_orders_show(const Common& c, const std::string& id) {
  if (!std::filesystem::exists(c.data_dir + "/orders.db"))
    return fail({platform::ErrorKind::not_found, "no orders store in " + c.data_dir});
  auto store = adapters::embedded::SqliteItemStore::open(c.data_dir + "/orders.db");
  if (!store) return fail(store.error());
  services::orders::OrdersService orders(**store, platform::SystemClock::instance());
  auto o = orders.get_order(id);
  if (!o) return fail(o.error());
  if (!*o) return fail({platform::ErrorKind::not_found, "no order " + id});
  const auto& order = **o;
  std::printf("order %s  customer %s  %s", order.id.c_str(), order.customer_id.c_str(),
              std::string(services::orders::to_string(order.status)).c_str());
  if (order.cancellation_reason) std::printf(" (%s)", order.cancellation_reason->c_str());
  std::printf("  total %lld %s\n\n", static_cast<long long>(order.total.amount),
              order.total.currency.c_str());
  std::printf("%-26s %-48s %s\n", "TIME", "EVENT", "EVENT ID");
  for (const auto& t : order.timeline)
    std::printf("%-26s %-48s %s\n", t.time.c_str(), t.type.c_str(), t.event_id.c_str());
  if (order.timeline.empty()) return 0;
  print_causal_chain(c, order.timeline.front().event_id);
  return 0;
}

int cmd_events_tail(const Common& c, const std::string& type, bool follow, std::size_t last) {
  auto bus = open_bus(c);
  if (!bus) return fail(bus.error());
  auto count = (*bus)->archived_count();
  std::int64_t after = 0;
  if (count && *count > static_cast<std::int64_t>(last)) {
    auto skip = (*bus)->archive_since(
        0, static_cast<std::size_t>(*count - static_cast<std::int64_t>(last)));
    if (skip && !skip->empty()) after = skip->back().seq;
  }
  for (;;) {
    auto batch = (*bus)->archive_since(after, 1000);
    if (!batch) return fail(batch.error());
    for (const auto& e : *batch) {
      after = e.seq;
      if (!type.empty() && e.type.find(type) == std::string::npos) continue;
      boost::system::error_code ec;
      auto v = json::parse(e.body, ec);
      // Never print a payment token.
      if (!ec && v.is_object()) {
        if (auto* d = v.as_object().if_contains("data");
            d && d->is_object() && d->as_object().contains("paymentToken"))
          d->as_object()["paymentToken"] = "[redacted]";
        std::printf("%s\n", json::serialize(v).c_str());
      }
    }
    std::fflush(stdout);
    if (!follow) return 0;
    if (batch->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

int cmd_dlq_list(const Common& c, const std::string& rule) {
  auto bus = open_bus(c);
  if (!bus) return fail(bus.error());
  auto dead = (*bus)->dead_letters(rule, 1000);
  if (!dead) return fail(dead.error());
  std::printf("%-24s %-38s %-44s %8s  %s\n", "RULE", "EVENT", "TYPE", "RECEIVES", "LAST ERROR");
  for (const auto& d : *dead)
    std::printf("%-24s %-38s %-44s %8d  %s\n", d.rule.c_str(), d.event_id.c_str(),
                d.event_type.c_str(), d.receive_count, d.last_error.c_str());
  std::printf("%zu dead letter(s)\n", dead->size());
  return 0;
}

int cmd_dlq_redrive(const Common& c, const std::string& rule) {
  auto bus = open_bus(c);
  if (!bus) return fail(bus.error());
  auto n = (*bus)->redrive(rule);
  if (!n) return fail(n.error());
  std::printf("redrove %zu message(s) of %s\n", *n, rule.c_str());
  return 0;
}

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--data-dir", c.data_dir, "Directory of the SQLite files and keys")
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Orderly: event-driven order fulfilment in C++"};
  app.require_subcommand(1);
  Common common;
  UpOptions up_options;
  std::string rule, id, customer, type;
  bool admin = false, follow = false;
  std::vector<std::string> scopes;
  long ttl = 3600;
  std::size_t last = 20;

  auto* up = app.add_subcommand(
      "up", "Run the whole system (five services, bus, HTTP gateway) in this process");
  add_common(up, common);
  up->add_option("--durability", common.durability,
                 "normal (survives kill -9) or full (fsync per commit; survives power loss)")
      ->check(CLI::IsMember({"normal", "full"}))
      ->capture_default_str();
  up->add_option("--host", up_options.host, "Listen address")->capture_default_str();
  up->add_option("--port", up_options.port, "Listen port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  up->add_option("--workers", up_options.workers, "Bus worker threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--http-threads", up_options.http_threads, "HTTP threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--saga-timeout", up_options.saga_timeout_s,
                 "Seconds before a pending order is cancelled")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  up->add_option("--carrier-delay", up_options.carrier_delay_s,
                 "Seconds between the carrier's steps")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  up->add_option("--rate-limit", up_options.rate_limit, "Requests per second per subject")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--rate-burst", up_options.rate_burst, "Token bucket size per subject")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--max-backlog", up_options.max_backlog,
                 "Undelivered events above which new orders get 503")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--log-level", up_options.log_level,
                 "info logs every request and span; warn does not (ORDERLY_LOG_LEVEL wins)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  up->add_option("--issuer", up_options.issuer, "Expected JWT issuer")->capture_default_str();
  up->add_option("--audience", up_options.audience, "Expected JWT audience")->capture_default_str();
  up->add_option("--otlp-endpoint", up_options.otlp_endpoint,
                 "Also send spans to this OTLP/HTTP collector (JSON), e.g. http://127.0.0.1:4318 "
                 "(or ORDERLY_OTLP_ENDPOINT)");
  up->add_option("--jwks-file", up_options.jwks_file,
                 "Verify tokens with this JWKS (e.g. Cognito's) instead of the local key");

  auto* token =
      app.add_subcommand("token", "Print a JWT signed with the data directory's key (last line)");
  add_common(token, common);
  token->add_option("--customer", customer, "The subject (customer id)")->required();
  token->add_flag("--admin", admin, "Add the admin scope");
  token->add_option("--scope", scopes,
                    "A scope; repeat for more (default: orders:read orders:write)");
  token->add_option("--ttl", ttl, "Seconds until it expires")
      ->check(CLI::Range(1L, 31L * 24 * 3600))
      ->capture_default_str();
  token->add_option("--issuer", up_options.issuer, "Issuer claim")->capture_default_str();
  token->add_option("--audience", up_options.audience, "Audience claim")->capture_default_str();

  auto* orders = app.add_subcommand("orders", "Inspect orders");
  orders->require_subcommand(1);
  auto* show = orders->add_subcommand("show", "Print an order's status and timeline");
  add_common(show, common);
  show->add_option("ID", id, "The order id")->required();

  auto* events = app.add_subcommand("events", "Read the event archive");
  events->require_subcommand(1);
  auto* tail = events->add_subcommand("tail", "Print recent events and follow new ones");
  add_common(tail, common);
  tail->add_option("--type", type, "Only types containing this text");
  tail->add_option("-n,--last", last, "How many past events to print first")->capture_default_str();
  tail->add_flag("!--no-follow", follow, "Exit after printing instead of following");
  follow = true;

  app::DemoOptions demo_options;
  std::string demo_target = "embedded";
  auto* demo = app.add_subcommand(
      "demo", "Place a mix of orders, follow them to the end, check the invariants");
  demo->add_option("--url", demo_target,
                   "A running orderly up (http://127.0.0.1:8080), or 'embedded'")
      ->capture_default_str();
  demo->add_option("--orders", demo_options.orders, "How many orders")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  demo->add_option("--concurrency", demo_options.concurrency, "Concurrent clients")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  demo->add_option("--data-dir", demo_options.data_dir,
                   "With --url: the server's data dir (for a token)")
      ->capture_default_str();
  demo->add_flag("!--no-progress", demo_options.progress, "No progress bar");

  auto* dlq = app.add_subcommand("dlq", "Inspect and redrive dead letters");
  dlq->require_subcommand(1);
  auto* dlq_list = dlq->add_subcommand("list", "List dead letters with their last error");
  add_common(dlq_list, common);
  dlq_list->add_option("--rule", rule, "Only this rule");
  auto* dlq_redrive =
      dlq->add_subcommand("redrive", "Move a rule's dead letters back to its queue");
  add_common(dlq_redrive, common);
  dlq_redrive->add_option("RULE", rule, "The rule")->required();

  app::InvokeOptions invoke_options;
  auto* invoke = app.add_subcommand(
      "invoke", "Run a service's Lambda bootstrap on one event under a local Runtime API");
  invoke->add_option("SERVICE", invoke_options.service, "The service")
      ->required()
      ->check(CLI::IsMember({"orders", "inventory", "payments", "shipping", "notifications"}));
  invoke->add_option("--handler", invoke_options.handler, "_HANDLER: api or events")
      ->check(CLI::IsMember({"api", "events"}))
      ->capture_default_str();
  invoke->add_option("--event", invoke_options.event_file, "The event JSON file ('-': stdin)")
      ->required();
  std::vector<std::string> store_spec;
  invoke
      ->add_option("--store", store_spec,
                   "sqlite (in --data-dir), or dynamodb-endpoint URL (e.g. dynalite)")
      ->expected(1, 2);
  invoke->add_option("--table", invoke_options.table, "DynamoDB table (default orderly-SERVICE)");
  invoke->add_option("--data-dir", invoke_options.data_dir, "Where the sqlite store lives")
      ->capture_default_str();
  invoke->add_option("--bootstrap", invoke_options.bootstrap,
                     "The bootstrap to run (default: build/lambda/SERVICE/bootstrap)");
  invoke->add_option("--timeout", invoke_options.timeout_s, "Seconds (the function's timeout)")
      ->check(CLI::Range(0.1, 900.0))
      ->capture_default_str();
  invoke->add_option("--repeat", invoke_options.repeat, "Invoke the same event N times (warm)")
      ->check(CLI::Range(1, 100000));
  invoke->add_flag("--timing", invoke_options.timing,
                   "Print init time (exec to first /next) and idle RSS to stderr");

  app.add_subcommand("version", "Print the version")->callback([] {
    std::printf("orderly 0.1.0\n");
  });

  CLI11_PARSE(app, argc, argv);
  if (up->parsed()) return cmd_up(common, up_options);
  if (token->parsed()) return cmd_token(common, customer, admin, scopes, ttl, up_options);
  if (show->parsed()) return cmd_orders_show(common, id);
  if (tail->parsed()) return cmd_events_tail(common, type, follow, last);
  if (demo->parsed()) {
    if (demo_target != "embedded") demo_options.url = demo_target;
    if (demo_options.data_dir.empty()) demo_options.data_dir = common.data_dir;
    return app::run_demo(demo_options);
  }
  if (invoke->parsed()) {
    if (!store_spec.empty()) {
      invoke_options.store = store_spec[0];
      if (store_spec[0] == "dynamodb-endpoint" && store_spec.size() == 2) {
        invoke_options.dynamodb_endpoint = store_spec[1];
      } else if (!(store_spec[0] == "sqlite" && store_spec.size() == 1)) {
        std::fprintf(stderr, "invoke: --store is 'sqlite' or 'dynamodb-endpoint URL'\n");
        return 2;
      }
    }
    return app::run_invoke(invoke_options, argv[0]);
  }
  if (dlq_list->parsed()) return cmd_dlq_list(common, rule);
  if (dlq_redrive->parsed()) return cmd_dlq_redrive(common, rule);
  return 0;
}
