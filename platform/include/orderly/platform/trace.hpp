// W3C Trace Context (traceparent) and spans written as JSON log records.
//
//   auto ctx = parse_traceparent(req.header("traceparent")).value_or(new_root());
//   Span span("POST /v1/orders", ctx);            // a child of ctx; current on this thread
//   event.traceparent = format_traceparent(current_trace()->context);
//   // ~Span writes {"message":"span","name":..,"trace_id":..,"span_id":..,
//   //               "parent_span_id":..,"duration_ms":..}
//
// Events carry the traceparent of the span that emitted them: a consumer opens
// a child span of the incoming event's traceparent, and caused_by() stamps the
// events it emits with that child span, so one trace id runs from the HTTP
// request through every event the order causes, and every hop is a span.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace orderly::platform {

struct TraceContext {
  std::string trace_id;  // 32 lower-case hex digits, not all zero
  std::string span_id;   // 16 lower-case hex digits, not all zero
  bool sampled = true;
};

// Version 00 as specified: "00-<trace-id>-<parent-id>-<flags>", lower-case hex,
// ids not all zero. Future versions (01..fe) are read by their first four
// fields, as the spec asks; version ff and anything malformed are refused.
std::optional<TraceContext> parse_traceparent(std::string_view header);
std::string format_traceparent(const TraceContext& c);

TraceContext new_root_trace();                      // fresh trace and span ids
TraceContext child_of(const TraceContext& parent);  // same trace, new span id
std::string new_span_id();

// The innermost live Span on this thread, if any.
struct ActiveSpan {
  TraceContext context;
  std::string parent_span_id;  // empty for a root
};
const ActiveSpan* current_span() noexcept;

// A finished span, for exporters (e.g. OTLP/HTTP JSON in adapters/http).
struct SpanRecord {
  std::string name;
  std::string trace_id, span_id, parent_span_id;
  std::int64_t start_unix_ns = 0, end_unix_ns = 0;
  std::string kind;  // server, consumer, internal
  boost::json::object attributes;
  std::optional<std::string> error;
};
// Receives every finished, sampled span (besides its JSON log record); empty
// to stop. Called on the thread that ends the span: keep it cheap (enqueue).
void set_span_exporter(std::function<void(const SpanRecord&)> exporter);

class Span {
 public:
  // A child of `parent` (or a new root when absent); current on this thread until destroyed.
  Span(std::string name, const std::optional<TraceContext>& parent,
       boost::json::object attributes = {});
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  [[nodiscard]] const TraceContext& context() const { return active_.context; }
  [[nodiscard]] std::string traceparent() const { return format_traceparent(active_.context); }
  void set(std::string_view key, boost::json::value v) { attributes_[key] = std::move(v); }
  // Whether this span will be exported or logged when it ends: attributes of a
  // span that is not are never read, so a hot path may skip building them.
  [[nodiscard]] bool recording() const;
  void set_error(std::string_view message);

 private:
  std::string name_;
  ActiveSpan active_;
  const ActiveSpan* previous_;
  boost::json::object attributes_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::system_clock::time_point wall_start_;
};

}  // namespace orderly::platform
