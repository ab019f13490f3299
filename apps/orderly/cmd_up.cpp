// `orderly up`: the whole system (five services, the bus, the HTTP gateway) in
// this process, until SIGINT or SIGTERM stops it gracefully.
#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "orderly/adapters/http/jwt.hpp"
#include "orderly/adapters/http/otlp.hpp"
#include "orderly/adapters/http/server.hpp"
#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/hosts/embedded/gateway.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::app {

namespace {

struct UpOptions {
  Common common;
  bool aws_local = false;
  std::string host = "127.0.0.1";
  int port = 8080;
  int workers = 2;
  // Under a backlog, 64 messages per receive gave about 30% more orders/s
  // than each rule's own 10, in unrecorded runs made before the group-commit
  // fix (d981ca2); not measured again since.
  int batch_size = 64;
  int http_threads = 2;
  double saga_timeout_s = 30;
  double retention_days = 90;
  double retention_sweep_s = 60;
  double fulfilment_timeout_s =
      std::chrono::duration<double>(hosts::Settings{}.fulfilment_timeout).count();
  double carrier_delay_s = 5;
  double rate_limit = 100;
  double verify_rate = hosts::embedded::GatewayOptions{}.verify_limit.rate;
  std::size_t max_connections = adapters::http::ServerOptions{}.max_connections;
  std::size_t max_connections_per_client =
      adapters::http::ServerOptions{}.max_connections_per_client;
  double rate_burst = 200;
  std::int64_t max_backlog = 100'000;
  std::string log_level = "info";
  std::string issuer = kDefaultIssuer;
  std::string audience = kDefaultAudience;
  std::string jwks_file;
  std::string otlp_endpoint;
};

// The human banner on stderr: where it listens, and a first order to paste.
constexpr std::string_view kOrderBody =
    R"({"items":[{"sku":"KB-MECH-01","quantity":1}],"paymentToken":"tok_ok",)"
    R"("shippingAddress":{"name":"Alice","line1":"1 Main St","city":"London",)"
    R"("postalCode":"N1 1AA","country":"GB"}})";
constexpr std::string_view kBanner = R"(orderly: listening on {url}
orderly: try it:
  TOKEN=$(build/bin/orderly token --data-dir {data_dir} --customer alice | tail -n1)
  curl -s -X POST {url}/v1/orders -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{body}'
)";

int cmd_up(const UpOptions& up) {
  const Common& c = up.common;
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
  auto lock = DataDirLock::acquire(c.data_dir);
  if (!lock) return fail(lock.error());
  auto keys = adapters::http::KeyPair::load_or_create(c.data_dir);
  if (!keys) return fail(keys.error());

  // The deployment: five services on their own SQLite stores and one durable
  // bus, behind one HTTP gateway.
  auto sys = hosts::embedded::EmbeddedHost::open({
      .data_dir = c.data_dir,
      .durability = *durability,
      .workers = up.workers,
      .batch_size = up.batch_size,
      .saga_timeout = platform::Millis{static_cast<std::int64_t>(up.saga_timeout_s * 1000)},
      .fulfilment_timeout =
          platform::Millis{static_cast<std::int64_t>(up.fulfilment_timeout_s * 1000)},
      .carrier_delay = platform::Millis{static_cast<std::int64_t>(up.carrier_delay_s * 1000)},
      .retention = platform::Millis{static_cast<std::int64_t>(up.retention_days * 86'400'000)},
      .retention_sweep_every =
          platform::Millis{static_cast<std::int64_t>(up.retention_sweep_s * 1000)},
  });
  if (!sys) return fail(sys.error());
  auto api = hosts::embedded::Gateway::create(
      **sys, *keys,
      {.jwt = {.issuer = up.issuer, .audience = up.audience},
       .jwks_file = up.jwks_file.empty() ? std::nullopt : std::optional<std::string>(up.jwks_file),
       .rate_limit = {up.rate_limit, up.rate_burst},
       .verify_limit = {up.verify_rate, 2 * up.verify_rate},
       .max_backlog = up.max_backlog});
  if (!api) return fail(api.error());
  if (auto s = (*sys)->start(); !s) return fail(s.error());
  // The gateway logs each request itself, inside its span (platform::http::observe).
  adapters::http::ServerOptions listen{
      .host = up.host, .port = static_cast<std::uint16_t>(up.port), .threads = up.http_threads};
  listen.max_connections = up.max_connections;
  listen.max_connections_per_client = up.max_connections_per_client;
  auto server = adapters::http::HttpServer::start(
      std::move(listen), [a = api->get()](platform::http::Request& r) { return a->handle(r); });
  if (!server) return fail(server.error());
  (*api)->set_ready(true);

  const std::string url = fmt::format("http://{}:{}", up.host, (*server)->port());
  platform::log::info("listening on " + url, {{"url", url},
                                              {"data_dir", c.data_dir},
                                              {"durability", c.durability},
                                              {"workers", up.workers}});
  fmt::print(stderr, kBanner, fmt::arg("url", url), fmt::arg("data_dir", c.data_dir),
             fmt::arg("body", kOrderBody));

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

// `orderly up --aws-local`: the AWS-local twin (tools/aws-local/twin.mjs), the
// stack the CDK app synthesizes run on this machine with the real bootstraps of
// build/lambda; like `sam local`, not a production engine (docs/operations.md).
int exec_aws_local(const UpOptions& o) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const auto lambda_dir = (self.parent_path().parent_path() / "lambda").string();
  const std::string twin = ORDERLY_SOURCE_DIR "/tools/aws-local/twin.mjs";
  if (!std::filesystem::exists(twin) ||
      !std::filesystem::exists(lambda_dir + "/orders/bootstrap")) {
    std::fprintf(stderr, "up --aws-local: needs %s and the bootstraps in %s (make lambda)\n",
                 twin.c_str(), lambda_dir.c_str());
    return 2;
  }
  // Like `orderly up`, it stops on SIGINT or SIGTERM, not when stdin closes.
  std::vector<std::string> args{"node",           twin,
                                "--data-dir",     o.common.data_dir,
                                "--port",         std::to_string(o.port),
                                "--lambda-dir",   lambda_dir,
                                "--ignore-stdin", "--prewarm"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp("node", argv.data());
  std::perror("up --aws-local: node");
  return 2;
}

}  // namespace

