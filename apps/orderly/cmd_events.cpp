// `orderly events tail`: prints the last events of the bus archive, then
// follows new ones (payment tokens redacted).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli_common.hpp"
#include "commands.hpp"

namespace orderly::app {

namespace {

namespace json = boost::json;

struct TailOptions {
  Common common;
  std::string type;
  bool follow = true;
  std::size_t last = 20;
};

int cmd_events_tail(const TailOptions& o) {
  auto bus = open_bus(o.common);
  if (!bus) return fail(bus.error());
  auto count = (*bus)->archived_count();
  std::int64_t after = 0;
  if (count && *count > static_cast<std::int64_t>(o.last)) {
    auto skip = (*bus)->archive_since(
        0, static_cast<std::size_t>(*count - static_cast<std::int64_t>(o.last)));
    if (skip && !skip->empty()) after = skip->back().seq;
  }
  for (;;) {
    auto batch = (*bus)->archive_since(after, 1000);
    if (!batch) return fail(batch.error());
    for (const auto& e : *batch) {
      after = e.seq;
      if (!o.type.empty() && e.type.find(o.type) == std::string::npos) continue;
      boost::system::error_code ec;
      auto v = json::parse(e.body, ec);
      // Never print a payment token.
      if (!ec && v.is_object()) {
        if (auto* d = v.as_object().if_contains("data");
            d && d->is_object() && d->as_object().contains("paymentToken"))
          d->as_object()["paymentToken"] = "[redacted]";
        std::printf("%s\n", json::serialize(v).c_str());
      }
    }
    std::fflush(stdout);
    if (!o.follow) return 0;
    if (batch->empty()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

void add_events_command(CLI::App& app) {
  auto o = std::make_shared<TailOptions>();
  auto* events = app.add_subcommand("events", "Read the event archive");
  events->require_subcommand(1);
  auto* tail = events->add_subcommand("tail", "Print recent events and follow new ones");
  add_common(tail, o->common);
  tail->add_option("--type", o->type, "Only types containing this text");
  tail->add_option("-n,--last", o->last, "How many past events to print first")
      ->capture_default_str();
  tail->add_flag("!--no-follow", o->follow, "Exit after printing instead of following");
  tail->callback([o] { exit_with(cmd_events_tail(*o)); });
}

}  // namespace orderly::app
