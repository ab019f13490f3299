// The order state machine.
#include "orderly/services/orders/domain.hpp"

#include <set>

namespace orderly::services::orders {

namespace json = boost::json;
using platform::ErrorKind;
using platform::JsonReader;

std::string_view to_string(Status s) {
  switch (s) {
    case Status::pending:
      return "PENDING";
    case Status::confirmed:
      return "CONFIRMED";
    case Status::shipped:
      return "SHIPPED";
    case Status::delivered:
      return "DELIVERED";
    case Status::cancelled:
      return "CANCELLED";
  }
  return "?";
}

Result<Status> parse_status(std::string_view s) {
  for (auto st :
       {Status::pending, Status::confirmed, Status::shipped, Status::delivered, Status::cancelled})
    if (to_string(st) == s) return st;
  return platform::fail(ErrorKind::invalid_input, "unknown order status {}", s);
}

namespace {

Transition unchanged(Order o, std::string note) {
  return Transition{std::move(o), {}, std::move(note)};
}

contracts::OrderConfirmed confirmed_event(const Order& o) {
  return {o.id, o.customer_id, o.items, o.total, o.shipping_address};
}

Transition cancel(Order o, std::string_view reason) {
  o.status = Status::cancelled;
  o.cancellation_reason = std::string(reason);
  contracts::OrderCancelled e{o.id, o.customer_id, std::string(reason), o.total};
  Transition t{std::move(o), {}, {}};
  t.events.emplace_back(std::move(e));
  return t;
}

Transition maybe_confirm(Order o) {
  if (o.status == Status::pending && o.reserved && o.authorized) {
    o.status = Status::confirmed;
    auto e = confirmed_event(o);
    Transition t{std::move(o), {}, {}};
    t.events.emplace_back(std::move(e));
    return t;
  }
  return Transition{std::move(o), {}, {}};
}

}  // namespace

Result<Transition> place(const PlaceOrder& cmd, const PriceLookup& catalogue) {
  std::vector<platform::FieldError> errors;
  if (cmd.items.empty()) errors.push_back({"$.items", "must have 1 to 50 elements"});
  if (cmd.items.size() > contracts::kMaxLines)
    errors.push_back({"$.items", "must have 1 to 50 elements"});
  Order o;
  o.id = cmd.order_id;
  o.customer_id = cmd.customer_id;
  o.shipping_address = cmd.shipping_address;
  o.created_at = cmd.now;
  std::set<std::string> seen;
  std::optional<std::string> currency;
  std::int64_t total = 0;
  for (std::size_t i = 0; i < cmd.items.size() && i < contracts::kMaxLines; ++i) {
    const auto& line = cmd.items[i];
    const std::string path = fmt::format("$.items[{}]", i);
    if (!seen.insert(line.sku).second) {
      errors.push_back({path + ".sku", "appears on more than one line"});
      continue;
    }
    if (line.quantity < 1 || line.quantity > contracts::kMaxQuantity) {
      errors.push_back({path + ".quantity", "must be an integer from 1 to 1000"});
      continue;
    }
    auto entry = catalogue(line.sku);
    if (!entry && entry.error().kind == ErrorKind::not_found) {
      errors.push_back({path + ".sku", fmt::format("unknown sku {}", line.sku)});
      continue;
    }
    // Any other failure is the store's (a busy store is transient), not the caller's.
    if (!entry) return tl::unexpected(std::move(entry).error());
    if (currency && *currency != entry->price.currency) {
      errors.push_back({path + ".sku", "is priced in another currency than the other lines"});
      continue;
    }
    currency = entry->price.currency;
    total += entry->price.amount * line.quantity;  // <= 1e12 * 1000 * 100 fits in int64
    o.items.push_back({line.sku, line.quantity, entry->price});
  }
  if (!errors.empty()) return platform::invalid_fields(std::move(errors));
  o.total = Money{total, *currency};
  contracts::OrderPlaced e{o.id,    o.customer_id,     o.items,
                           o.total, cmd.payment_token, o.shipping_address};
  Transition t{std::move(o), {}, {}};
  t.events.emplace_back(std::move(e));
  return t;
}

Result<Transition> on_inventory_reserved(Order o) {
  if (o.status != Status::pending)
    return unchanged(std::move(o), "reservation arrived after the saga ended");
  o.reserved = true;
  return maybe_confirm(std::move(o));
}

Result<Transition> on_reservation_failed(Order o) {
  if (o.status != Status::pending)
    return unchanged(std::move(o), "reservation failure arrived after the saga ended");
  return cancel(std::move(o), kOutOfStock);
}

Result<Transition> on_payment_authorized(Order o) {
  if (o.status != Status::pending)
    return unchanged(std::move(o), "authorisation arrived after the saga ended");
  o.authorized = true;
  return maybe_confirm(std::move(o));
}

Result<Transition> on_payment_declined(Order o) {
  if (o.status != Status::pending)
    return unchanged(std::move(o), "decline arrived after the saga ended");
  return cancel(std::move(o), kPaymentDeclined);
}

std::string_view to_string(Deadline d) {
  switch (d) {
    case Deadline::none:
      return "none";
    case Deadline::waiting:
      return "waiting";
    case Deadline::requested:
      return "requested";
    case Deadline::re_requested:
      return "re_requested";
    case Deadline::escalated:
      return "escalated";
  }
  return "?";
}

namespace {
// When the order was confirmed: the OrderConfirmed of its timeline (or, for
// an order stored without it, when it was placed).
std::optional<platform::TimePoint> confirmed_at(const Order& o) {
  for (const auto& t : o.timeline)
    if (t.type == contracts::OrderConfirmed::kType) return platform::parse_rfc3339(t.time);
  return platform::parse_rfc3339(o.created_at);
}
}  // namespace

Result<Transition> on_saga_timeout(Order o, const std::string& now,
                                   platform::Millis fulfilment_timeout) {
  if (o.status == Status::pending) return cancel(std::move(o), kTimeout);
  if (o.terminal()) return unchanged(std::move(o), "the saga had already ended");
  const auto at = platform::parse_rfc3339(now);
  const auto confirmed = confirmed_at(o);
  if (!at) return platform::fail(ErrorKind::invalid_input, "timer time {} is not RFC 3339", now);
  // An order whose times cannot be read is due at once.
  const bool due = !confirmed || *at - *confirmed >= fulfilment_timeout;
  Transition t = unchanged(std::move(o), "");
  if (!due) {
    t.note = "fulfilment deadline not reached yet";
    t.rearm_timer = true;
    t.deadline = Deadline::waiting;
    return t;
  }
  Order& order = t.order;
  if (order.deadline_requests >= kMaxDeadlineRequests) {
    t.note =
        fmt::format("{} past its fulfilment deadline after {} cancellation requests: escalated",
                    to_string(order.status), order.deadline_requests);
    t.deadline = Deadline::escalated;
    return t;
  }
  t.rearm_timer = true;
  if (order.status == Status::shipped) {
    // The goods have left: nothing to cancel; watch, and escalate in the end.
    ++order.deadline_requests;
    t.note = "shipped but not delivered by the fulfilment deadline";
    t.deadline =
        order.deadline_requests >= kMaxDeadlineRequests ? Deadline::escalated : Deadline::waiting;
    t.rearm_timer = t.deadline != Deadline::escalated;
    return t;
  }
  // CONFIRMED and overdue: capture or shipment stalled. Shipping decides (the
  // pivot): it cancels an undispatched shipment, and the refund and restock
  // follow OrderCancelled; a dispatched one is refused and the order goes on.
  t.deadline = order.cancellation_requested ? Deadline::re_requested : Deadline::requested;
  if (!order.cancellation_requested) {
    order.cancellation_requested = true;
    order.cancellation_request_reason = std::string(kFulfilmentTimeout);
  }
  ++order.deadline_requests;
  t.note = fmt::format("fulfilment deadline passed: cancellation request {} of {}",
                       order.deadline_requests, kMaxDeadlineRequests);
  t.events.emplace_back(contracts::OrderCancellationRequested{order.id, order.customer_id});
  return t;
}

Result<Transition> on_shipment_created(Order o, const std::string& shipment_id,
                                       const std::string& carrier, const std::string& tracking) {
  if (o.status != Status::confirmed)
    return unchanged(std::move(o), fmt::format("shipment created while {}", to_string(o.status)));
  o.shipment_id = shipment_id;
  o.carrier = carrier;
  o.tracking_number = tracking;
  return Transition{std::move(o), {}, {}};
}

Result<Transition> on_shipment_dispatched(Order o, const std::string& shipment_id,
                                          const std::string& carrier, const std::string& tracking) {
  if (o.status == Status::shipped || o.status == Status::delivered)
    return unchanged(std::move(o), "already shipped");
  if (o.status == Status::cancelled)
    return unchanged(std::move(o), "dispatched after the order was cancelled");
  if (o.status != Status::confirmed)
    return platform::fail(ErrorKind::failed_precondition, "order {} is {}: it cannot ship", o.id,
                          to_string(o.status));
  o.status = Status::shipped;
  o.shipment_id = shipment_id;
  o.carrier = carrier;
  o.tracking_number = tracking;
  contracts::OrderShipped e{o.id, o.customer_id, shipment_id, carrier, tracking};
  Transition t{std::move(o), {}, {}};
  t.events.emplace_back(std::move(e));
  return t;
}

Result<Transition> on_shipment_delivered(Order o, const std::string& shipment_id) {
  if (o.status == Status::delivered) return unchanged(std::move(o), "already delivered");
  if (o.status == Status::cancelled)
    return unchanged(std::move(o), "delivered after the order was cancelled");
  if (o.status != Status::shipped && o.status != Status::confirmed)
    return platform::fail(ErrorKind::failed_precondition, "order {} is {}: it cannot be delivered",
                          o.id, to_string(o.status));
  Transition t{o, {}, {}};
  if (o.status == Status::confirmed) {
    // Delivery overtook dispatch (no ordering guarantee): ship first, then deliver.
    t.events.emplace_back(contracts::OrderShipped{o.id, o.customer_id, shipment_id,
                                                  o.carrier.value_or("unknown"),
                                                  o.tracking_number.value_or("unknown")});
  }
  t.order.status = Status::delivered;
  t.order.shipment_id = shipment_id;
  t.events.emplace_back(contracts::OrderDelivered{o.id, o.customer_id, shipment_id});
  return t;
}

Result<Transition> cancel_by_customer(Order o) {
  switch (o.status) {
    case Status::pending:
      return cancel(std::move(o), kCustomerRequest);
    case Status::confirmed: {
      if (o.cancellation_requested)
        return unchanged(std::move(o), "cancellation already requested; shipping decides");
      o.cancellation_requested = true;
      o.cancellation_request_reason = std::string(kCustomerRequest);
      contracts::OrderCancellationRequested e{o.id, o.customer_id};
      Transition t{std::move(o), {}, {}};
      t.events.emplace_back(std::move(e));
      return t;
    }
    case Status::shipped:
    case Status::delivered:
      return platform::fail(ErrorKind::failed_precondition,
                            "order {} is {}: it can no longer be cancelled", o.id,
                            to_string(o.status));
    case Status::cancelled:
      // The customer's own cancel, asked again (a client's retry after a lost
      // answer): what it asked for holds, so the same answer, and nothing new.
      if (o.cancellation_reason == kCustomerRequest)
        return unchanged(std::move(o), "cancelled already, at the customer's request");
      return platform::fail(ErrorKind::failed_precondition, "order {} is already cancelled ({})",
                            o.id, o.cancellation_reason.value_or("no reason recorded"));
  }
  return platform::fail(ErrorKind::permanent, "unreachable");
}

Result<Transition> on_shipment_cancelled(Order o) {
  if (o.status == Status::confirmed) {
    o.cancellation_requested = false;
    const std::string reason =
        o.cancellation_request_reason.value_or(std::string(kCustomerRequest));
    o.cancellation_request_reason.reset();
    return cancel(std::move(o), reason);
  }
  return unchanged(std::move(o),
                   fmt::format("shipment cancelled while the order is {}", to_string(o.status)));
}

Result<Transition> on_cancellation_refused(Order o, const std::string& shipment_status) {
  o.cancellation_requested = false;
  o.cancellation_request_reason.reset();
  return unchanged(std::move(o),
                   fmt::format("cancellation refused: the shipment is {}", shipment_status));
}

// ---- persistence ----

json::object to_json(const Order& o) {
  json::array timeline;
  for (const auto& t : o.timeline) {
    json::object e{{"type", t.type}, {"time", t.time}, {"eventId", t.event_id}};
    if (t.traceparent) e["traceparent"] = *t.traceparent;
    timeline.push_back(std::move(e));
  }
  json::object out{{"orderId", o.id},
                   {"customerId", o.customer_id},
                   {"status", to_string(o.status)},
                   {"items", contracts::encode_lines(o.items)},
                   {"total", contracts::encode(o.total)},
                   {"shippingAddress", contracts::encode(o.shipping_address)},
                   {"createdAt", o.created_at},
                   {"saga",
                    {{"reserved", o.reserved},
                     {"authorized", o.authorized},
                     {"cancellationRequested", o.cancellation_requested},
                     {"deadlineRequests", o.deadline_requests}}},
                   {"timeline", std::move(timeline)}};
  if (o.cancellation_reason) out["cancellationReason"] = *o.cancellation_reason;
  if (o.cancellation_request_reason)
    out["saga"].as_object()["cancellationRequestReason"] = *o.cancellation_request_reason;
  if (o.shipment_id) {
    json::object s{{"shipmentId", *o.shipment_id}};
    if (o.carrier) s["carrier"] = *o.carrier;
    if (o.tracking_number) s["trackingNumber"] = *o.tracking_number;
    out["shipment"] = std::move(s);
  }
  return out;
}

Result<Order> order_from_json(const json::object& attrs) {
  JsonReader r{attrs};
  Order o;
  o.id = r.string("orderId", 1, 64);
  o.customer_id = r.string("customerId", 1, 128);
  auto status = parse_status(
      r.one_of("status", {"PENDING", "CONFIRMED", "SHIPPED", "DELIVERED", "CANCELLED"}));
  if (status) o.status = *status;
  o.items = contracts::read_order_lines(r, "items");
  o.total = contracts::read_money(r, "total");
  o.shipping_address = contracts::read_address(r, "shippingAddress");
  o.created_at = r.string("createdAt", 1, 64);
  r.object("saga", [&](JsonReader& s) {
    o.reserved = s.boolean("reserved");
    o.authorized = s.boolean("authorized");
    // Absent in orders stored before the pivot.
    o.cancellation_requested = s.optional_boolean("cancellationRequested").value_or(false);
    // Absent in orders stored before the fulfilment deadline.
    o.cancellation_request_reason = s.optional_string("cancellationRequestReason", 1, 64);
    o.deadline_requests = static_cast<int>(
        s.optional_integer("deadlineRequests", 0, kMaxDeadlineRequests).value_or(0));
  });
  o.cancellation_reason = r.optional_string("cancellationReason", 1, 64);
  r.optional_object("shipment", [&](JsonReader& s) {
    o.shipment_id = s.string("shipmentId", 1, 64);
    o.carrier = s.optional_string("carrier", 1, 64);
    o.tracking_number = s.optional_string("trackingNumber", 1, 64);
  });
  r.array("timeline", 0, 10'000, [&](JsonReader& t, std::size_t) {
    TimelineEntry e;
    e.type = t.string("type", 1, 256);
    e.time = t.string("time", 1, 64);
    e.event_id = t.string("eventId", 1, 64);
    e.traceparent = t.optional_string("traceparent", 1, 64);
    o.timeline.push_back(std::move(e));
  });
  r.done();
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored order is unreadable: {}",
                          s.error().message);
  return o;
}

}  // namespace orderly::services::orders
