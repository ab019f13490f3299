// Orders domain: the saga state machine, its transitions and late facts.
#include "orderly/services/orders/domain.hpp"

#include <gtest/gtest.h>

#include <map>

#include "orderly/platform/id.hpp"

namespace orderly::services::orders {
namespace {

namespace c = contracts;
using platform::ErrorKind;

const std::map<std::string, CatalogueEntry> kCatalogue = {
    {"SKU-A", {"SKU-A", "Alpha", {1'250, "GBP"}}},
    {"SKU-B", {"SKU-B", "Beta", {399, "GBP"}}},
    {"SKU-EUR", {"SKU-EUR", "Euro thing", {100, "EUR"}}},
};

Result<CatalogueEntry> lookup(const std::string& sku) {
  auto it = kCatalogue.find(sku);
  if (it == kCatalogue.end()) return platform::fail(ErrorKind::not_found, "no {}", sku);
  return it->second;
}

PlaceOrder command(std::vector<c::StockLine> items = {{"SKU-A", 2}, {"SKU-B", 1}}) {
  return {platform::new_uuid_v7(),
          "customer-1",
          std::move(items),
          "tok_ok",
          c::Address{"Ada", "1 Loop Rd", std::nullopt, "Leeds", "LS1 1AA", "GB"},
          "2026-11-25T12:00:00.000Z"};
}

Order pending() {
  return place(command(), lookup)->order;
}

template <class E>
const E& only_event(const Transition& t) {
  EXPECT_EQ(t.events.size(), 1u);
  return std::get<E>(t.events.at(0));
}

Order with_status(Status s) {
  auto o = pending();
  o.status = s;
  return o;
}

TEST(PlaceOrder, PricesFromTheCatalogueAndEmitsOrderPlaced) {
  auto t = place(command(), lookup);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->order.status, Status::pending);
  EXPECT_EQ(t->order.total, (c::Money{2 * 1'250 + 399, "GBP"}));
  EXPECT_EQ(t->order.items[0].unit_price, (c::Money{1'250, "GBP"}));
  const auto& e = only_event<c::OrderPlaced>(*t);
  EXPECT_EQ(e.total, t->order.total);
  EXPECT_EQ(e.payment_token, "tok_ok");
}

TEST(PlaceOrder, RejectsUnknownSkusDuplicatesBadQuantitiesAndMixedCurrenciesNamingTheLine) {
  auto t = place(
      command(
          {{"SKU-A", 1}, {"NOPE", 1}, {"SKU-A", 2}, {"SKU-B", 0}, {"SKU-EUR", 1}, {"SKU-B", 1001}}),
      lookup);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind, ErrorKind::invalid_input);
  for (const char* needle :
       {"$.items[1].sku: unknown sku NOPE", "$.items[2].sku: appears on more",
        "$.items[3].quantity", "$.items[4].sku: is priced in another currency"})
    EXPECT_NE(t.error().message.find(needle), std::string::npos) << t.error().message;
  EXPECT_FALSE(place(command({}), lookup));
}

TEST(PlaceOrder, NamesEachBadLineInTheErrorsFields) {
  auto t = place(command({{"NOPE", 1}, {"SKU-A", 1}, {"SKU-A", 2}}), lookup);
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().fields, (std::vector<platform::FieldError>{
                                  {"$.items[0].sku", "unknown sku NOPE"},
                                  {"$.items[2].sku", "appears on more than one line"}}));
}

TEST(PlaceOrder, AFailedCatalogueReadIsReturnedAsItIsNotAsAnUnknownSku) {
  auto t = place(command(), [](const std::string&) -> Result<CatalogueEntry> {
    return platform::fail(ErrorKind::transient, "store busy");
  });
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error(), (platform::Error{ErrorKind::transient, "store busy"}));
}

TEST(Saga, ConfirmsOnlyWhenBothReservationAndAuthorisationArriveInEitherOrder) {
  for (bool reserve_first : {true, false}) {
    auto o = pending();
    auto first = reserve_first ? on_inventory_reserved(o) : on_payment_authorized(o);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->order.status, Status::pending);
    EXPECT_TRUE(first->events.empty());
    auto second =
        reserve_first ? on_payment_authorized(first->order) : on_inventory_reserved(first->order);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->order.status, Status::confirmed);
    EXPECT_EQ(only_event<c::OrderConfirmed>(*second).total, o.total);
  }
}

// The saga timer at the moment the order was placed (never past a deadline).
Result<Transition> timer_at_once(Order o) {
  const auto now = o.created_at;
  return on_saga_timeout(std::move(o), now, std::chrono::hours(1));
}

TEST(Saga, FailuresCancelWithTheirReason) {
  struct Case {
    Result<Transition> (*fn)(Order);
    std::string_view reason;
  };
  for (auto [fn, reason] :
       {Case{on_reservation_failed, kOutOfStock}, Case{on_payment_declined, kPaymentDeclined},
        Case{timer_at_once, kTimeout}, Case{cancel_by_customer, kCustomerRequest}}) {
    auto t = fn(pending());
    ASSERT_TRUE(t);
    EXPECT_EQ(t->order.status, Status::cancelled);
    EXPECT_EQ(t->order.cancellation_reason, std::string(reason));
    EXPECT_EQ(only_event<c::OrderCancelled>(*t).reason, reason);
  }
}

TEST(Saga, LateFactsAfterTheSagaEndedChangeNothingAndSaySo) {
  for (auto s : {Status::confirmed, Status::cancelled, Status::shipped, Status::delivered}) {
    for (auto fn : {on_inventory_reserved, on_payment_authorized, on_reservation_failed,
                    on_payment_declined, timer_at_once}) {
      const auto o = with_status(s);
      auto t = fn(o);
      ASSERT_TRUE(t);
      EXPECT_EQ(t->order.status, s);
      EXPECT_TRUE(t->events.empty());
      EXPECT_FALSE(t->note.empty());
    }
  }
}

// ---- the fulfilment deadline ----

Order confirmed_at(const std::string& time) {
  auto o = pending();
  o.status = Status::confirmed;
  o.timeline.push_back({std::string(c::OrderConfirmed::kType), time, "e-confirmed", std::nullopt});
  return o;
}

TEST(FulfilmentDeadline, BeforeTheDeadlineTheTimerOnlyRearms) {
  auto t = on_saga_timeout(confirmed_at("2026-12-01T10:00:00Z"), "2026-12-01T10:59:59Z",
                           std::chrono::hours(1));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->order.status, Status::confirmed);
  EXPECT_TRUE(t->events.empty());
  EXPECT_TRUE(t->rearm_timer);
  EXPECT_EQ(t->deadline, Deadline::waiting);
  EXPECT_FALSE(t->order.cancellation_requested);
}

TEST(FulfilmentDeadline, PastItAConfirmedOrderAsksShippingToCancel) {
  auto t = on_saga_timeout(confirmed_at("2026-12-01T10:00:00Z"), "2026-12-01T11:00:00Z",
                           std::chrono::hours(1));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->order.status, Status::confirmed) << "shipping decides, not the timer";
  EXPECT_EQ(only_event<c::OrderCancellationRequested>(*t).order_id, t->order.id);
  EXPECT_TRUE(t->order.cancellation_requested);
  EXPECT_EQ(t->order.deadline_requests, 1);
  EXPECT_EQ(t->deadline, Deadline::requested);
  EXPECT_TRUE(t->rearm_timer);
  // Shipping stopped the shipment: cancelled with the deadline's reason.
  auto c = on_shipment_cancelled(t->order);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->order.status, Status::cancelled);
  EXPECT_EQ(only_event<c::OrderCancelled>(*c).reason, kFulfilmentTimeout);
  // Survives the store.
  auto back = order_from_json(to_json(t->order));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, t->order);
}

TEST(FulfilmentDeadline, AnUnansweredRequestIsAskedAgainThenEscalated) {
  auto o = confirmed_at("2026-12-01T10:00:00Z");
  std::vector<Deadline> seen;
  for (int i = 0; i < kMaxDeadlineRequests + 2; ++i) {
    auto t = on_saga_timeout(o, fmt::format("2026-12-01T11:{:02}:00Z", i), std::chrono::hours(1));
    ASSERT_TRUE(t);
    seen.push_back(t->deadline);
    EXPECT_EQ(t->rearm_timer, t->deadline != Deadline::escalated);
    EXPECT_EQ(t->events.size(), t->deadline == Deadline::escalated ? 0u : 1u);
    o = t->order;
  }
  EXPECT_EQ(seen.front(), Deadline::requested);
  for (int i = 1; i < kMaxDeadlineRequests; ++i) EXPECT_EQ(seen[i], Deadline::re_requested) << i;
  EXPECT_EQ(seen[kMaxDeadlineRequests], Deadline::escalated);
  EXPECT_EQ(o.deadline_requests, kMaxDeadlineRequests);
  EXPECT_EQ(o.status, Status::confirmed);
}

TEST(FulfilmentDeadline, ACustomersPendingRequestKeepsItsReason) {
  auto req = cancel_by_customer(confirmed_at("2026-12-01T10:00:00Z"));
  ASSERT_TRUE(req);
  auto t = on_saga_timeout(req->order, "2026-12-01T12:00:00Z", std::chrono::hours(1));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->deadline, Deadline::re_requested);
  auto c = on_shipment_cancelled(t->order);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->order.cancellation_reason, std::string(kCustomerRequest));
}

