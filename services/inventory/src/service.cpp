// Inventory: handlers and catalogue commands.
#include "orderly/services/inventory/service.hpp"

#include "orderly/platform/retry.hpp"
#include "orderly/services/contracts/handlers.hpp"

namespace orderly::services::inventory {

namespace json = boost::json;
namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
using platform::ErrorKind;
using platform::Item;
using platform::Status;
using platform::UnitOfWork;

namespace {
constexpr std::string_view kProductPk = "PRODUCT";
constexpr std::string_view kReservationSk = "RESERVATION";
std::string reservation_pk(std::string_view order_id) {
  return "RESERVATION#" + std::string(order_id);
}
}  // namespace

InventoryService::InventoryService(platform::ItemStore& store, const platform::Clock& clock,
                                   Config config)
    : store_(store), clock_(clock), config_(std::move(config)) {}

std::vector<std::string> InventoryService::produces() {
  return {
      std::string(c::InventoryReserved::kType), std::string(c::InventoryReservationFailed::kType),
      std::string(c::InventoryReleased::kType), std::string(c::InventoryCommitted::kType),
      std::string(c::ProductUpdated::kType),    std::string(c::InventoryCustomerErased::kType)};
}

std::vector<platform::Subscription<InventoryService>> InventoryService::subscriptions() {
  using c::on;
  return {{std::string(kEventsRule),
           {
               on<c::OrderPlaced>([](InventoryService& s, const c::OrderPlaced& d,
                                     const CloudEvent& e, UnitOfWork& uow) -> Status {
                 std::vector<StockLine> lines;
                 std::vector<std::string> skus;
                 for (const auto& l : d.items) {
                   lines.push_back({l.sku, l.quantity});
                   skus.push_back(l.sku);
                 }
                 ORDERLY_TRY(loaded, s.load(d.order_id, skus));
                 ORDERLY_TRY(outcome,
                             reserve(loaded->reservation, d.order_id, lines, loaded->products));
                 return s.write(*loaded, *outcome, &e, uow);
               }),
               on<c::OrderCancelled>([](InventoryService& s, const c::OrderCancelled& d,
                                        const CloudEvent& e, UnitOfWork& uow) -> Status {
                 ORDERLY_TRY(loaded, s.load_for_reservation(d.order_id));
                 ORDERLY_TRY(outcome, release(loaded->reservation, d.order_id, loaded->products));
                 return s.write(*loaded, *outcome, &e, uow);
               }),
               on<c::ShipmentCreated>([](InventoryService& s, const c::ShipmentCreated& d,
                                         const CloudEvent& e, UnitOfWork& uow) -> Status {
                 ORDERLY_TRY(loaded, s.load_for_reservation(d.order_id));
                 ORDERLY_TRY(outcome, commit(loaded->reservation, d.order_id, loaded->products));
                 return s.write(*loaded, *outcome, &e, uow);
               }),
               // Stock and reservations are by SKU and order id: nothing personal.
               on<c::CustomerErasureRequested>([](InventoryService& s,
                                                  const c::CustomerErasureRequested& d,
                                                  const CloudEvent& e, UnitOfWork& uow) {
                 return c::answer_erasure<c::InventoryCustomerErased>(s.store_, d, 0, e, uow);
               }),
           }}};
}

std::vector<platform::Rule> InventoryService::rules() {
  return platform::bind(subscriptions(), *this, store_, clock_);
}

Result<InventoryService::Loaded> InventoryService::load(const std::string& order_id,
                                                        const std::vector<std::string>& skus) {
  Loaded l;
  ORDERLY_TRY(res, order_id.empty()
                       ? Result<std::optional<Item>>{}
                       : store_.get(reservation_pk(order_id), std::string(kReservationSk)));
  if (*res) {
    ORDERLY_TRY(r, reservation_from_json((*res)->attrs));
    l.reservation = std::move(*r);
    l.reservation_version = (*res)->version;
  }
  for (const auto& sku : skus) {
    if (l.products.count(sku)) continue;
    ORDERLY_TRY(item, store_.get(std::string(kProductPk), sku));
    if (!*item) continue;  // unknown: the domain reports it
    ORDERLY_TRY(p, product_from_json((*item)->attrs));
    l.versions[sku] = (*item)->version;
    l.products.emplace(sku, std::move(*p));
  }
  return l;
}

Result<InventoryService::Loaded> InventoryService::load_for_reservation(
    const std::string& order_id) {
  auto first = load(order_id, {});
  if (!first || !first->reservation) return first;
  std::vector<std::string> skus;
  for (const auto& l : first->reservation->lines) skus.push_back(l.sku);
  return load(order_id, skus);
}

Status InventoryService::write(const Loaded& loaded, const Outcome& outcome,
                               const CloudEvent* cause, UnitOfWork& uow) {
  for (const auto& p : outcome.changed) {
    auto v = loaded.versions.find(p.sku);
    uow.put(
        Item{std::string(kProductPk), p.sku, 0, to_json(p), std::nullopt},
        v == loaded.versions.end() ? Condition::not_exists() : Condition::version_is(v->second));
  }
  if (outcome.reservation)
    uow.put(Item{reservation_pk(outcome.reservation->order_id), std::string(kReservationSk), 0,
                 to_json(*outcome.reservation), std::nullopt},
            loaded.reservation ? Condition::version_is(loaded.reservation_version)
                               : Condition::not_exists());
  for (auto& e : c::to_events(outcome.events, cause, clock_.now())) uow.emit(std::move(e));
  return {};
}

Status InventoryService::seed_if_empty() {
  platform::QueryOptions q;
  q.limit = 1;
  ORDERLY_TRY(page, store_.query(std::string(kProductPk), q));
  if (!page->items.empty()) return {};
  // 20 products + 20 events per unit of work stays under the 100-item limit.
  constexpr std::size_t kChunk = 40;
  for (std::size_t i = 0; i < config_.seed.size(); i += kChunk) {
    UnitOfWork uow{clock_};
    Loaded none;
    Outcome out;
    for (std::size_t j = i; j < std::min(i + kChunk, config_.seed.size()); ++j) {
      out.changed.push_back(config_.seed[j]);
      const auto& p = config_.seed[j];
      out.events.emplace_back(c::ProductUpdated{p.sku, p.name, p.price, p.available()});
    }
    if (auto s = write(none, out, nullptr, uow); !s) return s;
    auto s = uow.commit(store_);
    // A conflict is not retried: another process seeded, which is the goal.
    if (!s && s.error().kind != ErrorKind::conflict) return s;
  }
  return {};
}

Result<std::vector<Product>> InventoryService::list_products() {
  std::vector<Product> out;
  platform::QueryOptions q;
  q.limit = 1000;
  for (;;) {
    ORDERLY_TRY(page, store_.query(std::string(kProductPk), q));
    for (const auto& it : page->items) {
      ORDERLY_TRY(p, product_from_json(it.attrs));
      out.push_back(std::move(*p));
    }
    if (!page->next_cursor) return out;
    q.cursor = page->next_cursor;
  }
}

Result<std::optional<Product>> InventoryService::get_product(const std::string& sku) {
  ORDERLY_TRY(item, store_.get(std::string(kProductPk), sku));
  if (!*item) return std::optional<Product>{};
  ORDERLY_TRY(p, product_from_json((*item)->attrs));
  return std::optional<Product>{std::move(*p)};
}

Result<Product> InventoryService::upsert_product(const std::string& sku, const std::string& name,
                                                 const Money& price, std::int64_t stock) {
  return platform::retry_on_conflict(
      8,
      [&]() -> Result<Product> {
        ORDERLY_TRY(loaded, load("", {sku}));  // no order: products only
        std::optional<Product> existing;
        if (auto it = loaded->products.find(sku); it != loaded->products.end())
          existing = it->second;
        ORDERLY_TRY(outcome, inventory::upsert_product(existing, sku, name, price, stock));
        UnitOfWork uow{clock_};
        if (auto s = write(*loaded, *outcome, nullptr, uow); !s) return tl::unexpected(s.error());
        if (auto s = uow.commit(store_); !s) return tl::unexpected(s.error());
        return outcome->changed.front();
      },
      fmt::format("product {} is changing too fast; try again", sku));
}

}  // namespace orderly::services::inventory
