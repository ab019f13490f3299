// The Lambda host shared by the five bootstraps.
#include "orderly/apps/lambda/host.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <thread>

#include "orderly/adapters/aws/dynamodb.hpp"
#include "orderly/adapters/aws/mappers.hpp"
#include "orderly/adapters/http/client.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/trace.hpp"
#include "orderly/services/payments/simulated_provider.hpp"

namespace orderly::apps::lambda {

namespace json = boost::json;
using platform::ErrorKind;
using platform::fail;

namespace {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_busy{false};

// SIGTERM: Lambda is shutting the sandbox down. Idle (waiting in /next): leave
// at once; busy: finish the invocation, then leave.
extern "C" void on_sigterm(int) {
  g_stop.store(true);
  if (!g_busy.load()) _exit(0);
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

// EMF lines go to stdout like every log line: CloudWatch Logs extracts the metrics.
void flush_metrics(const std::string& service) {
  static const std::string ns = [] {
    auto n = env("ORDERLY_METRICS_NAMESPACE");
    return n.empty() ? std::string("Orderly") : n;
  }();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  for (auto& line : platform::metrics::registry().emf(ns, {{"service", service}}, now)) {
    line += '\n';
    std::fwrite(line.data(), 1, line.size(), stdout);
  }
  std::fflush(stdout);
}

struct Stores {
  std::unique_ptr<adapters::aws::DynamoDbClient> client;
  std::unique_ptr<platform::ItemStore> store;
};

platform::Result<Stores> open_store(const std::string& service) {
  Stores out;
  const std::string spec = env("ORDERLY_STORE");
  // DynamoDB only: no SQLite in a bootstrap (ADR 0018). `orderly invoke` runs
  // them on DynamoDB Local.
  if (!spec.empty() && spec != "dynamodb")
    return fail(ErrorKind::invalid_input, "ORDERLY_STORE={}: the only store is dynamodb", spec);
  const std::string table = env("ORDERLY_TABLE");
  if (table.empty())
    return fail(ErrorKind::invalid_input, "ORDERLY_TABLE is not set (the {} table)", service);
  auto options = adapters::aws::dynamodb_options_from_env();
  if (!options) return tl::unexpected(options.error());
  auto client = adapters::aws::DynamoDbClient::create(std::move(*options));
  if (!client) return tl::unexpected(client.error());
  out.client = std::move(*client);
  out.store = std::make_unique<adapters::aws::DynamoDbItemStore>(
      *out.client, adapters::aws::DynamoDbStoreOptions{.table = table});
  return out;
}

}  // namespace

platform::Result<std::string> read_secret(const std::string& secret_id) {
  std::string port = env("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT");
  if (port.empty()) port = "2773";
  const std::string token = env("AWS_SESSION_TOKEN");
  if (token.empty())
    return fail(ErrorKind::failed_precondition,
                "AWS_SESSION_TOKEN is not set: the secrets extension needs it");
  std::string encoded;
  for (unsigned char ch : secret_id) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
      encoded += static_cast<char>(ch);
    else
      encoded += fmt::format("%{:02X}", ch);
  }
  auto client = adapters::http::HttpClient::create(
      "http://localhost:" + port,
      {.connect_timeout = std::chrono::seconds(1), .request_timeout = std::chrono::seconds(5)});
  if (!client) return tl::unexpected(client.error());
  platform::Error last{ErrorKind::transient, "not tried"};
  // Lambda starts the runtime's init once the extension has registered, not
  // once it is ready: until then it refuses connections, or answers 400 "not
  // ready to serve traffic". Those, throttling (429) and 5xx are retried with
  // backoff until the bound (ORDERLY_SECRET_WAIT_MS, default 8 s, inside the
  // 10 s init phase); any other answer is final.
  const auto wait_ms = [] {
    const std::string v = env("ORDERLY_SECRET_WAIT_MS");
    char* end = nullptr;
    const long n = v.empty() ? 8'000 : std::strtol(v.c_str(), &end, 10);
    return n > 0 && n <= 60'000 ? n : 8'000;
  }();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  int attempts = 0;
  for (auto pause = std::chrono::milliseconds(50);;
       pause = std::min(pause * 2, std::chrono::milliseconds(1'000))) {
    ++attempts;
    auto r = (*client)->send("GET", "/secretsmanager/get?secretId=" + encoded,
                             {{"X-Aws-Parameters-Secrets-Token", token}}, "");
    bool again = false;
    if (!r) {
      last = r.error();
      again = true;
    } else if (r->status != 200) {
      const bool not_ready = r->status == 400 && r->body.find("not ready") != std::string::npos;
      again = not_ready || r->status == 429 || r->status >= 500;
      last = {again ? ErrorKind::transient : ErrorKind::forbidden,
              fmt::format("secrets extension answered HTTP {} for {}", r->status, secret_id)};
      if (!again) return tl::unexpected(last);
    }
    if (again) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline)
        return fail(last.kind,
                    "secrets extension not ready after {} attempts in {} ms (port {}): {}",
                    attempts, wait_ms, port, last.message);
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
      continue;
    }
    boost::system::error_code ec;
    auto doc = json::parse(r->body, ec);
    const auto* value =
        !ec && doc.is_object() ? doc.as_object().if_contains("SecretString") : nullptr;
    if (!value || !value->is_string() || value->get_string().empty())
      return fail(ErrorKind::permanent, "secret {} has no SecretString", secret_id);
    return std::string(value->get_string());
  }
}

platform::BatchHandler route_by_rule(std::vector<platform::Rule> rules) {
  auto shared = std::make_shared<std::vector<platform::Rule>>(std::move(rules));
  return [shared](const std::vector<platform::Delivery>& batch) {
    std::vector<platform::DeliveryResult> results(batch.size());
    std::vector<std::vector<std::size_t>> positions(shared->size());
    std::vector<std::vector<platform::Delivery>> groups(shared->size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::size_t r = 0;
      while (r < shared->size() && !(*shared)[r].pattern.matches(batch[i].event)) ++r;
      if (r == shared->size()) {
        results[i] = platform::DeliveryResult::fail(
            fmt::format("no rule of this service takes {}", batch[i].event.type));
        continue;
      }
      positions[r].push_back(i);
      groups[r].push_back(batch[i]);
    }
    for (std::size_t r = 0; r < shared->size(); ++r) {
      if (groups[r].empty()) continue;
      auto got = (*shared)[r].handler(groups[r]);
      for (std::size_t k = 0; k < positions[r].size(); ++k)
        results[positions[r][k]] =
            k < got.size() ? std::move(got[k])
                           : platform::DeliveryResult::retry("handler returned too few results");
    }
    return results;
  };
}

adapters::aws::InvocationHandler api(
    const std::function<void(platform::http::Router&)>& add_routes) {
  auto router = std::make_shared<platform::http::Router>();
  add_routes(*router);
  return [router](const adapters::aws::Invocation& inv) -> platform::Result<std::string> {
    boost::system::error_code ec;
    auto event = json::parse(inv.payload, ec);
    if (ec) event = json::value();  // the mapper answers 400 for anything it cannot read
    auto res = adapters::aws::handle_apigw_v2(event, [&](platform::http::Request& r) {
      // The caller's traceparent, else the X-Ray trace of this invocation.
      auto parent = r.header("traceparent");
      if (!parent || !platform::parse_traceparent(*parent)) parent = inv.traceparent;
      return platform::http::observe(
          r, router->route_of(r), parent,
          [&](platform::http::Request& rr) { return router->handle(rr); });
    });
    return json::serialize(res);
  };
}

std::vector<VisibilityChange> retry_visibility(
    const std::vector<adapters::aws::FailedRecord>& failed, const platform::Backoff& backoff,
    std::minstd_rand& rng) {
  std::vector<VisibilityChange> out;
  for (const auto& f : failed) {
    if (f.receipt_handle.empty()) continue;
    const auto url = adapters::aws::queue_url_of(f.event_source_arn);
    if (url.empty()) continue;
    // Poison will fail again: let it come back at once and reach the DLQ in
    // maxReceiveCount quick receives. Anything else waits out the backoff, in
    // whole seconds as SQS counts them (0 is "visible now").
    const auto ms = f.poison ? 0 : backoff.delay(f.receive_count, rng).count();
    out.push_back({url, f.message_id, f.receipt_handle, static_cast<int>((ms + 999) / 1000)});
  }
  return out;
}

std::vector<json::object> visibility_batch_requests(const std::vector<VisibilityChange>& changes) {
  std::map<std::string, std::vector<const VisibilityChange*>> by_queue;
  for (const auto& c : changes) by_queue[c.queue_url].push_back(&c);
  std::vector<json::object> out;
  for (const auto& [url, all] : by_queue) {
    for (std::size_t from = 0; from < all.size(); from += 10) {
      json::array entries;
      for (std::size_t i = from; i < std::min(all.size(), from + 10); ++i)
        entries.push_back(json::object{{"Id", fmt::format("m{}", i)},
                                       {"ReceiptHandle", all[i]->receipt_handle},
                                       {"VisibilityTimeout", all[i]->seconds}});
      out.push_back({{"QueueUrl", url}, {"Entries", std::move(entries)}});
    }
  }
  return out;
}

namespace {

// A failure is logged, never fatal: the message then comes back after the
// queue's visibility timeout instead.
void change_visibility(adapters::aws::DynamoDbClient& sqs,
                       const std::vector<VisibilityChange>& changes) {
  for (const auto& request : visibility_batch_requests(changes)) {
    const auto url = request.at("QueueUrl");
    const auto n = request.at("Entries").as_array().size();
    auto r = sqs.call("ChangeMessageVisibilityBatch", request);
    if (!r) {
      platform::log::warn("retry backoff not set; the queue's visibility timeout applies",
                          {{"queue", url}, {"messages", n}, {"error", r.error().message}});
      continue;
    }
    if (const auto* bad = r->if_contains("Failed");
        bad && bad->is_array() && !bad->as_array().empty())
      platform::log::warn("retry backoff not set for some messages",
                          {{"queue", url}, {"failed", json::serialize(*bad)}});
  }
}

}  // namespace

adapters::aws::InvocationHandler events(std::vector<platform::Rule> rules,
                                        std::function<platform::Result<std::size_t>()> sweep) {
  auto handler = route_by_rule(std::move(rules));
  // ORDERLY_SQS_RETRY_BACKOFF=1 (the CDK app sets it): a failed record comes
  // back after the embedded bus's backoff (platform::RuleOptions), set with
  // ChangeMessageVisibility, instead of after the queue's visibility timeout.
  std::shared_ptr<adapters::aws::DynamoDbClient> sqs;
  if (env("ORDERLY_SQS_RETRY_BACKOFF") == "1") {
    auto o = adapters::aws::sqs_options_from_env();
    auto c = o ? adapters::aws::DynamoDbClient::create(std::move(*o))
               : platform::Result<std::unique_ptr<adapters::aws::DynamoDbClient>>(
                     tl::unexpected(o.error()));
    if (c)
      sqs = std::move(*c);
    else
      platform::log::warn("no SQS client: failed messages wait out the visibility timeout",
                          {{"error", c.error().message}});
  }
  const platform::RuleOptions defaults;
  const platform::Backoff backoff{defaults.backoff_base, defaults.backoff_cap};
  return [handler, sqs, backoff,
          sweep](const adapters::aws::Invocation& inv) -> platform::Result<std::string> {
    boost::system::error_code ec;
    auto event = json::parse(inv.payload, ec);
    if (ec) return fail(ErrorKind::invalid_input, "the event is not JSON: {}", ec.message());
    // The scheduled rule's input (infra: topology sweepInput), as EventBridge passes it.
    if (sweep && event == json::parse(hosts::kSweepInput)) {
      auto n = sweep();
      if (!n) return tl::unexpected(n.error());
      platform::log::info("sweep", {{"done", std::to_string(*n)}});
      return json::serialize(json::object{{"done", *n}});
    }
    std::vector<adapters::aws::FailedRecord> failed;
    auto answer = adapters::aws::handle_sqs_batch(event, handler, &failed);
    if (!answer) return tl::unexpected(answer.error());
    if (sqs && !failed.empty()) {
      thread_local std::minstd_rand rng{std::random_device{}()};
      change_visibility(*sqs, retry_visibility(failed, backoff, rng));
    }
    return json::serialize(*answer);
  };
}

namespace {

// The ports beyond store and clock, made the Lambda way.
platform::Status provide_ports(const hosts::ServiceSpec& spec, platform::ItemStore& store,
                               std::vector<std::shared_ptr<void>>& owned,
                               services::payments::PaymentProvider*& provider) {
  if (!spec.needs_port(hosts::Port::payment_provider)) return {};
  // The provider key, read at init from Secrets Manager through the extension
  // when ORDERLY_PAYMENT_SECRET_ARN is set (the CDK app sets it); unreadable is
  // an init error. The provider is still the simulator, its ledger in the
  // service's table: it holds the key and does not use it.
  if (const std::string arn = env("ORDERLY_PAYMENT_SECRET_ARN"); !arn.empty()) {
    auto key = read_secret(arn);
    if (!key) return tl::unexpected(key.error());
    platform::log::info("payment provider key loaded",
                        {{"secret_arn", arn}, {"bytes", key->size()}});
    owned.push_back(std::make_shared<std::string>(std::move(*key)));
  }
  auto simulated = std::make_shared<services::payments::SimulatedProvider>(&store);
  provider = simulated.get();
  owned.push_back(std::move(simulated));
  return {};
}

}  // namespace

int serve(const hosts::ServiceSpec& spec) {
  const std::string& service = spec.name;
  struct sigaction sa {};
  sa.sa_handler = on_sigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);

