// Shipping: handlers and the carrier simulator's timers.
#include "orderly/services/shipping/service.hpp"

#include "orderly/services/contracts/handlers.hpp"

namespace orderly::services::shipping {

namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
using platform::Item;
using platform::Status;
using platform::UnitOfWork;

namespace {
constexpr std::string_view kShipmentSk = "SHIPMENT";
std::string shipment_pk(std::string_view order_id) {
  return "SHIPMENT#" + std::string(order_id);
}
}  // namespace

ShippingService::ShippingService(platform::ItemStore& store, const platform::Clock& clock,
                                 Config config)
    : store_(store), clock_(clock), config_(config) {}

std::vector<std::string> ShippingService::produces() {
  return {std::string(c::ShipmentCreated::kType),
          std::string(c::ShipmentDispatched::kType),
          std::string(c::ShipmentDelivered::kType),
          std::string(c::ShipmentCancelled::kType),
          std::string(c::ShipmentCancellationRefused::kType),
          std::string(c::CarrierProgressed::kType),
          std::string(c::ShippingCustomerErased::kType)};
}

std::vector<platform::Subscription<ShippingService>> ShippingService::subscriptions() {
  using c::on;
  auto step = [](auto transition) {
    return [transition](ShippingService& s, const auto& d, const CloudEvent& e,
                        UnitOfWork& uow) -> Status {
      ORDERLY_TRY(l, s.load(d.order_id));
      ORDERLY_TRY(o, transition(l->shipment, d));
      return s.finish(*l, *o, e, uow);
    };
  };
  return {{std::string(kEventsRule),
           {
               on<c::OrderConfirmed>(step([](const auto& s, const c::OrderConfirmed& d) {
                 return on_order_confirmed(s, d);
               })),
               on<c::PaymentCaptured>(step([](const auto& s, const c::PaymentCaptured& d) {
                 return on_payment_captured(s, d.order_id);
               })),
               on<c::OrderCancelled>(step([](const auto& s, const c::OrderCancelled& d) {
                 return on_order_cancelled(s, d.order_id);
               })),
               on<c::OrderCancellationRequested>(
                   step([](const auto& s, const c::OrderCancellationRequested& d) {
                     return on_cancellation_requested(s, d);
                   })),
               on<c::CustomerErasureRequested>(
                   [](ShippingService& s, const c::CustomerErasureRequested& d, const CloudEvent& e,
                      UnitOfWork& uow) { return s.erase(d, e, uow); }),
           }},
          {
              std::string(kCarrierRule),
              {on<c::CarrierProgressed>(step([](const auto& s, const c::CarrierProgressed& d) {
                return on_carrier_step(s, d);
              }))},
          }};
}

std::vector<platform::Rule> ShippingService::rules() {
  return platform::bind(subscriptions(), *this, store_, clock_);
}

Result<ShippingService::Loaded> ShippingService::load(const std::string& order_id) {
  Loaded l;
  ORDERLY_TRY(item, store_.get(shipment_pk(order_id), std::string(kShipmentSk)));
  if (*item) {
    ORDERLY_TRY(s, shipment_from_json((*item)->attrs));
    l.shipment = std::move(*s);
    l.version = (*item)->version;
  }
  return l;
}

Status ShippingService::finish(const Loaded& l, const Outcome& o, const CloudEvent& cause,
                               UnitOfWork& uow) {
  if (o.shipment)
    uow.put(Item{shipment_pk(o.shipment->order_id), std::string(kShipmentSk), 0,
                 to_json(*o.shipment), std::nullopt},
            l.shipment ? Condition::version_is(l.version) : Condition::not_exists());
  for (auto& e : c::to_events(o.events, &cause, clock_.now())) uow.emit(std::move(e));
  if (o.next_step) {
    auto timer = c::to_event(*o.next_step, clock_.now());
    platform::caused_by(timer, cause);
    uow.schedule(std::move(timer), clock_.now() + config_.carrier_delay, std::string(kCarrierRule));
  }
  return {};
}

// Each of the erasure's orders' shipment keeps its id, status, carrier and
// tracking number; its address becomes [erased] (the country stays: it names
// no one). One write per shipment, ahead of the answer: up to
// kMaxErasureOrders of them do not fit one unit of work, and each is
// idempotent, so a redelivery redoes what is left.
Status ShippingService::erase(const c::CustomerErasureRequested& d, const CloudEvent& e,
                              UnitOfWork& uow) {
  std::int64_t redacted = 0;
  for (const auto& order_id : d.order_ids) {
    ORDERLY_TRY(l, load(order_id));
    if (!l->shipment || l->shipment->customer_id != d.customer_id) continue;
    if (!l->shipment->address) continue;
    auto& a = *l->shipment->address;
    const std::string erased(c::kErased);
    ++redacted;  // counted once done, whichever delivery did it
    if (a.name == erased && a.line1 == erased && a.city == erased && a.postal_code == erased &&
        (!a.line2 || *a.line2 == erased))
      continue;
    a.name = a.line1 = a.city = a.postal_code = erased;
    if (a.line2) a.line2 = erased;
    ORDERLY_TRY(v, store_.put(Item{shipment_pk(order_id), std::string(kShipmentSk), 0,
                                   to_json(*l->shipment), std::nullopt},
                              Condition::version_is(l->version)));
    (void)v;
  }
  return c::answer_erasure<c::ShippingCustomerErased>(store_, d, redacted, e, uow);
}

Result<std::optional<Shipment>> ShippingService::get_shipment(const std::string& order_id) {
  ORDERLY_TRY(l, load(order_id));
  return l->shipment;
}

}  // namespace orderly::services::shipping
