// libFuzzer target: the EventBridge-style pattern matcher. The input is a
// pattern and an event, split at the first NUL byte; both are parsed, and any
// pattern that parses is matched against any event object that parses.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "orderly/platform/event_pattern.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const auto nul = all.find('\0');
  const auto pattern_text = all.substr(0, nul);
  const auto event_text =
      nul == std::string_view::npos ? std::string_view("{}") : all.substr(nul + 1);
  auto pattern = orderly::platform::EventPattern::parse(pattern_text);
  if (!pattern) return 0;
  boost::system::error_code ec;
  auto event = boost::json::parse(event_text, ec);
  if (ec || !event.is_object()) return 0;
  (void)pattern->matches(event.as_object());
  return 0;
}
