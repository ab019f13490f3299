// The CloudEvents 1.0 envelope: strict parsing, errors naming the field, size limit.
#include "orderly/platform/event.hpp"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <utility>
#include <vector>

#include "orderly/platform/id.hpp"

namespace orderly::platform {
namespace {
namespace json = boost::json;

CloudEvent sample() {
  auto e = make_event("orderly.orders", "orderly.orders.OrderPlaced.v1", "order-1",
                      {{"orderId", "order-1"}, {"total", {{"amount", 1999}, {"currency", "GBP"}}}},
                      from_unix_ms(1'767'225'600'123));
  e.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  e.partitionkey = "order-1";
  return e;
}

TEST(CloudEvent, RoundTripsThroughJson) {
  const auto e = sample();
  auto back = parse_event(to_json(e));
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, e);
  EXPECT_EQ(back->time, "2026-01-01T00:00:00.123Z");
  EXPECT_TRUE(is_uuid(back->id));
  EXPECT_EQ(back->correlationid, back->id);
}

TEST(CloudEvent, CausedByCarriesCorrelationAndTrace) {
  const auto cause = sample();
  auto next = make_event("orderly.payments", "orderly.payments.PaymentAuthorized.v1", "order-1", {},
                         from_unix_ms(1));
  caused_by(next, cause);
  EXPECT_EQ(next.causationid, cause.id);
  EXPECT_EQ(next.correlationid, cause.correlationid);
  EXPECT_EQ(next.traceparent, cause.traceparent);
}

// Each required attribute, removed, gives an error that names it.
TEST(CloudEvent, MissingRequiredFieldIsNamed) {
  for (const char* field :
       {"id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data"}) {
    auto o = to_json_object(sample());
    o.erase(field);
    auto r = parse_event(json::serialize(o));
    ASSERT_FALSE(r) << field;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find(std::string("'") + field + "'"), std::string::npos)
        << r.error().message;
  }
}

struct BadCase {
  const char* field;
  json::value value;
};

TEST(CloudEvent, RejectsWrongTypesAndValuesNamingTheField) {
  const std::vector<BadCase> cases = {
      {"id", 42},
      {"id", ""},
      {"source", nullptr},
      {"type", json::array{}},
      {"specversion", "0.3"},
      {"time", "yesterday"},
      {"time", "2026-13-01T00:00:00Z"},
      {"time", "2026-01-01T00:00:00"},
      {"datacontenttype", "text/plain"},
      {"data", "not an object"},
      {"data", json::array{1, 2}},
      {"traceparent", "00-zz-00f067aa0ba902b7-01"},
      {"traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01"},
      {"correlationid", 7},
      {"colour", "blue"},
  };
  for (const auto& c : cases) {
    auto o = to_json_object(sample());
    o[c.field] = c.value;
    auto r = parse_event(json::serialize(o));
    ASSERT_FALSE(r) << c.field << "=" << json::serialize(c.value);
    EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
  }
}

TEST(CloudEvent, RejectsMalformedJsonAndNonObjects) {
  for (const char* text : {"", "{", "[]", "null", "{\"id\":}", "\"x\""}) {
    auto r = parse_event(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
  }
}

TEST(CloudEvent, RejectsInvalidUtf8) {
  std::string text = to_json(sample());
  const auto pos = text.find("order-1");
  text[pos] = static_cast<char>(0xC3);
  text[pos + 1] = static_cast<char>(0x28);
  EXPECT_FALSE(parse_event(text));
}

TEST(CloudEvent, RejectsEventsOverTheEventBridgeLimit) {
  auto e = sample();
  e.data["blob"] = std::string(kMaxEventBytes, 'x');
  auto r = parse_event(to_json(e));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("limit"), std::string::npos);
  // Just under the limit is fine.
  e.data["blob"] = std::string(kMaxEventBytes - to_json(sample()).size() - 64, 'x');
  EXPECT_TRUE(parse_event(to_json(e)));
}

