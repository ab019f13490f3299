// Orders: the saga's handlers and the API's commands.
#include "orderly/services/orders/service.hpp"

#include <algorithm>
#include <chrono>

#include "orderly/platform/id.hpp"
#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/retry.hpp"
#include "orderly/services/contracts/handlers.hpp"

namespace orderly::services::orders {

namespace json = boost::json;
namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
using platform::ErrorKind;
using platform::Item;
using platform::Status;
using platform::UnitOfWork;

namespace {
constexpr std::string_view kOrderSk = "ORDER";
constexpr std::string_view kProductPk = "PRODUCT";
constexpr std::string_view kErasureSk = "ERASURE";
// Delivered orders by when their retention ends: RETENTION / <due>#<orderId>.
constexpr std::string_view kRetentionPk = "RETENTION";
constexpr std::string_view kInProgress = "IN_PROGRESS";
constexpr std::string_view kCompleted = "COMPLETED";

std::string erasure_pk(std::string_view id) {
  return "ERASURE#" + std::string(id);
}

Result<Erasure> erasure_from_json(const json::object& o) {
  platform::JsonReader r{o};
  Erasure e;
  e.id = r.string("erasureId", 1, 64);
  e.customer_id = r.string("customerId", 1, 128);
  e.reason = r.one_of("reason", {"request", "retention"});
  e.status = r.one_of("status", {kInProgress, kCompleted});
  e.requested_at = r.string("requestedAt", 1, 64);
  e.completed_at = r.optional_string("completedAt", 1, 64);
  e.orders = static_cast<std::size_t>(r.integer("orders", 0, INT64_MAX));
  if (const auto* a = o.if_contains("answered"); a && a->is_object())
    for (const auto& kv : a->get_object())
      e.answered.emplace_back(std::string(kv.key()),
                              kv.value().is_int64() ? kv.value().as_int64() : 0);
  r.ignore("answered");
  r.done();
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored erasure is unreadable: {}",
                          s.error().message);
  return e;
}

bool is_erased(const Address& a) {
  const std::string_view x = c::kErased;
  return a.name == x && a.line1 == x && a.city == x && a.postal_code == x &&
         (!a.line2 || *a.line2 == x);
}

std::string customer_pk(std::string_view customer) {
  return "CUSTOMER#" + std::string(customer);
}

TimelineEntry entry_for(const CloudEvent& e) {
  return {e.type, e.time, e.id, e.traceparent};
}
}  // namespace

std::string order_pk(std::string_view order_id) {
  return "ORDER#" + std::string(order_id);
}

json::object to_json(const Erasure& e) {
  json::object answered;
  for (const auto& [service, n] : e.answered) answered[service] = n;
  json::object o{{"erasureId", e.id},
                 {"customerId", e.customer_id},
                 {"reason", e.reason},
                 {"status", e.status},
                 {"requestedAt", e.requested_at},
                 {"orders", e.orders},
                 {"answered", std::move(answered)}};
  if (e.completed_at) o["completedAt"] = *e.completed_at;
  return o;
}

OrdersService::OrdersService(platform::ItemStore& store, const platform::Clock& clock,
                             Config config)
    : store_(store), clock_(clock), config_(config) {}

std::vector<std::string> OrdersService::produces() {
  return {std::string(c::OrderPlaced::kType),    std::string(c::OrderConfirmed::kType),
          std::string(c::OrderCancelled::kType), std::string(c::OrderShipped::kType),
          std::string(c::OrderDelivered::kType), std::string(c::OrderCancellationRequested::kType),
          std::string(c::SagaTimedOut::kType),   std::string(c::CustomerErasureRequested::kType)};
}

