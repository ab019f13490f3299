// EventBridge-style event patterns, matched against a CloudEvent's JSON form.
//
//   auto p = EventPattern::parse(R"({
//     "type": ["orderly.orders.OrderPlaced.v1"],
//     "data": {"total": {"amount": [{"numeric": [">", 0]}]},
//              "paymentToken": [{"anything-but": {"prefix": "tok_test"}}]}
//   })");
//   bool hit = p->matches(event);
//
// A pattern is an object whose leaves are arrays of alternatives; all listed
// fields must match (AND), any alternative of a field may match (OR). If the
// event's field is an array, it matches when any element matches. The
// alternatives are: a literal (string, number, bool, null); {"prefix": s};
// {"suffix": s}; {"equals-ignore-case": s}; {"anything-but": literal | [literals] |
// {"prefix": s}}; {"exists": bool}; {"numeric": [op, n, (op, n)]} with ops
// = < <= > >=. The same JSON is handed to EventBridge on AWS under "detail".
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/error.hpp"
#include "orderly/platform/event.hpp"

namespace orderly::platform {

class EventPattern {
 public:
  struct Node;  // compiled form
  EventPattern();
  ~EventPattern();
  EventPattern(const EventPattern&);
  EventPattern& operator=(const EventPattern&);
  EventPattern(EventPattern&&) noexcept;
  EventPattern& operator=(EventPattern&&) noexcept;

  static Result<EventPattern> parse(std::string_view json);
  static Result<EventPattern> from_json(const boost::json::value& v);
  // Shorthand for {"type": [types...]}.
  static EventPattern for_types(const std::vector<std::string>& types);

  [[nodiscard]] bool matches(const boost::json::object& event) const;
  [[nodiscard]] bool matches(const CloudEvent& e) const;
  [[nodiscard]] const boost::json::value& source_json() const { return source_; }
  // The event types this pattern can match, if it pins "type" to literals.
  [[nodiscard]] std::vector<std::string> literal_types() const;

 private:
  boost::json::value source_;
  std::shared_ptr<const Node> root_;
};

}  // namespace orderly::platform
