// Stock and reservation transitions.
#include "orderly/services/inventory/domain.hpp"

namespace orderly::services::inventory {

namespace json = boost::json;
namespace c = contracts;
using platform::ErrorKind;
using platform::JsonReader;

std::string_view to_string(ReservationStatus s) {
  switch (s) {
    case ReservationStatus::reserved:
      return "RESERVED";
    case ReservationStatus::failed:
      return "FAILED";
    case ReservationStatus::committed:
      return "COMMITTED";
    case ReservationStatus::released:
      return "RELEASED";
    case ReservationStatus::restocked:
      return "RESTOCKED";
    case ReservationStatus::cancelled_early:
      return "CANCELLED_EARLY";
  }
  return "?";
}

Result<ReservationStatus> parse_reservation_status(std::string_view s) {
  for (auto st : {ReservationStatus::reserved, ReservationStatus::failed,
                  ReservationStatus::committed, ReservationStatus::released,
                  ReservationStatus::restocked, ReservationStatus::cancelled_early})
    if (to_string(st) == s) return st;
  return platform::fail(ErrorKind::invalid_input, "unknown reservation status {}", s);
}

namespace {

Outcome noted(std::string note) {
  Outcome o;
  o.note = std::move(note);
  return o;
}

Result<Product> product_for(const Products& products, const std::string& sku) {
  auto it = products.find(sku);
  if (it == products.end())
    return platform::fail(ErrorKind::permanent, "reservation names sku {} that is not stocked",
                          sku);
  return it->second;
}

c::ProductUpdated updated(const Product& p) {
  return {p.sku, p.name, p.price, p.available()};
}

}  // namespace

Result<Outcome> reserve(const std::optional<Reservation>& existing, const std::string& order_id,
                        const std::vector<StockLine>& lines, const Products& products) {
  if (existing && existing->status == ReservationStatus::cancelled_early)
    return noted("the order was cancelled before it was seen: nothing reserved");
  if (existing) return noted(fmt::format("already {}", to_string(existing->status)));
  std::vector<c::Shortage> shortages;
  bool unknown = false;
  for (const auto& l : lines) {
    auto it = products.find(l.sku);
    if (it == products.end()) {
      unknown = true;
      shortages.push_back({l.sku, l.quantity, 0});
    } else if (it->second.available() < l.quantity) {
      shortages.push_back({l.sku, l.quantity, std::max<std::int64_t>(0, it->second.available())});
    }
  }
  Outcome out;
  if (!shortages.empty()) {
    out.reservation = Reservation{order_id, ReservationStatus::failed, lines};
    out.events.emplace_back(c::InventoryReservationFailed{
        order_id, unknown ? "unknown_sku" : "out_of_stock", std::move(shortages)});
    return out;
  }
  for (const auto& l : lines) {
    Product p = products.at(l.sku);
    p.reserved += l.quantity;
    out.changed.push_back(std::move(p));
  }
  out.reservation = Reservation{order_id, ReservationStatus::reserved, lines};
  out.events.emplace_back(c::InventoryReserved{order_id, lines});
  return out;
}

Result<Outcome> commit(const std::optional<Reservation>& existing, const std::string& order_id,
                       const Products& products) {
  if (!existing)
    return platform::fail(ErrorKind::failed_precondition, "order {} has no reservation to commit",
                          order_id);
  switch (existing->status) {
    case ReservationStatus::reserved:
      break;
    case ReservationStatus::committed:
      return noted("already committed");
    case ReservationStatus::failed:
      return platform::fail(ErrorKind::failed_precondition,
                            "order {} failed its reservation: nothing to commit", order_id);
    default:
      return noted(fmt::format("shipment created after the reservation was {}",
                               to_string(existing->status)));
  }
  Outcome out;
  for (const auto& l : existing->lines) {
    auto p = product_for(products, l.sku);
    if (!p) return tl::unexpected(p.error());
    p->on_hand -= l.quantity;
    p->reserved -= l.quantity;
    out.changed.push_back(std::move(*p));
  }
  out.reservation = *existing;
  out.reservation->status = ReservationStatus::committed;
  out.events.emplace_back(c::InventoryCommitted{order_id, existing->lines});
  return out;
}

Result<Outcome> release(const std::optional<Reservation>& existing, const std::string& order_id,
                        const Products& products) {
  Outcome out;
  if (!existing) {
    out.reservation = Reservation{order_id, ReservationStatus::cancelled_early, {}};
    out.note = "cancelled before the order was seen";
    return out;
  }
  bool restock = false;
  switch (existing->status) {
    case ReservationStatus::reserved:
      break;
    case ReservationStatus::committed:
      restock = true;
      break;
    case ReservationStatus::failed:
      return noted("nothing was reserved");
    default:
      return noted(fmt::format("already {}", to_string(existing->status)));
  }
  for (const auto& l : existing->lines) {
    auto p = product_for(products, l.sku);
    if (!p) return tl::unexpected(p.error());
    if (restock)
      p->on_hand += l.quantity;
    else
      p->reserved -= l.quantity;
    out.changed.push_back(std::move(*p));
  }
  out.reservation = *existing;
  out.reservation->status = restock ? ReservationStatus::restocked : ReservationStatus::released;
  out.events.emplace_back(c::InventoryReleased{order_id, existing->lines, restock});
  return out;
}

Result<Outcome> upsert_product(const std::optional<Product>& existing, const std::string& sku,
                               const std::string& name, const Money& price, std::int64_t stock) {
  if (stock < 0) return platform::fail(ErrorKind::invalid_input, "stock must not be negative");
  Product p = existing ? *existing : Product{sku, name, price, 0, 0};
  if (stock < p.reserved)
    return platform::fail(ErrorKind::failed_precondition,
                          "{} has {} reserved; stock cannot go below that", sku, p.reserved);
  p.name = name;
  p.price = price;
  p.on_hand = stock;
  Outcome out;
  out.changed.push_back(p);
  out.events.emplace_back(updated(p));
  return out;
}

json::object to_json(const Product& p) {
  return {{"sku", p.sku},
          {"name", p.name},
          {"price", c::encode(p.price)},
          {"onHand", p.on_hand},
          {"reserved", p.reserved}};
}

Result<Product> product_from_json(const json::object& o) {
  JsonReader r{o};
  Product p;
  p.sku = r.string("sku", 1, 32);
  p.name = r.string("name", 1, 200);
  p.price = c::read_money(r, "price");
  p.on_hand = r.integer("onHand", 0, INT64_MAX);
  p.reserved = r.integer("reserved", 0, INT64_MAX);
  r.done();
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored product is unreadable: {}",
                          s.error().message);
  return p;
}

