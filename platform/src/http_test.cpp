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
