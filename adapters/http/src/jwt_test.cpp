// JWT verification: issuer, audience, time claims, alg pinning, key lookup, scopes.
#include "orderly/adapters/http/jwt.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "orderly/platform/base64.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::http {
namespace {

std::string base64url_encode(std::string_view b) {
  return platform::base64_encode(b, platform::Base64::url);
}

using namespace std::chrono_literals;
using platform::ErrorKind;

class JwtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto k = KeyPair::load_or_create(dir_.path().string());
    ASSERT_TRUE(k) << k.error().message;
    keys_ = *k;
    auto v = TokenVerifier::create(cfg_, keys_.jwks());
    ASSERT_TRUE(v) << v.error().message;
    verifier_.emplace(std::move(*v));
  }
  std::string token(std::set<std::string> scopes = {"orders:read"},
                    std::chrono::seconds ttl = 3600s,
                    platform::TimePoint at = platform::SystemClock::instance().now()) {
    return issue_token(keys_, cfg_, "customer-1", scopes, ttl, at);
  }
  static std::string forge(const std::string& header, const std::string& payload,
                           const std::string& sig) {
    return base64url_encode(header) + "." + base64url_encode(payload) + "." + sig;
  }

  orderly::testing::TempDir dir_;
  JwtConfig cfg_;
  KeyPair keys_;
  std::optional<TokenVerifier> verifier_;
  platform::TimePoint now_ = platform::SystemClock::instance().now();
};

TEST_F(JwtTest, IssuedTokenVerifiesWithSubjectAndScopes) {
  auto who = verifier_->verify(token({"orders:read", "orders:write"}), now_);
  ASSERT_TRUE(who) << who.error().message;
  EXPECT_EQ(who->subject, "customer-1");
  EXPECT_TRUE(who->has("orders:write"));
  EXPECT_FALSE(who->admin());
}

TEST_F(JwtTest, ACachedTokenStillExpires) {
  const auto t = token({"orders:read"}, 60s, now_);
  ASSERT_TRUE(verifier_->verify(t, now_));                             // verified and cached
  ASSERT_TRUE(verifier_->verify(t, now_ + platform::Millis{30'000}));  // from the cache
  auto late = verifier_->verify(t, now_ + platform::Millis{120'000});  // 60 s + 30 s leeway passed
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().message, "token expired");
}

TEST_F(JwtTest, KeysPersistAcrossLoads) {
  auto again = KeyPair::load_or_create(dir_.path().string());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->kid, keys_.kid);
  EXPECT_EQ(again->private_pem, keys_.private_pem);
  EXPECT_EQ(keys_.jwks().at("keys").as_array().size(), 1u);
}

TEST_F(JwtTest, ExpiryAndNotBeforeWithLeeway) {
  const auto past = now_ - platform::Millis{2 * 3600 * 1000};
  auto expired = token({"orders:read"}, 3600s, past);
  EXPECT_EQ(verifier_->verify(expired, now_).error().message, "token expired");
  auto just_expired = token({"orders:read"}, 60s, now_ - platform::Millis{80'000});  // 20 s late
  EXPECT_TRUE(verifier_->verify(just_expired, now_));  // within the leeway
  auto future = token({"orders:read"}, 3600s, now_ + platform::Millis{120'000});
  EXPECT_EQ(verifier_->verify(future, now_).error().message, "token not valid yet");
}

TEST_F(JwtTest, RejectsAlgNoneAndHmacWithThePublicKey) {
  const std::string payload =
      R"({"iss":"orderly-local","aud":"orderly-api","sub":"x","scope":"admin","exp":9999999999})";
  auto none = forge(R"({"alg":"none","typ":"JWT"})", payload, "");
  EXPECT_EQ(verifier_->verify(none, now_).error().kind, ErrorKind::unauthorized);
  auto hs =
      forge(R"({"alg":"HS256","typ":"JWT","kid":")" + keys_.kid + "\"}", payload, "c2lnbmF0dXJl");
  EXPECT_EQ(verifier_->verify(hs, now_).error().message, "only RS256 tokens are accepted");
}

TEST_F(JwtTest, RejectsTamperingWrongIssuerAudienceAndForeignKeys) {
  auto t = token();
  auto tampered = t;
  tampered[t.find('.') + 5] = tampered[t.find('.') + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(verifier_->verify(tampered, now_).error().kind, ErrorKind::unauthorized);
  JwtConfig other = cfg_;
  other.issuer = "someone-else";
  EXPECT_EQ(verifier_->verify(issue_token(keys_, other, "c", {}, 60s, now_), now_).error().message,
            "wrong issuer");
  other = cfg_;
  other.audience = "another-api";
  EXPECT_EQ(verifier_->verify(issue_token(keys_, other, "c", {}, 60s, now_), now_).error().message,
            "wrong audience");
  orderly::testing::TempDir elsewhere;
  auto foreign = KeyPair::load_or_create(elsewhere.path().string());
  ASSERT_TRUE(foreign);
  EXPECT_EQ(
      verifier_->verify(issue_token(*foreign, cfg_, "c", {}, 60s, now_), now_).error().message,
      "unknown signing key");
  for (const char* junk : {"", "a.b", "a.b.c.d", "!!!.???.***", "eyJhbGciOiJSUzI1NiJ9.e30.sig"})
    EXPECT_EQ(verifier_->verify(junk, now_).error().kind, ErrorKind::unauthorized) << junk;
}

// Issue 11, hole 4: a forged token is checked once; replaying it is answered
// from memory, and a verified token from the cache, without a signature check.
TEST_F(JwtTest, KnownTokensAreAnsweredWithoutASignatureCheck) {
  const auto good = token();
  const auto forged = good.substr(0, good.rfind('.') + 1) + base64url_encode("not a signature");
  EXPECT_FALSE(verifier_->known(good, now_));
  EXPECT_FALSE(verifier_->known(forged, now_));
  const auto before = verifier_->verifications();
  ASSERT_TRUE(verifier_->verify(good, now_));
  EXPECT_FALSE(verifier_->verify(forged, now_));
  EXPECT_EQ(verifier_->verifications(), before + 2);
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(verifier_->verify(good, now_));
    auto again = verifier_->verify(forged, now_);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().kind, ErrorKind::unauthorized);
  }
  EXPECT_EQ(verifier_->verifications(), before + 2) << "a replay was verified again";
  auto k = verifier_->known(forged, now_);
  ASSERT_TRUE(k);
  EXPECT_FALSE(*k);
  ASSERT_TRUE(verifier_->known(good, now_));
  EXPECT_TRUE(*verifier_->known(good, now_));
  // The failure is remembered for a while only.
  EXPECT_FALSE(verifier_->known(forged, now_ + TokenVerifier::kFailureMemory + 1s));
}

}  // namespace
}  // namespace orderly::adapters::http
