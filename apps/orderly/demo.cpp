// The demo driver: the same order mix against the embedded system or a URL.
#include "demo.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <thread>

#include "orderly/adapters/http/client.hpp"
#include "orderly/adapters/http/jwt.hpp"
#include "orderly/hosts/embedded/audit.hpp"
#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/platform/id.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/services/contracts/events.hpp"
#include "orderly/services/inventory/service.hpp"
#include "orderly/services/orders/api.hpp"

namespace orderly::app {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

struct Spec {
  std::vector<services::contracts::StockLine> items;
  std::string token;
};

// Mostly good orders; some declines, flaky providers and out-of-stock lines.
const std::vector<std::string>& demo_skus() {
  static const std::vector<std::string> skus = {"KB-MECH-01", "MS-WL-02",  "CB-USBC-1M",
                                                "SSD-1TB-NV", "PAD-XL-01", "HUB-USB3-4",
                                                "CHG-GAN-65", "WC-1080P"};
  return skus;
}

Spec pick(std::mt19937& rng) {
  const auto& skus = demo_skus();
  std::uniform_int_distribution<int> roll(0, 99), qty(1, 3), n_lines(1, 3);
  std::uniform_int_distribution<std::size_t> sku(0, skus.size() - 1);
  Spec s;
  const int r = roll(rng);
  s.token = r < 85 ? "tok_ok" : r < 92 ? "tok_decline" : "tok_flaky";
  std::set<std::string> used;
  for (int i = n_lines(rng); i > 0; --i) {
    auto k = skus[sku(rng)];
    if (used.insert(k).second) s.items.push_back({k, qty(rng)});
  }
  if (r >= 96) s.items.push_back({"LTD-ED-01", 50});  // more than exists: out of stock
  return s;
}

struct Placed {
  std::string id;
  Clock::time_point at;
  std::int64_t intended_ms;  // unix ms it was meant to be sent (its send time without --rate)
  bool clean;  // no simulated fault: tok_ok, every line in stock (no provider retry, no refusal)
};

struct Outcome {
  std::string final;                   // DELIVERED or the cancellation reason
  double latency_ms;                   // place -> terminal, from the intended send time
  std::optional<double> confirmed_ms;  // place -> CONFIRMED, if it was confirmed
  bool clean = false;
};

// An order as the demo follows it: its status, and from its timeline (event
// times, on the server's clock) when it was confirmed and when it ended.
struct Seen {
  std::string status, reason;
  std::optional<std::int64_t> confirmed_ms, terminal_ms;
};

std::int64_t unix_ms_now() {
  return platform::to_unix_ms(platform::SystemClock::instance().now());
}

void read_timeline(const std::vector<std::pair<std::string, std::string>>& entries, Seen& seen) {
  for (const auto& [type, time] : entries) {
    const auto at = platform::parse_rfc3339(time);
    if (!at) continue;
    const auto ms = platform::to_unix_ms(*at);
    if (type == services::contracts::OrderConfirmed::kType) seen.confirmed_ms = ms;
    if (type == services::contracts::OrderDelivered::kType ||
        type == services::contracts::OrderCancelled::kType)
      seen.terminal_ms = ms;
  }
}

class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::optional<std::string> place(const Spec& s, std::string& error) = 0;
  // Status, the cancellation reason if cancelled, and timeline times; nullopt on error.
  virtual std::optional<Seen> status(const std::string& id) = 0;
  // Raises a product's stock to at least `minimum`, so a long run does not just sell out.
  virtual bool ensure_stock(const std::string& sku, std::int64_t minimum) = 0;
};

class EmbeddedDriver final : public Driver {
 public:
  explicit EmbeddedDriver(hosts::embedded::EmbeddedHost& sys) : sys_(sys) {}
  std::optional<std::string> place(const Spec& s, std::string& error) override {
    services::orders::PlaceOrder cmd{
        platform::new_uuid_v7(),
        "demo-customer",
        s.items,
        s.token,
        {"Demo Customer", "1 Demo Street", std::nullopt, "London", "N1 1AA", "GB"},
        {}};
    auto o = sys_.orders().place_order(std::move(cmd));
    if (!o) {
      error = o.error().describe();
      return std::nullopt;
    }
    return o->id;
  }
  std::optional<Seen> status(const std::string& id) override {
    auto o = sys_.orders().get_order(id);
    if (!o || !*o) return std::nullopt;
    Seen seen{std::string(services::orders::to_string((*o)->status)),
              (*o)->cancellation_reason.value_or(""),
              {},
              {}};
    std::vector<std::pair<std::string, std::string>> entries;
    for (const auto& t : (*o)->timeline) entries.emplace_back(t.type, t.time);
    read_timeline(entries, seen);
    return seen;
  }
  bool ensure_stock(const std::string& sku, std::int64_t minimum) override {
    auto p = sys_.inventory().get_product(sku);
    if (!p || !*p) return false;
    if ((*p)->on_hand >= minimum) return true;
    return sys_.inventory().upsert_product(sku, (*p)->name, (*p)->price, minimum).has_value();
  }

