// A token bucket per key (the token's subject, or the client address).
//
//   RateLimiter limit{{.rate = 100, .burst = 200}, clock};
//   if (auto wait = limit.acquire(subject)) return 429 with Retry-After: *wait;
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "orderly/platform/clock.hpp"

namespace orderly::adapters::http {

struct RateLimit {
  double rate = 100;   // tokens per second, per key
  double burst = 200;  // bucket size
};

class RateLimiter {
 public:
  RateLimiter(RateLimit limit, const platform::Clock& clock) : limit_(limit), clock_(clock) {}
  // nullopt when allowed; otherwise whole seconds until a token is available (>= 1).
  std::optional<std::chrono::seconds> acquire(const std::string& key);
  [[nodiscard]] std::size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    std::int64_t at_ms;
  };
  RateLimit limit_;
  const platform::Clock& clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace orderly::adapters::http
