// Base64 and base64url, both ways.
#include "orderly/platform/base64.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace orderly::platform {
namespace {

TEST(Base64, RoundTripsInBothAlphabets) {
  for (const std::string& s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                       "foobar", std::string("\0\xff\xfe", 3)}) {
    EXPECT_EQ(base64_decode(base64_encode(s)), s);
    EXPECT_EQ(base64_decode(base64_encode(s, Base64::url), Base64::url), s);
  }
}

TEST(Base64, Rfc4648VectorsAndAlphabets) {
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("\xfb\xff"), "+/8=");
  EXPECT_EQ(base64_encode("\xfb\xff", Base64::url), "-_8");
}

TEST(Base64, RejectsJunk) {
  EXPECT_FALSE(base64_decode("a"));
  EXPECT_FALSE(base64_decode("ab+/", Base64::url));
  EXPECT_FALSE(base64_decode("-_8=", Base64::standard));
  EXPECT_FALSE(base64_decode("***"));
}

}  // namespace
}  // namespace orderly::platform
