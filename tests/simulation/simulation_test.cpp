// The simulator's own guarantees: a seed replays bit for bit (what the replay
// command relies on), and runs really reach the states they are meant to
// explore. The fast tier of seeds runs as `orderly_sim` entries in ctest
// (tests/CMakeLists.txt, label simulation).
#include <gtest/gtest.h>

#include "simulator.hpp"

namespace orderly::simulation {
namespace {

TEST(Simulation, TheSameSeedReplaysTheSameTraceBitForBit) {
  for (std::uint64_t seed : {1ULL, 77ULL, 4242ULL}) {
    auto a = run_simulation({.seed = seed});
    auto b = run_simulation({.seed = seed});
    ASSERT_EQ(a.trace.size(), b.trace.size()) << "seed " << seed;
    for (std::size_t i = 0; i < a.trace.size(); ++i)
      ASSERT_EQ(a.trace[i], b.trace[i]) << "seed " << seed << " diverges at step line " << i;
    EXPECT_EQ(a.trace_hash, b.trace_hash);
    EXPECT_GT(a.trace.size(), 500u) << "a run that does nothing proves nothing";
  }
  // And different seeds explore different runs.
  EXPECT_NE(run_simulation({.seed = 1}).trace_hash, run_simulation({.seed = 2}).trace_hash);
}

TEST(Simulation, RunsReachTheStatesTheyAreMeantToExplore) {
  // Over a handful of seeds the simulator must actually crash, cancel, deliver
  // and dead-end orders; otherwise the invariants below check an idle system.
  int crashes = 0, delivered = 0, cancelled = 0, poison = 0, erasures = 0, refused = 0,
      erased_orders = 0;
  for (std::uint64_t seed = 0; seed < 40; ++seed) {
    auto r = run_simulation({.seed = seed, .keep_trace = false});
    crashes += r.crashes;
    delivered += r.orders_delivered;
    cancelled += r.orders_cancelled;
    poison += r.poison;
    erasures += r.erasures;
    refused += r.erasures_refused;
    erased_orders += r.erased_orders;
  }
  EXPECT_GT(crashes, 10);
  EXPECT_GT(delivered, 40);
  EXPECT_GT(cancelled, 40);
  EXPECT_GT(poison, 3) << "the DLQ invariant needs runs with poison in them";
  EXPECT_GT(erasures, 10) << "the erasure invariant needs erasures";
  EXPECT_GT(erased_orders, 20) << "the erasure invariant needs orders to erase";
  EXPECT_GT(refused, 5) << "erasures racing orders in flight must be explored";
}

TEST(Simulation, TheErasureInvariantCatchesABusThatKeepsItsCopies) {
  // Planted in the simulator's bus setup (no redaction): "no personal field is
  // left after an erasure" must fail, naming bus.db (or its WAL).
  int caught = 0;
  for (std::uint64_t seed = 0; seed < 30 && caught == 0; ++seed) {
    auto r = run_simulation({.seed = seed, .keep_trace = false, .plant_bus_keeps_copies = true});
    for (const auto& v : r.violations)
      if (v.find("erasure: bus.db") != std::string::npos) ++caught;  // bus.db or its WAL
  }
  EXPECT_GT(caught, 0);
}

TEST(Simulation, TheMoneyInvariantCatchesAProviderThatDoesNotRelease) {
  // Not a product switch: the bug is planted in the simulator's own provider
  // wrapper, to show that "no authorisation is left open" can fail.
  int caught = 0;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    auto r =
        run_simulation({.seed = seed, .keep_trace = false, .plant_provider_ignores_voids = true});
    for (const auto& v : r.violations)
      if (v.find("authorisation hold is left open") != std::string::npos) ++caught;
  }
  EXPECT_GT(caught, 0);
}

TEST(Simulation, TheAnswerInvariantCatchesAShippingThatDropsCancelRequests) {
  // Planted in the simulator's delivery to shipping (acknowledged, not
  // handled): "every cancellation request is answered" must fail, and the
  // order must be reported as not terminal.
  int unanswered = 0;
  for (std::uint64_t seed = 0; seed < 30; ++seed) {
    auto r = run_simulation(
        {.seed = seed, .keep_trace = false, .plant_shipping_drops_cancel_requests = true});
    for (const auto& v : r.violations)
      if (v.find("cancellation request was never answered") != std::string::npos) ++unanswered;
  }
  EXPECT_GT(unanswered, 0);
}

TEST(Simulation, PoisonEndsInTheDlqOfEveryRuleThatMatchesItAndNowhereElse) {
  // Every run with poison: the DLQ invariant holds (exactly the poison), and
  // the check is not vacuous: the poison is there.
  int runs = 0;
  for (std::uint64_t seed = 0; seed < 40 && runs < 5; ++seed) {
    auto r = run_simulation({.seed = seed, .keep_trace = false, .poison_rate = 1.0});
    if (r.poison == 0) continue;
    ++runs;
    EXPECT_TRUE(r.ok) << r.report();
  }
  EXPECT_EQ(runs, 5);
}

}  // namespace
}  // namespace orderly::simulation
