// Inventory: handlers and catalogue commands.
#include "orderly/services/inventory/service.hpp"

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
  return {std::string(c::InventoryReserved::kType),
          std::string(c::InventoryReservationFailed::kType),
          std::string(c::InventoryReleased::kType), std::string(c::InventoryCommitted::kType),
          std::string(c::ProductUpdated::kType)};
}

std::vector<platform::Rule> InventoryService::rules() {
  using c::on;
  std::vector<platform::Rule> out;
  out.push_back(platform::make_rule(
      std::string(kEventsRule),
      {
          on<c::OrderPlaced>(
              [this](const c::OrderPlaced& d, const CloudEvent& e, UnitOfWork& uow) -> Status {
                std::vector<StockLine> lines;
                std::vector<std::string> skus;
                for (const auto& l : d.items) {
                  lines.push_back({l.sku, l.quantity});
                  skus.push_back(l.sku);
                }
                auto loaded = load(d.order_id, skus);
                if (!loaded) return tl::unexpected(loaded.error());
                auto outcome = reserve(loaded->reservation, d.order_id, lines, loaded->products);
                if (!outcome) return tl::unexpected(outcome.error());
                return write(*loaded, *outcome, &e, uow);
              }),
          on<c::OrderCancelled>(
              [this](const c::OrderCancelled& d, const CloudEvent& e, UnitOfWork& uow) -> Status {
                auto loaded = load_for_reservation(d.order_id);
                if (!loaded) return tl::unexpected(loaded.error());
                auto outcome = release(loaded->reservation, d.order_id, loaded->products);
                if (!outcome) return tl::unexpected(outcome.error());
                return write(*loaded, *outcome, &e, uow);
              }),
          on<c::ShipmentCreated>(
              [this](const c::ShipmentCreated& d, const CloudEvent& e, UnitOfWork& uow) -> Status {
                auto loaded = load_for_reservation(d.order_id);
                if (!loaded) return tl::unexpected(loaded.error());
                auto outcome = commit(loaded->reservation, d.order_id, loaded->products);
                if (!outcome) return tl::unexpected(outcome.error());
                return write(*loaded, *outcome, &e, uow);
              }),
      },
      store_, clock_));
  return out;
}

Result<InventoryService::Loaded> InventoryService::load(const std::string& order_id,
                                                        const std::vector<std::string>& skus) {
  Loaded l;
  auto res = order_id.empty() ? Result<std::optional<Item>>{}
                              : store_.get(reservation_pk(order_id), std::string(kReservationSk));
  if (!res) return tl::unexpected(res.error());
  if (*res) {
    auto r = reservation_from_json((*res)->attrs);
    if (!r) return tl::unexpected(r.error());
    l.reservation = std::move(*r);
    l.reservation_version = (*res)->version;
  }
  for (const auto& sku : skus) {
    if (l.products.count(sku)) continue;
    auto item = store_.get(std::string(kProductPk), sku);
    if (!item) return tl::unexpected(item.error());
    if (!*item) continue;  // unknown: the domain reports it
    auto p = product_from_json((*item)->attrs);
    if (!p) return tl::unexpected(p.error());
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
  auto page = store_.query(std::string(kProductPk), q);
  if (!page) return tl::unexpected(page.error());
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
    if (!s && s.error().kind != ErrorKind::conflict) return s;  // conflict: another process seeded
  }
  return {};
}

Result<std::vector<Product>> InventoryService::list_products() {
  std::vector<Product> out;
  platform::QueryOptions q;
  q.limit = 1000;
  for (;;) {
    auto page = store_.query(std::string(kProductPk), q);
    if (!page) return tl::unexpected(page.error());
    for (const auto& it : page->items) {
      auto p = product_from_json(it.attrs);
      if (!p) return tl::unexpected(p.error());
      out.push_back(std::move(*p));
    }
    if (!page->next_cursor) return out;
    q.cursor = page->next_cursor;
  }
}

Result<std::optional<Product>> InventoryService::get_product(const std::string& sku) {
  auto item = store_.get(std::string(kProductPk), sku);
  if (!item) return tl::unexpected(item.error());
  if (!*item) return std::optional<Product>{};
  auto p = product_from_json((*item)->attrs);
  if (!p) return tl::unexpected(p.error());
  return std::optional<Product>{std::move(*p)};
}

Result<Product> InventoryService::upsert_product(const std::string& sku, const std::string& name,
                                                 const Money& price, std::int64_t stock) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto loaded = load("", {sku});  // no order: products only
    if (!loaded) return tl::unexpected(loaded.error());
    std::optional<Product> existing;
    if (auto it = loaded->products.find(sku); it != loaded->products.end()) existing = it->second;
    auto outcome = inventory::upsert_product(existing, sku, name, price, stock);
    if (!outcome) return tl::unexpected(outcome.error());
    UnitOfWork uow{clock_};
    if (auto s = write(*loaded, *outcome, nullptr, uow); !s) return tl::unexpected(s.error());
    auto s = uow.commit(store_);
    if (s) return outcome->changed.front();
    if (s.error().kind != ErrorKind::conflict) return tl::unexpected(s.error());
  }
  return platform::fail(ErrorKind::transient, "product {} is changing too fast; try again", sku);
}

}  // namespace orderly::services::inventory
