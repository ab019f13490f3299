// orderly_sim: the simulator's long mode and replay.
//
//   build/tests/orderly_sim --from 0 --count 100000      # explore a range of seeds
//   build/tests/orderly_sim --seed 1234 --trace           # replay one, printing every step
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <optional>

#include "simulator.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Deterministic simulation of the whole system, seed by seed"};
  std::uint64_t from = 0, count = 1000;
  std::optional<std::uint64_t> seed;
  bool trace = false, keep_going = false;
  orderly::simulation::SimOptions base;
  app.add_option("--from", from, "First seed of the range");
  app.add_option("--count", count, "Number of seeds");
  app.add_option("--seed", seed, "Run this one seed");
  app.add_flag("--trace", trace, "Print every step of the run");
  app.add_flag("--keep-going", keep_going, "Do not stop at the first failing seed");
  app.add_option("--orders", base.orders, "Orders per run");
  app.add_option("--fault-steps", base.fault_steps, "Steps with faults per run");
  app.add_flag("!--no-aim-cancels", base.aim_cancels_at_carrier,
               "Do not aim customer cancels at the carrier's moment");
  CLI11_PARSE(app, argc, argv);
  if (seed) {
    from = *seed;
    count = 1;
  }
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t failed = 0;
  for (std::uint64_t s = from; s < from + count; ++s) {
    auto options = base;
    options.seed = s;
    auto r = orderly::simulation::run_simulation(options);
    if (trace)
      for (const auto& line : r.trace) std::printf("%s\n", line.c_str());
    if (!r.ok || seed) std::printf("%s", r.report().c_str());
    if (!r.ok) {
      ++failed;
      if (!keep_going) break;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("orderly_sim: %llu seeds from %llu, %llu failed, %.1f s (%.1f seeds/s)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(from),
              static_cast<unsigned long long>(failed), secs, static_cast<double>(count) / secs);
  return failed ? 1 : 0;
}
