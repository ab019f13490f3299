// Orders routes: place, get, list, cancel.
#include "orderly/services/orders/api.hpp"

#include <boost/json/serialize.hpp>

#include "orderly/platform/id.hpp"
#include "orderly/platform/idempotency.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::services::orders {

namespace json = boost::json;
namespace ph = platform::http;
using platform::ErrorKind;
using platform::JsonReader;

json::object api_json(const Order& o) {
  auto j = to_json(o);
  j.erase("saga");
  if (o.cancellation_requested) j["cancellationRequested"] = true;
  return j;
}

json::object erasure_api_json(const Erasure& e) {
  // The stored form, plus who is still awaited, and completedAt always present.
  json::object o = to_json(e);
  json::array waiting;
  for (const auto& service : erasure_participants())
    if (!o.at("answered").as_object().contains(service)) waiting.emplace_back(service);
  o["waitingFor"] = std::move(waiting);
  if (!o.contains("completedAt")) o["completedAt"] = nullptr;
  return o;
}

namespace {

bool may_see(const ph::Request& req, const Order& o) {
  return req.identity && (req.identity->admin() || req.identity->subject == o.customer_id);
}

// Reads the POST /v1/orders body; every bad field is reported.
struct ParsedOrder {
  std::vector<contracts::StockLine> items;
  std::string payment_token;
  contracts::Address address;
};

std::pair<ParsedOrder, std::vector<platform::FieldError>> parse_order(const json::object& body) {
  JsonReader r{body};
  ParsedOrder p;
  r.array("items", 1, contracts::kMaxLines, [&](JsonReader& item, std::size_t) {
    contracts::StockLine l;
    l.sku = item.string_matching("sku", platform::is_sku,
                                 "a SKU (upper-case letters, digits and '-', up to 32)");
    l.quantity = item.integer("quantity", 1, contracts::kMaxQuantity);
    item.ignore("unitPrice");  // prices come from the catalogue, never the client
    p.items.push_back(std::move(l));
  });
  p.payment_token = r.string("paymentToken", 1, 64);
  p.address = contracts::read_address(r, "shippingAddress");
  r.ignore("total");
  r.done();
  return {std::move(p), r.errors()};
}

// The request's server span (platform::http::observe) when there is one: the
// events it causes are its children. Otherwise the caller's traceparent, if
// well formed.
std::optional<std::string> trace_of(const ph::Request& req) {
  if (const auto* span = platform::current_span())
    return platform::format_traceparent(span->context);
  auto t = req.header("traceparent");
  if (t && platform::is_traceparent(*t)) return t;
  return std::nullopt;
}

ph::Response accepted(const Order& o) {
  json::object body{{"orderId", o.id},
                    {"status", to_string(o.status)},
                    {"total", contracts::encode(o.total)},
                    {"items", contracts::encode_lines(o.items)}};
  return ph::Response::json(202, body).with("Location", "/v1/orders/" + o.id);
}

}  // namespace