  const std::string endpoint = env("AWS_LAMBDA_RUNTIME_API");
  const std::string wanted = env("_HANDLER");
  platform::log::Config log_config;
  log_config.service = service;
  if (auto fn = env("AWS_LAMBDA_FUNCTION_NAME"); !fn.empty())
    log_config.static_fields["function"] = fn;
  platform::log::configure(std::move(log_config));
  static auto& cold_starts = platform::metrics::registry().counter(
      "orderly_cold_starts_total", "Lambda sandboxes initialised (cold starts)");
  cold_starts.with({}).inc();
  auto init_failed = [&](const platform::Error& e) {
    platform::log::error("init failed", {{"error", e.describe()}});
    if (!endpoint.empty()) adapters::aws::report_init_error(endpoint, e);
    return 1;
  };
  const auto kinds = spec.lambda_handlers();
  if (std::find(kinds.begin(), kinds.end(), wanted) == kinds.end())
    return init_failed(
        {ErrorKind::invalid_input, fmt::format("_HANDLER={}: this bootstrap ({}) has {}", wanted,
                                               service, fmt::join(kinds, ", "))});
  auto stores = open_store(service);
  if (!stores) return init_failed(stores.error());
  hosts::Settings settings;
  // The seed catalogue goes into an empty table on first start (one read
  // after that), unless ORDERLY_SEED_CATALOGUE=0.
  settings.seed_catalogue = env("ORDERLY_SEED_CATALOGUE") != "0";
  // Days a delivered order's personal data is kept (orders; infra -c retentionDays).
  if (const std::string days = env("ORDERLY_RETENTION_DAYS"); !days.empty()) {
    char* end = nullptr;
    const double d = std::strtod(days.c_str(), &end);
    if (end == days.c_str() || *end != '\0' || !(d >= 0 && d <= 36500))
      return init_failed(
          {ErrorKind::invalid_input,
           fmt::format("ORDERLY_RETENTION_DAYS={}: expected days from 0 to 36500", days)});
    settings.retention = platform::Millis{static_cast<std::int64_t>(d * 86'400'000)};
  }
  std::vector<std::shared_ptr<void>> owned;
  services::payments::PaymentProvider* provider = nullptr;
  if (auto s = provide_ports(spec, *stores->store, owned, provider); !s)
    return init_failed(s.error());
  auto svc = spec.build({.store = *stores->store,
                         .clock = platform::SystemClock::instance(),
                         .settings = settings,
                         .payment_provider = provider});
  if (!svc) return init_failed(svc.error());
  if (spec.start)
    if (auto s = spec.start(**svc, settings); !s) return init_failed(s.error());
  adapters::aws::InvocationHandler handler =
      wanted == "api"
          ? api([&](platform::http::Router& r) { spec.routes(r, **svc); })
          : events((*svc)->rules(),
                   spec.sweep ? std::function([&]() { return spec.sweep(**svc, settings); })
                              : nullptr);
  platform::log::info("ready", {{"handler", wanted}});
  bool cold = true;
  adapters::aws::InvocationHandler observed =
      [&](const adapters::aws::Invocation& inv) -> platform::Result<std::string> {
    platform::log::Scope scope({.request_id = inv.request_id, .cold_start = cold});
    cold = false;
    auto out = handler(inv);
    if (!out) platform::log::error("invocation failed", {{"error", out.error().message}});
    flush_metrics(service);
    return out;
  };
  return adapters::aws::run_handler(observed, {.stop = &g_stop, .busy = &g_busy});
}

}  // namespace orderly::apps::lambda
