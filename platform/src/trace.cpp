// W3C traceparent and spans.
#include "orderly/platform/trace.hpp"

#include <atomic>
#include <memory>
#include <mutex>
#include <random>

#include "orderly/platform/log.hpp"

namespace orderly::platform {

namespace {

thread_local const ActiveSpan* t_current = nullptr;

std::mutex g_exporter_mu;
std::shared_ptr<const std::function<void(const SpanRecord&)>> g_exporter;
std::atomic<bool> g_has_exporter{false};

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

void set_span_exporter(std::function<void(const SpanRecord&)> exporter) {
  std::lock_guard lk(g_exporter_mu);
  g_has_exporter = static_cast<bool>(exporter);
  g_exporter =
      exporter ? std::make_shared<const std::function<void(const SpanRecord&)>>(std::move(exporter))
               : nullptr;
}

const ActiveSpan* current_span() noexcept {
  return t_current;
}

Span::Span(std::string name, const std::optional<TraceContext>& parent,
           boost::json::object attributes)
    : name_(std::move(name)),
      previous_(t_current),
      attributes_(std::move(attributes)),
      start_(std::chrono::steady_clock::now()),
      wall_start_(std::chrono::system_clock::now()) {
  if (parent) {
    active_.context = child_of(*parent);
    active_.parent_span_id = parent->span_id;
  } else {
    active_.context = new_root_trace();
  }
  t_current = &active_;
}

bool Span::recording() const {
  return active_.context.sampled &&
         (g_has_exporter.load(std::memory_order_relaxed) || log::spans_enabled());
}

void Span::set_error(std::string_view message) {
  attributes_["error"] = message;
}

Span::~Span() {
  t_current = previous_;
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  if (!active_.context.sampled) return;
  if (g_has_exporter.load(std::memory_order_relaxed)) {
    std::shared_ptr<const std::function<void(const SpanRecord&)>> exporter;
    {
      std::lock_guard lk(g_exporter_mu);
      exporter = g_exporter;
    }
    if (exporter) {
      SpanRecord r;
      r.name = name_;
      r.trace_id = active_.context.trace_id;
      r.span_id = active_.context.span_id;
      r.parent_span_id = active_.parent_span_id;
      r.start_unix_ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(wall_start_.time_since_epoch())
              .count();
      r.end_unix_ns = r.start_unix_ns + static_cast<std::int64_t>(ms * 1e6);
      if (const auto* k = attributes_.if_contains("kind"); k && k->is_string())
        r.kind = std::string(k->get_string());
      if (const auto* e = attributes_.if_contains("error"); e && e->is_string())
        r.error = std::string(e->get_string());
      r.attributes = attributes_;
      log::redact(r.attributes);
      (*exporter)(r);
    }
  }
  if (!log::spans_enabled()) return;
  boost::json::object fields = std::move(attributes_);
  fields["name"] = name_;
  fields["trace_id"] = active_.context.trace_id;
  fields["span_id"] = active_.context.span_id;
  if (!active_.parent_span_id.empty()) fields["parent_span_id"] = active_.parent_span_id;
  fields["duration_ms"] = ms;
  log::write(log::Level::info, "span", std::move(fields));
}

}  // namespace orderly::platform
