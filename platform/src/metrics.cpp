// Metrics registry and its Prometheus and EMF exporters.
#include "orderly/platform/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

namespace orderly::platform::metrics {

namespace json = boost::json;

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(new std::atomic<std::uint64_t>[bounds.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) noexcept {
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard lk(recent_mu_);
  if (recent_.size() < kMaxRecent) recent_.push_back(v);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

std::vector<double> Histogram::take_recent() {
  std::lock_guard lk(recent_mu_);
  std::vector<double> out;
  out.swap(recent_);
  return out;
}

template <class T>
T& Family<T>::with(const Labels& values) {
  std::lock_guard lk(mu_);
  auto it = children_.find(values);
  if (it != children_.end()) return *it->second;
  Labels key = values;
  key.resize(label_names_.size());  // a wrong count is padded, never a crash
  if (auto again = children_.find(key); again != children_.end()) return *again->second;
  std::unique_ptr<T> child;
  if constexpr (std::is_same_v<T, Histogram>)
    child = std::make_unique<T>(bounds_);
  else
    child = std::make_unique<T>();
  auto& ref = *child;
  children_.emplace(std::move(key), std::move(child));
  return ref;
}

template <class T>
std::vector<std::pair<Labels, T*>> Family<T>::children() const {
  std::lock_guard lk(mu_);
  std::vector<std::pair<Labels, T*>> out;
  out.reserve(children_.size());
  for (const auto& [k, v] : children_) out.emplace_back(k, v.get());
  return out;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   Labels labels) {
  std::lock_guard lk(mu_);
  auto& e = families_[name];
  if (!e.counter) {
    e.type = Type::counter;
    e.counter = std::make_unique<Family<Counter>>(name, help, std::move(labels));
  }
  return *e.counter;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help, Labels labels) {
  std::lock_guard lk(mu_);
  auto& e = families_[name];
  if (!e.gauge) {
    e.type = Type::gauge;
    e.gauge = std::make_unique<Family<Gauge>>(name, help, std::move(labels));
  }
  return *e.gauge;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       Labels labels, const std::vector<double>& bounds) {
  std::lock_guard lk(mu_);
  auto& e = families_[name];
  if (!e.histogram) {
    e.type = Type::histogram;
    e.histogram = std::make_unique<Family<Histogram>>(name, help, std::move(labels), bounds);
  }
  return *e.histogram;
}

std::uint64_t Registry::add_collector(std::function<void()> collect) {
  std::lock_guard lk(mu_);
  const auto id = next_collector_++;
  collectors_.emplace(id, std::move(collect));
  return id;
}

void Registry::set_emf_dimensions(const std::string& family, std::vector<Labels> sets) {
  std::lock_guard lk(mu_);
  emf_dimensions_[family] = std::move(sets);
}

void Registry::remove_collector(std::uint64_t id) {
  std::lock_guard lk(collect_mu_);  // waits for a collection in progress
  std::lock_guard lk2(mu_);
  collectors_.erase(id);
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

std::string label_set(const Labels& names, const Labels& values, std::string_view extra_name = {},
                      std::string_view extra_value = {}) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    out += out.empty() ? "{" : ",";
    out += names[i];
    out += "=\"";
    out += escape_label_value(i < values.size() ? values[i] : "");
    out += '"';
  }
  if (!extra_name.empty()) {
    out += out.empty() ? "{" : ",";
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  if (!out.empty()) out += '}';
  return out;
}

std::string help_text(std::string_view h) {
  std::string out;
  for (char c : h) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

}  // namespace

void Registry::run_collectors() {
  std::lock_guard collecting(collect_mu_);
  std::vector<std::function<void()>> collectors;
  {
    std::lock_guard lk(mu_);
    for (const auto& [id, c] : collectors_) collectors.push_back(c);
  }
  for (auto& c : collectors) c();
}

std::string Registry::prometheus() {
  run_collectors();
  std::lock_guard lk(mu_);
  std::string out;
  out.reserve(4096);
  for (const auto& [name, e] : families_) {
    switch (e.type) {
      case Type::counter: {
        out += fmt::format("# HELP {} {}\n# TYPE {} counter\n", name, help_text(e.counter->help()),
                           name);
        for (const auto& [labels, c] : e.counter->children())
          out += fmt::format("{}{} {}\n", name, label_set(e.counter->label_names(), labels),
                             c->value());
        break;
      }
      case Type::gauge: {
        out +=
            fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help_text(e.gauge->help()), name);
        for (const auto& [labels, g] : e.gauge->children())
          out += fmt::format("{}{} {}\n", name, label_set(e.gauge->label_names(), labels),
                             number(g->value()));
        break;
      }
      case Type::histogram: {
        const auto& f = *e.histogram;
        out += fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help_text(f.help()), name);
        for (const auto& [labels, h] : f.children()) {
          const auto snap = h->snapshot();
          std::size_t i = 0;
          for (; i + 1 < snap.cumulative.size(); ++i)
            out += fmt::format("{}_bucket{} {}\n", name,
                               label_set(f.label_names(), labels, "le", number(f.bounds()[i])),
                               snap.cumulative[i]);
          out += fmt::format("{}_bucket{} {}\n", name,
                             label_set(f.label_names(), labels, "le", "+Inf"), snap.count);
          out += fmt::format("{}_sum{} {}\n", name, label_set(f.label_names(), labels),
                             number(snap.sum));
          out +=
              fmt::format("{}_count{} {}\n", name, label_set(f.label_names(), labels), snap.count);
        }
        break;
      }
    }
  }
  return out;
}

std::vector<std::string> Registry::emf(
    std::string_view ns, const std::vector<std::pair<std::string, std::string>>& fixed,
    std::int64_t timestamp_ms) {
  run_collectors();
  std::lock_guard lk(mu_);
  std::vector<std::string> lines;
  auto emit = [&](const std::string& family, const Labels& names, const Labels& values,
                  const char* unit, json::value value) {
    std::string metric = family.starts_with("orderly_") ? family.substr(8) : family;
    json::object line;
    for (const auto& [k, v] : fixed) line[k] = v;
    for (std::size_t i = 0; i < names.size(); ++i)
      line[names[i]] = i < values.size() ? values[i] : "";
    std::vector<Labels> sets{names};
    if (auto it = emf_dimensions_.find(family); it != emf_dimensions_.end()) sets = it->second;
    json::array dimension_sets;
    for (const auto& set : sets) {
      json::array dims;
      for (const auto& [k, v] : fixed) dims.emplace_back(k);
      for (const auto& n : set) dims.emplace_back(n);
      dimension_sets.emplace_back(std::move(dims));
    }
    line[metric] = std::move(value);
    line["_aws"] = json::object{
        {"Timestamp", timestamp_ms},
        {"CloudWatchMetrics",
         json::array{json::object{
             {"Namespace", ns},
             {"Dimensions", std::move(dimension_sets)},
             {"Metrics", json::array{json::object{{"Name", metric}, {"Unit", unit}}}}}}}};
    lines.push_back(json::serialize(line));
  };
  for (const auto& [name, e] : families_) {
    if (e.type == Type::counter) {
      for (const auto& [labels, c] : e.counter->children()) {
        std::string key = name;
        for (const auto& l : labels) (key += '\x1f') += l;
        const auto now = c->value();
        auto& last = emf_last_[key];
        if (now > last) emit(name, e.counter->label_names(), labels, "Count", now - last);
        last = now;
      }
    } else if (e.type == Type::gauge) {
      for (const auto& [labels, g] : e.gauge->children())
        emit(name, e.gauge->label_names(), labels, "None", g->value());
    } else {
      const bool seconds = name.ends_with("_seconds");
      for (const auto& [labels, h] : e.histogram->children()) {
        auto recent = h->take_recent();
        if (recent.empty()) continue;
        json::array values;
        for (double v : recent) values.emplace_back(v);
        emit(name, e.histogram->label_names(), labels, seconds ? "Seconds" : "None",
             std::move(values));
      }
    }
  }
  return lines;
}

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: used from exiting threads
  return *r;
}

}  // namespace orderly::platform::metrics
