// Side-by-side: Orderly's durable bus against NATS JetStream (file storage),
// in one run, with the same 512-byte CloudEvent, the same handler work
// (parse the event, read its timestamp) and the same acknowledgements:
//
//   per-message: every publish waits until it is durable (an outbox commit /
//                a JetStream PubAck); every message is acked on its own and
//                the ack is confirmed (a settle transaction / AckSync).
//   batched:     100 events per publish round (one outbox commit / 100 async
//                publishes then PublishAsyncComplete); consumers take up to 100
//                per receive and confirm once per batch (one settle
//                transaction / async acks with AckSync on the last).
//
// Latency is from just before publish to the consumer's handler, on the
// steady clock. Usage (bench/run.sh starts nats-server):
//
//   bus_vs_jetstream --nats nats://127.0.0.1:PORT --messages 20000 --out results.md
#include <nats/nats.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>
#include <vector>

#include "orderly/adapters/embedded/checkpointer.hpp"
#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/platform/unit_of_work.hpp"

namespace {

using namespace orderly::platform;
using namespace orderly::adapters::embedded;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kEventBytes = 512;
constexpr const char* kType = "orderly.bench.Measured.v1";

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

// A CloudEvent whose JSON is exactly kEventBytes long, stamped with the steady clock.
CloudEvent sized_event() {
  auto e = make_event("orderly.bench", kType, "bench", {{"t", now_ns()}, {"pad", ""}},
                      SystemClock::instance().now());
  const auto base = to_json(e).size();
  e.data["pad"] = std::string(kEventBytes > base ? kEventBytes - base : 0, 'x');
  return e;
}

struct Latencies {
  std::mutex mu;
  std::vector<double> us;
  void add(std::vector<double>& local) {
    std::lock_guard lk(mu);
    us.insert(us.end(), local.begin(), local.end());
    local.clear();
  }
};

struct Run {
  std::string system, mode;
  int consumers = 0;
  std::size_t messages = 0;
  double seconds = 0;
  double p50_us = 0, p99_us = 0;
  [[nodiscard]] double rate() const { return static_cast<double>(messages) / seconds; }
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  const auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// Reads the publish stamp back out of a delivered event (the handler's work).
std::int64_t stamp_of(std::string_view json) {
  auto e = parse_event(json);
  if (!e) {
    std::fprintf(stderr, "bad event: %s\n", e.error().message.c_str());
    std::abort();
  }
  return e->data.at("t").as_int64();
}

// Publishes at `rate` events/s when rate > 0 (a latency run), else as fast as it can.
void pace(Clock::time_point t0, std::size_t i, double rate) {
  if (rate <= 0) return;
  const auto due =
      t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate));
  std::this_thread::sleep_until(due);
}

// How Orderly's files are checkpointed: every N ms by a Checkpointer thread, as
// `orderly up` does (250), or 0 for SQLite's automatic checkpoint inside commits.
int g_checkpoint_every_ms = 250;

