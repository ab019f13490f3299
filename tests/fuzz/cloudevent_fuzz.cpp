// libFuzzer target: the CloudEvent envelope parser (platform::parse_event).
// Invariant: whatever it accepts, it writes back as text it accepts again, unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "orderly/platform/event.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto e = orderly::platform::parse_event(text);
  if (!e) return 0;
  const auto wire = orderly::platform::to_json(*e);
  auto again = orderly::platform::parse_event(wire);
  if (!again || orderly::platform::to_json(*again) != wire) std::abort();
  return 0;
}
