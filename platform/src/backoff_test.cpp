// Full-jitter backoff: bounds and growth.
#include "orderly/platform/backoff.hpp"

#include <gtest/gtest.h>

#include <random>

namespace orderly::platform {
namespace {

TEST(Backoff, CeilingDoublesUntilTheCap) {
  const Backoff b{Millis{100}, Millis{5'000}};
  EXPECT_EQ(b.ceiling(1), Millis{100});
  EXPECT_EQ(b.ceiling(2), Millis{200});
  EXPECT_EQ(b.ceiling(3), Millis{400});
  EXPECT_EQ(b.ceiling(6), Millis{3'200});
  EXPECT_EQ(b.ceiling(7), Millis{5'000});
  EXPECT_EQ(b.ceiling(1'000), Millis{5'000});  // no overflow
  EXPECT_EQ(b.ceiling(0), Millis{100});
}

TEST(Backoff, FullJitterStaysWithinZeroAndTheCeilingAndSpreads) {
  const Backoff b{Millis{100}, Millis{5'000}};
  std::mt19937_64 rng{42};
  for (int attempt = 1; attempt <= 10; ++attempt) {
    Millis lo{1'000'000}, hi{-1};
    double sum = 0;
    constexpr int kN = 4'000;
    for (int i = 0; i < kN; ++i) {
      const auto d = b.delay(attempt, rng);
      ASSERT_GE(d.count(), 0);
      ASSERT_LE(d, b.ceiling(attempt));
      lo = std::min(lo, d);
      hi = std::max(hi, d);
      sum += static_cast<double>(d.count());
    }
    const double ceiling = static_cast<double>(b.ceiling(attempt).count());
    // Full jitter is uniform on [0, ceiling]: the mean sits near the middle.
    EXPECT_NEAR(sum / kN, ceiling / 2, ceiling * 0.05) << attempt;
    EXPECT_LT(lo.count(), ceiling * 0.05);
    EXPECT_GT(hi.count(), ceiling * 0.95);
  }
}

TEST(Backoff, ZeroBaseMeansNoDelay) {
  const Backoff b{Millis{0}, Millis{0}};
  std::mt19937_64 rng{1};
  EXPECT_EQ(b.delay(5, rng), Millis{0});
}

}  // namespace
}  // namespace orderly::platform
