// The orders REST routes (see schemas/openapi.yaml). The same routes serve
// the Beast gateway locally and API Gateway on AWS.
#pragma once

#include "orderly/platform/http.hpp"
#include "orderly/services/orders/service.hpp"

namespace orderly::services::orders {

// The API representation of an order (the stored form minus saga internals).
boost::json::object api_json(const Order& o);

// The API representation of an erasure (GET /v1/admin/erasures/{erasureId}).
boost::json::object erasure_api_json(const Erasure& e);

void add_routes(platform::http::Router& router, OrdersService& orders);

}  // namespace orderly::services::orders
