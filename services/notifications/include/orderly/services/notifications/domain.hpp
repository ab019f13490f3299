// Notifications: which milestone gets which message, rendered from templates.
//
//   auto n = render(Template::order_confirmed, {.order_id = ..., .customer_id = ..., ...}, id);
//   // n.subject == "Your order 0193a1b2 is confirmed"
#pragma once

#include <map>
#include <string>

#include "orderly/services/contracts/events.hpp"

namespace orderly::services::notifications {

using platform::Result;

enum class Template { order_confirmed, order_cancelled, shipment_dispatched, shipment_delivered };
std::string_view to_string(Template t);

struct Notification {
  std::string notification_id, customer_id, order_id;
  std::string channel = "email";
  Template template_name = Template::order_confirmed;
  std::string subject, body;
  friend bool operator==(const Notification&, const Notification&) = default;
};

// Values a template may use: {order}, {total}, {reason}, {carrier}, {tracking}.
using Values = std::map<std::string, std::string>;

Notification render(Template t, const std::string& notification_id, const std::string& customer_id,
                    const std::string& order_id, const Values& values);
std::string format_money(const contracts::Money& m);

boost::json::object to_json(const Notification& n);

}  // namespace orderly::services::notifications
