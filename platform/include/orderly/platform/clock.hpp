// Time as a port, so tests of backoff, visibility and timers never sleep.
//
//   ManualClock clock{from_unix_ms(1'700'000'000'000)};
//   bus.pump();            // nothing due yet
//   clock.advance(5s);
//   bus.pump();            // the delayed message is delivered
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace orderly::platform {

using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
using Millis = std::chrono::milliseconds;

constexpr TimePoint from_unix_ms(std::int64_t ms) {
  return TimePoint{Millis{ms}};
}
constexpr std::int64_t to_unix_ms(TimePoint t) {
  return t.time_since_epoch().count();
}

// RFC 3339 with milliseconds in UTC, e.g. 2026-11-25T12:00:00.123Z.
std::string format_rfc3339(TimePoint t);
// The inverse of format_rfc3339 (also without fraction, any number of fraction
// digits, 'Z' or a numeric offset); empty when malformed.
std::optional<TimePoint> parse_rfc3339(std::string_view s);

class Clock {
 public:
  virtual ~Clock() = default;
  [[nodiscard]] virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override;
  static SystemClock& instance();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = from_unix_ms(1'767'225'600'000))  // 2026-01-01
      : ms_(to_unix_ms(start)) {}
  [[nodiscard]] TimePoint now() const override { return from_unix_ms(ms_.load()); }
  void advance(Millis d) { ms_.fetch_add(d.count()); }
  void set(TimePoint t) { ms_.store(to_unix_ms(t)); }

 private:
  std::atomic<std::int64_t> ms_;
};

}  // namespace orderly::platform
