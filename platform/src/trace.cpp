// W3C traceparent and spans.
#include "orderly/platform/trace.hpp"

#include <random>

#include "orderly/platform/log.hpp"

namespace orderly::platform {

namespace {

thread_local const ActiveSpan* t_current = nullptr;

bool lower_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}
bool all_zero(std::string_view s) noexcept {
  return s.find_first_not_of('0') == std::string_view::npos;
}

std::string random_hex(std::size_t digits) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(digits);
  while (out.size() < digits) {
    auto v = rng();
    for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out += kHex[v & 0xf];
  }
  if (all_zero(out)) out.back() = '1';
  return out;
}

}  // namespace

std::optional<TraceContext> parse_traceparent(std::string_view h) {
  // 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55 characters for version 00.
  if (h.size() < 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  const auto version = h.substr(0, 2), trace = h.substr(3, 32), span = h.substr(36, 16),
             flags = h.substr(53, 2);
  if (!lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && h.size() != 55) return std::nullopt;
  if (version != "00" && h.size() > 55 && h[55] != '-') return std::nullopt;
  if (!lower_hex(trace) || !lower_hex(span) || !lower_hex(flags)) return std::nullopt;
  if (all_zero(trace) || all_zero(span)) return std::nullopt;
  const int f = std::stoi(std::string(flags), nullptr, 16);
  return TraceContext{std::string(trace), std::string(span), (f & 1) != 0};
}

std::string format_traceparent(const TraceContext& c) {
  std::string out = "00-";
  out += c.trace_id;
  out += '-';
  out += c.span_id;
  out += c.sampled ? "-01" : "-00";
  return out;
}

std::string new_span_id() {
  return random_hex(16);
}

TraceContext new_root_trace() {
  return {random_hex(32), random_hex(16), true};
}

TraceContext child_of(const TraceContext& parent) {
  return {parent.trace_id, random_hex(16), parent.sampled};
}

const ActiveSpan* current_span() noexcept {
  return t_current;
}

Span::Span(std::string name, const std::optional<TraceContext>& parent,
           boost::json::object attributes)
    : name_(std::move(name)),
      previous_(t_current),
      attributes_(std::move(attributes)),
      start_(std::chrono::steady_clock::now()) {
  if (parent) {
    active_.context = child_of(*parent);
    active_.parent_span_id = parent->span_id;
  } else {
    active_.context = new_root_trace();
  }
  t_current = &active_;
}

void Span::set_error(std::string_view message) {
  attributes_["error"] = message;
}

Span::~Span() {
  t_current = previous_;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (!active_.context.sampled) return;
  boost::json::object fields = std::move(attributes_);
  fields["name"] = name_;
  fields["trace_id"] = active_.context.trace_id;
  fields["span_id"] = active_.context.span_id;
  if (!active_.parent_span_id.empty()) fields["parent_span_id"] = active_.parent_span_id;
  fields["duration_ms"] = ms;
  if (log::spans_enabled()) log::write(log::Level::info, "span", std::move(fields));
}

}  // namespace orderly::platform