json::object to_json(const Reservation& res) {
  json::object o{{"orderId", res.order_id}, {"status", to_string(res.status)}};
  // A reservation cancelled before its order arrived has no lines.
  if (res.status != ReservationStatus::cancelled_early) o["lines"] = c::encode_lines(res.lines);
  return o;
}

Result<Reservation> reservation_from_json(const json::object& o) {
  JsonReader r{o};
  Reservation res;
  res.order_id = r.string("orderId", 1, 64);
  auto st = parse_reservation_status(r.string("status", 1, 32));
  if (st)
    res.status = *st;
  else
    r.fail("status", st.error().message);
  if (res.status != ReservationStatus::cancelled_early)
    res.lines = c::read_stock_lines(r, "lines");
  else if (o.contains("lines"))  // written as [] before the fix: still readable
    r.array("lines", 0, 0, [](JsonReader&, std::size_t) {});
  r.done();
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored reservation is unreadable: {}",
                          s.error().message);
  return res;
}

std::vector<Product> default_catalogue() {
  struct Row {
    const char* sku;
    const char* name;
    std::int64_t pence;
    std::int64_t stock;
  };
  static constexpr Row rows[] = {
      {"KB-MECH-01", "Mechanical keyboard", 8'999, 400},
      {"MS-WL-02", "Wireless mouse", 2'499, 800},
      {"MN-27-4K", "27-inch 4K monitor", 32'900, 150},
      {"HD-NC-03", "Noise-cancelling headphones", 19'900, 250},
      {"CB-USBC-1M", "USB-C cable, 1 m", 799, 5'000},
      {"DK-USBC-8", "USB-C dock, 8 ports", 12'900, 300},
      {"WC-1080P", "1080p webcam", 5'499, 600},
      {"MIC-USB-01", "USB microphone", 7'999, 350},
      {"SSD-1TB-NV", "1 TB NVMe SSD", 6'999, 900},
      {"RAM-32-D5", "32 GB DDR5 kit", 10'999, 500},
      {"LMP-DESK-L", "LED desk lamp", 3'499, 700},
      {"CHR-ERG-01", "Ergonomic chair", 34'900, 80},
      {"DSK-STAND-1", "Standing desk", 44'900, 60},
      {"PAD-XL-01", "XL desk mat", 1'999, 1'500},
      {"HUB-USB3-4", "USB 3 hub, 4 ports", 1'799, 1'200},
      {"SPK-BT-01", "Bluetooth speaker", 4'999, 450},
      {"CHG-GAN-65", "65 W GaN charger", 3'999, 1'000},
      {"BAT-PWR-20", "20 Ah power bank", 2'999, 750},
      {"TAB-STY-01", "Tablet stylus", 6'499, 400},
      {"LTD-ED-01", "Limited edition keycaps", 14'900, 3},
  };
  std::vector<Product> out;
  for (const auto& r : rows)
    out.push_back(Product{r.sku, r.name, Money{r.pence, "GBP"}, r.stock, 0});
  return out;
}

}  // namespace orderly::services::inventory
