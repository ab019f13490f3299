// The catalogue's REST routes: public reads, admin upserts.
#pragma once

#include "orderly/platform/http.hpp"
#include "orderly/services/inventory/service.hpp"

namespace orderly::services::inventory {

// With `with_stock` (an admin asks), also onHand and reserved.
boost::json::object api_json(const Product& p, bool with_stock = false);
void add_routes(platform::http::Router& router, InventoryService& inventory);

}  // namespace orderly::services::inventory