std::vector<platform::Subscription<OrdersService>> OrdersService::subscriptions() {
  using c::on;
  // Saga inputs that move one order along.
  auto step = [](auto transition) {
    return [transition](OrdersService& s, const auto& d, const CloudEvent& e, UnitOfWork& uow) {
      return s.advance(e, uow, d.order_id, [&](Order o) { return transition(std::move(o), d); });
    };
  };
  auto answer = [](const char* service) {
    return [service](OrdersService& s, const auto& d, const CloudEvent&, UnitOfWork& uow) {
      return s.on_erased(service, d.erasure_id, d.redacted, uow);
    };
  };
  return {
      {std::string(kSagaRule),
       {
           on<c::InventoryReserved>(
               step([](Order o, const auto&) { return on_inventory_reserved(std::move(o)); })),
           on<c::InventoryReservationFailed>(
               step([](Order o, const auto&) { return on_reservation_failed(std::move(o)); })),
           on<c::PaymentAuthorized>(
               step([](Order o, const auto&) { return on_payment_authorized(std::move(o)); })),
           on<c::PaymentDeclined>(
               step([](Order o, const auto&) { return on_payment_declined(std::move(o)); })),
           on<c::ShipmentCreated>(step([](Order o, const c::ShipmentCreated& d) {
             return on_shipment_created(std::move(o), d.shipment_id, d.carrier, d.tracking_number);
           })),
           on<c::ShipmentDispatched>(step([](Order o, const c::ShipmentDispatched& d) {
             return on_shipment_dispatched(std::move(o), d.shipment_id, d.carrier,
                                           d.tracking_number);
           })),
           on<c::ShipmentDelivered>([step](OrdersService& s, const c::ShipmentDelivered& d,
                                           const CloudEvent& e, UnitOfWork& uow) -> Status {
             auto delivered = step([](Order o, const c::ShipmentDelivered& x) {
               return on_shipment_delivered(std::move(o), x.shipment_id);
             })(s, d, e, uow);
             if (!delivered) return delivered;
             s.retention_after_delivery();
             return {};
           }),
           on<c::ShipmentCancelled>(
               step([](Order o, const auto&) { return on_shipment_cancelled(std::move(o)); })),
           on<c::ShipmentCancellationRefused>(
               step([](Order o, const c::ShipmentCancellationRefused& d) {
                 return on_cancellation_refused(std::move(o), d.shipment_status);
               })),
       }},
      {std::string(kTimerRule),
       {on<c::SagaTimedOut>([](OrdersService& s, const c::SagaTimedOut& d, const CloudEvent& e,
                               UnitOfWork& uow) { return s.on_timer(d, e, uow); })}},
      {std::string(kCatalogueRule),
       {on<c::ProductUpdated>([](OrdersService& s, const c::ProductUpdated& d, const CloudEvent& e,
                                 UnitOfWork& uow) { return s.on_product_updated(d, e, uow); })}},
      {std::string(kErasureRule),
       {
           on<c::InventoryCustomerErased>(answer("inventory")),
           on<c::PaymentsCustomerErased>(answer("payments")),
           on<c::ShippingCustomerErased>(answer("shipping")),
           on<c::NotificationsCustomerErased>(answer("notifications")),
       }},
  };
}

std::vector<platform::Rule> OrdersService::rules() {
  return platform::bind(subscriptions(), *this, store_, clock_);
}

namespace {

// The business metrics of an order's transitions, recorded once the unit of
// work that makes them has committed (never twice for a retried one).
void record_transition(UnitOfWork& uow, const Order& order, const CloudEvent& e) {
  namespace m = platform::metrics;
  static auto& orders = m::registry().counter(
      "orderly_orders_total", "Orders entering a status, by status and cancellation reason",
      {"status", "reason"});
  static auto& revenue =
      m::registry().counter("orderly_revenue_minor_units_total",
                            "Value of confirmed orders, in minor units", {"currency"});
  static auto& saga = m::registry().histogram("orderly_saga_duration_seconds",
                                              "From OrderPlaced until the saga confirms or cancels",
                                              {"outcome"}, m::kSagaBuckets);
  const std::string_view t = e.type;
  const char* status = nullptr;
  if (t == c::OrderPlaced::kType) status = "placed";
  if (t == c::OrderConfirmed::kType) status = "confirmed";
  if (t == c::OrderCancelled::kType) status = "cancelled";
  if (t == c::OrderShipped::kType) status = "shipped";
  if (t == c::OrderDelivered::kType) status = "delivered";
  if (!status) return;
  const std::string reason = std::string_view(status) == "cancelled"
                                 ? order.cancellation_reason.value_or("unknown")
                                 : std::string("none");
  // The saga ends at the first confirmation or cancellation.
  std::optional<double> saga_seconds;
  const bool ends_saga =
      std::string_view(status) == "confirmed" ||
      (std::string_view(status) == "cancelled" &&
       std::none_of(order.timeline.begin(), order.timeline.end(),
                    [](const TimelineEntry& x) { return x.type == c::OrderConfirmed::kType; }));
  if (ends_saga)
    if (auto placed = platform::parse_rfc3339(order.created_at),
        at = platform::parse_rfc3339(e.time);
        placed && at)
      saga_seconds = std::chrono::duration<double>(*at - *placed).count();
  const Money total = order.total;
  uow.after_commit([status, reason, saga_seconds, total] {
    orders.with({status, reason}).inc();
    if (std::string_view(status) == "confirmed" && total.amount > 0)
      revenue.with({total.currency}).inc(static_cast<std::uint64_t>(total.amount));
    if (saga_seconds) saga.with({status}).observe(*saga_seconds);
  });
}

}  // namespace

