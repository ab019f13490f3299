// RS256 keys (OpenSSL 3), JWKS, and token issue/verify (libjwt).
#include "orderly/adapters/http/jwt.hpp"

#include <fcntl.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "orderly/platform/base64.hpp"
#include "orderly/platform/id.hpp"
#include "orderly/platform/metrics.hpp"

namespace orderly::adapters::http {

namespace json = boost::json;
using platform::ErrorKind;

namespace {

std::string base64url_encode(std::string_view b) {
  return platform::base64_encode(b, platform::Base64::url);
}
std::optional<std::string> base64url_decode(std::string_view t) {
  return platform::base64_decode(t, platform::Base64::url);
}

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using Jwt = std::unique_ptr<jwt_t, Deleter<jwt_t, jwt_free>>;

std::string bio_string(BIO* b) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

Pkey read_private(const std::string& pem) {
  Bio b(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return Pkey(PEM_read_bio_PrivateKey(b.get(), nullptr, nullptr, nullptr));
}

std::string bn_b64(const BIGNUM* bn) {
  std::string bytes(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(bytes.data()));
  return base64url_encode(bytes);
}

// RFC 7638 thumbprint: SHA-256 of the canonical {"e","kty","n"} JSON.
std::string thumbprint(const std::string& n, const std::string& e) {
  const std::string canon = R"({"e":")" + e + R"(","kty":"RSA","n":")" + n + R"("})";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(canon.data()), canon.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

Result<std::pair<std::string, std::string>> rsa_n_e(const std::string& private_pem) {
  auto key = read_private(private_pem);
  if (!key) return platform::fail(ErrorKind::permanent, "unreadable RSA private key");
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (!EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n) ||
      !EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e)) {
    BN_free(n);
    BN_free(e);
    return platform::fail(ErrorKind::permanent, "not an RSA key");
  }
  Bn nn(n), ee(e);
  return std::pair{bn_b64(nn.get()), bn_b64(ee.get())};
}

Result<std::string> jwk_to_pem(const std::string& n_b64, const std::string& e_b64) {
  auto n = base64url_decode(n_b64);
  auto e = base64url_decode(e_b64);
  if (!n || !e || n->empty() || e->empty())
    return platform::fail(ErrorKind::invalid_input, "JWK n/e are not base64url");
  Bn bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()),
                  nullptr));
  Bn be(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()),
                  nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>> bld(
      OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get());
  std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(bld.get()));
  std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return platform::fail(ErrorKind::invalid_input, "JWK is not a usable RSA public key");
  Pkey key(raw);
  Bio out(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(out.get(), key.get());
  return bio_string(out.get());
}

}  // namespace