Run run_orderly(bool batched, int consumers, std::size_t n, double rate = 0) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("orderly-bench-" + std::to_string(::getpid()) + "-" + std::to_string(now_ns()));
  std::filesystem::create_directories(dir);
  Latencies lat;
  std::atomic<std::size_t> received{0};
  Run r{"orderly", batched ? "batched" : "per-message", consumers, n, 0, 0, 0};
  {
    auto store = SqliteItemStore::open((dir / "svc.db").string());
    auto bus = DurableBus::open({.path = (dir / "bus.db").string(), .workers = consumers});
    if (!store || !bus) std::abort();
    (*bus)->attach_outbox("svc", **store);
    // As `orderly up` runs them (hosts/embedded): the writers hand their WAL
    // checkpoints to a thread of their own, so no commit carries one.
    std::unique_ptr<Checkpointer> checkpointer;
    if (g_checkpoint_every_ms > 0) {
      auto c = Checkpointer::open({(dir / "svc.db").string(), (dir / "bus.db").string()},
                                  {.every = Millis{g_checkpoint_every_ms}});
      if (!c || !(*store)->hand_over_checkpoints() || !(*bus)->hand_over_checkpoints())
        std::abort();
      checkpointer = std::move(*c);
      checkpointer->start();
    }
    RuleOptions o;
    o.batch_size = batched ? 100 : 1;
    auto s = (*bus)->subscribe({"bench", EventPattern::for_types({kType}),
                                [&](const std::vector<Delivery>& batch) {
                                  thread_local std::vector<double> local;
                                  const auto t = now_ns();
                                  for (const auto& d : batch) {
                                    // The bus has parsed the event already (the JetStream consumer
                                    // does the same parse itself in stamp_of); read the stamp.
                                    const auto stamp = d.event.data.at("t").as_int64();
                                    local.push_back(static_cast<double>(t - stamp) / 1000.0);
                                  }
                                  lat.add(local);
                                  received += batch.size();
                                  return std::vector<DeliveryResult>(batch.size());
                                },
                                o});
    if (!s || !(*bus)->start()) std::abort();
    const auto t0 = Clock::now();
    const std::size_t per_commit = batched ? 100 : 1;
    for (std::size_t i = 0; i < n; i += per_commit) {
      pace(t0, i, rate);
      UnitOfWork uow{SystemClock::instance()};
      for (std::size_t j = 0; j < per_commit && i + j < n; ++j) uow.emit(sized_event());
      if (!uow.commit(**store)) std::abort();
    }
    while (received.load() < n) std::this_thread::sleep_for(std::chrono::microseconds(200));
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    (*bus)->stop();
    if (checkpointer) checkpointer->stop();
  }
  std::filesystem::remove_all(dir);
  r.p50_us = percentile(lat.us, 0.50);
  r.p99_us = percentile(lat.us, 0.99);
  return r;
}

