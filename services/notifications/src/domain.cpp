// Templates and rendering.
#include "orderly/services/notifications/domain.hpp"

namespace orderly::services::notifications {

namespace json = boost::json;

std::string_view to_string(Template t) {
  switch (t) {
    case Template::order_confirmed:
      return "order_confirmed";
    case Template::order_cancelled:
      return "order_cancelled";
    case Template::shipment_dispatched:
      return "shipment_dispatched";
    case Template::shipment_delivered:
      return "shipment_delivered";
  }
  return "?";
}

namespace {

struct Text {
  const char* subject;
  const char* body;
};

Text text_of(Template t) {
  switch (t) {
    case Template::order_confirmed:
      return {"Your order {order} is confirmed",
              "Thank you. We have your payment of {total} and are packing order {order}."};
    case Template::order_cancelled:
      return {"Your order {order} was cancelled",
              "Order {order} was cancelled ({reason}). Any payment of {total} is released or "
              "refunded."};
    case Template::shipment_dispatched:
      return {"Your order {order} is on its way",
              "{carrier} has your parcel. Tracking number: {tracking}."};
    case Template::shipment_delivered:
      return {"Your order {order} was delivered", "{carrier} delivered order {order}. Enjoy!"};
  }
  return {"", ""};
}

std::string fill(std::string_view text, const Values& values) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '{') {
      const auto end = text.find('}', i);
      if (end != std::string_view::npos) {
        auto it = values.find(std::string(text.substr(i + 1, end - i - 1)));
        out += it != values.end() ? it->second : "";
        i = end;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

std::string format_money(const contracts::Money& m) {
  const char* symbol = m.currency == "GBP"   ? "£"
                       : m.currency == "EUR" ? "€"
                       : m.currency == "USD" ? "$"
                                             : "";
  if (*symbol) return fmt::format("{}{}.{:02}", symbol, m.amount / 100, m.amount % 100);
  return fmt::format("{}.{:02} {}", m.amount / 100, m.amount % 100, m.currency);
}

Notification render(Template t, const std::string& notification_id, const std::string& customer_id,
                    const std::string& order_id, const Values& values) {
  Values v = values;
  v.emplace("order", order_id.substr(0, 8));
  const auto text = text_of(t);
  return Notification{notification_id,       customer_id,       order_id, "email", t,
                      fill(text.subject, v), fill(text.body, v)};
}

json::object to_json(const Notification& n) {
  return {{"notificationId", n.notification_id},
          {"customerId", n.customer_id},
          {"orderId", n.order_id},
          {"channel", n.channel},
          {"template", to_string(n.template_name)},
          {"subject", n.subject},
          {"body", n.body}};
}

}  // namespace orderly::services::notifications
