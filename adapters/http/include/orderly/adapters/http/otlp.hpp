// OtlpExporter: finished spans, batched and sent to an OpenTelemetry collector
// with OTLP/HTTP in its JSON encoding (POST <endpoint>/v1/traces,
// Content-Type application/json), without an OpenTelemetry library (ADR 0011).
//
//   auto otlp = OtlpExporter::start({.endpoint = "http://127.0.0.1:4318", .service = "orderly"});
//   platform::set_span_exporter([&](const SpanRecord& s) { (*otlp)->enqueue(s); });
//   ...
//   (*otlp)->stop();   // flushes what is queued
//
// Best effort, as telemetry should be: a full queue drops spans (counted), a
// failed POST drops its batch (counted, logged); the request path never waits
// on the collector.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "orderly/platform/error.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::adapters::http {

struct OtlpOptions {
  std::string endpoint;  // collector base URL, e.g. http://127.0.0.1:4318
  std::string service = "orderly";
  std::size_t batch = 256;
  std::chrono::milliseconds interval{1'000};
  std::size_t max_queue = 10'000;
};

// The OTLP/JSON ExportTraceServiceRequest for these spans (exposed for tests).
boost::json::object otlp_traces_request(const std::vector<platform::SpanRecord>& spans,
                                        const std::string& service);

class OtlpExporter {
 public:
  static platform::Result<std::unique_ptr<OtlpExporter>> start(OtlpOptions options);
  ~OtlpExporter();
  void enqueue(const platform::SpanRecord& span);
  void stop();  // sends what is queued, then returns
  struct Stats {
    std::uint64_t exported = 0, dropped = 0, failed_batches = 0;
  };
  [[nodiscard]] Stats stats() const;

  struct Impl;

 private:
  explicit OtlpExporter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::adapters::http
