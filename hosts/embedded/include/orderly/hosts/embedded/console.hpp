// The web console (/console) and the read models it draws from.
//
//   add_console_routes(router, host);   // in the gateway, beside the table's routes
//
// Routes:
//   GET  /console, /console/{asset}          the page, its script and style (embedded)
//   GET  /v1/orders/{orderId}/saga           one order's events (owner or admin); admins
//                                            also get its retries, queued and dead deliveries
//   GET  /v1/admin/orders                    recent orders of every customer, filtered
//   GET  /v1/admin/queues                    depth, in flight, oldest age, dead, per rule
//   GET  /v1/admin/dlq                       dead letters with their last error
//   POST /v1/admin/dlq/{rule}/redrive        a rule's dead letters back onto its queue
//   POST /v1/admin/dlq/{rule}/{id}/redrive   one dead letter back onto its queue
//
// The page keeps its token in the tab's sessionStorage and sends it as a
// Bearer header: never in a URL, never in a cookie (so no cross-site request
// can carry it). Its Content-Security-Policy allows only its own script and style.
#pragma once

#include <string_view>

#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::hosts::embedded {

struct ConsoleAsset {
  std::string_view name;  // "index.html", "app.js", "app.css"
  std::string_view content_type;
  std::string_view body;
};
// The assets compiled into the binary (generated from hosts/embedded/console/).
const ConsoleAsset* find_console_asset(std::string_view name);

// The console's security headers, on every asset it serves.
inline constexpr std::string_view kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void add_console_routes(platform::http::Router& router, EmbeddedHost& host);

// A strong validator for a GET answer (FNV-1a of the body), and the 304 it
// earns when If-None-Match names it. The console polls with it.
std::string entity_tag(std::string_view body);
void apply_entity_tag(const platform::http::Request& req, platform::http::Response& res);

}  // namespace orderly::hosts::embedded