void OrdersService::emit(UnitOfWork& uow, Order& order, const std::vector<OrderEvent>& events,
                         const CloudEvent* cause, const std::optional<std::string>& traceparent) {
  for (auto& e : c::to_events(events, cause, clock_.now())) {
    if (traceparent) e.traceparent = traceparent;
    // A command with no cause event (a customer's cancel) continues the order's
    // correlation: the id of the OrderPlaced that started it.
    if (!cause && !order.timeline.empty()) e.correlationid = order.timeline.front().event_id;
    record_transition(uow, order, e);
    order.timeline.push_back(entry_for(e));
    uow.emit(std::move(e));
  }
}

Status OrdersService::advance(const CloudEvent& cause, UnitOfWork& uow, const std::string& order_id,
                              const Step& step) {
  ORDERLY_TRY(item, store_.get(order_pk(order_id), std::string(kOrderSk)));
  if (!*item) return platform::fail(ErrorKind::not_found, "order {} does not exist", order_id);
  ORDERLY_TRY(order, order_from_json((*item)->attrs));
  const bool was_delivered = order->status == Status::delivered;
  ORDERLY_TRY(t, step(std::move(*order)));
  // Delivered now: the order's personal data is kept for the retention period.
  if (!was_delivered && t->order.status == Status::delivered && config_.retention.count() > 0) {
    const std::string due = platform::format_rfc3339(clock_.now() + config_.retention);
    uow.put(Item{std::string(kRetentionPk), due + "#" + order_id, 0,
                 json::object{{"orderId", order_id}, {"customerId", t->order.customer_id}},
                 std::nullopt},
            Condition::none());
  }
  // A timer that only re-arms is not part of the order's story.
  if (t->deadline != Deadline::waiting) t->order.timeline.push_back(entry_for(cause));
  emit(uow, t->order, t->events, &cause, std::nullopt);
  uow.put(Item{order_pk(order_id), std::string(kOrderSk), 0, to_json(t->order), std::nullopt},
          Condition::version_is((*item)->version));
  return {};
}

void OrdersService::schedule_timer(UnitOfWork& uow, const std::string& order_id,
                                   const std::string& placed_at,
                                   const std::optional<std::string>& correlation,
                                   const std::optional<std::string>& traceparent) {
  auto timer = c::to_event(c::SagaTimedOut{order_id, placed_at}, clock_.now());
  if (traceparent) timer.traceparent = traceparent;
  if (correlation) timer.correlationid = correlation;
  uow.schedule(std::move(timer), clock_.now() + config_.saga_timeout, std::string(kTimerRule));
}

Status OrdersService::on_timer(const c::SagaTimedOut& d, const CloudEvent& e, UnitOfWork& uow) {
  namespace m = platform::metrics;
  static auto& deadlines = m::registry().counter(
      "orderly_saga_deadlines_total",
      "Fulfilment deadlines of CONFIRMED or SHIPPED orders, by what the timer did", {"outcome"});
  const std::string now = platform::format_rfc3339(clock_.now());
  Deadline deadline = Deadline::none;
  std::string note;
  if (auto s = advance(e, uow, d.order_id,
                       [&](Order o) -> Result<Transition> {
                         auto t = on_saga_timeout(std::move(o), now, config_.fulfilment_timeout);
                         if (t) {
                           deadline = t->deadline;
                           note = t->note;
                         }
                         return t;
                       });
      !s)
    return s;
  if (deadline == Deadline::waiting || deadline == Deadline::requested ||
      deadline == Deadline::re_requested)
    schedule_timer(uow, d.order_id, d.placed_at, e.correlationid, e.traceparent);
  if (deadline != Deadline::none && deadline != Deadline::waiting) {
    const std::string outcome(to_string(deadline));
    const std::string order_id = d.order_id;
    uow.after_commit([outcome, order_id, note] {
      deadlines.with({outcome}).inc();
      platform::log::warn("saga deadline",
                          {{"order_id", order_id}, {"outcome", outcome}, {"note", note}});
    });
  }
  return {};
}

