// The router and problem+json mapping of error kinds (503 + Retry-After for transient).
#include "orderly/platform/http.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace orderly::platform::http {
namespace {
namespace json = boost::json;

Request request() {
  Request req;
  req.method = "POST";
  req.path = "/v1/things";
  req.request_id = "req-1";
  return req;
}

TEST(ProblemFor, TransientIs503WithRetryAfter) {
  auto res = problem_for(Error{ErrorKind::transient, "store busy"}, request());
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.header("Retry-After"), "1");
  EXPECT_EQ(res.header("Content-Type"), "application/problem+json");
  auto body = json::parse(res.body).as_object();
  EXPECT_EQ(body.at("type"), "https://orderly.dev/problems/unavailable");
  EXPECT_EQ(body.at("detail"), "store busy");
}

TEST(ProblemFor, OtherKindsHaveNoRetryAfter) {
  struct Case {
    ErrorKind kind;
    int status;
  };
  for (auto [kind, status] : {Case{ErrorKind::invalid_input, 422}, Case{ErrorKind::not_found, 404},
                              Case{ErrorKind::failed_precondition, 409},
                              Case{ErrorKind::conflict, 409}, Case{ErrorKind::unauthorized, 401},
                              Case{ErrorKind::forbidden, 403}, Case{ErrorKind::permanent, 500}}) {
    auto res = problem_for(Error{kind, "x"}, request());
    EXPECT_EQ(res.status, status) << to_string(kind);
    EXPECT_FALSE(res.header("Retry-After")) << to_string(kind);
  }
}

TEST(ProblemFor, InvalidInputListsItsFieldsInErrors) {
  auto e = invalid_fields({{"$.items[0].sku", "unknown sku NOPE"}, {"$.total", "is required"}});
  auto res = problem_for(e.value(), request());
  EXPECT_EQ(res.status, 422);
  auto body = json::parse(res.body).as_object();
  EXPECT_EQ(body.at("type"), "https://orderly.dev/problems/validation");
  EXPECT_EQ(body.at("detail"), "2 fields are invalid");
  EXPECT_EQ(body.at("errors"),
            json::parse(R"([{"path":"$.items[0].sku","message":"unknown sku NOPE"},
                            {"path":"$.total","message":"is required"}])"));
  // Without fields, no errors[]: the message is the detail.
  auto plain = json::parse(problem_for(Error{ErrorKind::invalid_input, "bad"}, request()).body);
  EXPECT_FALSE(plain.as_object().contains("errors"));
  EXPECT_EQ(plain.at("detail"), "bad");
}

}  // namespace
}  // namespace orderly::platform::http

namespace orderly::platform::http {
namespace {

// Issue 11, hole 1: a token of another resource server is not Orderly's admin.
TEST(Scopes, OnlyOrderlysResourceServerGrantsTheBareScope) {
  Identity who;
  add_scopes(who,
             "orderly/orders:read other-api/admin x/orders:write admin2 orderly/ orderlyx/admin");
  EXPECT_TRUE(who.has("orders:read"));
  EXPECT_TRUE(who.has("orderly/orders:read"));
  EXPECT_FALSE(who.admin()) << "other-api/admin must not be admin";
  EXPECT_FALSE(who.has("orders:write")) << "x/orders:write is another resource server's";
  EXPECT_TRUE(who.has("other-api/admin"));  // kept as written, granting nothing of ours
  EXPECT_FALSE(who.has(""));
  Identity ours;
  add_scopes(ours, "orderly/admin");
  EXPECT_TRUE(ours.admin());
  Identity bare;
  add_scopes(bare, "admin orders:write");  // the local issuer's bare form still works
  EXPECT_TRUE(bare.admin());
  EXPECT_TRUE(bare.has("orders:write"));
}

}  // namespace
}  // namespace orderly::platform::http

namespace orderly::platform::http {
namespace {

// Logs keep a client's network, not its address (docs/protocols-and-security.md).
TEST(LogClient, TruncatesIpv4ToItsSlash24AndIpv6ToItsSlash48) {
  EXPECT_EQ(log_client("203.0.113.77"), "203.0.113.0");
  EXPECT_EQ(log_client("127.0.0.1"), "127.0.0.0");
  EXPECT_EQ(log_client("2001:db8:1:2:3:4:5:6"), "2001:db8:1::");
  EXPECT_EQ(log_client("::ffff:198.51.100.9"), "198.51.100.0");
  EXPECT_EQ(log_client(""), "-");
  EXPECT_EQ(log_client("not an address"), "-");
}

}  // namespace
}  // namespace orderly::platform::http
