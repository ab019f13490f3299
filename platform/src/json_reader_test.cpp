// JsonReader: every bad field reported by its JSON path.
#include "orderly/platform/json_reader.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace orderly::platform {
namespace {
namespace json = boost::json;

struct Line {
  std::string sku;
  std::int64_t quantity = 0;
};

std::vector<FieldError> read_order(std::string_view text, std::vector<Line>* out = nullptr) {
  auto v = json::parse(text).as_object();
  JsonReader r{v};
  r.array("items", 1, 3, [&](JsonReader& item, std::size_t) {
    Line l;
    l.sku = item.string_matching("sku", is_sku, "an upper-case SKU");
    l.quantity = item.integer("quantity", 1, 1000);
    if (out) out->push_back(l);
  });
  r.object("address", [](JsonReader& a) {
    a.string("city", 1, 10);
    (void)a.optional_string("line2", 0, 10);
    a.string_matching("country", is_country_code, "an ISO 3166-1 alpha-2 code");
  });
  (void)r.one_of("channel", {"email", "sms"});
  r.done();
  return r.errors();
}

TEST(JsonReader, ReadsAValidDocument) {
  std::vector<Line> lines;
  auto errors = read_order(
      R"({"items":[{"sku":"SKU-1","quantity":2},{"sku":"B","quantity":3.0}],
          "address":{"city":"Leeds","country":"GB"},"channel":"sms"})",
      &lines);
  EXPECT_TRUE(errors.empty()) << errors[0].path << " " << errors[0].message;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1].quantity, 3);
}

TEST(JsonReader, ListsEveryBadFieldByItsPath) {
  auto errors = read_order(R"({"items":[{"sku":"bad sku","quantity":0},{"sku":"A","quantity":2.5},
                                         {"quantity":"1","extra":true}],
                               "address":{"city":"Much Longer Than Ten","country":"gb"},
                               "channel":"pigeon","unexpected":1})");
  std::vector<std::string> paths;
  for (const auto& e : errors) paths.push_back(e.path);
  EXPECT_EQ(paths, (std::vector<std::string>{
                       "$.items[0].sku", "$.items[0].quantity", "$.items[1].quantity",
                       "$.items[2].sku", "$.items[2].quantity", "$.items[2].extra",
                       "$.address.city", "$.address.country", "$.channel", "$.unexpected"}));
}

TEST(JsonReader, RejectsWrongShapesAndOverflow) {
  for (
      const char* text :
      {R"({"items":{},"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[],"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[1],"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[{"sku":"A","quantity":18446744073709551615}],"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[{"sku":"A","quantity":1e300}],"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[{"sku":"A","quantity":-1}],"address":{"city":"x","country":"GB"},"channel":"sms"})",
       R"({"items":[{"sku":"A","quantity":1}],"address":[],"channel":"sms"})"}) {
    EXPECT_FALSE(read_order(text).empty()) << text;
  }
}

TEST(JsonReader, StatusJoinsEveryError) {
  auto v = json::parse(R"({"a":1})").as_object();
  JsonReader r{v};
  (void)r.string("a", 1, 5);
  (void)r.boolean("b");
  r.done();
  auto s = r.status();
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_EQ(s.error().message, "$.a: must be a string; $.b: is required");
  // The same errors, structured: an API lists them without parsing the message.
  EXPECT_EQ(s.error().fields,
            (std::vector<FieldError>{{"$.a", "must be a string"}, {"$.b", "is required"}}));
}

TEST(Validators, CodesAndSkus) {
  EXPECT_TRUE(is_currency_code("GBP"));
  EXPECT_FALSE(is_currency_code("gbp"));
  EXPECT_FALSE(is_currency_code("GB"));
  EXPECT_TRUE(is_country_code("GB"));
  EXPECT_FALSE(is_country_code("GBR"));
  EXPECT_TRUE(is_sku("SKU-0001"));
  EXPECT_FALSE(is_sku("-SKU"));
  EXPECT_FALSE(is_sku("sku"));
  EXPECT_FALSE(is_sku(std::string(33, 'A')));
}

}  // namespace
}  // namespace orderly::platform

namespace orderly::platform {
namespace {

// Lengths are characters (code points), as in the JSON Schemas, not bytes.
TEST(JsonReaderLengths, CountCharactersNotBytes) {
  auto read = [](const std::string& text) {
    boost::json::object o{{"name", text}};
    JsonReader r(o);
    auto got = r.string("name", 1, 150);
    return std::make_pair(got, r.errors().size());
  };
  std::string accented, emoji;
  for (int i = 0; i < 150; ++i) accented += "\xc3\xa9";       // é: 2 bytes, 1 character
  for (int i = 0; i < 150; ++i) emoji += "\xf0\x9f\x93\xa6";  // 📦: 4 bytes, 1 character
  EXPECT_EQ(read(accented).second, 0u);
  EXPECT_EQ(read(accented).first, accented);
  EXPECT_EQ(read(emoji).second, 0u);
  EXPECT_EQ(read(accented + "\xc3\xa9").second, 1u);  // 151 characters
  EXPECT_EQ(read(std::string(150, 'a')).second, 0u);
  EXPECT_EQ(read(std::string(151, 'a')).second, 1u);
  EXPECT_EQ(read("").second, 1u);
}

}  // namespace
}  // namespace orderly::platform
