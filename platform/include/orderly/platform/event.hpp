// The event envelope: CloudEvents 1.0 in JSON structured mode.
//
//   CloudEvent e = make_event("orderly.orders", "orderly.orders.OrderPlaced.v1",
//                             order_id, {{"orderId", order_id}}, clock.now());
//   std::string wire = to_json(e);
//   Result<CloudEvent> back = parse_event(wire);   // strict: errors name the field
//
// Required attributes: id, source, type, specversion ("1.0"), time, subject,
// datacontenttype ("application/json"), data (a JSON object). Known extensions:
// traceparent, partitionkey, correlationid, causationid. Anything else is
// rejected, and so is an event larger than 256 KB, the EventBridge limit.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"

namespace orderly::platform {

inline constexpr std::size_t kMaxEventBytes = 256 * 1024;

// How the outbox pipe on AWS turns a stream record into an EventBridge entry
// (infra/lib/orderly-stack.ts PIPE_INPUT_TEMPLATE; an infra test compares the
// two). The event is stored as a string attribute, so the entry's detail is
// {"event": {"S": "<the event's JSON, escaped as a string>"}}.
inline constexpr std::string_view kPipeInputTemplate = R"({"event": <$.dynamodb.NewImage.event>})";

struct CloudEvent {
  std::string id;
  std::string source;
  std::string type;
  std::string specversion = "1.0";
  std::string time;  // RFC 3339
  std::string subject;
  std::string datacontenttype = "application/json";
  boost::json::object data;
  // Extensions.
  std::optional<std::string> traceparent;
  std::optional<std::string> partitionkey;
  std::optional<std::string> correlationid;
  std::optional<std::string> causationid;

  friend bool operator==(const CloudEvent&, const CloudEvent&) = default;
};

// A new event with a fresh UUIDv7 id; correlation defaults to the id itself.
CloudEvent make_event(std::string source, std::string type, std::string subject,
                      boost::json::object data, TimePoint now);

// Makes `next` a consequence of `cause`: same correlation and trace, causationid = cause.id.
void caused_by(CloudEvent& next, const CloudEvent& cause);

boost::json::object to_json_object(const CloudEvent& e);
std::string to_json(const CloudEvent& e);

// The size EventBridge counts for the entry the pipe sends (its 256 KiB
// PutEvents limit): Time (14 bytes), Source, DetailType and Detail. Escaping
// makes it larger than the event's own JSON: every quote and backslash doubles.
std::size_t pipe_entry_bytes(const CloudEvent& e);

Result<CloudEvent> parse_event(std::string_view json);
Result<CloudEvent> event_from_json(const boost::json::value& v);

// Validators used by the parser, exposed for tests and other adapters.
bool is_rfc3339(std::string_view s) noexcept;
bool is_traceparent(std::string_view s) noexcept;

}  // namespace orderly::platform
