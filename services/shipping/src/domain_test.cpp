// Shipping domain: shipment lifecycle and carrier steps.
#include "orderly/services/shipping/domain.hpp"

#include <gtest/gtest.h>

namespace orderly::services::shipping {
namespace {

namespace c = contracts;
using platform::ErrorKind;

const std::string kOrder = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";

c::OrderConfirmed confirmed() {
  return {kOrder,
          "cust-1",
          {{"SKU-A", 1, {100, "GBP"}}},
          {100, "GBP"},
          c::Address{"Ada", "1 Loop Rd", std::nullopt, "Leeds", "LS1 1AA", "GB"}};
}

Shipment at(ShipmentStatus s) {
  Shipment sh{kOrder, shipment_id_for(kOrder), "cust-1", s, "ParcelSim", "PS1", std::nullopt};
  return sh;
}

TEST(Shipment, CreatedOnceOrderAndCaptureAreBothSeenInEitherOrder) {
  auto a = on_order_confirmed(std::nullopt, confirmed());
  ASSERT_TRUE(a);
  EXPECT_EQ(a->shipment->status, ShipmentStatus::awaiting_capture);
  EXPECT_TRUE(a->events.empty());
  auto b = on_payment_captured(a->shipment, kOrder);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->shipment->status, ShipmentStatus::created);
  const auto& created = std::get<c::ShipmentCreated>(b->events.at(0));
  EXPECT_EQ(created.customer_id, "cust-1");
  EXPECT_EQ(created.carrier, "ParcelSim");
  EXPECT_EQ(b->next_step->step, "dispatch");

  auto x = on_payment_captured(std::nullopt, kOrder);
  EXPECT_EQ(x->shipment->status, ShipmentStatus::awaiting_order);
  auto y = on_order_confirmed(x->shipment, confirmed());
  EXPECT_EQ(y->shipment->status, ShipmentStatus::created);
  EXPECT_EQ(std::get<c::ShipmentCreated>(y->events.at(0)).tracking_number, created.tracking_number);
}

TEST(Carrier, DispatchesThenDelivers) {
  auto d =
      on_carrier_step(at(ShipmentStatus::created), {kOrder, shipment_id_for(kOrder), "dispatch"});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->shipment->status, ShipmentStatus::dispatched);
  EXPECT_TRUE(std::holds_alternative<c::ShipmentDispatched>(d->events.at(0)));
  EXPECT_EQ(d->next_step->step, "deliver");
  auto v = on_carrier_step(d->shipment, {kOrder, shipment_id_for(kOrder), "deliver"});
  EXPECT_EQ(v->shipment->status, ShipmentStatus::delivered);
  EXPECT_FALSE(v->next_step);
}

TEST(Carrier, InvalidStepsAreErrorsAndCancelledShipmentsStay) {
  EXPECT_EQ(on_carrier_step(at(ShipmentStatus::created), {kOrder, "s", "deliver"}).error().kind,
            ErrorKind::failed_precondition);
  EXPECT_EQ(
      on_carrier_step(at(ShipmentStatus::awaiting_capture), {kOrder, "s", "dispatch"}).error().kind,
      ErrorKind::failed_precondition);
  EXPECT_FALSE(on_carrier_step(std::nullopt, {kOrder, "s", "dispatch"}));
  auto c1 = on_carrier_step(at(ShipmentStatus::cancelled), {kOrder, "s", "dispatch"});
  ASSERT_TRUE(c1);
  EXPECT_TRUE(c1->events.empty());
}

TEST(Cancel, StopsAShipmentBeforeDispatchOnly) {
  for (auto s : {ShipmentStatus::awaiting_capture, ShipmentStatus::awaiting_order,
                 ShipmentStatus::created}) {
    auto o = on_order_cancelled(at(s), kOrder);
    EXPECT_EQ(o->shipment->status, ShipmentStatus::cancelled) << to_string(s);
  }
  for (auto s :
       {ShipmentStatus::dispatched, ShipmentStatus::delivered, ShipmentStatus::cancelled}) {
    auto o = on_order_cancelled(at(s), kOrder);
    EXPECT_FALSE(o->shipment) << to_string(s);
    EXPECT_FALSE(o->note.empty());
  }
  auto early = on_order_cancelled(std::nullopt, kOrder);
  EXPECT_EQ(early->shipment->status, ShipmentStatus::cancelled);
  EXPECT_TRUE(on_order_confirmed(early->shipment, confirmed())->events.empty());
  EXPECT_TRUE(on_payment_captured(early->shipment, kOrder)->events.empty());
}

TEST(ShipmentJson, RoundTrips) {
  auto s = at(ShipmentStatus::created);
  s.address = confirmed().shipping_address;
  EXPECT_EQ(*shipment_from_json(to_json(s)), s);
}

}  // namespace
}  // namespace orderly::services::shipping

// The pivot: a cancellation request stops a shipment that has not left and is
// refused for one that has; the carrier never dispatches a cancelled shipment.
TEST(CancellationRequested, StopsWhatHasNotLeftAndRefusesWhatHas) {
  using namespace orderly::services::shipping;
  namespace c = orderly::services::contracts;
  const c::OrderCancellationRequested req{"019593fa-5d95-7a3c-9d21-4f6a8b0c1d2e", "cust-42"};
  auto none = on_cancellation_requested(std::nullopt, req);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->shipment->status, ShipmentStatus::cancelled);
  EXPECT_TRUE(std::holds_alternative<c::ShipmentCancelled>(none->events.at(0)));
  for (auto st : {ShipmentStatus::awaiting_capture, ShipmentStatus::awaiting_order,
                  ShipmentStatus::created}) {
    Shipment s{req.order_id, shipment_id_for(req.order_id), "cust-42", st, {}, {}, {}};
    auto out = on_cancellation_requested(s, req);
    ASSERT_TRUE(out);
    EXPECT_EQ(out->shipment->status, ShipmentStatus::cancelled);
    EXPECT_TRUE(std::holds_alternative<c::ShipmentCancelled>(out->events.at(0)));
    auto carrier = on_carrier_step(out->shipment,
                                   c::CarrierProgressed{req.order_id, s.shipment_id, "dispatch"});
    ASSERT_TRUE(carrier);
    EXPECT_TRUE(carrier->events.empty()) << "a cancelled shipment is never dispatched";
  }
  for (auto st : {ShipmentStatus::dispatched, ShipmentStatus::delivered}) {
    Shipment s{req.order_id, shipment_id_for(req.order_id), "cust-42", st, {}, {}, {}};
    auto out = on_cancellation_requested(s, req);
    ASSERT_TRUE(out);
    EXPECT_FALSE(out->shipment);
    const auto& refused = std::get<c::ShipmentCancellationRefused>(out->events.at(0));
    EXPECT_EQ(refused.shipment_status,
              st == ShipmentStatus::dispatched ? "DISPATCHED" : "DELIVERED");
  }
}
