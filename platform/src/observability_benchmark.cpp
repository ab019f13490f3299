// The cost of observability per event: what make_rule adds to every delivery
// (trace parse, log scope, consumer span, counters, histogram) and its parts.
//
//   build/bench/observability_benchmark
#include <benchmark/benchmark.h>

#include <chrono>

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/trace.hpp"

namespace {

using namespace orderly::platform;

const std::string kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

void quiet_logs(bool spans) {
  // Formats every line as in production, then drops it (no I/O in the figure).
  log::configure({.service = "bench",
                  .spans = spans,
                  .sink = [](std::string_view l) { benchmark::DoNotOptimize(l.data()); }},
                 false);
}

void BM_CounterIncCachedChild(benchmark::State& st) {
  auto& c = metrics::registry()
                .counter("bench_counter_total", "b", {"rule", "type", "outcome"})
                .with({"orders.saga", "orderly.inventory.InventoryReserved.v1", "ok"});
  for (auto _ : st) c.inc();
}
BENCHMARK(BM_CounterIncCachedChild);

void BM_CounterIncWithLabelLookup(benchmark::State& st) {
  auto& f = metrics::registry().counter("bench_counter2_total", "b", {"rule", "type", "outcome"});
  for (auto _ : st) f.with({"orders.saga", "orderly.inventory.InventoryReserved.v1", "ok"}).inc();
}
BENCHMARK(BM_CounterIncWithLabelLookup);

void BM_HistogramObserve(benchmark::State& st) {
  auto& h = metrics::registry().histogram("bench_seconds", "b", {"rule"}).with({"orders.saga"});
  double v = 0.0001;
  for (auto _ : st) {
    h.observe(v);
    v = v < 5 ? v * 1.01 : 0.0001;
    // keep the EMF buffer from filling forever
    if ((st.iterations() & 63) == 0) benchmark::DoNotOptimize(h.take_recent());
  }
}
BENCHMARK(BM_HistogramObserve);

void BM_ParseTraceparent(benchmark::State& st) {
  for (auto _ : st) benchmark::DoNotOptimize(parse_traceparent(kParent));
}
BENCHMARK(BM_ParseTraceparent);

void BM_SpanNotLogged(benchmark::State& st) {
  quiet_logs(false);
  const auto parent = parse_traceparent(kParent);
  for (auto _ : st) {
    Span s("handle orderly.inventory.InventoryReserved.v1", parent);
    benchmark::DoNotOptimize(s.context().span_id.data());
  }
}
BENCHMARK(BM_SpanNotLogged);

void BM_SpanLoggedAsJson(benchmark::State& st) {
  quiet_logs(true);
  const auto parent = parse_traceparent(kParent);
  for (auto _ : st) {
    Span s("handle orderly.inventory.InventoryReserved.v1", parent,
           {{"kind", "consumer"}, {"rule", "orders.saga"}, {"event_id", "0192f0c4-6a00-7b3c"}});
  }
}
BENCHMARK(BM_SpanLoggedAsJson);

void BM_LogLineWithScope(benchmark::State& st) {
  quiet_logs(true);
  log::Scope scope({.correlation_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d2e",
                    .order_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d2f",
                    .event_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d30"});
  for (auto _ : st) log::info("delivery failed", {{"rule", "orders.saga"}, {"receive_count", 2}});
}
BENCHMARK(BM_LogLineWithScope);

// Everything make_rule adds to one delivery, spans logged (the default) or not.
void per_event(benchmark::State& st, bool spans) {
  quiet_logs(spans);
  auto& consumed =
      metrics::registry().counter("bench_consumed_total", "b", {"rule", "type", "outcome"});
  auto& duration =
      metrics::registry().histogram("bench_handler_seconds", "b", {"rule"}).with({"orders.saga"});
  auto& retries = metrics::registry().counter("bench_retries_total", "b", {"rule"}).with({"r"});
  int n = 0;
  for (auto _ : st) {
    const auto start = std::chrono::steady_clock::now();
    auto parent = parse_traceparent(kParent);
    log::Scope scope({.correlation_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d2e",
                      .order_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d2f",
                      .event_id = "0192f0c4-6a00-7b3c-8d21-4f6a8b0c1d30"});
    Span span("handle orderly.inventory.InventoryReserved.v1", parent,
              {{"kind", "consumer"}, {"rule", "orders.saga"}, {"event_id", "0192f0c4"}});
    if (++n % 10 == 0) retries.inc();
    duration.observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    consumed.with({"orders.saga", "orderly.inventory.InventoryReserved.v1", "ok"}).inc();
    if ((n & 63) == 0) benchmark::DoNotOptimize(duration.take_recent());
  }
}
void BM_PerEventInstrumentationSpansLogged(benchmark::State& st) {
  per_event(st, true);
}
void BM_PerEventInstrumentationSpansOff(benchmark::State& st) {
  per_event(st, false);
}
BENCHMARK(BM_PerEventInstrumentationSpansLogged);
BENCHMARK(BM_PerEventInstrumentationSpansOff);

void BM_PrometheusExport200Series(benchmark::State& st) {
  metrics::Registry r;
  auto& c = r.counter("orderly_events_consumed_total", "c", {"rule", "type", "outcome"});
  for (int i = 0; i < 150; ++i)
    c.with({"rule" + std::to_string(i % 8), "type" + std::to_string(i), "ok"}).inc();
  auto& h =
      r.histogram("orderly_http_request_duration_seconds", "h", {"route", "method", "status"});
  for (int i = 0; i < 50; ++i) h.with({"/v1/r" + std::to_string(i), "GET", "200"}).observe(0.01);
  for (auto _ : st) benchmark::DoNotOptimize(r.prometheus());
}
BENCHMARK(BM_PrometheusExport200Series);

}  // namespace

BENCHMARK_MAIN();
