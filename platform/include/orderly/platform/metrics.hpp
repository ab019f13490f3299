// Metrics: one API, two exporters (Prometheus text locally, CloudWatch
// Embedded Metric Format in Lambda).
//
//   auto& placed = metrics::registry().counter("orderly_orders_total", "Orders by status",
//                                              {"status", "reason"});
//   placed.with({"placed", "none"}).inc();        // look the child up once, keep the reference
//   auto& d = metrics::registry().histogram("orderly_event_handler_duration_seconds", "...",
//                                           {"rule"}, metrics::kLatencyBuckets);
//   d.with({"orders.saga"}).observe(0.0021);
//   std::string text = metrics::registry().prometheus();          // GET /metrics
//   for (auto& line : metrics::registry().emf("Orderly", {{"service","orders"}})) puts(line);
//
// Children are created on first use and never removed (label values must be
// bounded: routes not paths, rules not ids). inc/observe are lock-free atomics;
// with() takes a lock, so hot paths keep the child. Collectors run before each
// export (gauges read from elsewhere, e.g. queue depths).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace orderly::platform::metrics {

inline const std::vector<double> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                 0.1,    0.25,  0.5,    1,     2.5,  5,     10};
inline const std::vector<double> kSagaBuckets{0.05, 0.1, 0.25, 0.5, 1,   2.5, 5,
                                              10,   30,  60,   120, 300, 900};

using Labels = std::vector<std::string>;

class Counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

class Gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  [[nodiscard]] double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void observe(double v) noexcept;
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  [[nodiscard]] Snapshot snapshot() const;
  // Observations since the last take (for EMF), at most `max` kept per take.
  std::vector<double> take_recent();

 private:
  const std::vector<double>& bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<double> sum_{0};
  std::atomic<std::uint64_t> count_{0};
  std::mutex recent_mu_;
  std::vector<double> recent_;
  static constexpr std::size_t kMaxRecent = 100;
};

enum class Type { counter, gauge, histogram };

template <class T>
class Family {
 public:
  Family(std::string name, std::string help, Labels label_names, std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  // The child for these label values (one per label name), created on first use.
  T& with(const Labels& values);
  T& with(std::initializer_list<std::string_view> values) {
    Labels l;
    l.reserve(values.size());
    for (auto v : values) l.emplace_back(v);
    return with(l);
  }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& help() const { return help_; }
  [[nodiscard]] const Labels& label_names() const { return label_names_; }
  [[nodiscard]] const std::vector<double>& bounds() const { return bounds_; }
  // A copy of (label values, child) pairs, for exporters.
  std::vector<std::pair<Labels, T*>> children() const;

 private:
  std::string name_, help_;
  Labels label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<T>> children_;
};

class Registry {
 public:
  Family<Counter>& counter(const std::string& name, const std::string& help, Labels labels = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help, Labels labels = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help, Labels labels,
                               const std::vector<double>& bounds = kLatencyBuckets);
  // The EMF dimension sets of a family (label names; the fixed dimensions are
  // prepended); by default one set with every label. A set without a label
  // rolls it up: CloudWatch sums the values over it.
  void set_emf_dimensions(const std::string& family, std::vector<Labels> sets);
  // Returns an id for remove_collector (an owner that dies first must remove its collector).
  std::uint64_t add_collector(std::function<void()> collect);
  void remove_collector(std::uint64_t id);

  // Prometheus text exposition format 0.0.4.
  std::string prometheus();
  // CloudWatch EMF: one JSON line per child that changed since the last call,
  // with the dimensions {fixed..., labels...}; metric names lose the "orderly_"
  // prefix; counters report their increase, histograms their recent values.
  std::vector<std::string> emf(std::string_view ns,
                               const std::vector<std::pair<std::string, std::string>>& fixed,
                               std::int64_t timestamp_ms);

 private:
  void run_collectors();
  struct Entry {
    Type type;
    std::unique_ptr<Family<Counter>> counter;
    std::unique_ptr<Family<Gauge>> gauge;
    std::unique_ptr<Family<Histogram>> histogram;
  };
  std::mutex mu_;
  std::mutex collect_mu_;  // held while collectors run
  std::map<std::string, Entry> families_;
  std::map<std::uint64_t, std::function<void()>> collectors_;
  std::uint64_t next_collector_ = 1;
  std::map<std::string, std::uint64_t> emf_last_;
  std::map<std::string, std::vector<Labels>>
      emf_dimensions_;  // counter values at the last EMF export
};

// The process-wide registry every part of Orderly records into.
Registry& registry();

// Escaping for the text format.
std::string escape_label_value(std::string_view v);

}  // namespace orderly::platform::metrics
