// Products routes.
#include "orderly/services/inventory/api.hpp"

namespace orderly::services::inventory {

namespace json = boost::json;
namespace ph = platform::http;

json::object api_json(const Product& p, bool with_stock) {
  json::object out{{"sku", p.sku},
                   {"name", p.name},
                   {"price", contracts::encode(p.price)},
                   {"available", std::max<std::int64_t>(0, p.available())}};
  if (with_stock) {
    out["onHand"] = p.on_hand;
    out["reserved"] = p.reserved;
  }
  return out;
}

namespace {
// Stock on hand and reserved are operators' figures: shown to admins only.
bool admin(const ph::Request& req) {
  return req.identity && req.identity->admin();
}
}  // namespace

void add_routes(ph::Router& router, InventoryService& inventory) {
  router.add("GET", "/v1/products", "", [&inventory](ph::Request& req) -> ph::Response {
    auto all = inventory.list_products();
    if (!all) return ph::problem_for(all.error(), req);
    json::array items;
    for (const auto& p : *all) items.push_back(api_json(p, admin(req)));
    return ph::Response::json(200, json::object{{"items", std::move(items)}});
  });

  router.add("GET", "/v1/products/{sku}", "", [&inventory](ph::Request& req) -> ph::Response {
    auto p = inventory.get_product(req.param("sku"));
    if (!p) return ph::problem_for(p.error(), req);
    if (!*p) return ph::problem(404, "not-found", "Not found", "no such product", req);
    return ph::Response::json(200, api_json(**p, admin(req)));
  });

  router.add("PUT", "/v1/products/{sku}", "admin", [&inventory](ph::Request& req) -> ph::Response {
    const auto& sku = req.param("sku");
    if (!platform::is_sku(sku))
      return ph::validation_problem(
          req, {{"sku", "must be upper-case letters, digits and '-', up to 32"}});
    auto body = ph::json_object_body(req);
    if (!body) return std::move(body.error());
    platform::JsonReader r{*body};
    const auto name = r.string("name", 1, 200);
    const auto price = contracts::read_money(r, "price");
    const auto stock = r.integer("stock", 0, 1'000'000'000);
    r.done();
    if (!r.ok()) return ph::validation_problem(req, r.errors());
    auto p = inventory.upsert_product(sku, name, price, stock);
    if (!p) return ph::problem_for(p.error(), req);
    return ph::Response::json(200, api_json(*p, true));
  });
}

}  // namespace orderly::services::inventory