 private:
  hosts::embedded::EmbeddedHost& sys_;
};

// Over HTTP, each driver has its own HttpClient: one keep-alive connection.
class HttpDriver final : public Driver {
 public:
  HttpDriver(std::unique_ptr<adapters::http::HttpClient> client, std::string token,
             std::string admin_token)
      : client_(std::move(client)), token_(std::move(token)), admin_(std::move(admin_token)) {}

  bool ensure_stock(const std::string& sku, std::int64_t minimum) override {
    auto got = request("GET", "/v1/products/" + sku, "");
    if (!got || got->status != 200) return false;
    auto p = json::parse(got->body).as_object();
    if (p.at("available").as_int64() >= minimum) return true;
    json::object body{{"name", p.at("name")}, {"price", p.at("price")}, {"stock", minimum}};
    auto put = request("PUT", "/v1/products/" + sku, json::serialize(body), admin_);
    return put && put->status == 200;
  }

  std::optional<std::string> place(const Spec& s, std::string& error) override {
    json::array items;
    for (const auto& l : s.items)
      items.push_back(json::object{{"sku", l.sku}, {"quantity", l.quantity}});
    json::object body{{"items", items},
                      {"paymentToken", s.token},
                      {"shippingAddress",
                       {{"name", "Demo Customer"},
                        {"line1", "1 Demo Street"},
                        {"city", "London"},
                        {"postalCode", "N1 1AA"},
                        {"country", "GB"}}}};
    auto res = request("POST", "/v1/orders", json::serialize(body));
    // The orders service learns the catalogue through the bus; a server that
    // has just started (the AWS-local twin seeds it at start) may not know
    // every SKU yet: wait for it, for 30 s at most from the first refusal.
    for (int i = 0;
         i < 60 && res && res->status == 422 && res->body.find("unknown sku") != std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      res = request("POST", "/v1/orders", json::serialize(body));
    }
    if (!res || res->status != 202) {
      error = res ? fmt::format("HTTP {}: {}", res->status, res->body) : "connection failed";
      return std::nullopt;
    }
    return std::string(json::parse(res->body).at("orderId").as_string());
  }
  std::optional<Seen> status(const std::string& id) override {
    auto res = request("GET", "/v1/orders/" + id, "");
    if (!res || res->status != 200) return std::nullopt;
    auto v = json::parse(res->body).as_object();
    Seen seen{std::string(v.at("status").as_string()),
              v.contains("cancellationReason") ? std::string(v.at("cancellationReason").as_string())
                                               : std::string(),
              {},
              {}};
    std::vector<std::pair<std::string, std::string>> entries;
    if (const auto* t = v.if_contains("timeline"); t && t->is_array())
      for (const auto& e : t->get_array())
        if (e.is_object() && e.as_object().contains("type") && e.as_object().contains("time"))
          entries.emplace_back(std::string(e.at("type").as_string()),
                               std::string(e.at("time").as_string()));
    read_timeline(entries, seen);
    return seen;
  }