TEST(FulfilmentDeadline, ARefusalClearsTheRequestAndAShippedOrderIsOnlyWatched) {
  auto t = on_saga_timeout(confirmed_at("2026-12-01T10:00:00Z"), "2026-12-01T11:00:00Z",
                           std::chrono::hours(1));
  ASSERT_TRUE(t);
  auto r = on_cancellation_refused(t->order, "DISPATCHED");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->order.cancellation_requested);
  EXPECT_FALSE(r->order.cancellation_request_reason);
  auto shipped = r->order;
  shipped.status = Status::shipped;
  auto w = on_saga_timeout(shipped, "2026-12-01T11:30:00Z", std::chrono::hours(1));
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->events.empty()) << "the goods have left: nothing to cancel";
  EXPECT_EQ(w->order.status, Status::shipped);
  EXPECT_TRUE(w->rearm_timer);
}

TEST(Saga, ShipsAndDeliversFromConfirmed) {
  auto o = with_status(Status::confirmed);
  auto created = on_shipment_created(o, "s-1", "ParcelSim", "PS1");
  ASSERT_TRUE(created);
  EXPECT_EQ(created->order.status, Status::confirmed);
  EXPECT_EQ(created->order.shipment_id, "s-1");
  auto shipped = on_shipment_dispatched(created->order, "s-1", "ParcelSim", "PS1");
  ASSERT_TRUE(shipped);
  EXPECT_EQ(shipped->order.status, Status::shipped);
  EXPECT_EQ(only_event<c::OrderShipped>(*shipped).tracking_number, "PS1");
  auto delivered = on_shipment_delivered(shipped->order, "s-1");
  ASSERT_TRUE(delivered);
  EXPECT_EQ(delivered->order.status, Status::delivered);
  EXPECT_EQ(only_event<c::OrderDelivered>(*delivered).shipment_id, "s-1");
}

