// Token buckets, refilled lazily on each acquire.
#include "orderly/adapters/http/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace orderly::adapters::http {

std::optional<std::chrono::seconds> RateLimiter::acquire(const std::string& key) {
  const std::int64_t now = platform::to_unix_ms(clock_.now());
  std::lock_guard lk(mu_);
  if (buckets_.size() > 100'000) {
    // Forget full buckets; they would be full again anyway.
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double refill = static_cast<double>(now - it->second.at_ms) / 1000.0 * limit_.rate;
      it = it->second.tokens + refill >= limit_.burst ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{limit_.burst, now});
  auto& b = it->second;
  if (!fresh) {
    b.tokens = std::min(limit_.burst,
                        b.tokens + static_cast<double>(now - b.at_ms) / 1000.0 * limit_.rate);
    b.at_ms = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  const double wait = limit_.rate > 0 ? (1.0 - b.tokens) / limit_.rate : 3600.0;
  return std::chrono::seconds(
      std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait))));
}

std::size_t RateLimiter::keys() const {
  std::lock_guard lk(mu_);
  return buckets_.size();
}

}  // namespace orderly::adapters::http
