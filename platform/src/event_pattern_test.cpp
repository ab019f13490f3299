// EventBridge-style patterns: every operator, arrays, nesting.
#include "orderly/platform/event_pattern.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace orderly::platform {
namespace {
namespace json = boost::json;

const char* kEvent = R"({
  "specversion": "1.0", "id": "e1", "source": "orderly.orders",
  "type": "orderly.orders.OrderPlaced.v1", "subject": "order-1",
  "time": "2026-01-01T00:00:00Z", "datacontenttype": "application/json",
  "data": {"orderId": "order-1", "paymentToken": "tok_ok", "country": "GB",
           "total": {"amount": 2500, "currency": "GBP"},
           "skus": ["SKU-1", "SKU-7"], "express": false, "note": null}
})";

struct Case {
  const char* name;
  const char* pattern;
  bool expected;
};

class PatternTable : public ::testing::TestWithParam<Case> {};

TEST_P(PatternTable, Matches) {
  const auto& c = GetParam();
  auto p = EventPattern::parse(c.pattern);
  ASSERT_TRUE(p) << p.error().message;
  const auto event = json::parse(kEvent).as_object();
  EXPECT_EQ(p->matches(event), c.expected) << c.pattern;
}

INSTANTIATE_TEST_SUITE_P(
    EventBridgeSemantics, PatternTable,
    ::testing::Values(
        Case{"empty_matches_all", R"({})", true},
        Case{"type_exact", R"({"type":["orderly.orders.OrderPlaced.v1"]})", true},
        Case{"type_other", R"({"type":["orderly.orders.OrderCancelled.v1"]})", false},
        Case{"type_any_of", R"({"type":["x","orderly.orders.OrderPlaced.v1"]})", true},
        Case{"and_of_fields", R"({"type":["orderly.orders.OrderPlaced.v1"],"source":["nope"]})",
             false},
        Case{"data_exact", R"({"data":{"paymentToken":["tok_ok"]}})", true},
        Case{"nested_numeric_gt", R"({"data":{"total":{"amount":[{"numeric":[">",1000]}]}}})",
             true},
        Case{"nested_numeric_range_in",
             R"({"data":{"total":{"amount":[{"numeric":[">=",2500,"<",3000]}]}}})", true},
        Case{"nested_numeric_range_out",
             R"({"data":{"total":{"amount":[{"numeric":[">",2500,"<=",3000]}]}}})", false},
        Case{"numeric_eq", R"({"data":{"total":{"amount":[{"numeric":["=",2500]}]}}})", true},
        Case{"numeric_on_string", R"({"data":{"country":[{"numeric":[">",0]}]}})", false},
        Case{"number_literal", R"({"data":{"total":{"amount":[2500.0]}}})", true},
        Case{"prefix_hit", R"({"type":[{"prefix":"orderly.orders."}]})", true},
        Case{"prefix_miss", R"({"type":[{"prefix":"orderly.payments."}]})", false},
        Case{"suffix_hit", R"({"type":[{"suffix":".v1"}]})", true},
        Case{"ignore_case", R"({"data":{"country":[{"equals-ignore-case":"gb"}]}})", true},
        Case{"anything_but_value", R"({"data":{"country":[{"anything-but":"US"}]}})", true},
        Case{"anything_but_list_hit", R"({"data":{"country":[{"anything-but":["US","GB"]}]}})",
             false},
        Case{"anything_but_prefix",
             R"({"data":{"paymentToken":[{"anything-but":{"prefix":"tok_"}}]}})", false},
        Case{"anything_but_missing_field", R"({"data":{"absent":[{"anything-but":"x"}]}})", false},
        Case{"exists_true", R"({"data":{"orderId":[{"exists":true}]}})", true},
        Case{"exists_true_missing", R"({"data":{"absent":[{"exists":true}]}})", false},
        Case{"exists_false_missing", R"({"data":{"absent":[{"exists":false}]}})", true},
        Case{"exists_false_present", R"({"data":{"orderId":[{"exists":false}]}})", false},
        Case{"array_any_element", R"({"data":{"skus":["SKU-7"]}})", true},
        Case{"array_no_element", R"({"data":{"skus":["SKU-9"]}})", false},
        Case{"array_prefix", R"({"data":{"skus":[{"prefix":"SKU-"}]}})", true},
        Case{"bool_literal", R"({"data":{"express":[false]}})", true},
        Case{"null_literal", R"({"data":{"note":[null]}})", true},
        Case{"string_is_not_number", R"({"data":{"total":{"amount":["2500"]}}})", false},
        Case{"nested_on_scalar", R"({"subject":{"x":["y"]}})", false},
        Case{"nested_missing", R"({"data":{"shipping":{"city":["London"]}}})", false}),
    [](const ::testing::TestParamInfo<Case>& p) { return std::string(p.param.name); });

TEST(EventPattern, RejectsMalformedPatternsWithThePath) {
  const std::vector<std::pair<const char*, const char*>> bad = {
      {"[]", "object"},
      {R"({"type":"x"})", "type"},
      {R"({"type":[]})", "type"},
      {R"({"type":[["x"]]})", "type"},
      {R"({"data":{"a":[{"numeric":[">"]}]}})", "data.a"},
      {R"({"data":{"a":[{"numeric":["~",1]}]}})", "data.a"},
      {R"({"data":{"a":[{"numeric":[">","1"]}]}})", "data.a"},
      {R"({"data":{"a":[{"prefix":1}]}})", "data.a"},
      {R"({"data":{"a":[{"exists":"yes"}]}})", "data.a"},
      {R"({"data":{"a":[{"wildcard":"*"}]}})", "data.a"},
      {R"({"data":{"a":[{"prefix":"x","suffix":"y"}]}})", "data.a"},
      {R"({"data":{"a":[{"anything-but":[]}]}})", "data.a"},
      {"{not json", "JSON"},
  };
  for (const auto& [text, needle] : bad) {
    auto p = EventPattern::parse(text);
    ASSERT_FALSE(p) << text;
    EXPECT_EQ(p.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(p.error().message.find(needle), std::string::npos) << p.error().message;
  }
}

TEST(EventPattern, ForTypesAndLiteralTypes) {
  auto p = EventPattern::for_types({"a.v1", "b.v1"});
  EXPECT_EQ(p.literal_types(), (std::vector<std::string>{"a.v1", "b.v1"}));
  CloudEvent e;
  e.type = "b.v1";
  EXPECT_TRUE(p.matches(e));
  e.type = "c.v1";
  EXPECT_FALSE(p.matches(e));
}

}  // namespace
}  // namespace orderly::platform
