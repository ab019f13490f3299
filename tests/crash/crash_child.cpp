// The process that crash_safety_test kills. It runs the real threaded runtime
// (system clock, relay thread, worker threads) on a data directory:
//
//   crash_child DIR TOTAL [KILL_POINT NTH]
//
// A producer commits events 0..TOTAL-1 through the outbox, one unit of work
// each, guarded by a PRODUCED#k item so a restarted producer continues where
// the last one stopped. Two consumers apply a non-idempotent increment per
// event, guarded only by the inbox. With KILL_POINT, the process sends itself
// SIGKILL the NTH time it reaches that point. It exits 0 once every effect of
// every event is present, and 3 if a count above 1 is ever seen.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/platform/unit_of_work.hpp"

using namespace orderly::platform;
using namespace orderly::adapters::embedded;

namespace {

std::string g_kill_point;
std::atomic<int> g_kill_nth{0};

void maybe_die(std::string_view point) {
  if (!g_kill_point.empty() && point == g_kill_point && g_kill_nth.fetch_sub(1) == 1) {
    raise(SIGKILL);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: crash_child DIR TOTAL [KILL_POINT NTH]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const int total = std::atoi(argv[2]);
  if (argc >= 5) {
    g_kill_point = argv[3];
    g_kill_nth = std::atoi(argv[4]);
  }
  auto& clock = SystemClock::instance();
  auto store = SqliteItemStore::open(dir + "/svc.db");
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.error().message.c_str());
    return 2;
  }
  auto bus = DurableBus::open({.path = dir + "/bus.db", .workers = 2, .fault_hook = maybe_die});
  if (!bus) {
    std::fprintf(stderr, "bus: %s\n", bus.error().message.c_str());
    return 2;
  }
  (*bus)->attach_outbox("svc", **store);
  std::atomic<bool> duplicate{false};
  for (const std::string rule : {"alpha", "beta"}) {
    RuleOptions o;
    o.batch_size = 4;
    o.backoff_base = std::chrono::milliseconds{5};
    o.backoff_cap = std::chrono::milliseconds{50};
    o.max_receive_count = 1000;
    auto s = (*bus)->subscribe(
        {rule, EventPattern::for_types({"orderly.test.Produced.v1"}),
         each_message([&, rule](const Delivery& d) {
           maybe_die("handler.before_commit");
           return handle_once(**store, clock, d.event, rule, [&](UnitOfWork& uow) -> Status {
             const std::string pk = "EFFECT#" + rule;
             auto cur = (*store)->get(pk, d.event.subject);
             if (!cur) return tl::unexpected(cur.error());
             const std::int64_t n = *cur ? (**cur).attrs.at("n").as_int64() : 0;
             if (n >= 1) duplicate = true;
             uow.put(Item{pk, d.event.subject, 0, {{"n", n + 1}}, std::nullopt},
                     *cur ? Condition::version_is((**cur).version) : Condition::not_exists());
             return {};
           });
         }),
         o});
    if (!s) return 2;
  }
  if (auto s = (*bus)->start(); !s) return 2;

  for (int k = 0; k < total; ++k) {
    const std::string key = std::to_string(100000 + k);
    auto done = (*store)->get("PRODUCED", key);
    if (done && *done) continue;
    UnitOfWork uow{clock};
    uow.put(Item{"PRODUCED", key, 0, {}, std::nullopt}, Condition::not_exists());
    uow.emit(make_event("orderly.test", "orderly.test.Produced.v1", key, {{"k", k}}, clock.now()));
    auto s = uow.commit(**store);
    if (!s && s.error().kind != ErrorKind::conflict) {
      std::fprintf(stderr, "produce: %s\n", s.error().message.c_str());
      return 2;
    }
    maybe_die("produce.after_commit");
    // Paced like real arrivals, so the relay makes many passes and kills land mid-stream.
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    if (duplicate) return 3;
    std::size_t complete = 0;
    for (const char* rule : {"EFFECT#alpha", "EFFECT#beta"}) {
      QueryOptions q;
      q.limit = 10'000;
      auto page = (*store)->query(rule, q);
      if (page) complete += page->items.size();
    }
    if (complete == static_cast<std::size_t>(2 * total)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "timed out with %zu of %d effects\n", complete, 2 * total);
      return 4;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  (*bus)->stop();
  return duplicate ? 3 : 0;
}
