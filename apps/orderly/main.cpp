// orderly: the command line. `orderly up` hosts the whole system in one
// process; the other commands operate on a data directory.
//
//   orderly up --data-dir .orderly
//   orderly dlq list --data-dir .orderly
//   orderly dlq redrive payments.on-order-placed --data-dir .orderly
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/services/system/embedded_system.hpp"

namespace {

using namespace orderly;
using adapters::embedded::Durability;
using adapters::embedded::DurableBus;

struct Common {
  std::string data_dir = ".orderly";
  std::string durability = "normal";
};

struct UpOptions {
  int workers = 2;
  double saga_timeout_s = 30;
  double carrier_delay_s = 5;
};

int fail(const platform::Error& e) {
  std::fprintf(stderr, "orderly: %s\n", e.describe().c_str());
  return 1;
}

platform::Result<std::unique_ptr<DurableBus>> open_bus(const Common& c, int workers = 1) {
  auto d = adapters::embedded::parse_durability(c.durability);
  if (!d) return tl::unexpected(d.error());
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec)
    return platform::fail(platform::ErrorKind::invalid_input, "cannot create {}: {}", c.data_dir,
                          ec.message());
  return DurableBus::open({.path = c.data_dir + "/bus.db", .durability = *d, .workers = workers});
}

int cmd_up(const Common& c, const UpOptions& up) {
  // Block the stop signals before any thread starts, then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto durability = adapters::embedded::parse_durability(c.durability);
  if (!durability) return fail(durability.error());
  // The deployment: five services on their own SQLite stores, one durable bus.
  auto sys = services::system::EmbeddedSystem::open({
      .data_dir = c.data_dir,
      .durability = *durability,
      .workers = up.workers,
      .saga_timeout = platform::Millis{static_cast<std::int64_t>(up.saga_timeout_s * 1000)},
      .carrier_delay = platform::Millis{static_cast<std::int64_t>(up.carrier_delay_s * 1000)},
  });
  if (!sys) return fail(sys.error());
  if (auto s = (*sys)->start(); !s) return fail(s.error());
  std::printf(
      "orderly: up: orders, inventory, payments, shipping, notifications on one durable bus\n");
  std::printf("orderly: data %s, durability %s, %d bus workers; Ctrl-C stops it gracefully\n",
              c.data_dir.c_str(), c.durability.c_str(), up.workers);
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::printf("orderly: signal %d, finishing in-flight work\n", sig);
  (*sys)->stop();
  std::printf("orderly: stopped\n");
  return 0;
}

int cmd_dlq_list(const Common& c, const std::string& rule) {
  auto bus = open_bus(c);
  if (!bus) return fail(bus.error());
  auto dead = (*bus)->dead_letters(rule, 1000);
  if (!dead) return fail(dead.error());
  std::printf("%-32s %-38s %-40s %8s  %s\n", "RULE", "EVENT", "TYPE", "RECEIVES", "LAST ERROR");
  for (const auto& d : *dead)
    std::printf("%-32s %-38s %-40s %8d  %s\n", d.rule.c_str(), d.event_id.c_str(),
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
  cmd->add_option("--data-dir", c.data_dir, "Directory of the SQLite files")->capture_default_str();
  cmd->add_option("--durability", c.durability,
                  "normal (survives kill -9) or full (fsync per commit; survives power loss)")
      ->check(CLI::IsMember({"normal", "full"}))
      ->capture_default_str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Orderly: event-driven order fulfilment in C++"};
  app.require_subcommand(1);
  Common common;
  UpOptions up_options;
  std::string rule;

  auto* up = app.add_subcommand("up", "Run the whole system in this process");
  add_common(up, common);
  up->add_option("--workers", up_options.workers, "Bus worker threads")
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

  auto* dlq = app.add_subcommand("dlq", "Inspect and redrive dead letters");
  dlq->require_subcommand(1);
  auto* dlq_list = dlq->add_subcommand("list", "List dead letters with their last error");
  add_common(dlq_list, common);
  dlq_list->add_option("--rule", rule, "Only this rule");
  auto* dlq_redrive =
      dlq->add_subcommand("redrive", "Move a rule's dead letters back to its queue");
  add_common(dlq_redrive, common);
  dlq_redrive->add_option("RULE", rule, "The rule")->required();

  app.add_subcommand("version", "Print the version")->callback([] {
    std::printf("orderly 0.1.0\n");
  });

  CLI11_PARSE(app, argc, argv);
  if (up->parsed()) return cmd_up(common, up_options);
  if (dlq_list->parsed()) return cmd_dlq_list(common, rule);
  if (dlq_redrive->parsed()) return cmd_dlq_redrive(common, rule);
  return 0;
}
