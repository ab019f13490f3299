// The gateway in front of the embedded host: the routes of every service of
// the table plus the system's own (health, readiness, metrics, JWKS, admin
// DLQ), behind auth (JWT), rate limiting and load shedding, as one handler
// for the HTTP server.
//
//   auto gateway = Gateway::create(host, keys, {.rate_limit = {100, 200}});
//   HttpServer::start({.port = 8080}, [&](Request& r) { return (*gateway)->handle(r); });
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "orderly/adapters/http/jwt.hpp"
#include "orderly/adapters/http/rate_limiter.hpp"
#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::hosts::embedded {

struct GatewayOptions {
  adapters::http::JwtConfig jwt;
  std::optional<std::string>
      jwks_file;  // verify against this JWKS (a real IdP) instead of the local key
  adapters::http::RateLimit rate_limit{100, 200};
  // Cheap rejection before expensive verification: a token the verifier has
  // not seen (no cached success or recent failure) costs a signature check,
  // so each client address may have only this many checked (429 beyond), and
  // only max_verifications run at once (503 beyond). A client's token is
  // checked once, then answered from the cache until it expires.
  adapters::http::RateLimit verify_limit{50, 100};
  int max_verifications = 8;
  std::int64_t max_backlog = 100'000;  // POST /v1/orders sheds load above this
};

class Gateway {
 public:
  static Result<std::unique_ptr<Gateway>> create(EmbeddedHost& host,
                                                 const adapters::http::KeyPair& keys,
                                                 GatewayOptions options);
  platform::http::Response handle(platform::http::Request& req);
  void set_ready(bool ready) { ready_ = ready; }

 private:
  Gateway(EmbeddedHost& host, adapters::http::TokenVerifier verifier, boost::json::object jwks,
          GatewayOptions o);
  bool overloaded();
  platform::http::Response handle_inner(platform::http::Request& req);
  platform::http::Response readiness(platform::http::Request& req);

  EmbeddedHost& host_;
  adapters::http::TokenVerifier verifier_;
  boost::json::object jwks_;
  GatewayOptions options_;
  adapters::http::RateLimiter limiter_;
  adapters::http::RateLimiter verify_limiter_;
  std::atomic<int> verifying_{0};
  platform::http::Router router_;
  std::atomic<bool> ready_{false};
  std::atomic<std::int64_t> backlog_{0};
  std::atomic<std::int64_t> backlog_checked_ms_{0};
};

}  // namespace orderly::hosts::embedded
