// `orderly demo`: the options of demo.cpp's order mix (embedded, or against a
// running `orderly up` with --url).
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "demo.hpp"

namespace orderly::app {

void add_demo_command(CLI::App& app) {
  struct Options {
    DemoOptions demo;
    std::string target = "embedded";
  };
  auto o = std::make_shared<Options>();
  auto* demo = app.add_subcommand(
      "demo", "Place a mix of orders, follow them to the end, check the invariants");
  demo->add_option("--url", o->target,
                   "A running orderly up (http://127.0.0.1:8080), or 'embedded'")
      ->capture_default_str();
  demo->add_option("--orders", o->demo.orders, "How many orders")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  demo->add_option("--concurrency", o->demo.concurrency, "Concurrent clients")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  demo->add_option("--rate", o->demo.rate,
                   "Orders per second at fixed intended send times (open loop; latency from "
                   "the intended time); 0: as fast as the clients can")
      ->check(CLI::Range(0.0, 100'000.0))
      ->capture_default_str();
  demo->add_option("--data-dir", o->demo.data_dir,
                   "With --url: the server's data dir (for a token)")
      ->capture_default_str();
  demo->add_flag("!--no-progress", o->demo.progress, "No progress bar");
  demo->callback([o] {
    DemoOptions d = o->demo;
    if (o->target != "embedded") d.url = o->target;
    if (d.data_dir.empty()) d.data_dir = Common{}.data_dir;
    exit_with(run_demo(d));
  });
}

}  // namespace orderly::app
