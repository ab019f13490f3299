// UUIDv7 generation (RFC 9562), monotonic within the process.
#include "orderly/platform/id.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <random>

namespace orderly::platform {
namespace {

// Set by seed_ids_for_simulation: one seeded generator for every thread.
std::atomic<bool> g_seeded{false};
std::mutex g_seeded_mu;
std::mt19937_64 g_seeded_rng;  // guarded by g_seeded_mu

std::uint64_t thread_random() {
  if (g_seeded.load(std::memory_order_acquire)) {
    std::lock_guard lk(g_seeded_mu);
    return g_seeded_rng();
  }
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  return rng();
}

// (unix ms << 12 | counter), advanced atomically so ids never repeat or go back.
std::atomic<std::uint64_t> g_last{0};

std::uint64_t next_stamp(std::int64_t now_ms) {
  const std::uint64_t candidate = static_cast<std::uint64_t>(now_ms) << 12;
  std::uint64_t last = g_last.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t next = candidate > last ? candidate : last + 1;
    if (g_last.compare_exchange_weak(last, next, std::memory_order_relaxed)) return next;
  }
}

constexpr char kHex[] = "0123456789abcdef";

std::string format_uuid(const std::array<std::uint8_t, 16>& b) {
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace

void seed_ids_for_simulation(std::uint64_t seed) {
  std::lock_guard lk(g_seeded_mu);
  g_seeded_rng.seed(seed);
  g_last.store(0);
  g_seeded.store(true, std::memory_order_release);
}

std::string new_uuid_v7(TimePoint now) {
  const std::uint64_t stamp = next_stamp(to_unix_ms(now));
  const std::uint64_t ms = stamp >> 12;
  const std::uint64_t seq = stamp & 0xfff;
  const std::uint64_t rnd = thread_random();
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  b[6] = static_cast<std::uint8_t>(0x70 | (seq >> 8));
  b[7] = static_cast<std::uint8_t>(seq & 0xff);
  for (int i = 0; i < 8; ++i) b[8 + i] = static_cast<std::uint8_t>(rnd >> (56 - 8 * i));
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));
  return format_uuid(b);
}

std::string new_uuid_v7() {
  return new_uuid_v7(SystemClock::instance().now());
}

namespace {
std::uint64_t fnv1a(std::string_view a, std::string_view b, std::uint64_t seed) {
  std::uint64_t h = seed;
  auto mix = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ULL;
    }
  };
  mix(a);
  mix(std::string_view("\x1f", 1));
  mix(b);
  // Final avalanche (splitmix64) so nearby names spread over all bits.
  h += 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}
}  // namespace

std::string derived_uuid(std::string_view space, std::string_view name) {
  const std::uint64_t hi = fnv1a(space, name, 14695981039346656037ULL);
  const std::uint64_t lo = fnv1a(space, name, 0x84222325cbf29ce4ULL);
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  b[6] = static_cast<std::uint8_t>(0x80 | (b[6] & 0x0f));  // version 8
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));  // RFC variant
  return format_uuid(b);
}

bool is_uuid(std::string_view s) noexcept {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

}  // namespace orderly::platform
