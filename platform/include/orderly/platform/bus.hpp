// The Bus port: rules with EventBridge-style patterns, each feeding its own queue.
//
//   bus.subscribe({.name = "payments.on-order-placed",
//                  .pattern = EventPattern::for_types({"orderly.orders.OrderPlaced.v1"}),
//                  .handler = each_message([&](const Delivery& d) { return authorize(d); }),
//                  .options = {.batch_size = 10, .max_receive_count = 10}});
//
// Semantics match SQS behind EventBridge: at-least-once, no ordering, a
// visibility timeout, retries with exponential backoff and full jitter, the
// DLQ after max_receive_count with the last error, and partial batch failure:
// the handler returns one result per message and a failed message never fails
// its siblings. There is no publish(): events leave through the outbox only
// (see unit_of_work.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "orderly/platform/backoff.hpp"
#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"
#include "orderly/platform/event.hpp"
#include "orderly/platform/event_pattern.hpp"

namespace orderly::platform {

struct Delivery {
  CloudEvent event;
  std::string message_id;
  int receive_count = 1;  // 1 on the first delivery
};

enum class Outcome {
  ok,     // done: delete the message
  retry,  // try again after backoff; DLQ once max_receive_count is reached
  fail,   // permanent: straight to the DLQ with the reason
};

struct DeliveryResult {
  Outcome outcome = Outcome::ok;
  std::string error;

  static DeliveryResult ok() { return {}; }
  static DeliveryResult retry(std::string why) { return {Outcome::retry, std::move(why)}; }
  static DeliveryResult fail(std::string why) { return {Outcome::fail, std::move(why)}; }
  // transient and conflict retry; every other kind fails permanently.
  static DeliveryResult from(const Status& s);
};

using BatchHandler = std::function<std::vector<DeliveryResult>(const std::vector<Delivery>&)>;

// Adapts a per-message function; an exception becomes a retry with its text.
BatchHandler each_message(std::function<Status(const Delivery&)> fn);

struct RuleOptions {
  int batch_size = 10;
  Millis visibility_timeout{30'000};
  // Ten: a provider that fails transiently twice (tok_flaky), one crash and
  // one stall together took five receives in the simulator, and a message
  // that had done nothing wrong went to the DLQ. Poison that fails
  // permanently goes at once; a handler that crashes the process, after ten.
  // infra/topology.json carries this number to the SQS redrive policies.
  int max_receive_count = 10;
  // Between receives, a full-jitter backoff, here and on AWS (the Lambda host
  // sets each failed SQS message's visibility to it). Capped at 3 s so that
  // every retry ends well inside the saga's 30 s timeout (retry_budget(),
  // checked against hosts::Settings in hosts/ and in the CDK app): a transient
  // fault must not cancel an order that was going to succeed.
  Millis backoff_base{200};
  Millis backoff_cap{3'000};

  // The longest time all retries of one message can wait: the backoff
  // ceilings of receives 1 .. max_receive_count - 1, each rounded up to whole
  // seconds as SQS counts a visibility timeout.
  [[nodiscard]] Millis retry_budget() const noexcept {
    const Backoff b{backoff_base, backoff_cap};
    std::int64_t seconds = 0;
    for (int n = 1; n < max_receive_count; ++n) seconds += (b.ceiling(n).count() + 999) / 1000;
    return Millis{seconds * 1000};
  }
};

struct Rule {
  std::string name;  // [A-Za-z0-9._-]+, unique per bus
  EventPattern pattern;
  BatchHandler handler;
  RuleOptions options;
};

Status validate_rule(const Rule& r);

// What an erasure asks a bus to redact in the copies of events it keeps (its
// archive, queued messages and dead letters; docs/adr/0017): in every event
// whose data.customerId is `customer_id`, or whose subject is one of
// `subjects`, each JSON path in `paths` that is present becomes `replacement`.
struct Redaction {
  std::string customer_id;
  std::vector<std::string> subjects;
  std::vector<std::string> paths;  // SQLite JSON paths: "$.data.shippingAddress.name"
  std::string replacement = "[erased]";
};

class Bus {
 public:
  virtual ~Bus() = default;
  virtual Status subscribe(Rule rule) = 0;
};

}  // namespace orderly::platform
