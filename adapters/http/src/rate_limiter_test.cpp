// Token buckets per subject: burst, refill, Retry-After.
#include "orderly/adapters/http/rate_limiter.hpp"

#include <gtest/gtest.h>

namespace orderly::adapters::http {
namespace {

TEST(RateLimiter, AllowsTheBurstThenRefillsAtTheRate) {
  platform::ManualClock clock;
  RateLimiter limit{{.rate = 2, .burst = 5}, clock};
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.acquire("alice")) << i;
  auto wait = limit.acquire("alice");
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, std::chrono::seconds(1));
  EXPECT_FALSE(limit.acquire("bob"));  // keys are independent
  clock.advance(platform::Millis{500});
  EXPECT_FALSE(limit.acquire("alice"));  // one token came back
  EXPECT_TRUE(limit.acquire("alice"));
  clock.advance(platform::Millis{60'000});
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(limit.acquire("alice"));  // never more than the burst
  EXPECT_TRUE(limit.acquire("alice"));
}

TEST(RateLimiter, ZeroRateWaitsLong) {
  platform::ManualClock clock;
  RateLimiter limit{{.rate = 0, .burst = 1}, clock};
  EXPECT_FALSE(limit.acquire("k"));
  auto wait = limit.acquire("k");
  ASSERT_TRUE(wait);
  EXPECT_GE(wait->count(), 60);
}

}  // namespace
}  // namespace orderly::adapters::http