Result<KeyPair> KeyPair::load_or_create(const std::string& dir) {
  if (dir.empty())
    return platform::fail(ErrorKind::invalid_input, "no data directory for the JWT keys");
  const auto priv_path = std::filesystem::path(dir) / "jwt-private.pem";
  const auto pub_path = std::filesystem::path(dir) / "jwt-public.pem";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::exists(priv_path)) {
    Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
    if (!key) return platform::fail(ErrorKind::permanent, "RSA key generation failed");
    Bio priv(BIO_new(BIO_s_mem())), pub(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(priv.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub.get(), key.get());
    // O_EXCL: if another process made the key meanwhile, keep theirs.
    const int fd = ::open(priv_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      const auto pem = bio_string(priv.get());
      const bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
      ::fsync(fd);
      ::close(fd);
      if (!ok) return platform::fail(ErrorKind::permanent, "cannot write {}", priv_path.string());
      std::ofstream(pub_path) << bio_string(pub.get());
    }
  }
  std::ifstream in(priv_path);
  std::stringstream ss;
  ss << in.rdbuf();
  KeyPair kp;
  kp.private_pem = ss.str();
  auto key = read_private(kp.private_pem);
  if (!key)
    return platform::fail(ErrorKind::permanent, "{} is not a readable private key",
                          priv_path.string());
  Bio pub(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(pub.get(), key.get());
  kp.public_pem = bio_string(pub.get());
  if (!std::filesystem::exists(pub_path)) std::ofstream(pub_path) << kp.public_pem;
  auto ne = rsa_n_e(kp.private_pem);
  if (!ne) return tl::unexpected(ne.error());
  kp.kid = thumbprint(ne->first, ne->second);
  return kp;
}

json::object KeyPair::jwks() const {
  auto ne = rsa_n_e(private_pem);
  json::array keys;
  if (ne)
    keys.push_back(json::object{{"kty", "RSA"},
                                {"use", "sig"},
                                {"alg", "RS256"},
                                {"kid", kid},
                                {"n", ne->first},
                                {"e", ne->second}});
  return {{"keys", std::move(keys)}};
}

Result<TokenVerifier> TokenVerifier::create(JwtConfig config, const json::object& jwks) {
  std::map<std::string, std::string> pems;
  const auto* keys = jwks.if_contains("keys");
  if (!keys || !keys->is_array())
    return platform::fail(ErrorKind::invalid_input, "JWKS has no keys array");
  for (const auto& k : keys->get_array()) {
    if (!k.is_object()) continue;
    const auto& o = k.get_object();
    auto str = [&](const char* f) -> std::string {
      const auto* v = o.if_contains(f);
      return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    if (str("kty") != "RSA" || str("kid").empty()) continue;
    if (!str("alg").empty() && str("alg") != "RS256") continue;
    if (!str("use").empty() && str("use") != "sig") continue;
    auto pem = jwk_to_pem(str("n"), str("e"));
    if (!pem) return tl::unexpected(pem.error());
    pems.emplace(str("kid"), std::move(*pem));
  }
  if (pems.empty())
    return platform::fail(ErrorKind::invalid_input, "JWKS has no RS256 signing key");
  return TokenVerifier(std::move(config), std::move(pems));
}

std::optional<Result<platform::http::Identity>> TokenVerifier::known(
    std::string_view token, platform::TimePoint now) const {
  const long now_s = static_cast<long>(platform::to_unix_ms(now) / 1000);
  const long leeway = static_cast<long>(config_.leeway.count());
  const std::string key(token);
  std::lock_guard lk(cache_->mu);
  if (auto it = cache_->entries.find(key); it != cache_->entries.end()) {
    if (now_s > it->second.exp + leeway) {
      cache_->entries.erase(it);
      return platform::make_error(ErrorKind::unauthorized, "token expired");
    }
    if (it->second.nbf != 0 && now_s + leeway < it->second.nbf)
      return platform::make_error(ErrorKind::unauthorized, "token not valid yet");
    return it->second.identity;
  }
  if (auto it = cache_->failed.find(key); it != cache_->failed.end()) {
    if (now_s < it->second.until)
      return platform::make_error(ErrorKind::unauthorized, it->second.why);
    cache_->failed.erase(it);
  }
  return std::nullopt;
}

Result<platform::http::Identity> TokenVerifier::verify(std::string_view token,
                                                       platform::TimePoint now) const {
  constexpr std::size_t kMaxCached = 10'000;
  if (auto answer = known(token, now)) return std::move(*answer);
  long exp = 0, nbf = 0;
  ++cache_->verifications;
  static auto& counted = platform::metrics::registry().counter(
      "orderly_jwt_verifications_total",
      "Bearer tokens whose signature and claims were checked (not answered from the cache)",
      {"result"});
  auto who = verify_uncached(token, now, exp, nbf);
  counted.with({who ? "ok" : "failed"}).inc();
  std::lock_guard lk(cache_->mu);
  if (who) {
    if (cache_->entries.size() >= kMaxCached) cache_->entries.clear();
    cache_->entries.emplace(std::string(token), Cached{*who, exp, nbf});
  } else if (token.size() <= 8192 &&
             who.error().message.find("not valid yet") == std::string::npos) {
    // A failed token is refused again from memory for a while: replaying one
    // forged token costs a lookup, not a signature check. (Not one that is only
    // early: it becomes valid.)
    if (cache_->failed.size() >= kMaxCached) cache_->failed.clear();
    const long now_s = static_cast<long>(platform::to_unix_ms(now) / 1000);
    cache_->failed.insert_or_assign(std::string(token),
                                    Failed{who.error().message, now_s + kFailureMemory.count()});
  }
  return who;
}

Result<platform::http::Identity> TokenVerifier::verify_uncached(std::string_view token,
                                                                platform::TimePoint now,
                                                                long& exp_out,
                                                                long& nbf_out) const {
  auto unauthorized = [](std::string why) {
    return platform::make_error(ErrorKind::unauthorized, std::move(why));
  };
  if (token.size() > 8192) return unauthorized("token too long");
  const auto d1 = token.find('.');
  const auto d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return unauthorized("not a JWS compact token");
  auto header_text = base64url_decode(token.substr(0, d1));
  if (!header_text) return unauthorized("malformed token header");
  boost::system::error_code ec;
  auto header = json::parse(*header_text, ec);
  if (ec || !header.is_object()) return unauthorized("malformed token header");
  const auto* alg = header.as_object().if_contains("alg");
  if (!alg || !alg->is_string() || alg->get_string() != "RS256")
    return unauthorized("only RS256 tokens are accepted");
  const auto* kid = header.as_object().if_contains("kid");
  std::string key_id = kid && kid->is_string() ? std::string(kid->get_string()) : std::string();
  if (key_id.empty() && pems_.size() == 1) key_id = pems_.begin()->first;
  auto key = pems_.find(key_id);
  if (key == pems_.end()) return unauthorized("unknown signing key");

  jwt_t* raw = nullptr;
  const std::string t(token);
  if (jwt_decode(&raw, t.c_str(), reinterpret_cast<const unsigned char*>(key->second.data()),
                 static_cast<int>(key->second.size())) != 0 ||
      !raw)
    return unauthorized("bad signature");
  Jwt jwt(raw);
  if (jwt_get_alg(jwt.get()) != JWT_ALG_RS256)
    return unauthorized("only RS256 tokens are accepted");

  auto claim = [&](const char* name) -> std::string {
    const char* v = jwt_get_grant(jwt.get(), name);
    return v ? std::string(v) : std::string();
  };
  if (claim("iss") != config_.issuer) return unauthorized("wrong issuer");
  bool aud_ok = claim("aud") == config_.audience;
  if (!aud_ok) {
    // aud may be an array; Cognito access tokens carry client_id instead.
    std::unique_ptr<char, decltype(&free)> aud(jwt_get_grants_json(jwt.get(), "aud"), &free);
    if (aud) {
      auto v = json::parse(aud.get(), ec);
      if (!ec && v.is_array())
        for (const auto& x : v.get_array())
          aud_ok = aud_ok || (x.is_string() && x.get_string() == config_.audience);
    }
    aud_ok = aud_ok || claim("client_id") == config_.audience;
  }
  if (!aud_ok) return unauthorized("wrong audience");
  const long now_s = static_cast<long>(platform::to_unix_ms(now) / 1000);
  const long leeway = static_cast<long>(config_.leeway.count());
  errno = 0;
  const long exp = jwt_get_grant_int(jwt.get(), "exp");
  if (errno != 0 || exp == 0) return unauthorized("token has no exp");
  exp_out = exp;
  if (now_s > exp + leeway) return unauthorized("token expired");
  errno = 0;
  const long nbf = jwt_get_grant_int(jwt.get(), "nbf");
  if (errno == 0) nbf_out = nbf;
  if (errno == 0 && nbf != 0 && now_s + leeway < nbf) return unauthorized("token not valid yet");
  platform::http::Identity who;
  who.subject = claim("sub");
  if (who.subject.empty() || who.subject.size() > 128)
    return unauthorized("token has no usable sub");
  platform::http::add_scopes(who, claim("scope"));
  return who;
}

std::string issue_token(const KeyPair& keys, const JwtConfig& config, const std::string& subject,
                        const std::set<std::string>& scopes, std::chrono::seconds ttl,
                        platform::TimePoint now) {
  jwt_t* raw = nullptr;
  jwt_new(&raw);
  Jwt jwt(raw);
  std::string scope;
  for (const auto& s : scopes) scope += (scope.empty() ? "" : " ") + s;
  const long now_s = static_cast<long>(platform::to_unix_ms(now) / 1000);
  jwt_add_header(jwt.get(), "kid", keys.kid.c_str());
  jwt_add_grant(jwt.get(), "iss", config.issuer.c_str());
  jwt_add_grant(jwt.get(), "aud", config.audience.c_str());
  jwt_add_grant(jwt.get(), "sub", subject.c_str());
  jwt_add_grant(jwt.get(), "scope", scope.c_str());
  jwt_add_grant(jwt.get(), "jti", platform::new_uuid_v7().c_str());
  jwt_add_grant_int(jwt.get(), "iat", now_s);
  jwt_add_grant_int(jwt.get(), "nbf", now_s);
  jwt_add_grant_int(jwt.get(), "exp", now_s + static_cast<long>(ttl.count()));
  jwt_set_alg(jwt.get(), JWT_ALG_RS256,
              reinterpret_cast<const unsigned char*>(keys.private_pem.data()),
              static_cast<int>(keys.private_pem.size()));
  std::unique_ptr<char, decltype(&free)> out(jwt_encode_str(jwt.get()), &free);
  return out ? std::string(out.get()) : std::string();
}

}  // namespace orderly::adapters::http