TEST(CloudEvent, Rfc3339Validator) {
  EXPECT_TRUE(is_rfc3339("2026-11-25T12:00:00Z"));
  EXPECT_TRUE(is_rfc3339("2026-11-25T12:00:00.123456789+05:30"));
  EXPECT_FALSE(is_rfc3339("2026-11-25 12:00:00Z"));
  EXPECT_FALSE(is_rfc3339("2026-11-25T25:00:00Z"));
  EXPECT_FALSE(is_rfc3339("2026-11-25T12:00:00.Z"));
  EXPECT_FALSE(is_rfc3339("2026-11-25T12:00:00+0530"));
}

// Valid UTF-8 text from code points across the planes (no surrogates).
rc::Gen<std::string> utf8_text() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::uint32_t>>(rc::gen::oneOf(
          rc::gen::inRange<std::uint32_t>(0x20, 0x7f), rc::gen::inRange<std::uint32_t>(0, 0x20),
          rc::gen::inRange<std::uint32_t>(0x80, 0xd800),
          rc::gen::inRange<std::uint32_t>(0xe000, 0x110000))),
      [](const std::vector<std::uint32_t>& cps) {
        std::string s;
        for (auto c : cps) {
          if (c < 0x80) {
            s.push_back(static_cast<char>(c));
          } else if (c < 0x800) {
            s.push_back(static_cast<char>(0xc0 | (c >> 6)));
            s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
          } else if (c < 0x10000) {
            s.push_back(static_cast<char>(0xe0 | (c >> 12)));
            s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
            s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
          } else {
            s.push_back(static_cast<char>(0xf0 | (c >> 18)));
            s.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3f)));
            s.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3f)));
            s.push_back(static_cast<char>(0x80 | (c & 0x3f)));
          }
        }
        return s;
      });
}

RC_GTEST_PROP(CloudEventProperty, AnyValidEventRoundTrips,
              (std::int64_t amount, std::uint32_t ms)) {
  const auto subject = *utf8_text();
  const auto key = *utf8_text();
  const auto value = *utf8_text();
  RC_PRE(!subject.empty() && subject.size() <= 1024);
  auto e =
      make_event("orderly.test", "orderly.test.Thing.v1", subject,
                 {{key, value}, {"amount", amount}, {"nested", {{"list", {1, "two", nullptr}}}}},
                 from_unix_ms(ms));
  auto back = parse_event(to_json(e));
  RC_ASSERT(back.has_value());
  RC_ASSERT(*back == e);
}

// Found by tests/fuzz/cloudevent_fuzz (its inputs are kept in
// tests/fuzz/regressions/cloudevent_fuzz/): Boost.JSON 1.81 reads some decimals
// to a neighbour of the correctly rounded double, so a non-integer in event data
// could flip between two values on every relay (8.9E106 and
// 8.899999999999999E106 read as each other). Every event schema has integers
// only, so the envelope now refuses the rest, naming the field; before, the
// event was accepted and its relay was not stable.
TEST(CloudEvent, DataNumbersAreIntegersOfAtMost64Bits) {
  auto event = [](const std::string& data) {
    return R"({"specversion":"1.0","id":"e-1","source":"orderly.test","type":"orderly.test.T.v1",)"
           R"("subject":"s","time":"2026-12-01T12:00:00Z","datacontenttype":"application/json",)"
           R"("data":)" +
           data + "}";
  };
  auto ok = parse_event(event(R"({"n":-9223372036854775808,"u":18446744073709551615,"l":[1,2]})"));
  ASSERT_TRUE(ok) << ok.error().message;
  const auto wire = to_json(*ok);
  EXPECT_EQ(to_json(*parse_event(wire)), wire);
  for (const auto& [data, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"n":144444444444444444444444444444444444444444444444418})", "data.n"},
           {R"({"a":{"b":[1,{"c":0.1}]}})", "data.a.b[1].c"},
           {R"({"x":1e3})", "data.x"},
           {R"({"items":[{"price":{"amount":8.9E106}}]})", "data.items[0].price.amount"}}) {
    auto r = parse_event(event(data));
    ASSERT_FALSE(r) << data;
    EXPECT_EQ(r.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(r.error().message.find(field), std::string::npos) << r.error().message;
  }
}

}  // namespace
}  // namespace orderly::platform
