// JWT bearer authentication, RS256 only, verified with libjwt.
//
//   auto keys = KeyPair::load_or_create(data_dir);            // jwt-private.pem, jwt-public.pem
//   TokenVerifier verify{{.issuer = "orderly-local", .audience = "orderly-api"}, keys->jwks()};
//   auto who = verify.verify(token, clock.now());              // Identity or unauthorized
//   std::string t = issue_token(*keys, cfg, "customer-1", {"orders:read"}, 3600s, now);
//
// The header is checked before any signature check: alg must be exactly RS256
// (so alg=none and HS256-signed-with-the-public-key are refused without ever
// reaching an HMAC), and kid must name a key we hold. Then the signature, then
// iss, aud, exp and nbf (with a leeway). A real IdP (Cognito) plugs in through
// its issuer, audience and JWKS.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/error.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::adapters::http {

using platform::Result;

struct JwtConfig {
  std::string issuer = "orderly-local";
  std::string audience = "orderly-api";
  std::chrono::seconds leeway{30};
};

struct KeyPair {
  std::string private_pem, public_pem, kid;
  // Reads <dir>/jwt-private.pem, or makes a 2048-bit RSA key there (mode 0600) on first use.
  static Result<KeyPair> load_or_create(const std::string& dir);
  [[nodiscard]] boost::json::object jwks() const;
};

class TokenVerifier {
 public:
  // keys: a JWKS document ({"keys":[{"kty":"RSA","kid","n","e",...}]}).
  static Result<TokenVerifier> create(JwtConfig config, const boost::json::object& jwks);
  Result<platform::http::Identity> verify(std::string_view token, platform::TimePoint now) const;
  // The answer for a token seen recently, without a signature check: a cached
  // success (exp and nbf re-checked against `now`) or a failure of the last
  // kFailureMemory; nullopt for a token that needs verifying. The gateway asks
  // this first and meters only the rest (cheap rejection before expensive work).
  std::optional<Result<platform::http::Identity>> known(std::string_view token,
                                                        platform::TimePoint now) const;
  // Signature verifications done (cache misses), ok or failed: the expensive part.
  [[nodiscard]] std::uint64_t verifications() const { return cache_->verifications.load(); }
  [[nodiscard]] const JwtConfig& config() const { return config_; }
  static constexpr std::chrono::seconds kFailureMemory{60};

 private:
  TokenVerifier(JwtConfig c, std::map<std::string, std::string> pems)
      : config_(std::move(c)), pems_(std::move(pems)), cache_(std::make_shared<Cache>()) {}
  Result<platform::http::Identity> verify_uncached(std::string_view token, platform::TimePoint now,
                                                   long& exp, long& nbf) const;

  // Verified tokens, so a client's repeated token costs a hash lookup instead
  // of an RSA verification (libjwt also re-parses the PEM key on every call:
  // 19% of the server's CPU in the end-to-end profile). Only successes are
  // cached; exp and nbf are re-checked against the clock on every hit.
  struct Cached {
    platform::http::Identity identity;
    long exp = 0, nbf = 0;
  };
  struct Failed {
    std::string why;
    long until = 0;  // unix seconds
  };
  struct Cache {
    std::mutex mu;
    std::unordered_map<std::string, Cached> entries;
    std::unordered_map<std::string, Failed> failed;  // tokens that failed, for kFailureMemory
    std::atomic<std::uint64_t> verifications{0};
  };
  JwtConfig config_;
  std::map<std::string, std::string> pems_;  // kid -> public key PEM
  std::shared_ptr<Cache> cache_;
};

std::string issue_token(const KeyPair& keys, const JwtConfig& config, const std::string& subject,
                        const std::set<std::string>& scopes, std::chrono::seconds ttl,
                        platform::TimePoint now);

}  // namespace orderly::adapters::http
