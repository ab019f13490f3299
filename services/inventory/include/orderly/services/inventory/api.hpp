// The catalogue's REST routes: public reads, admin upserts.
#pragma once

#include "orderly/platform/http.hpp"
#include "orderly/services/inventory/service.hpp"

namespace orderly::services::inventory {

boost::json::object api_json(const Product& p);
void add_routes(platform::http::Router& router, InventoryService& inventory);

}  // namespace orderly::services::inventory
