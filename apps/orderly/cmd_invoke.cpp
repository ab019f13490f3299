// `orderly invoke`: the options of invoke.cpp (one service's Lambda bootstrap
// on one event, under a local Runtime API).
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "invoke.hpp"

namespace orderly::app {

void add_invoke_command(CLI::App& app, const char* argv0) {
  struct Options {
    InvokeOptions invoke;
    std::vector<std::string> store_spec;  // dynamodb-endpoint URL
  };
  auto o = std::make_shared<Options>();
  auto* invoke = app.add_subcommand(
      "invoke", "Run a service's Lambda bootstrap on one event under a local Runtime API");
  invoke->add_option("SERVICE", o->invoke.service, "The service")
      ->required()
      ->check(CLI::IsMember({"orders", "inventory", "payments", "shipping", "notifications"}));
  invoke->add_option("--handler", o->invoke.handler, "_HANDLER: api or events")
      ->check(CLI::IsMember({"api", "events"}))
      ->capture_default_str();
  invoke->add_option("--event", o->invoke.event_file, "The event JSON file ('-': stdin)")
      ->required();
  invoke
      ->add_option("--store", o->store_spec,
                   "dynamodb-endpoint URL (e.g. a running DynamoDB Local); default: a DynamoDB "
                   "Local started for this invocation, empty")
      ->expected(2);
  invoke->add_option("--table", o->invoke.table, "DynamoDB table (default orderly-SERVICE)");
  invoke->add_option("--bootstrap", o->invoke.bootstrap,
                     "The bootstrap to run (default: build/lambda/SERVICE/bootstrap)");
  invoke->add_option("--timeout", o->invoke.timeout_s, "Seconds (the function's timeout)")
      ->check(CLI::Range(0.1, 900.0))
      ->capture_default_str();
  invoke->add_option("--repeat", o->invoke.repeat, "Invoke the same event N times (warm)")
      ->check(CLI::Range(1, 100000));
  invoke->add_flag("--timing", o->invoke.timing,
                   "Print init time (exec to first /next) and idle RSS to stderr");
  invoke->callback([o, argv0] {
    InvokeOptions i = o->invoke;
    const auto& spec = o->store_spec;
    if (!spec.empty()) {
      if (spec.size() == 2 && spec[0] == "dynamodb-endpoint" && !spec[1].empty()) {
        i.dynamodb_endpoint = spec[1];
      } else {
        std::fprintf(stderr, "invoke: --store is 'dynamodb-endpoint URL'\n");
        exit_with(2);
      }
    }
    exit_with(run_invoke(i, argv0));
  });
}

}  // namespace orderly::app