TEST(Saga, DeliveryThatOvertakesDispatchShipsAndDelivers) {
  auto t = on_shipment_delivered(with_status(Status::confirmed), "s-1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->order.status, Status::delivered);
  ASSERT_EQ(t->events.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<c::OrderShipped>(t->events[0]));
  EXPECT_TRUE(std::holds_alternative<c::OrderDelivered>(t->events[1]));
  // And the late dispatch is a no-op with a note.
  auto late = on_shipment_dispatched(t->order, "s-1", "ParcelSim", "PS1");
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->events.empty());
  EXPECT_EQ(late->order.status, Status::delivered);
}

TEST(Saga, InvalidShippingTransitionsAreErrors) {
  EXPECT_EQ(on_shipment_dispatched(with_status(Status::pending), "s", "c", "t").error().kind,
            ErrorKind::failed_precondition);
  EXPECT_EQ(on_shipment_delivered(with_status(Status::pending), "s").error().kind,
            ErrorKind::failed_precondition);
  // Shipping facts about a cancelled order are late facts, not errors.
  EXPECT_TRUE(
      on_shipment_dispatched(with_status(Status::cancelled), "s", "c", "t")->events.empty());
  EXPECT_TRUE(on_shipment_created(with_status(Status::cancelled), "s", "c", "t")->events.empty());
}