Status OrdersService::on_product_updated(const c::ProductUpdated& product, const CloudEvent& e,
                                         UnitOfWork& uow) {
  const auto* d = &product;
  ORDERLY_TRY(cur, store_.get(std::string(kProductPk), d->sku));
  // Last writer by event time wins: an older update arriving late changes nothing.
  if (*cur) {
    const auto* t = (*cur)->attrs.if_contains("updatedAt");
    if (t && t->is_string() && std::string_view(t->get_string()) > std::string_view(e.time))
      return {};
  }
  json::object attrs{
      {"sku", d->sku}, {"name", d->name}, {"price", c::encode(d->price)}, {"updatedAt", e.time}};
  uow.put(Item{std::string(kProductPk), d->sku, 0, std::move(attrs), std::nullopt},
          *cur ? Condition::version_is((*cur)->version) : Condition::not_exists());
  return {};
}

Result<CatalogueEntry> OrdersService::catalogue_entry(const std::string& sku) {
  ORDERLY_TRY(cur, store_.get(std::string(kProductPk), sku));
  if (!*cur) return platform::fail(ErrorKind::not_found, "unknown sku {}", sku);
  platform::JsonReader r{(*cur)->attrs};
  CatalogueEntry e;
  e.sku = sku;
  e.name = r.string("name", 1, 200);
  e.price = c::read_money(r, "price");
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored catalogue entry {} is unreadable: {}", sku,
                          s.error().message);
  return e;
}

const std::vector<std::string>& erasure_participants() {
  static const std::vector<std::string> services{"orders", "inventory", "payments", "shipping",
                                                 "notifications"};
  return services;
}

Result<std::vector<std::string>> OrdersService::customer_order_ids(const std::string& customer_id) {
  std::vector<std::string> ids;
  platform::QueryOptions q;
  q.sk = platform::SkRange::prefix("ORDER#");
  q.limit = 100;
  for (;;) {
    ORDERLY_TRY(page, store_.query(customer_pk(customer_id), q));
    for (const auto& it : page->items)
      if (const auto* id = it.attrs.if_contains("orderId"); id && id->is_string())
        ids.emplace_back(id->get_string());
    if (!page->next_cursor) break;
    if (ids.size() > c::kMaxErasureOrders) break;
    q.cursor = page->next_cursor;
  }
  return ids;
}

Result<Erasure> OrdersService::erase_customer(const std::string& customer_id, std::string reason,
                                              std::optional<std::vector<std::string>> only,
                                              std::optional<std::string> traceparent) {
  std::vector<std::string> ids;
  if (only) {
    ids = std::move(*only);
  } else {
    ORDERLY_TRY(all, customer_order_ids(customer_id));
    ids = std::move(*all);
  }
  if (ids.size() > c::kMaxErasureOrders)
    return platform::fail(ErrorKind::failed_precondition,
                          "customer {} has more than {} orders: erase them in parts, by retention, "
                          "or ask an operator (docs/operations.md#erasure-and-retention)",
                          customer_id, c::kMaxErasureOrders);
  // Every order first, before anything changes: none may still be in flight.
  for (const auto& id : ids) {
    ORDERLY_TRY(o, get_order(id));
    if (*o && (*o)->customer_id == customer_id && !(*o)->terminal())
      return platform::fail(ErrorKind::failed_precondition,
                            "order {} is still {}: erase once every order of the customer is "
                            "DELIVERED or CANCELLED (its saga would copy the address on)",
                            id, to_string((*o)->status));
  }
  // Then each order's address, one write per order (up to kMaxErasureOrders do
  // not fit one unit of work; each write is idempotent, so a repeated request
  // finishes what a crashed one began).
  for (const auto& id : ids) {
    auto redacted = platform::retry_on_conflict(8, [&]() -> Result<bool> {
      ORDERLY_TRY(item, store_.get(order_pk(id), std::string(kOrderSk)));
      if (!*item) return false;
      ORDERLY_TRY(order, order_from_json((*item)->attrs));
      if (order->customer_id != customer_id || is_erased(order->shipping_address)) return false;
      if (!order->terminal())
        return platform::fail(ErrorKind::failed_precondition,
                              "order {} is still {}: erase once it is DELIVERED or CANCELLED", id,
                              to_string(order->status));
      auto& a = order->shipping_address;
      a.name = a.line1 = a.city = a.postal_code = std::string(c::kErased);
      if (a.line2) a.line2 = std::string(c::kErased);
      ORDERLY_TRY(
          v, store_.put(Item{order_pk(id), std::string(kOrderSk), 0, to_json(*order), std::nullopt},
                        Condition::version_is((*item)->version)));
      (void)v;
      return true;
    });
    if (!redacted) return tl::unexpected(redacted.error());
  }
  if (auto s = store_.purge_overwritten(); !s) return tl::unexpected(s.error());

  Erasure er;
  er.id = platform::new_uuid_v7(clock_.now());
  er.customer_id = customer_id;
  er.reason = std::move(reason);
  er.status = std::string(kInProgress);
  er.requested_at = platform::format_rfc3339(clock_.now());
  er.orders = ids.size();
  er.answered.emplace_back("orders", static_cast<std::int64_t>(ids.size()));
  UnitOfWork uow{clock_};
  auto e =
      c::to_event(c::CustomerErasureRequested{er.id, customer_id, er.reason, ids}, clock_.now());
  if (traceparent) e.traceparent = traceparent;
  uow.emit(std::move(e));
  uow.put(Item{erasure_pk(er.id), std::string(kErasureSk), 0, to_json(er), std::nullopt},
          Condition::not_exists());
  uow.put(Item{customer_pk(customer_id), erasure_pk(er.id), 0, json::object{{"erasureId", er.id}},
               std::nullopt},
          Condition::not_exists());
  if (auto s = uow.commit(store_); !s) return tl::unexpected(s.error());
  platform::log::info(
      "erasure requested",
      {{"erasure_id", er.id}, {"reason", er.reason}, {"orders", std::to_string(ids.size())}});
  return er;
}

