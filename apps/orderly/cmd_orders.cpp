// `orderly orders show`: an order's status and timeline from the orders store,
// then its saga's causal chain from the bus archive.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/event.hpp"
#include "orderly/services/orders/service.hpp"

namespace orderly::app {

namespace {

struct ShowOptions {
  Common common;
  std::string id;
};

// Every archived event of the order's saga (its correlation id is the id of the
// OrderPlaced that started it), as the tree of causes: each line is an event,
// indented under the event that caused it, with the time since the order was
// placed and the time spent on that hop.
void print_causal_chain(const Common& c, const std::string& root_id) {
  auto bus = open_bus(c);
  if (!bus) return;
  std::map<std::string, platform::CloudEvent> events;
  for (std::int64_t after = 0;;) {
    auto page = (*bus)->archive_since(after, 2000);
    if (!page || page->empty()) break;
    after = page->back().seq;
    for (const auto& a : *page) {
      auto e = platform::parse_event(a.body);
      if (!e) continue;
      if (e->id == root_id || e->correlationid == root_id) events.emplace(e->id, std::move(*e));
    }
  }
  auto root = events.find(root_id);
  if (root == events.end()) return;
  std::multimap<std::string, const platform::CloudEvent*> children;  // cause -> effects
  for (const auto& [id, e] : events)
    if (id != root_id) children.emplace(e.causationid.value_or(root_id), &e);
  const auto t0 = platform::parse_rfc3339(root->second.time);
  std::string trace;
  if (root->second.traceparent) trace = root->second.traceparent->substr(3, 32);
  std::printf("\ncausal chain (%zu events, trace %s)\n%10s %10s  %s\n", events.size(),
              trace.empty() ? "none" : trace.c_str(), "SINCE", "HOP", "EVENT");
  std::function<void(const platform::CloudEvent&, int)> walk = [&](const platform::CloudEvent& e,
                                                                   int depth) {
    const auto at = platform::parse_rfc3339(e.time);
    long long since = t0 && at ? static_cast<long long>((*at - *t0).count()) : 0;
    long long hop = 0;
    if (e.causationid)
      if (auto p = events.find(*e.causationid); p != events.end())
        if (auto pt = platform::parse_rfc3339(p->second.time); pt && at)
          hop = static_cast<long long>((*at - *pt).count());
    std::printf("%8lldms %8lldms  %*s%s  (%s)\n", since, hop, depth * 2, "", e.type.c_str(),
                e.source.c_str());
    std::vector<const platform::CloudEvent*> kids;
    for (auto [it, end] = children.equal_range(e.id); it != end; ++it) kids.push_back(it->second);
    std::sort(kids.begin(), kids.end(),
              [](const auto* a, const auto* b) { return a->time < b->time; });
    for (const auto* k : kids) walk(*k, depth + 1);
  };
  walk(root->second, 0);
}

int cmd_orders_show(const Common& c, const std::string& id) {
  if (!std::filesystem::exists(c.data_dir + "/orders.db"))
    return fail({platform::ErrorKind::not_found, "no orders store in " + c.data_dir});
  auto store = adapters::embedded::SqliteItemStore::open(c.data_dir + "/orders.db");
  if (!store) return fail(store.error());
  services::orders::OrdersService orders(**store, platform::SystemClock::instance());
  auto o = orders.get_order(id);
  if (!o) return fail(o.error());
  if (!*o) return fail({platform::ErrorKind::not_found, "no order " + id});
  const auto& order = **o;
  std::printf("order %s  customer %s  %s", order.id.c_str(), order.customer_id.c_str(),
              std::string(services::orders::to_string(order.status)).c_str());
  if (order.cancellation_reason) std::printf(" (%s)", order.cancellation_reason->c_str());
  std::printf("  total %lld %s\n\n", static_cast<long long>(order.total.amount),
              order.total.currency.c_str());
  std::printf("%-26s %-48s %s\n", "TIME", "EVENT", "EVENT ID");
  for (const auto& t : order.timeline)
    std::printf("%-26s %-48s %s\n", t.time.c_str(), t.type.c_str(), t.event_id.c_str());
  if (order.timeline.empty()) return 0;
  print_causal_chain(c, order.timeline.front().event_id);
  return 0;
}

}  // namespace

void add_orders_command(CLI::App& app) {
  auto o = std::make_shared<ShowOptions>();
  auto* orders = app.add_subcommand("orders", "Inspect orders");
  orders->require_subcommand(1);
  auto* show = orders->add_subcommand("show", "Print an order's status and timeline");
  add_common(show, o->common);
  show->add_option("ID", o->id, "The order id")->required();
  show->callback([o] { exit_with(cmd_orders_show(o->common, o->id)); });
}

}  // namespace orderly::app
