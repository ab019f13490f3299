// Shipment transitions and the carrier simulator's steps.
#include "orderly/services/shipping/domain.hpp"

#include <algorithm>
#include <cctype>

#include "orderly/platform/id.hpp"

namespace orderly::services::shipping {

namespace c = contracts;
namespace json = boost::json;
using platform::ErrorKind;

std::string_view to_string(ShipmentStatus s) {
  switch (s) {
    case ShipmentStatus::awaiting_capture:
      return "AWAITING_CAPTURE";
    case ShipmentStatus::awaiting_order:
      return "AWAITING_ORDER";
    case ShipmentStatus::created:
      return "CREATED";
    case ShipmentStatus::dispatched:
      return "DISPATCHED";
    case ShipmentStatus::delivered:
      return "DELIVERED";
    case ShipmentStatus::cancelled:
      return "CANCELLED";
  }
  return "?";
}

std::string shipment_id_for(const std::string& order_id) {
  return platform::derived_uuid("orderly.shipping", order_id);
}

namespace {

Outcome noted(std::string why) {
  Outcome o;
  o.note = std::move(why);
  return o;
}

// Both halves are here: create the shipment and start the carrier.
Outcome create(Shipment s) {
  s.status = ShipmentStatus::created;
  s.carrier = std::string(kCarrier);
  std::string hex;
  for (char ch : s.shipment_id)
    if (ch != '-') hex.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  s.tracking_number = "PS" + hex.substr(0, 14);
  Outcome o;
  o.events.emplace_back(
      c::ShipmentCreated{s.order_id, s.customer_id, s.shipment_id, s.carrier, s.tracking_number});
  o.next_step = c::CarrierProgressed{s.order_id, s.shipment_id, "dispatch"};
  o.shipment = std::move(s);
  return o;
}

}  // namespace

Result<Outcome> on_order_confirmed(const std::optional<Shipment>& s, const c::OrderConfirmed& e) {
  if (s && s->status == ShipmentStatus::cancelled) return noted("the order was cancelled first");
  if (s && s->status != ShipmentStatus::awaiting_order)
    return noted(fmt::format("already {}", to_string(s->status)));
  Shipment next = s ? *s : Shipment{e.order_id, shipment_id_for(e.order_id),
                                    {},         ShipmentStatus::awaiting_capture,
                                    {},         {},
                                    {}};
  next.customer_id = e.customer_id;
  next.address = e.shipping_address;
  if (s) return create(std::move(next));  // the capture came first
  Outcome o;
  o.shipment = std::move(next);
  return o;
}

Result<Outcome> on_payment_captured(const std::optional<Shipment>& s, const std::string& order_id) {
  if (!s) {
    Outcome o;
    o.shipment = Shipment{
        order_id, shipment_id_for(order_id), {}, ShipmentStatus::awaiting_order, {}, {}, {}};
    return o;
  }
  if (s->status == ShipmentStatus::cancelled) return noted("the order was cancelled first");
  if (s->status != ShipmentStatus::awaiting_capture)
    return noted(fmt::format("already {}", to_string(s->status)));
  return create(*s);
}

Result<Outcome> on_carrier_step(const std::optional<Shipment>& s, const c::CarrierProgressed& e) {
  if (!s)
    return platform::fail(ErrorKind::failed_precondition, "no shipment for order {}", e.order_id);
  if (s->status == ShipmentStatus::cancelled)
    return noted("the shipment was cancelled before the carrier came");
  Outcome o;
  o.shipment = *s;
  if (e.step == "dispatch") {
    if (s->status == ShipmentStatus::dispatched || s->status == ShipmentStatus::delivered)
      return noted("already dispatched");
    if (s->status != ShipmentStatus::created)
      return platform::fail(ErrorKind::failed_precondition, "cannot dispatch a {} shipment",
                            to_string(s->status));
    o.shipment->status = ShipmentStatus::dispatched;
    o.events.emplace_back(c::ShipmentDispatched{s->order_id, s->customer_id, s->shipment_id,
                                                s->carrier, s->tracking_number});
    o.next_step = c::CarrierProgressed{s->order_id, s->shipment_id, "deliver"};
    return o;
  }
  if (s->status == ShipmentStatus::delivered) return noted("already delivered");
  if (s->status != ShipmentStatus::dispatched)
    return platform::fail(ErrorKind::failed_precondition, "cannot deliver a {} shipment",
                          to_string(s->status));
  o.shipment->status = ShipmentStatus::delivered;
  o.events.emplace_back(c::ShipmentDelivered{s->order_id, s->customer_id, s->shipment_id});
  return o;
}

Result<Outcome> on_order_cancelled(const std::optional<Shipment>& s, const std::string& order_id) {
  Outcome o;
  if (!s) {
    o.shipment =
        Shipment{order_id, shipment_id_for(order_id), {}, ShipmentStatus::cancelled, {}, {}, {}};
    return o;
  }
  switch (s->status) {
    case ShipmentStatus::awaiting_capture:
    case ShipmentStatus::awaiting_order:
    case ShipmentStatus::created:
      o.shipment = *s;
      o.shipment->status = ShipmentStatus::cancelled;
      return o;
    case ShipmentStatus::cancelled:
      return noted("already cancelled");
    default:
      // The orders service refuses a cancel once dispatched; this is the race
      // where the carrier moved first. The parcel is out: nothing to stop.
      return noted(fmt::format("cancel arrived after the shipment was {}", to_string(s->status)));
  }
}

Result<Outcome> on_cancellation_requested(const std::optional<Shipment>& s,
                                          const c::OrderCancellationRequested& e) {
  Outcome o;
  const std::string shipment_id = s ? s->shipment_id : shipment_id_for(e.order_id);
  if (!s) {
    o.shipment =
        Shipment{e.order_id, shipment_id, e.customer_id, ShipmentStatus::cancelled, {}, {}, {}};
  } else {
    switch (s->status) {
      case ShipmentStatus::awaiting_capture:
      case ShipmentStatus::awaiting_order:
      case ShipmentStatus::created:
        o.shipment = *s;
        o.shipment->status = ShipmentStatus::cancelled;
        break;
      case ShipmentStatus::cancelled:
        o.note = "already cancelled";  // answered again, so the order can conclude
        break;
      case ShipmentStatus::dispatched:
      case ShipmentStatus::delivered:
        o.events.emplace_back(c::ShipmentCancellationRefused{
            e.order_id, e.customer_id, shipment_id,
            s->status == ShipmentStatus::dispatched ? "DISPATCHED" : "DELIVERED"});
        o.note = "the shipment has left: the cancel is refused";
        return o;
    }
  }
  o.events.emplace_back(c::ShipmentCancelled{e.order_id, e.customer_id, shipment_id});
  return o;
}

json::object to_json(const Shipment& s) {
  json::object o{{"orderId", s.order_id},       {"shipmentId", s.shipment_id},
                 {"customerId", s.customer_id}, {"status", to_string(s.status)},
                 {"carrier", s.carrier},        {"trackingNumber", s.tracking_number}};
  if (s.address) o["address"] = c::encode(*s.address);
  return o;
}

Result<Shipment> shipment_from_json(const json::object& o) {
  platform::JsonReader r{o};
  Shipment s;
  s.order_id = r.string("orderId", 1, 64);
  s.shipment_id = r.string("shipmentId", 1, 64);
  s.customer_id = r.string("customerId", 0, 128);
  const auto status = r.one_of("status", {"AWAITING_CAPTURE", "AWAITING_ORDER", "CREATED",
                                          "DISPATCHED", "DELIVERED", "CANCELLED"});
  for (auto st :
       {ShipmentStatus::awaiting_capture, ShipmentStatus::awaiting_order, ShipmentStatus::created,
        ShipmentStatus::dispatched, ShipmentStatus::delivered, ShipmentStatus::cancelled})
    if (to_string(st) == status) s.status = st;
  s.carrier = r.string("carrier", 0, 64);
  s.tracking_number = r.string("trackingNumber", 0, 64);
  if (o.contains("address")) s.address = c::read_address(r, "address");
  r.done();
  if (auto st = r.status(); !st)
    return platform::fail(ErrorKind::permanent, "stored shipment is unreadable: {}",
                          st.error().message);
  return s;
}

}  // namespace orderly::services::shipping
