// orderly: the command line. `orderly up` hosts the whole system in one
// process; the other commands operate on its data directory. One file per
// command: cmd_*.cpp.
//
//   orderly up --port 8080 --data-dir .orderly
//   orderly token --data-dir .orderly --customer alice
//   orderly orders show ORDER_ID --data-dir .orderly
//   orderly events tail --data-dir .orderly
//   orderly dlq list --data-dir .orderly
#include <CLI/CLI.hpp>
#include <cstdio>

#include "commands.hpp"

int main(int argc, char** argv) {
  using namespace orderly::app;
  CLI::App app{"Orderly: event-driven order fulfilment in C++"};
  app.require_subcommand(1);
  add_up_command(app);
  add_token_command(app);
  add_orders_command(app);
  add_events_command(app);
  add_demo_command(app);
  add_dlq_command(app);
  add_backup_commands(app);
  add_customers_command(app);
  add_invoke_command(app, argv[0]);
  app.add_subcommand("version", "Print the version")->callback([] {
    std::printf("orderly 0.1.0\n");
  });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
