// The gateway in front of the embedded system: every route, then auth (JWT),
// rate limiting and load shedding, as one handler for the HTTP server.
//
//   auto api = Api::create(sys, {.data_dir = ".orderly"});
//   HttpServer::start({.port = 8080}, [&](Request& r) { return api->handle(r); });
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "orderly/adapters/http/jwt.hpp"
#include "orderly/adapters/http/rate_limiter.hpp"
#include "orderly/platform/http.hpp"
#include "orderly/services/system/embedded_system.hpp"

namespace orderly::services::system {

struct ApiOptions {
  adapters::http::JwtConfig jwt;
  std::optional<std::string>
      jwks_file;  // verify against this JWKS (a real IdP) instead of the local key
  adapters::http::RateLimit rate_limit{100, 200};
  std::int64_t max_backlog = 100'000;  // POST /v1/orders sheds load above this
};

class Api {
 public:
  static Result<std::unique_ptr<Api>> create(EmbeddedSystem& sys,
                                             const adapters::http::KeyPair& keys,
                                             ApiOptions options);
  platform::http::Response handle(platform::http::Request& req);
  void set_ready(bool ready) { ready_ = ready; }

 private:
  Api(EmbeddedSystem& sys, adapters::http::TokenVerifier verifier, boost::json::object jwks,
      ApiOptions o);
  bool overloaded();
  platform::http::Response handle_inner(platform::http::Request& req);
  platform::http::Response readiness(platform::http::Request& req);

  EmbeddedSystem& sys_;
  adapters::http::TokenVerifier verifier_;
  boost::json::object jwks_;
  ApiOptions options_;
  adapters::http::RateLimiter limiter_;
  platform::http::Router router_;
  std::atomic<bool> ready_{false};
  std::atomic<std::int64_t> backlog_{0};
  std::atomic<std::int64_t> backlog_checked_ms_{0};
};

}  // namespace orderly::services::system