Result<OrdersService::RetentionPass> OrdersService::expire_personal_data(std::size_t limit) {
  platform::QueryOptions q;
  // Due before now: sort keys start with the due time (RFC 3339, UTC, fixed width).
  // (DynamoDB refuses an empty key value: "0" sorts before every timestamp.)
  q.sk = platform::SkRange::between("0", platform::format_rfc3339(clock_.now()));
  q.limit = limit;
  ORDERLY_TRY(page, store_.query(std::string(kRetentionPk), q));
  RetentionPass pass{page->items.size(), 0};
  for (const auto& it : page->items) {
    platform::JsonReader r{it.attrs};
    const auto order_id = r.string("orderId", 1, 64);
    const auto customer_id = r.string("customerId", 1, 128);
    if (r.ok()) {
      ORDERLY_TRY(o, get_order(order_id));
      // Erased already (the customer asked): nothing is left to expire.
      if (*o && !is_erased((*o)->shipping_address)) {
        auto e = erase_customer(customer_id, "retention", std::vector<std::string>{order_id});
        if (!e) return tl::unexpected(e.error());
        ++pass.erased;
      }
    }
    if (auto s = store_.remove(std::string(kRetentionPk), it.sk, Condition::none()); !s)
      return tl::unexpected(s.error());
  }
  return pass;
}

void OrdersService::retention_after_delivery() {
  if (config_.retention.count() <= 0) return;
  // Two per delivery: the backlog shrinks while deliveries go on. A failure is
  // left for the next delivery; it never fails the delivery.
  if (auto n = expire_personal_data(2); !n)
    platform::log::warn("retention sweep failed", {{"error", n.error().describe()}});
}

Result<std::optional<Erasure>> OrdersService::get_erasure(const std::string& erasure_id) {
  ORDERLY_TRY(item, store_.get(erasure_pk(erasure_id), std::string(kErasureSk)));
  if (!*item) return std::optional<Erasure>{};
  ORDERLY_TRY(e, erasure_from_json((*item)->attrs));
  return std::optional<Erasure>{std::move(*e)};
}

Status OrdersService::on_erased(const std::string& service, const std::string& erasure_id,
                                std::int64_t redacted, UnitOfWork& uow) {
  ORDERLY_TRY(item, store_.get(erasure_pk(erasure_id), std::string(kErasureSk)));
  if (!*item) return platform::fail(ErrorKind::not_found, "erasure {} does not exist", erasure_id);
  ORDERLY_TRY(er, erasure_from_json((*item)->attrs));
  for (const auto& [s, n] : er->answered)
    if (s == service) return {};  // answered before (a second request event's answer)
  er->answered.emplace_back(service, redacted);
  if (er->answered.size() >= erasure_participants().size() && er->status != kCompleted) {
    er->status = std::string(kCompleted);
    er->completed_at = platform::format_rfc3339(clock_.now());
    const std::string id = er->id;
    uow.after_commit([id] { platform::log::info("erasure completed", {{"erasure_id", id}}); });
  }
  uow.put(Item{erasure_pk(erasure_id), std::string(kErasureSk), 0, to_json(*er), std::nullopt},
          Condition::version_is((*item)->version));
  return {};
}

