// JSON line logger with context, sampling and redaction.
#include "orderly/platform/log.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <mutex>
#include <random>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::platform::log {

namespace json = boost::json;

namespace {

struct State {
  Config config;
};

std::mutex g_mu;
std::shared_ptr<const State> g_state = std::make_shared<State>();
std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_spans{true};
std::atomic<double> g_sample_rate{0};

thread_local Context t_context;
thread_local bool t_sampled = false;

std::shared_ptr<const State> state() {
  std::lock_guard lk(g_mu);
  return g_state;
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool secret_name(std::string_view key) {
  std::string k;
  k.reserve(key.size());
  for (char c : key) k += lower(c);
  for (std::string_view bad : {"token", "secret", "password", "passwd", "authorization", "cookie",
                               "api_key", "apikey", "credential", "private_key"})
    if (k.find(bad) != std::string::npos) return true;
  return false;
}

bool b64url(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '=';
}

void redact_value(json::value& v);

void redact_object(json::object& o) {
  for (auto& [k, v] : o) {
    if (secret_name(k)) {
      if (!v.is_null()) v = "[REDACTED]";
    } else {
      redact_value(v);
    }
  }
}

void redact_value(json::value& v) {
  if (v.is_string()) {
    const std::string_view s = v.get_string();
    if (s.find("eyJ") != std::string_view::npos || s.find("tok_") != std::string_view::npos ||
        s.find("Bearer ") != std::string_view::npos || s.find("bearer ") != std::string_view::npos)
      v = redact_text(s);
  } else if (v.is_object()) {
    redact_object(v.get_object());
  } else if (v.is_array()) {
    for (auto& x : v.get_array()) redact_value(x);
  }
}

void rfc3339_ms(std::string& out) {
  out = format_rfc3339(std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now()));
}

}  // namespace

std::optional<Level> parse_level(std::string_view s) {
  std::string l;
  for (char c : s) l += lower(c);
  if (l == "debug") return Level::debug;
  if (l == "info") return Level::info;
  if (l == "warn" || l == "warning") return Level::warn;
  if (l == "error") return Level::error;
  return std::nullopt;
}

std::string_view to_string(Level l) {
  switch (l) {
    case Level::debug:
      return "DEBUG";
    case Level::info:
      return "INFO";
    case Level::warn:
      return "WARN";
    case Level::error:
      return "ERROR";
  }
  return "INFO";
}

void configure(Config c, bool from_env) {
  if (from_env) {
    if (const char* l = std::getenv("ORDERLY_LOG_LEVEL"))
      if (auto parsed = parse_level(l)) c.level = *parsed;
    if (const char* r = std::getenv("ORDERLY_LOG_DEBUG_SAMPLE_RATE")) {
      const double rate = std::atof(r);
      if (rate >= 0 && rate <= 1) c.debug_sample_rate = rate;
    }
  }
  redact_object(c.static_fields);
  g_level = static_cast<int>(c.level);
  g_spans = c.spans;
  g_sample_rate = c.debug_sample_rate;
  auto s = std::make_shared<State>();
  s->config = std::move(c);
  std::lock_guard lk(g_mu);
  g_state = std::move(s);
}

Level level() {
  return static_cast<Level>(g_level.load(std::memory_order_relaxed));
}

bool enabled(Level l) {
  return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed) ||
         (l == Level::debug && t_sampled);
}

bool spans_enabled() {
  return g_spans.load(std::memory_order_relaxed);
}

Scope::Scope(Context c) : saved_(t_context), saved_sampled_(t_sampled) {
  if (!c.correlation_id.empty()) t_context.correlation_id = std::move(c.correlation_id);
  if (!c.order_id.empty()) t_context.order_id = std::move(c.order_id);
  if (!c.event_id.empty()) t_context.event_id = std::move(c.event_id);
  if (!c.request_id.empty()) t_context.request_id = std::move(c.request_id);
  if (c.cold_start) t_context.cold_start = c.cold_start;
  if (!saved_sampled_) {
    const double rate = g_sample_rate.load(std::memory_order_relaxed);
    if (rate > 0) {
      thread_local std::minstd_rand rng{std::random_device{}()};
      t_sampled = std::uniform_real_distribution<double>(0, 1)(rng) < rate;
    }
  }
}

Scope::~Scope() {
  t_context = std::move(saved_);
  t_sampled = saved_sampled_;
}

std::string redact_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    // A JWT: three base64url segments, the first starting with eyJ ('{"').
    if (s.compare(i, 3, "eyJ") == 0) {
      std::size_t j = i, dots = 0;
      while (j < s.size() && (b64url(s[j]) || (s[j] == '.' && dots < 2))) {
        if (s[j] == '.') ++dots;
        ++j;
      }
      if (dots == 2) {
        out += "[REDACTED:jwt]";
        i = j;
        continue;
      }
    }
    // A payment token.
    if (s.compare(i, 4, "tok_") == 0 && (i == 0 || !b64url(s[i - 1]))) {
      std::size_t j = i + 4;
      while (j < s.size() && b64url(s[j])) ++j;
      out += "[REDACTED:payment-token]";
      i = j;
      continue;
    }
    // A bearer credential.
    if ((s.compare(i, 7, "Bearer ") == 0 || s.compare(i, 7, "bearer ") == 0)) {
      std::size_t j = i + 7;
      while (j < s.size() && s[j] != ' ' && s[j] != '"' && s[j] != ',') ++j;
      out += "Bearer [REDACTED]";
      i = j;
      continue;
    }
    out += s[i++];
  }
  return out;
}

void redact(json::object& o) {
  redact_object(o);
}

std::string format_line(Level l, std::string_view message, json::object fields) {
  const auto st = state();
  json::object line;
  line.reserve(12 + fields.size() + st->config.static_fields.size());
  std::string ts;
  rfc3339_ms(ts);
  line.emplace("timestamp", ts);
  line.emplace("level", to_string(l));
  line.emplace("service", st->config.service);
  line.emplace("message", redact_text(message));
  const auto& c = t_context;
  if (!c.correlation_id.empty()) line.emplace("correlation_id", c.correlation_id);
  if (const auto* span = current_span()) {
    line.emplace("trace_id", span->context.trace_id);
    line.emplace("span_id", span->context.span_id);
  }
  if (!c.order_id.empty()) line.emplace("order_id", c.order_id);
  if (!c.event_id.empty()) line.emplace("event_id", c.event_id);
  if (!c.request_id.empty()) line.emplace("request_id", c.request_id);
  if (c.cold_start) line.emplace("cold_start", *c.cold_start);
  for (const auto& [k, v] : st->config.static_fields)
    if (!line.contains(k)) line.emplace(k, v);
  redact_object(fields);
  for (auto& [k, v] : fields) line[k] = std::move(v);  // fields win (e.g. a span's own ids)
  return json::serialize(line);
}

void write(Level l, std::string_view message, json::object fields) {
  if (!enabled(l)) return;
  std::string text = format_line(l, message, std::move(fields));
  text += '\n';
  const auto st = state();
  if (st->config.sink) {
    text.pop_back();
    st->config.sink(text);
    return;
  }
  // One write(2) per line: lines from several threads never interleave.
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const auto n = ::write(1, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace orderly::platform::log
