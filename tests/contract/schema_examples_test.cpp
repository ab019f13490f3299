// Every example in schemas/events/*.schema.json decodes with the C++
// contracts (the same strict decoder the services use), and a sample of each
// type that the decoder rejects is rejected by naming the field.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "orderly/services/contracts/events.hpp"

namespace orderly {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

json::object load(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return json::parse(ss.str()).as_object();
}

TEST(SchemaExamples, EverySchemaExampleDecodesInCpp) {
  std::set<std::string> types;
  for (const auto& entry : fs::directory_iterator(ORDERLY_SCHEMAS_DIR "/events")) {
    if (entry.path().filename() == "common.schema.json") continue;
    const auto schema = load(entry.path());
    ASSERT_TRUE(schema.contains("x-orderly-type")) << entry.path();
    const std::string type(schema.at("x-orderly-type").as_string());
    types.insert(type);
    ASSERT_TRUE(schema.contains("examples")) << entry.path();
    const auto& examples = schema.at("examples").as_array();
    ASSERT_FALSE(examples.empty()) << entry.path();
    for (const auto& ex : examples) {
      auto s = services::contracts::validate_data(type, ex.as_object());
      EXPECT_TRUE(s) << type << ": " << s.error().message;
      // And an unknown field is refused, by path.
      auto extra = ex.as_object();
      extra["unexpectedField"] = 1;
      auto bad = services::contracts::validate_data(type, extra);
      ASSERT_FALSE(bad) << type;
      EXPECT_NE(bad.error().message.find("$.data.unexpectedField"), std::string::npos)
          << bad.error().message;
    }
  }
  // One schema per type the code knows, and no other.
  std::set<std::string> known;
  for (auto t : services::contracts::all_event_types()) known.emplace(t);
  EXPECT_EQ(types, known);
}

}  // namespace
}  // namespace orderly