 private:
  // nullopt if the server cannot be reached (the client retries a stale connection once).
  std::optional<adapters::http::ClientResponse> request(std::string_view method,
                                                        const std::string& target, std::string body,
                                                        const std::string& token = {}) {
    adapters::http::Headers headers{
        {"Authorization", "Bearer " + (token.empty() ? token_ : token)}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    auto res = client_->send(method, target, headers, std::move(body));
    if (!res) return std::nullopt;
    return std::move(*res);
  }
  std::unique_ptr<adapters::http::HttpClient> client_;
  std::string token_, admin_;
};

double pct(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int run_demo(const DemoOptions& o) {
  std::unique_ptr<hosts::embedded::EmbeddedHost> sys;
  // One driver per worker thread, and the last one for this thread (stock, status
  // polls): over HTTP, each has its own connection.
  std::vector<std::unique_ptr<Driver>> drivers;
  std::filesystem::path tmp;
  // Embedded, the terminal is the report's: the system's own log lines go to a
  // file, kept after the run, and the report ends with a pointer to it.
  struct LogFile {
    std::string path;
    std::FILE* file = nullptr;
    std::mutex mu;
    std::size_t lines = 0, problems = 0;  // problems: WARN and ERROR lines
  };
  auto log_file = std::make_shared<LogFile>();
  if (o.url.empty()) {
    log_file->path = (std::filesystem::temp_directory_path() /
                      ("orderly-demo-" + std::to_string(::getpid()) + ".log"))
                         .string();
    log_file->file = std::fopen(log_file->path.c_str(), "w");
    platform::log::Config config{.service = "orderly", .level = platform::log::Level::info};
    if (log_file->file) {
      config.sink = [log_file](std::string_view line) {
        std::lock_guard lk(log_file->mu);
        std::fwrite(line.data(), 1, line.size(), log_file->file);
        std::fputc('\n', log_file->file);
        ++log_file->lines;
        if (line.find(R"("level":"WARN")") != std::string_view::npos ||
            line.find(R"("level":"ERROR")") != std::string_view::npos)
          ++log_file->problems;
      };
    } else {
      config.level = platform::log::Level::warn;  // no file: only what is wrong, on stdout
    }
    platform::log::configure(std::move(config));
    tmp = std::filesystem::temp_directory_path() / ("orderly-demo-" + std::to_string(::getpid()));
    std::filesystem::remove_all(tmp);
    auto s = hosts::embedded::EmbeddedHost::open(
        {.data_dir = tmp.string(),
         .saga_timeout = platform::Millis{static_cast<std::int64_t>(o.saga_timeout_s * 1000)},
         .carrier_delay = platform::Millis{static_cast<std::int64_t>(o.carrier_delay_s * 1000)}});
    if (!s || !(*s)->start()) {
      std::fprintf(stderr, "demo: cannot start the embedded system\n");
      return 2;
    }
    sys = std::move(*s);
    // Wait for the orders service to learn every product the demo orders (the
    // ProductUpdated events of the seed), or the first orders fail as unknown skus.
    auto known = [&] {
      for (const auto& sku : demo_skus())
        if (!sys->orders().catalogue_entry(sku)) return false;
      return true;
    };
    for (int i = 0; i < 3000 && !known(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!known()) {
      std::fprintf(stderr, "demo: the orders service did not learn the catalogue in 30 s\n");
      return 2;
    }
    for (int i = 0; i <= o.concurrency; ++i)
      drivers.push_back(std::make_unique<EmbeddedDriver>(*sys));
  } else {
    // A URL without a scheme is plain HTTP, as it always was.
    const std::string url = o.url.find("://") == std::string::npos ? "http://" + o.url : o.url;
    auto keys = adapters::http::KeyPair::load_or_create(o.data_dir);
    if (!keys) {
      std::fprintf(stderr, "demo: %s\n", keys.error().describe().c_str());
      return 2;
    }
    auto token = adapters::http::issue_token(
        *keys, {}, "demo-customer", {"orderly/orders:read", "orderly/orders:write"},
        std::chrono::hours(2), platform::SystemClock::instance().now());
    auto admin =
        adapters::http::issue_token(*keys, {}, "demo-admin", {"orderly/admin"},
                                    std::chrono::hours(2), platform::SystemClock::instance().now());
    for (int i = 0; i <= o.concurrency; ++i) {
      auto client = adapters::http::HttpClient::create(url);
      if (!client) {
        std::fprintf(stderr, "demo: %s\n", client.error().describe().c_str());
        return 2;
      }
      drivers.push_back(std::make_unique<HttpDriver>(std::move(*client), token, admin));
    }
  }
  Driver& driver = *drivers.back();

  for (const auto& sku : demo_skus())
    if (!driver.ensure_stock(sku, 4LL * o.orders + 100)) {
      std::fprintf(stderr, "demo: cannot stock %s\n", sku.c_str());
      return 2;
    }

  std::mutex mu;
  std::vector<Placed> placed;
  std::map<std::string, int> place_errors;
  std::atomic<int> next{0}, done_placing{0};
  const auto t0 = Clock::now();
  const std::int64_t t0_ms = unix_ms_now();
  std::vector<std::thread> workers;
  for (int w = 0; w < o.concurrency; ++w)
    workers.emplace_back([&, w] {
      std::mt19937 rng(static_cast<unsigned>(1000 + w));
      for (int i = next++; i < o.orders; i = next++) {
        const auto spec = pick(rng);
        std::string error;
        // With --rate, order i is due at t0 + i / rate whether or not the
        // server kept up: a late send counts its lateness in its latency.
        std::int64_t intended_ms = 0;
        if (o.rate > 0) {
          const auto offset = std::chrono::microseconds(
              static_cast<std::int64_t>(static_cast<double>(i) * 1e6 / o.rate));
          std::this_thread::sleep_until(t0 + offset);
          intended_ms = t0_ms + offset.count() / 1000;
        }
        const auto at = Clock::now();
        if (o.rate <= 0) intended_ms = unix_ms_now();
        auto id = drivers[static_cast<std::size_t>(w)]->place(spec, error);
        std::lock_guard lk(mu);
        const bool clean = spec.token == "tok_ok" &&
                           std::none_of(spec.items.begin(), spec.items.end(),
                                        [](const auto& l) { return l.sku == "LTD-ED-01"; });
        if (id)
          placed.push_back({*id, at, intended_ms, clean});
        else
          ++place_errors[error.substr(0, 80)];
        ++done_placing;
      }
    });

  // Follow every placed order to a terminal state; the progress bar shows both.
  std::map<std::string, Outcome> outcomes;
  std::int64_t last_terminal_ms = t0_ms;  // when the last order ended, on the server's clock
  // Each order at most every 200 ms, oldest first, and at most kPollsPerTick
  // reads every 20 ms tick: an order's latencies come from the times on its
  // timeline, not from when a poll saw it, so polling more only loads the
  // server being measured (polling every order every 25 ms made 5.6 GETs per
  // order against its 1 POST, a tenth of the server's CPU).
  constexpr int kPollsPerTick = 25;
  std::map<std::string, Clock::time_point> polled;
  const auto deadline =
      Clock::now() + std::chrono::seconds(120 + static_cast<int>(o.saga_timeout_s));
  auto draw = [&](bool final) {
    if (!o.progress) return;
    const int width = 30;
    const double frac = o.orders ? static_cast<double>(outcomes.size()) / o.orders : 1.0;
    std::fprintf(stderr, "\r[%-*s] placed %d/%d  terminal %zu%s", width,
                 std::string(static_cast<std::size_t>(frac * width), '#').c_str(),
                 done_placing.load(), o.orders, outcomes.size(), final ? "\n" : "");
  };
  for (;;) {
    std::vector<Placed> snapshot;
    {
      std::lock_guard lk(mu);
      snapshot = placed;
    }
    int polls = 0;
    for (const auto& p : snapshot) {
      if (outcomes.count(p.id)) continue;
      auto& last = polled[p.id];
      if (Clock::now() - last < std::chrono::milliseconds(200)) continue;
      if (++polls > kPollsPerTick) break;
      last = Clock::now();
      auto st = driver.status(p.id);
      if (!st) continue;
      if (st->status == "DELIVERED" || st->status == "CANCELLED") {
        // From the timeline's event times when it has them (exact, whatever
        // the polling interval), else from when this poll saw it.
        const auto seen_ms = static_cast<double>(unix_ms_now() - p.intended_ms);
        Outcome out{
            st->status == "DELIVERED" ? "DELIVERED" : "CANCELLED " + st->reason,
            st->terminal_ms ? static_cast<double>(*st->terminal_ms - p.intended_ms) : seen_ms,
            std::nullopt, p.clean};
        if (st->confirmed_ms)
          out.confirmed_ms = static_cast<double>(*st->confirmed_ms - p.intended_ms);
        last_terminal_ms = std::max(last_terminal_ms, st->terminal_ms.value_or(unix_ms_now()));
        outcomes[p.id] = std::move(out);
      }
    }
    draw(false);
    const bool all_placed = done_placing.load() >= o.orders;
    if (all_placed && outcomes.size() == snapshot.size()) break;
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& t : workers) t.join();
  draw(true);
  // Throughput up to the last order's end as its timeline dates it: a status
  // poller that lags behind the system does not lower it.
  const double seconds = std::max(1e-3, static_cast<double>(last_terminal_ms - t0_ms) / 1000.0);

  // All orders, and those with no simulated fault: a flaky provider's
  // orders wait for the bus's retry backoff (200 ms and up) by design.
  std::vector<double> lat, confirmed, clean_confirmed, clean_lat;
  std::map<std::string, int> counts;
  for (const auto& [id, out] : outcomes) {
    lat.push_back(out.latency_ms);
    if (out.confirmed_ms) confirmed.push_back(*out.confirmed_ms);
    if (out.clean) {
      clean_lat.push_back(out.latency_ms);
      if (out.confirmed_ms) clean_confirmed.push_back(*out.confirmed_ms);
    }
    ++counts[out.final];
  }
  std::printf("\n%-28s %12s\n", "orders placed", std::to_string(placed.size()).c_str());
  if (o.rate > 0) std::printf("%-28s %12.1f\n", "intended rate (orders/s)", o.rate);
  std::printf("%-28s %12.1f\n", "orders/s (to terminal)",
              static_cast<double>(outcomes.size()) / seconds);
  std::printf("%-28s %9.1f ms\n", "place->confirmed p50", pct(confirmed, 0.50));
  std::printf("%-28s %9.1f ms\n", "place->confirmed p99", pct(confirmed, 0.99));
  std::printf("%-28s %9.1f ms\n", "place->confirmed p99.9", pct(confirmed, 0.999));
  std::printf("%-28s %9.1f ms\n", "place->terminal p50", pct(lat, 0.50));
  std::printf("%-28s %9.1f ms\n", "place->terminal p90", pct(lat, 0.90));
  std::printf("%-28s %9.1f ms\n", "place->terminal p99", pct(lat, 0.99));
  std::printf("%-28s %9.1f ms\n", "place->terminal p99.9", pct(lat, 0.999));
  std::printf("%-28s %12zu\n", "orders with no fault", clean_lat.size());
  std::printf("%-28s %9.1f ms\n", "  place->confirmed p50", pct(clean_confirmed, 0.50));
  std::printf("%-28s %9.1f ms\n", "  place->confirmed p99", pct(clean_confirmed, 0.99));
  std::printf("%-28s %9.1f ms\n", "  place->confirmed p99.9", pct(clean_confirmed, 0.999));
  std::printf("%-28s %9.1f ms\n", "  place->terminal p99", pct(clean_lat, 0.99));
  std::printf("\n%-28s %12s\n", "outcome", "orders");
  for (const auto& [k, v] : counts) std::printf("%-28s %12d\n", k.c_str(), v);
  for (const auto& [k, v] : place_errors)
    std::printf("%-28s %12d  (%s)\n", "place failed", v, k.c_str());

  // Invariants.
  std::vector<std::string> broken;
  if (outcomes.size() != placed.size())
    broken.push_back(fmt::format("{} of {} orders never reached a terminal state",
                                 placed.size() - outcomes.size(), placed.size()));
  if (!place_errors.empty()) broken.push_back("some orders could not be placed");
  std::string money = "checked";
  if (sys) {
    sys->stop();
    std::int64_t delivered_total = 0, captured = 0;
    for (const auto& [id, out] : outcomes) {
      auto ord = sys->orders().get_order(id);
      if (out.final == "DELIVERED" && ord && *ord) delivered_total += (*ord)->total.amount;
    }
    // Charged twice: two payment events for one order in the bus's archive (the
    // simulated provider refuses a second capture, so its counters cannot show it).
    if (auto events = hosts::embedded::audit::money_events(sys->bus()); !events)
      broken.push_back("the archive could not be audited: " + events.error().message);
    else
      for (auto& problem : hosts::embedded::audit::repeated_money_events(*events))
        broken.push_back(std::move(problem));
    for (const auto& [key, acct] : sys->provider().accounts()) {
      if (acct.authorized && !acct.captured && !acct.voided)
        broken.push_back("payment " + key + " left authorised");
      if (acct.captured && !acct.refunded) captured += acct.captured_amount.amount;
    }
    if (captured != delivered_total)
      broken.push_back(
          fmt::format("captured {} != delivered totals {}", captured, delivered_total));
    auto products = sys->inventory().list_products();
    if (products)
      for (const auto& p : *products)
        if (p.reserved != 0) broken.push_back(p.sku + " still has stock reserved");
    auto dead = sys->bus().dead_letters();
    if (dead && !dead->empty()) broken.push_back(fmt::format("{} dead letters", dead->size()));
    sys.reset();
    std::filesystem::remove_all(tmp);
  } else {
    money = "not checked (needs the embedded mode's stores)";
  }
  std::printf("\ninvariants: terminal states, stock reservations, money %s: %s\n", money.c_str(),
              broken.empty() ? "OK" : "FAILED");
  for (const auto& b : broken) std::printf("  - %s\n", b.c_str());
  if (log_file->file) {
    platform::log::configure({.service = "orderly", .level = platform::log::Level::warn});
    std::lock_guard lk(log_file->mu);
    std::fclose(log_file->file);
    log_file->file = nullptr;
    std::printf("\nsystem log: %s (%zu lines, %zu WARN or ERROR; expected retries are INFO)\n",
                log_file->path.c_str(), log_file->lines, log_file->problems);
  }
  return broken.empty() ? 0 : 1;
}

}  // namespace orderly::app