namespace {
// The records of POST /v1/orders: the order id is the result.
const platform::IdempotencyRecords& idempotency_records() {
  static const platform::IdempotencyRecords records{"orderId"};
  return records;
}
}  // namespace

Result<std::optional<IdempotencyRecord>> OrdersService::idempotency_record(
    const std::string& customer_id, const std::string& key) {
  return idempotency_records().find(store_, customer_id, key);
}

Result<Order> OrdersService::place_order(PlaceOrder cmd, std::optional<std::string> traceparent,
                                         std::optional<IdempotencyRecord> idempotency) {
  if (cmd.now.empty()) cmd.now = platform::format_rfc3339(clock_.now());
  ORDERLY_TRY(t, place(cmd, [this](const std::string& sku) { return catalogue_entry(sku); }));
  UnitOfWork uow{clock_};
  emit(uow, t->order, t->events, nullptr, traceparent);
  schedule_timer(uow, t->order.id, cmd.now, uow.emitted().front().correlationid, traceparent);
  uow.put(Item{order_pk(t->order.id), std::string(kOrderSk), 0, to_json(t->order), std::nullopt},
          Condition::not_exists());
  uow.put(Item{customer_pk(t->order.customer_id), order_pk(t->order.id), 0,
               json::object{{"orderId", t->order.id}}, std::nullopt},
          Condition::not_exists());
  if (idempotency) {
    idempotency->result_id = t->order.id;
    uow.put(idempotency_records().item(t->order.customer_id, *idempotency, clock_),
            Condition::not_exists());
  }
  if (auto s = uow.commit(store_); !s) return tl::unexpected(s.error());
  return t->order;
}

Result<Order> OrdersService::cancel_order(const std::string& order_id,
                                          std::optional<std::string> traceparent) {
  return platform::retry_on_conflict(
      8,
      [&]() -> Result<Order> {
        ORDERLY_TRY(item, store_.get(order_pk(order_id), std::string(kOrderSk)));
        if (!*item)
          return platform::fail(ErrorKind::not_found, "order {} does not exist", order_id);
        ORDERLY_TRY(order, order_from_json((*item)->attrs));
        ORDERLY_TRY(t, cancel_by_customer(std::move(*order)));
        UnitOfWork uow{clock_};
        emit(uow, t->order, t->events, nullptr, traceparent);
        uow.put(Item{order_pk(order_id), std::string(kOrderSk), 0, to_json(t->order), std::nullopt},
                Condition::version_is((*item)->version));
        if (auto s = uow.commit(store_); !s) return tl::unexpected(s.error());
        return std::move(t->order);
      },
      fmt::format("order {} is changing too fast; try again", order_id));
}

Result<std::optional<Order>> OrdersService::get_order(const std::string& order_id) {
  ORDERLY_TRY(item, store_.get(order_pk(order_id), std::string(kOrderSk)));
  if (!*item) return std::optional<Order>{};
  ORDERLY_TRY(order, order_from_json((*item)->attrs));
  return std::optional<Order>{std::move(*order)};
}

Result<OrderPage> OrdersService::list_orders(const std::string& customer_id, std::size_t limit,
                                             std::optional<std::string> cursor) {
  platform::QueryOptions q;
  q.sk = platform::SkRange::prefix("ORDER#");
  q.limit = limit;
  q.cursor = std::move(cursor);
  q.forward = false;  // newest first: order ids are UUIDv7
  ORDERLY_TRY(page, store_.query(customer_pk(customer_id), q));
  OrderPage out;
  out.next_cursor = page->next_cursor;
  for (const auto& it : page->items) {
    const auto* id = it.attrs.if_contains("orderId");
    if (!id || !id->is_string()) continue;
    ORDERLY_TRY(o, get_order(std::string(id->get_string())));
    if (*o) out.orders.push_back(std::move(**o));
  }
  return out;
}

}  // namespace orderly::services::orders
