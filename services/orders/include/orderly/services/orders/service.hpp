// The orders service: its subscriptions (the saga's inputs), and the commands
// the API calls. Handlers are thin: decode, load, call domain.hpp, commit one
// unit of work (state + outbox + inbox).
//
//   OrdersService orders{store, clock, {.saga_timeout = 30s}};
//   for (auto& rule : orders.rules()) bus.subscribe(std::move(rule));
//   auto placed = orders.place_order({...});
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/idempotency.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/orders/domain.hpp"

namespace orderly::services::orders {

struct Config {
  platform::Millis saga_timeout{30'000};  // PENDING -> cancelled; also the timer's period
  // CONFIRMED -> cancelled through the pivot if not shipped by then (see
  // on_saga_timeout); hosts::Settings says why the default is what it is.
  platform::Millis fulfilment_timeout{3'600'000};
  // A DELIVERED order's personal data (its shipping address, and every
  // service's copies) is erased this long after delivery, through the same
  // erasure flow (reason retention); 0 keeps it. hosts::Settings says why the
  // default is what it is.
  platform::Millis retention{90LL * 24 * 3600 * 1000};
};

inline constexpr std::string_view kSagaRule = "orders.saga";
inline constexpr std::string_view kTimerRule = "orders.timers";
inline constexpr std::string_view kCatalogueRule = "orders.catalogue";
inline constexpr std::string_view kErasureRule = "orders.erasure";

// An erasure of a customer's personal data (docs/adr/0017), as orders records
// it: which services have answered (and how many records each redacted), and
// COMPLETED once all five have.
struct Erasure {
  std::string id, customer_id;
  std::string reason;  // request | retention
  std::string status;  // IN_PROGRESS | COMPLETED
  std::string requested_at;
  std::optional<std::string> completed_at;
  std::size_t orders = 0;                                      // how many orders it covers
  std::vector<std::pair<std::string, std::int64_t>> answered;  // service, redacted
};
// The services that answer an erasure, orders first.
const std::vector<std::string>& erasure_participants();

// What an Idempotency-Key of POST /v1/orders remembers: the request it came
// with and its order (result_id).
using platform::IdempotencyRecord;

struct OrderPage {
  std::vector<Order> orders;
  std::optional<std::string> next_cursor;
};

class OrdersService {
 public:
  OrdersService(platform::ItemStore& store, const platform::Clock& clock, Config config = {});

  // Every subscription of the service, in one place, and bound to this instance.
  static std::vector<platform::Subscription<OrdersService>> subscriptions();
  std::vector<platform::Rule> rules();
  static std::vector<std::string> produces();

  // Commands and queries for the API.
  // With an idempotency record (its result_id is ignored: the new order's id is
  // stored), it is stored in the same unit of work; a second request with the
  // same key fails the unit of work with a conflict.
  Result<Order> place_order(PlaceOrder cmd, std::optional<std::string> traceparent = std::nullopt,
                            std::optional<IdempotencyRecord> idempotency = std::nullopt);
  Result<std::optional<IdempotencyRecord>> idempotency_record(const std::string& customer_id,
                                                              const std::string& key);
  Result<Order> cancel_order(const std::string& order_id,
                             std::optional<std::string> traceparent = std::nullopt);
  Result<std::optional<Order>> get_order(const std::string& order_id);
  Result<OrderPage> list_orders(const std::string& customer_id, std::size_t limit,
                                std::optional<std::string> cursor);
  // Erases the customer's personal data: redacts the shipping address of each
  // of their orders (every order, or `only` those), records the erasure and
  // emits CustomerErasureRequested for the other services. failed_precondition
  // (409) while one of those orders is not DELIVERED or CANCELLED: its saga
  // would copy the address on after the redaction. Safe to repeat: a second
  // erasure finds nothing left to redact and completes the same way.
  Result<Erasure> erase_customer(const std::string& customer_id, std::string reason = "request",
                                 std::optional<std::vector<std::string>> only = std::nullopt,
                                 std::optional<std::string> traceparent = std::nullopt);
  Result<std::optional<Erasure>> get_erasure(const std::string& erasure_id);
  // Retention: erases up to `limit` delivered orders whose retention period has
  // passed, oldest delivery first (each an erasure of one order, reason
  // retention); returns how many. Orders runs it after each delivery it
  // records (so it keeps pace with them, on every runtime, with no scheduler);
  // hosts may also call it on a timer. `due`: the entries of the page (each
  // removed, erased or not: an order gone or erased already has nothing left);
  // fewer than `limit` means none is left.
  struct RetentionPass {
    std::size_t due = 0;
    std::size_t erased = 0;
  };
  Result<RetentionPass> expire_personal_data(std::size_t limit);

  // What orders knows of a product (from ProductUpdated): not_found if nothing
  // yet, so `if (!entry)` reads "not known"; otherwise a store error as it is,
  // or permanent if the stored entry is unreadable.
  Result<CatalogueEntry> catalogue_entry(const std::string& sku);

 private:
  using Step = std::function<Result<Transition>(Order)>;
  platform::Status advance(const platform::CloudEvent& cause, platform::UnitOfWork& uow,
                           const std::string& order_id, const Step& step);
  platform::Status on_timer(const contracts::SagaTimedOut& d, const platform::CloudEvent& e,
                            platform::UnitOfWork& uow);
  void schedule_timer(platform::UnitOfWork& uow, const std::string& order_id,
                      const std::string& placed_at, const std::optional<std::string>& correlation,
                      const std::optional<std::string>& traceparent);
  platform::Status on_product_updated(const contracts::ProductUpdated& d,
                                      const platform::CloudEvent& e, platform::UnitOfWork& uow);
  platform::Status on_erased(const std::string& service, const std::string& erasure_id,
                             std::int64_t redacted, platform::UnitOfWork& uow);
  Result<std::vector<std::string>> customer_order_ids(const std::string& customer_id);
  void retention_after_delivery();
  void emit(platform::UnitOfWork& uow, Order& order, const std::vector<OrderEvent>& events,
            const platform::CloudEvent* cause, const std::optional<std::string>& traceparent);

  platform::ItemStore& store_;
  const platform::Clock& clock_;
  Config config_;
};

std::string order_pk(std::string_view order_id);
// An erasure as stored (ERASURE#<id>), also the base of its API form.
boost::json::object to_json(const Erasure& e);

}  // namespace orderly::services::orders