TEST(CustomerCancel, AllowedUntilDispatchThenRefused) {
  EXPECT_TRUE(cancel_by_customer(with_status(Status::pending)));
  EXPECT_TRUE(cancel_by_customer(with_status(Status::confirmed)));
  for (auto s : {Status::shipped, Status::delivered, Status::cancelled}) {
    auto t = cancel_by_customer(with_status(s));
    ASSERT_FALSE(t);
    EXPECT_EQ(t.error().kind, ErrorKind::failed_precondition) << to_string(s);
  }
}

// A retry of the customer's cancel after a lost answer finds the order
// cancelled at its own request: the same answer again, with nothing emitted;
// an order the saga cancelled (declined, out of stock) still answers 409.
TEST(Saga, TheCustomersCancelAskedAgainAnswersTheSameAndEmitsNothing) {
  auto first = cancel_by_customer(pending());
  ASSERT_TRUE(first);
  ASSERT_EQ(first->order.status, Status::cancelled);
  auto again = cancel_by_customer(first->order);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->order.status, Status::cancelled);
  EXPECT_EQ(again->order.cancellation_reason, std::string(kCustomerRequest));
  EXPECT_TRUE(again->events.empty());
  auto declined = on_payment_declined(pending());
  ASSERT_TRUE(declined);
  ASSERT_EQ(declined->order.status, Status::cancelled);
  auto late = cancel_by_customer(declined->order);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::failed_precondition);
}

TEST(OrderJson, RoundTripsAndRejectsCorruption) {
  auto o = pending();
  o.timeline.push_back({"orderly.orders.OrderPlaced.v1", "2026-11-25T12:00:00Z", "e-1",
                        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"});
  o.cancellation_reason = "timeout";
  o.shipment_id = "s-1";
  auto back = order_from_json(to_json(o));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, o);
  auto broken = to_json(o);
  broken["status"] = "LOST";
  EXPECT_EQ(order_from_json(broken).error().kind, ErrorKind::permanent);
}

// The pivot: past confirmation a customer's cancel is a request shipping decides.
TEST(CancelByCustomer, AConfirmedOrderIsARequestThatShippingDecides) {
  using namespace orderly::services::orders;
  auto r = cancel_by_customer(with_status(Status::confirmed));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->order.status, Status::confirmed);
  EXPECT_TRUE(r->order.cancellation_requested);
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<orderly::services::contracts::OrderCancellationRequested>(
      r->events.front()));
  auto again = cancel_by_customer(r->order);  // a repeated request emits nothing
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->events.empty());
  auto stopped = on_shipment_cancelled(r->order);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->order.status, Status::cancelled);
  EXPECT_EQ(stopped->order.cancellation_reason, "customer_request");
  EXPECT_FALSE(stopped->order.cancellation_requested);
  auto refused = on_cancellation_refused(r->order, "DISPATCHED");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->order.status, Status::confirmed);
  EXPECT_FALSE(refused->order.cancellation_requested);
  EXPECT_TRUE(refused->events.empty());
  // The flag survives the stored form.
  auto back = order_from_json(to_json(r->order));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_TRUE(back->cancellation_requested);
}

}  // namespace
}  // namespace orderly::services::orders
