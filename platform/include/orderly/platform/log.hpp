// Structured logging: one JSON object per line, with the context of the work
// at hand, and secrets redacted before anything is written.
//
//   log::configure({.service = "orders", .level = log::Level::info});
//   log::Scope scope({.request_id = req.request_id, .order_id = id});   // this thread, nested
//   log::info("order placed", {{"total", 8999}});
//   // {"timestamp":"2026-11-25T15:30:00.123Z","level":"INFO","service":"orders",
//   //  "message":"order placed","request_id":"...","order_id":"...","trace_id":"...",
//   //  "span_id":"...","total":8999}
//
// trace_id and span_id come from the current Span (trace.hpp). The level comes
// from configure() (flags) or ORDERLY_LOG_LEVEL; ORDERLY_LOG_DEBUG_SAMPLE_RATE
// (0..1) logs that fraction of scopes (requests, invocations) at DEBUG.
//
// Redaction is on by default and cannot be forgotten by a caller: any field
// whose name contains token, secret, password, authorization, cookie or
// api_key/apikey becomes "[REDACTED]" (at any depth), and JWTs ("eyJ...x.y.z"),
// "Bearer ..." credentials and payment tokens ("tok_...") are cut out of every
// string, the message included.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace orderly::platform::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };
std::optional<Level> parse_level(std::string_view s);  // debug|info|warn|error, any case
std::string_view to_string(Level l);

struct Config {
  std::string service = "orderly";
  Level level = Level::info;
  double debug_sample_rate = 0;  // fraction of scopes logged at debug
  bool spans = true;             // write a record per finished span
  // Where lines go (default: stdout, one write per line).
  std::function<void(std::string_view line)> sink;
  // Fields on every line (e.g. the Lambda function name).
  boost::json::object static_fields;
};
// Replaces the configuration; reads ORDERLY_LOG_LEVEL and
// ORDERLY_LOG_DEBUG_SAMPLE_RATE when `from_env` (they win over `c`).
void configure(Config c, bool from_env = true);
[[nodiscard]] Level level();
[[nodiscard]] bool enabled(Level l);
[[nodiscard]] bool spans_enabled();

// What is known about the work at hand; empty fields are left out.
struct Context {
  std::string correlation_id;
  std::string order_id;
  std::string event_id;
  std::string request_id;
  std::optional<bool> cold_start;
};

// Adds context for the lifetime of the scope on this thread (inner scopes add
// to and override outer ones), and draws the debug sample.
class Scope {
 public:
  explicit Scope(Context c);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  Context saved_;
  bool saved_sampled_;
};

void write(Level l, std::string_view message, boost::json::object fields = {});
inline void debug(std::string_view m, boost::json::object f = {}) {
  if (enabled(Level::debug)) write(Level::debug, m, std::move(f));
}
inline void info(std::string_view m, boost::json::object f = {}) {
  write(Level::info, m, std::move(f));
}
inline void warn(std::string_view m, boost::json::object f = {}) {
  write(Level::warn, m, std::move(f));
}
inline void error(std::string_view m, boost::json::object f = {}) {
  write(Level::error, m, std::move(f));
}

// The line write() would produce (tests, and exporters that are not stdout).
std::string format_line(Level l, std::string_view message, boost::json::object fields);

// Redaction, exposed for tests and for other writers of JSON (access logs).
void redact(boost::json::object& o);
std::string redact_text(std::string_view s);

}  // namespace orderly::platform::log
