// UUIDv7 (monotonic, well-formed) and derived UUIDv8 ids.
#include "orderly/platform/id.hpp"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace orderly::platform {
namespace {

TEST(UuidV7, HasVersionAndVariantBits) {
  const auto id =
      new_uuid_v7(from_unix_ms(4'102'444'800'000));  // 2100-01-01, later than any id made before
  ASSERT_TRUE(is_uuid(id));
  EXPECT_EQ(id[14], '7');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
  EXPECT_EQ(id.substr(0, 13), "03bb2cc3-d800");  // 48-bit big-endian ms timestamp
}

TEST(UuidV7, SortsInCreationOrderEvenWithinOneMillisecondAndBackwardClock) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10'000; ++i) ids.push_back(new_uuid_v7(from_unix_ms(4'200'000'000'000)));
  ids.push_back(new_uuid_v7(from_unix_ms(1'000)));  // the clock went back
  for (std::size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << i;
}

TEST(UuidV7, UniqueAcrossThreads) {
  std::vector<std::vector<std::string>> per(4);
  std::vector<std::thread> ts;
  for (auto& v : per)
    ts.emplace_back([&v] {
      for (int i = 0; i < 5'000; ++i) v.push_back(new_uuid_v7());
    });
  for (auto& t : ts) t.join();
  std::set<std::string> all;
  for (auto& v : per) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 20'000u);
}

TEST(DerivedUuid, IsStableDistinctAndVersion8) {
  const auto a = derived_uuid("payment", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(a, derived_uuid("payment", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
  EXPECT_NE(a, derived_uuid("shipment", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"));
  EXPECT_NE(a, derived_uuid("payment", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"));
  EXPECT_TRUE(is_uuid(a));
  EXPECT_EQ(a[14], '8');
  std::set<std::string> many;
  for (int i = 0; i < 10'000; ++i) many.insert(derived_uuid("x", std::to_string(i)));
  EXPECT_EQ(many.size(), 10'000u);
}

TEST(UuidV7, ValidatorRejectsNonUuids) {
  EXPECT_FALSE(is_uuid(""));
  EXPECT_FALSE(is_uuid("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5"));
  EXPECT_FALSE(is_uuid("0193a1b2xc3d4-7e5f-8a9b-0c1d2e3f4a5b"));
  EXPECT_FALSE(is_uuid("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5g"));
}

}  // namespace
}  // namespace orderly::platform
