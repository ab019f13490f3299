// The deterministic simulator of the whole system (FoundationDB's simulation
// and TigerBeetle's VOPR, applied to the saga). The five services' real code,
// from the service table, runs on the real SQLite stores and the real durable
// bus, driven one step at a time by a seeded scheduler; only what cannot be
// made deterministic as it is, is simulated:
//
//   - the clock: a ManualClock the simulator moves (visibility timeouts,
//     backoffs, saga and carrier timers all expire when it says);
//   - concurrency: handlers, relays, placements and customer cancels are
//     tasks of the Scheduler, interleaved at every store and provider call,
//     including two deliveries of one message when its visibility timeout
//     runs out while the first is still running;
//   - the store faults: each service's SqliteItemStore behind a wrapper that
//     yields and, while faults are on, fails some calls (transient) or some
//     commits (conflict) before they reach SQLite;
//   - the payment provider: the SimulatedProvider (its ledger is the money
//     oracle) behind a wrapper that is slow, fails transiently, or times out
//     *after* the effect happened;
//   - crashes: every live task dies at its current yield point (between a
//     provider call and the commit, between a commit and its ack, inside the
//     relay), settlements not yet made are lost, and the bus recovers its
//     in-flight messages as a restarted process does.
//
// One seed drives every choice; the same seed replays the same trace.
//
//   auto r = run_simulation({.seed = 42});
//   if (!r.ok) std::cerr << r.report();   // violations, the offending order's trace, replay
//   command
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace orderly::simulation {

struct SimOptions {
  std::uint64_t seed = 1;
  int orders = 6;                     // placed during the fault phase
  int fault_steps = 600;              // steps with faults, cancels and crashes; then a calm drain
  double crash_rate = 0.002;          // per step
  double store_fault_rate = 0.01;     // per store call
  double provider_fault_rate = 0.03;  // per provider call, each of three faults
  double cancel_rate = 0.5;  // chance that an order gets a customer cancel at a random moment
  bool keep_trace = true;
  // Aim half the planned customer cancels at the carrier's moment (the
  // delivery of CarrierProgressed or ShipmentDispatched): the cancel-versus-
  // dispatch race the pivot exists for.
  bool aim_cancels_at_carrier = true;
  // A bug planted in the simulated provider (it acknowledges voids without
  // releasing anything), so a test can show the money invariant does fail.
  bool plant_provider_ignores_voids = false;
  // A bug planted in the bus's delivery to shipping (it acknowledges every
  // OrderCancellationRequested without handling it), so a test can show that
  // "every cancellation request is answered" does fail.
  bool plant_shipping_drops_cancel_requests = false;
  // Chance per run of poison: events no consumer can accept (schema-invalid
  // data, as a producer's bug or a bad deploy would emit) put into a service's
  // outbox during the fault phase. They must end in the DLQ of every rule
  // that matches them, with their reason, and change nothing else.
  double poison_rate = 0.3;
  // A bug planted in the bus's setup (it is not told which events are
  // erasures, so it keeps its copies), so a test can show that "no personal
  // field is left after an erasure" does fail.
  bool plant_bus_keeps_copies = false;
};

struct SimResult {
  bool ok = true;
  std::vector<std::string> violations;
  std::vector<std::string> trace;  // one line per step
  std::uint64_t trace_hash = 0;
  int steps = 0;
  int crashes = 0;
  int orders_delivered = 0, orders_cancelled = 0;
  int poison = 0;            // poison events injected
  int deadline_cancels = 0;  // orders cancelled by the fulfilment deadline
  int erasures = 0;          // accepted (each must complete)
  int erasures_refused = 0;  // refused: one of the customer's orders was in flight
  int erased_orders = 0;     // orders covered by a completed erasure, checked byte by byte
  std::string offending_order;
  std::uint64_t seed = 0;
  [[nodiscard]] std::string report() const;
};

SimResult run_simulation(const SimOptions& options);

}  // namespace orderly::simulation