#define NATS_CHECK(expr)                                               \
  do {                                                                 \
    natsStatus _s = (expr);                                            \
    if (_s != NATS_OK) {                                               \
      std::fprintf(stderr, "%s: %s\n", #expr, natsStatus_GetText(_s)); \
      std::exit(2);                                                    \
    }                                                                  \
  } while (0)

Run run_jetstream(const std::string& url, bool batched, int consumers, std::size_t n,
                  double rate = 0) {
  natsConnection* nc = nullptr;
  NATS_CHECK(natsConnection_ConnectTo(&nc, url.c_str()));
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 1024;
  jsCtx* js = nullptr;
  NATS_CHECK(natsConnection_JetStream(&js, nc, &jo));
  jsErrCode jerr{};
  js_DeleteStream(js, "BENCH", nullptr, &jerr);  // from an earlier run, if any
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  sc.Name = "BENCH";
  const char* subjects[] = {"bench.events"};
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  jsStreamInfo* si = nullptr;
  NATS_CHECK(js_AddStream(&si, js, &sc, nullptr, &jerr));
  jsStreamInfo_Destroy(si);
  jsConsumerConfig cc;
  jsConsumerConfig_Init(&cc);
  cc.Durable = "bench";
  cc.AckPolicy = js_AckExplicit;
  cc.MaxAckPending = 20000;
  jsConsumerInfo* ci = nullptr;
  NATS_CHECK(js_AddConsumer(&ci, js, "BENCH", &cc, nullptr, &jerr));
  jsConsumerInfo_Destroy(ci);

  Latencies lat;
  std::atomic<std::size_t> received{0};
  std::vector<std::thread> threads;
  const int fetch = batched ? 100 : 1;
  for (int c = 0; c < consumers; ++c)
    threads.emplace_back([&] {
      natsConnection* cnc = nullptr;  // one connection per consumer, like separate workers
      NATS_CHECK(natsConnection_ConnectTo(&cnc, url.c_str()));
      jsCtx* cjs = nullptr;
      NATS_CHECK(natsConnection_JetStream(&cjs, cnc, nullptr));
      jsSubOptions so;
      jsSubOptions_Init(&so);
      so.Stream = "BENCH";
      so.Consumer = "bench";
      natsSubscription* sub = nullptr;
      jsErrCode e{};
      NATS_CHECK(js_PullSubscribe(&sub, cjs, "bench.events", "bench", nullptr, &so, &e));
      std::vector<double> local;
      while (received.load() < n) {
        natsMsgList list{};
        natsStatus s = natsSubscription_Fetch(&list, sub, fetch, 200, &e);
        if (s == NATS_TIMEOUT) continue;
        if (s != NATS_OK) {
          std::fprintf(stderr, "fetch: %s\n", natsStatus_GetText(s));
          std::exit(2);
        }
        const auto t = now_ns();
        for (int i = 0; i < list.Count; ++i) {
          natsMsg* m = list.Msgs[i];
          const auto stamp = stamp_of(std::string_view(
              natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
          local.push_back(static_cast<double>(t - stamp) / 1000.0);
          if (!batched || i == list.Count - 1)
            NATS_CHECK(natsMsg_AckSync(m, nullptr, &e));
          else
            NATS_CHECK(natsMsg_Ack(m, nullptr));
        }
        received += static_cast<std::size_t>(list.Count);
        natsMsgList_Destroy(&list);
        lat.add(local);
      }
      natsSubscription_Unsubscribe(sub);
      natsSubscription_Destroy(sub);
      jsCtx_Destroy(cjs);
      natsConnection_Destroy(cnc);
    });

  Run r{"jetstream", batched ? "batched" : "per-message", consumers, n, 0, 0, 0};
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < n;) {
    if (batched) {
      for (std::size_t j = 0; j < 100 && i < n; ++j, ++i) {
        const auto body = to_json(sized_event());
        NATS_CHECK(js_PublishAsync(js, "bench.events", body.data(), static_cast<int>(body.size()),
                                   nullptr));
      }
      NATS_CHECK(js_PublishAsyncComplete(js, nullptr));
    } else {
      pace(t0, i, rate);
      const auto body = to_json(sized_event());
      jsPubAck* pa = nullptr;
      NATS_CHECK(js_Publish(&pa, js, "bench.events", body.data(), static_cast<int>(body.size()),
                            nullptr, &jerr));
      jsPubAck_Destroy(pa);
      ++i;
    }
  }
  for (auto& t : threads) t.join();
  r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  js_DeleteStream(js, "BENCH", nullptr, &jerr);
  jsCtx_Destroy(js);
  natsConnection_Destroy(nc);
  r.p50_us = percentile(lat.us, 0.50);
  r.p99_us = percentile(lat.us, 0.99);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Orderly durable bus vs NATS JetStream, side by side"};
  std::string url = "nats://127.0.0.1:4222";
  std::size_t messages = 20'000;
  std::string out;
  int rounds = 1;
  bool orderly_only = false;
  double latency_rate = 500;
  double latency_seconds = 4;
  int latency_rounds = 5;
  app.add_option("--nats", url, "JetStream server (file storage)");
  app.add_option("--messages", messages, "Messages per scenario");
  app.add_option("--rounds", rounds, "Alternate the two systems this many times and keep the best");
  app.add_option("--out", out, "Append a markdown table here");
  app.add_option("--latency-rate", latency_rate, "Offered load of the latency run, events/s");
  app.add_option("--latency-seconds", latency_seconds, "Length of each latency run");
  app.add_option("--latency-rounds", latency_rounds, "Alternated latency runs of each system")
      ->check(CLI::PositiveNumber);
  app.add_flag("--orderly-only", orderly_only, "Skip JetStream (for profiling Orderly alone)");
  bool latency_only = false;
  app.add_flag("--latency-only", latency_only, "Only the steady-load latency rounds");
  app.add_option("--checkpoint-every-ms", g_checkpoint_every_ms,
                 "Orderly's Checkpointer step, as in orderly up (0: SQLite's own, inside commits)")
      ->check(CLI::NonNegativeNumber);
  CLI11_PARSE(app, argc, argv);

  std::ostringstream md;
  md << "| mode | consumers | orderly msg/s | jetstream msg/s | ratio | orderly p50 / p99 (us) | "
        "jetstream p50 / p99 (us) |\n"
     << "|---|---|---|---|---|---|---|\n";
  std::printf("%-12s %-9s %14s %14s %7s %22s %22s\n", "mode", "consumers", "orderly msg/s",
              "jetstream msg/s", "ratio", "orderly p50/p99 us", "jetstream p50/p99 us");
  for (bool batched : {false, true}) {
    if (latency_only) break;
    for (int consumers : {1, 4}) {
      // Per-message publishes are slower: use a fifth of the messages there.
      const std::size_t n = batched ? messages : std::max<std::size_t>(messages / 5, 1000);
      Run best_o, best_j;
      for (int round = 0; round < rounds; ++round) {
        auto o = run_orderly(batched, consumers, n);
        auto j = orderly_only ? o : run_jetstream(url, batched, consumers, n);
        if (round == 0 || o.rate() > best_o.rate()) best_o = o;
        if (round == 0 || j.rate() > best_j.rate()) best_j = j;
      }
      const double ratio = best_o.rate() / best_j.rate();
      std::printf("%-12s %-9d %14.0f %14.0f %6.2fx %10.0f / %-10.0f %10.0f / %-10.0f\n",
                  best_o.mode.c_str(), consumers, best_o.rate(), best_j.rate(), ratio,
                  best_o.p50_us, best_o.p99_us, best_j.p50_us, best_j.p99_us);
      std::fflush(stdout);
      char line[512];
      std::snprintf(line, sizeof line,
                    "| %s | %d | %.0f | %.0f | %.2fx | %.0f / %.0f | %.0f / %.0f |\n",
                    best_o.mode.c_str(), consumers, best_o.rate(), best_j.rate(), ratio,
                    best_o.p50_us, best_o.p99_us, best_j.p50_us, best_j.p99_us);
      md << line;
    }
  }
  // Latency at a steady offered load both systems sustain, so queueing does not dominate.
  // Alternated rounds, since one p99 of a few thousand events moves with the machine.
  const auto ln = static_cast<std::size_t>(latency_rate * latency_seconds);
  md << "\nLatency at a steady " << latency_rate << " events/s, per-message acks, 1 consumer, "
     << ln << " events per run, " << latency_rounds << " alternated rounds:\n\n"
     << "| round | orderly p50 / p99 (us) | jetstream p50 / p99 (us) | p99 ratio |\n"
     << "|---|---|---|---|\n";
  std::printf("\nlatency at %.0f events/s, per-message, 1 consumer:\n", latency_rate);
  std::vector<double> ratios;
  for (int round = 1; round <= latency_rounds; ++round) {
    auto o = run_orderly(false, 1, ln, latency_rate);
    auto j = orderly_only ? o : run_jetstream(url, false, 1, ln, latency_rate);
    ratios.push_back(o.p99_us / j.p99_us);
    std::printf(
        "round %d: orderly p50 %6.0f p99 %6.0f us   jetstream p50 %6.0f p99 %6.0f us   "
        "p99 ratio %.2fx\n",
        round, o.p50_us, o.p99_us, j.p50_us, j.p99_us, ratios.back());
    char line[256];
    std::snprintf(line, sizeof line, "| %d | %.0f / %.0f | %.0f / %.0f | %.2fx |\n", round,
                  o.p50_us, o.p99_us, j.p50_us, j.p99_us, ratios.back());
    md << line;
  }
  std::sort(ratios.begin(), ratios.end());
  const double median = ratios[ratios.size() / 2];
  std::printf("median p99 ratio %.2fx (goal: at most 1.5x)\n", median);
  char line[160];
  std::snprintf(line, sizeof line,
                "\nMedian p99 ratio: %.2fx (goal: at most 1.5x); worst round %.2fx.\n", median,
                ratios.back());
  md << line;
  if (!out.empty()) {
    std::ofstream f(out, std::ios::app);
    f << md.str();
  }
  nats_Close();
  return 0;
}
