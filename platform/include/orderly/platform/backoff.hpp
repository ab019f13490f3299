// Exponential backoff with full jitter (AWS Architecture Blog, "Exponential
// Backoff And Jitter"): delay = random(0, min(cap, base * 2^(attempt-1))).
//
//   Backoff b{100ms, 30s};
//   Millis d = b.delay(attempt, rng);  // attempt counts from 1
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

#include "orderly/platform/clock.hpp"

namespace orderly::platform {

struct Backoff {
  Millis base{100};
  Millis cap{30'000};

  // The upper bound of the jittered delay for this attempt (attempt >= 1).
  [[nodiscard]] Millis ceiling(int attempt) const noexcept {
    if (attempt < 1) attempt = 1;
    const int shift = std::min(attempt - 1, 40);
    const auto b = base.count();
    const std::int64_t limit = cap.count();
    if (b <= 0) return Millis{0};
    if (shift >= 62 || b > (limit >> shift)) return cap;
    return Millis{std::min<std::int64_t>(limit, b << shift)};
  }

  template <class Rng>
  Millis delay(int attempt, Rng& rng) const {
    const auto hi = ceiling(attempt).count();
    std::uniform_int_distribution<std::int64_t> dist(0, hi);
    return Millis{dist(rng)};
  }
};

}  // namespace orderly::platform