void add_routes(ph::Router& router, OrdersService& orders) {
  router.add("POST", "/v1/orders", "orders:write", [&orders](ph::Request& req) -> ph::Response {
    auto body = ph::json_object_body(req);
    if (!body) return std::move(body.error());
    auto [parsed, errors] = parse_order(*body);
    if (!errors.empty()) return ph::validation_problem(req, errors);
    const auto& customer = req.identity->subject;

    auto key = ph::idempotency_key(req);
    if (!key) return std::move(key.error());
    const std::string canonical = json::serialize(*body);
    if (*key) {
      auto seen = orders.idempotency_record(customer, **key);
      if (!seen) return ph::problem_for(seen.error(), req);
      switch (platform::judge(*seen, canonical)) {
        case platform::IdempotencyVerdict::first:
          break;
        case platform::IdempotencyVerdict::repeat: {
          // Answered as the first request was.
          auto existing = orders.get_order((*seen)->result_id);
          if (!existing) return ph::problem_for(existing.error(), req);
          if (!*existing) return ph::problem_for({ErrorKind::transient, "try again"}, req);
          // Records are per customer; should one ever name another's order, it is
          // not answered with it.
          if ((*existing)->customer_id != customer) return ph::idempotency_key_reused(req);
          return accepted(**existing);
        }
        case platform::IdempotencyVerdict::reused:
          return ph::idempotency_key_reused(req);
      }
    }
    PlaceOrder cmd{platform::new_uuid_v7(),   customer,
                   std::move(parsed.items),   std::move(parsed.payment_token),
                   std::move(parsed.address), {}};
    auto placed = orders.place_order(
        std::move(cmd), trace_of(req),
        *key ? std::optional<IdempotencyRecord>{{**key, canonical, {}}} : std::nullopt);
    if (placed) return accepted(*placed);
    const auto& error = placed.error();
    if (error.kind == ErrorKind::conflict && *key) {
      // A concurrent request with the same key won; answer as it did.
      auto seen = orders.idempotency_record(customer, **key);
      if (seen && platform::judge(*seen, canonical) == platform::IdempotencyVerdict::repeat) {
        auto existing = orders.get_order((*seen)->result_id);
        if (existing && *existing && (*existing)->customer_id == customer)
          return accepted(**existing);
      }
    }
    // Unknown skus and the like: every bad line, by path, in errors[].
    if (error.kind == ErrorKind::invalid_input)
      return ph::validation_problem(
          req, error.fields.empty() ? std::vector<platform::FieldError>{{"$", error.message}}
                                    : error.fields);
    return ph::problem_for(error, req);
  });

  router.add("GET", "/v1/orders/{orderId}", "orders:read",
             [&orders](ph::Request& req) -> ph::Response {
               auto o = orders.get_order(req.param("orderId"));
               if (!o) return ph::problem_for(o.error(), req);
               if (!*o || !may_see(req, **o))
                 return ph::problem(404, "not-found", "Not found", "no such order", req);
               return ph::Response::json(200, api_json(**o));
             });

  router.add("GET", "/v1/orders", "orders:read", [&orders](ph::Request& req) -> ph::Response {
    std::string customer = req.identity->subject;
    if (auto c = req.query_param("customer"); c && *c != customer) {
      if (!req.identity->admin())
        return ph::problem(403, "forbidden", "Forbidden",
                           "only admins may list another customer's orders", req);
      customer = *c;
    }
    std::size_t limit = 20;
    if (auto l = req.query_param("limit")) {
      char* end = nullptr;
      const long v = std::strtol(l->c_str(), &end, 10);
      if (l->empty() || *end != '\0' || v < 1 || v > 100)
        return ph::validation_problem(req, {{"limit", "must be an integer from 1 to 100"}});
      limit = static_cast<std::size_t>(v);
    }
    auto page = orders.list_orders(customer, limit, req.query_param("cursor"));
    if (!page) {
      if (page.error().kind == ErrorKind::invalid_input)
        return ph::validation_problem(req, {{"cursor", "is not a cursor from this listing"}});
      return ph::problem_for(page.error(), req);
    }
    json::array items;
    for (const auto& o : page->orders) items.push_back(api_json(o));
    json::object out{{"items", std::move(items)}};
    out["nextCursor"] = page->next_cursor ? json::value(*page->next_cursor) : json::value(nullptr);
    return ph::Response::json(200, out);
  });

  // Erasure of a customer's personal data (docs/adr/0017): admins only.
  router.add(
      "POST", "/v1/admin/customers/{customerId}/erase", "admin",
      [&orders](ph::Request& req) -> ph::Response {
        const std::string customer = req.param("customerId");
        if (customer.empty() || customer.size() > 128)
          return ph::validation_problem(req, {{"customerId", "must be 1 to 128 characters"}});
        auto e = orders.erase_customer(customer, "request", std::nullopt, trace_of(req));
        if (!e) return ph::problem_for(e.error(), req);
        return ph::Response::json(202, erasure_api_json(*e))
            .with("Location", "/v1/admin/erasures/" + e->id);
      });
  router.add("GET", "/v1/admin/erasures/{erasureId}", "admin",
             [&orders](ph::Request& req) -> ph::Response {
               auto e = orders.get_erasure(req.param("erasureId"));
               if (!e) return ph::problem_for(e.error(), req);
               if (!*e) return ph::problem(404, "not-found", "Not found", "no such erasure", req);
               return ph::Response::json(200, erasure_api_json(**e));
             });

  router.add("POST", "/v1/orders/{orderId}/cancel", "orders:write",
             [&orders](ph::Request& req) -> ph::Response {
               auto o = orders.get_order(req.param("orderId"));
               if (!o) return ph::problem_for(o.error(), req);
               if (!*o || !may_see(req, **o))
                 return ph::problem(404, "not-found", "Not found", "no such order", req);
               auto cancelled = orders.cancel_order(req.param("orderId"), trace_of(req));
               if (!cancelled) return ph::problem_for(cancelled.error(), req);
               return ph::Response::json(202, api_json(*cancelled));
             });
}

}  // namespace orderly::services::orders