void add_up_command(CLI::App& app) {
  auto o = std::make_shared<UpOptions>();
  auto* up = app.add_subcommand(
      "up", "Run the whole system (five services, bus, HTTP gateway) in this process");
  add_common(up, o->common);
  up->add_option("--durability", o->common.durability,
                 "normal (survives kill -9) or full (fsync per commit; survives power loss)")
      ->check(CLI::IsMember({"normal", "full"}))
      ->capture_default_str();
  up->add_option("--host", o->host, "Listen address")->capture_default_str();
  up->add_option("--port", o->port, "Listen port (0: any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  up->add_option("--workers", o->workers, "Bus worker threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--batch-size", o->batch_size,
                 "Messages a bus worker takes from a rule at once (0: each rule's own)")
      ->check(CLI::Range(0, 10'000))
      ->capture_default_str();
  up->add_option("--http-threads", o->http_threads, "HTTP threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  up->add_option("--saga-timeout", o->saga_timeout_s, "Seconds before a pending order is cancelled")
      ->check(CLI::Range(0.001, 86400.0))
      ->capture_default_str();
  up->add_option("--fulfilment-timeout", o->fulfilment_timeout_s,
                 "Seconds after confirmation before an order that has not shipped is cancelled "
                 "(through shipping, which refuses if it has left)")
      ->check(CLI::Range(0.001, 864000.0))
      ->capture_default_str();
  up->add_option("--carrier-delay", o->carrier_delay_s, "Seconds between the carrier's steps")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  up->add_option("--retention-days", o->retention_days,
                 "Days a delivered order's personal data is kept before it is erased (0: kept)")
      ->check(CLI::Range(0.0, 36500.0))
      ->capture_default_str();
  up->add_option("--retention-sweep-seconds", o->retention_sweep_s,
                 "How often expired personal data is looked for, besides after each delivery "
                 "(0: only after deliveries)")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  up->add_option("--rate-limit", o->rate_limit, "Requests per second per subject")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--rate-burst", o->rate_burst, "Token bucket size per subject")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--verify-rate", o->verify_rate,
                 "New (uncached) bearer tokens checked per second per client address; burst 2x")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--max-connections", o->max_connections,
                 "Open connections in all; one over is answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--max-connections-per-client", o->max_connections_per_client,
                 "Open connections per client address; one over is answered 503 and closed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--max-backlog", o->max_backlog,
                 "Undelivered events above which new orders get 503")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  up->add_option("--log-level", o->log_level,
                 "info logs every request and span; warn does not (ORDERLY_LOG_LEVEL wins)")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  up->add_option("--issuer", o->issuer, "Expected JWT issuer")->capture_default_str();
  up->add_option("--audience", o->audience, "Expected JWT audience")->capture_default_str();
  up->add_option("--otlp-endpoint", o->otlp_endpoint,
                 "Also send spans to this OTLP/HTTP collector (JSON), e.g. http://127.0.0.1:4318 "
                 "(or ORDERLY_OTLP_ENDPOINT)");
  up->add_option("--jwks-file", o->jwks_file,
                 "Verify tokens with this JWKS (e.g. Cognito's) instead of the local key");
  up->add_flag("--aws-local", o->aws_local,
               "Run the AWS-local twin instead: the synthesized CDK stack with the Lambda "
               "bootstraps, DynamoDB Local, pipes, rules, SQS and the HTTP API (needs Java 17)");
  up->callback([o] { exit_with(o->aws_local ? exec_aws_local(*o) : cmd_up(*o)); });
}

}  // namespace orderly::app
