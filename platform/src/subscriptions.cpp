// make_rule: a pattern over the handlers' types and a dispatching batch handler.
#include "orderly/platform/subscriptions.hpp"

#include <chrono>
#include <map>

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::platform {

Rule make_rule(std::string name, std::vector<Handler> handlers, ItemStore& store,
               const Clock& clock, RuleOptions options) {
  std::vector<std::string> types;
  auto table = std::make_shared<std::map<std::string, Handler>>();
  for (auto& h : handlers) {
    types.push_back(h.type);
    table->emplace(h.type, std::move(h));
  }
  auto pattern = EventPattern::for_types(types);
  auto& reg = metrics::registry();
  static auto& consumed =
      reg.counter("orderly_events_consumed_total",
                  "Deliveries handled, by rule, type and outcome (ok, retry, fail)",
                  {"rule", "type", "outcome"});
  static auto& duration = reg.histogram("orderly_event_handler_duration_seconds",
                                        "Time to handle one delivery, by rule", {"rule"});
  static auto& retries =
      reg.counter("orderly_retries_total",
                  "Deliveries that were a retry (receive count > 1), by rule", {"rule"});
  // On CloudWatch, consumed events by rule and outcome (the type is rolled up).
  reg.set_emf_dimensions("orderly_events_consumed_total", {{"rule", "outcome"}});
  auto& rule_duration = duration.with({name});
  auto& rule_retries = retries.with({name});
  const int max_receives = options.max_receive_count;
  BatchHandler batch = each_message([table, &store, &clock, name, &rule_duration, &rule_retries,
                                     max_receives](const Delivery& d) -> Status {
    const auto start = std::chrono::steady_clock::now();
    std::optional<TraceContext> parent;
    if (d.event.traceparent) parent = parse_traceparent(*d.event.traceparent);
    // A consumer span, child of the span that emitted the event; events emitted
    // while it is open are its children (caused_by).
    std::string order_id;
    if (const auto* o = d.event.data.if_contains("orderId"); o && o->is_string())
      order_id = std::string(o->get_string());
    log::Scope scope({.correlation_id = d.event.correlationid.value_or(d.event.id),
                      .order_id = std::move(order_id),
                      .event_id = d.event.id});
    // Opened inside the log scope, so its record carries the event's context too.
    Span span("handle " + d.event.type, parent);
    if (span.recording()) {  // attributes only when something reads them
      span.set("kind", "consumer");
      span.set("rule", boost::json::string(name));
      span.set("event_id", boost::json::string(d.event.id));
    }
    if (d.receive_count > 1) rule_retries.inc();
    auto it = table->find(d.event.type);
    Status s = it == table->end()
                   ? Status(fail(ErrorKind::permanent, "rule {} has no handler for {}", name,
                                 d.event.type))
                   : handle_once(store, clock, d.event, name,
                                 [&](UnitOfWork& uow) { return it->second.decide(d.event, uow); });
    const char* outcome = s                                                   ? "ok"
                          : DeliveryResult::from(s).outcome == Outcome::retry ? "retry"
                                                                              : "fail";
    rule_duration.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    consumed.with({name, d.event.type, outcome}).inc();
    if (!s) {
      span.set_error(s.error().message);
      // A retry the bus will make is expected (a provider's transient error, a
      // lost race): INFO. The last receive, after which the message goes to
      // the DLQ, is a WARN; a permanent failure an ERROR.
      const bool permanent =
          s.error().kind == ErrorKind::permanent || s.error().kind == ErrorKind::invalid_input;
      const auto level = permanent                         ? log::Level::error
                         : d.receive_count >= max_receives ? log::Level::warn
                                                           : log::Level::info;
      log::write(level, "delivery failed",
                 {{"rule", name},
                  {"type", d.event.type},
                  {"outcome", outcome},
                  {"receive_count", d.receive_count},
                  {"error", s.error().message}});
    }
    return s;
  });
  return Rule{std::move(name), std::move(pattern), std::move(batch), options};
}

}  // namespace orderly::platform
