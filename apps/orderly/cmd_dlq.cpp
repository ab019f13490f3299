// `orderly dlq list` and `orderly dlq redrive`: the bus's dead letters, with
// their last error, and sending them back to their rule's queue.
#include <cstdio>
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"

namespace orderly::app {

namespace {

struct DlqOptions {
  Common common;
  std::string rule;
};

int cmd_dlq_list(const Common& c, const std::string& rule) {
  auto bus = open_bus(c);
  if (!bus) return fail(bus.error());
  auto dead = (*bus)->dead_letters(rule, 1000);
  if (!dead) return fail(dead.error());
  std::printf("%-24s %-38s %-44s %8s  %s\n", "RULE", "EVENT", "TYPE", "RECEIVES", "LAST ERROR");
  for (const auto& d : *dead)
    std::printf("%-24s %-38s %-44s %8d  %s\n", d.rule.c_str(), d.event_id.c_str(),
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

}  // namespace

void add_dlq_command(CLI::App& app) {
  auto* dlq = app.add_subcommand("dlq", "Inspect and redrive dead letters");
  dlq->require_subcommand(1);

  auto list = std::make_shared<DlqOptions>();
  auto* dlq_list = dlq->add_subcommand("list", "List dead letters with their last error");
  add_common(dlq_list, list->common);
  dlq_list->add_option("--rule", list->rule, "Only this rule");
  dlq_list->callback([list] { exit_with(cmd_dlq_list(list->common, list->rule)); });

  auto redrive = std::make_shared<DlqOptions>();
  auto* dlq_redrive =
      dlq->add_subcommand("redrive", "Move a rule's dead letters back to its queue");
  add_common(dlq_redrive, redrive->common);
  dlq_redrive->add_option("RULE", redrive->rule, "The rule")->required();
  dlq_redrive->callback([redrive] { exit_with(cmd_dlq_redrive(redrive->common, redrive->rule)); });
}

}  // namespace orderly::app
