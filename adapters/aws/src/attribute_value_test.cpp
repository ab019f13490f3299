// AttributeValue mapping: every JSON kind round-trips, numbers keep their digits.
#include "orderly/adapters/aws/attribute_value.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace orderly::adapters::aws {
namespace {

namespace json = boost::json;

TEST(AttributeValue, RoundTripsEveryJsonKind) {
  const json::value v = json::parse(
      R"({"s":"héllo","i":-7,"big":9007199254740993,"u":18446744073709551615,"f":0.1,"t":true,"z":null,"l":[1,[],{}],"m":{"a":{"b":"c"}}})");
  const auto av = to_attribute_value(v);
  EXPECT_EQ(av.at("M").at("big").at("N"), "9007199254740993");
  auto back = from_attribute_value(av);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, v);
  EXPECT_FALSE(from_attribute_value(json::parse(R"({"SS":["a"]})")));
  EXPECT_FALSE(from_attribute_value(json::parse(R"({"N":"1x"})")));
  EXPECT_FALSE(from_attribute_value(json::parse(R"({"S":"a","N":"1"})")));
}

}  // namespace
}  // namespace orderly::adapters::aws
