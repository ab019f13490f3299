// CloudEvents 1.0 JSON structured mode: building, serialising, strict parsing.
#include "orderly/platform/event.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>

#include "orderly/platform/id.hpp"
#include "orderly/platform/trace.hpp"

namespace orderly::platform {
namespace json = boost::json;

CloudEvent make_event(std::string source, std::string type, std::string subject, json::object data,
                      TimePoint now) {
  CloudEvent e;
  e.id = new_uuid_v7(now);
  e.source = std::move(source);
  e.type = std::move(type);
  e.time = format_rfc3339(now);
  e.subject = std::move(subject);
  e.data = std::move(data);
  e.correlationid = e.id;
  return e;
}

void caused_by(CloudEvent& next, const CloudEvent& cause) {
  next.causationid = cause.id;
  next.correlationid = cause.correlationid ? cause.correlationid : cause.id;
  if (cause.traceparent) next.traceparent = cause.traceparent;
  // Handling `cause` is a span of the same trace: the new event is its child.
  if (const auto* span = current_span();
      span &&
      (!cause.traceparent || cause.traceparent->compare(3, 32, span->context.trace_id) == 0))
    next.traceparent = format_traceparent(span->context);
}

json::object to_json_object(const CloudEvent& e) {
  json::object o;
  o.reserve(12);
  o.emplace("specversion", e.specversion);
  o.emplace("id", e.id);
  o.emplace("source", e.source);
  o.emplace("type", e.type);
  o.emplace("subject", e.subject);
  o.emplace("time", e.time);
  o.emplace("datacontenttype", e.datacontenttype);
  if (e.traceparent) o.emplace("traceparent", *e.traceparent);
  if (e.partitionkey) o.emplace("partitionkey", *e.partitionkey);
  if (e.correlationid) o.emplace("correlationid", *e.correlationid);
  if (e.causationid) o.emplace("causationid", *e.causationid);
  o.emplace("data", e.data);
  return o;
}

std::string to_json(const CloudEvent& e) {
  return json::serialize(to_json_object(e));
}

namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

int num(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::string> required_string(const json::object& o, std::string_view field) {
  const auto* v = o.if_contains(field);
  if (!v) return fail(ErrorKind::invalid_input, "field '{}': required", field);
  if (!v->is_string()) return fail(ErrorKind::invalid_input, "field '{}': must be a string", field);
  const auto& s = v->get_string();
  if (s.empty()) return fail(ErrorKind::invalid_input, "field '{}': must not be empty", field);
  if (s.size() > 1024)
    return fail(ErrorKind::invalid_input, "field '{}': longer than 1024 characters", field);
  return std::string(s);
}

}  // namespace

bool is_rfc3339(std::string_view s) noexcept {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (s.size() < 20) return false;
  if (!digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' || !digits(s, 8, 2))
    return false;
  if (s[10] != 'T' && s[10] != 't') return false;
  if (!digits(s, 11, 2) || s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
    return false;
  const int month = num(s, 5, 2), day = num(s, 8, 2), hour = num(s, 11, 2), minute = num(s, 14, 2),
            second = num(s, 17, 2);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return false;
  std::size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const std::size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start || i - start > 9) return false;
  }
  if (i == s.size()) return false;
  if ((s[i] == 'Z' || s[i] == 'z') && i + 1 == s.size()) return true;
  if ((s[i] == '+' || s[i] == '-') && i + 6 == s.size() && digits(s, i + 1, 2) && s[i + 3] == ':' &&
      digits(s, i + 4, 2))
    return num(s, i + 1, 2) <= 23 && num(s, i + 4, 2) <= 59;
  return false;
}

bool is_traceparent(std::string_view s) noexcept {
  // version "00": 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>, ids not all zero.
  if (s.size() != 55 || s[2] != '-' || s[35] != '-' || s[52] != '-') return false;
  const auto version = s.substr(0, 2), trace = s.substr(3, 32), parent = s.substr(36, 16),
             flags = s.substr(53, 2);
  if (!is_lower_hex(version) || !is_lower_hex(trace) || !is_lower_hex(parent) ||
      !is_lower_hex(flags))
    return false;
  if (version == "ff") return false;
  if (trace.find_first_not_of('0') == std::string_view::npos) return false;
  if (parent.find_first_not_of('0') == std::string_view::npos) return false;
  return true;
}

namespace {

// Every number in an event's data is an integer (every schema in
// schemas/events says so: money in minor units, counts). A non-integer, or an
// integer beyond 64 bits (which JSON parsers read as a double), is refused:
// Boost.JSON 1.81 does not read decimals correctly rounded, so such a number
// could come back as another double each time the event is relayed (found by
// tests/fuzz/cloudevent_fuzz: 8.9E106 and 8.899999999999999E106 read as each
// other). The path of the first one is returned.
std::optional<std::string> first_double(const json::value& v, const std::string& path) {
  if (v.is_double()) return path;
  if (v.is_object()) {
    for (const auto& kv : v.get_object())
      if (auto p = first_double(kv.value(), path + "." + std::string(kv.key()))) return p;
  } else if (v.is_array()) {
    std::size_t i = 0;
    for (const auto& x : v.get_array())
      if (auto p = first_double(x, path + "[" + std::to_string(i++) + "]")) return p;
  }
  return std::nullopt;
}

}  // namespace

Result<CloudEvent> event_from_json(const json::value& v) {
  if (!v.is_object()) return fail(ErrorKind::invalid_input, "event: must be a JSON object");
  const auto& o = v.get_object();
  for (const auto& kv : o) {
    const auto k = kv.key();
    static constexpr std::string_view known[] = {
        "specversion",     "id",   "source",      "type",         "subject",       "time",
        "datacontenttype", "data", "traceparent", "partitionkey", "correlationid", "causationid"};
    bool ok = false;
    for (auto n : known) ok = ok || n == k;
    if (!ok) return fail(ErrorKind::invalid_input, "field '{}': unknown attribute", k);
  }
  CloudEvent e;
  auto take = [&](std::string_view field, std::string& out) -> Status {
    auto s = required_string(o, field);
    if (!s) return tl::unexpected(s.error());
    out = std::move(*s);
    return {};
  };
  if (auto s = take("specversion", e.specversion); !s) return tl::unexpected(s.error());
  if (e.specversion != "1.0")
    return fail(ErrorKind::invalid_input, "field 'specversion': must be \"1.0\", got \"{}\"",
                e.specversion);
  for (auto [field, out] : {std::pair<std::string_view, std::string*>{"id", &e.id},
                            {"source", &e.source},
                            {"type", &e.type},
                            {"subject", &e.subject},
                            {"time", &e.time},
                            {"datacontenttype", &e.datacontenttype}}) {
    if (auto s = take(field, *out); !s) return tl::unexpected(s.error());
  }
  if (!is_rfc3339(e.time))
    return fail(ErrorKind::invalid_input, "field 'time': not an RFC 3339 timestamp: \"{}\"",
                e.time);
  if (e.datacontenttype != "application/json")
    return fail(ErrorKind::invalid_input,
                "field 'datacontenttype': must be \"application/json\", got \"{}\"",
                e.datacontenttype);
  const auto* data = o.if_contains("data");
  if (!data) return fail(ErrorKind::invalid_input, "field 'data': required");
  if (!data->is_object()) return fail(ErrorKind::invalid_input, "field 'data': must be an object");
  e.data = data->get_object();
  for (const auto& kv : e.data)
    if (auto p = first_double(kv.value(), "data." + std::string(kv.key())))
      return fail(ErrorKind::invalid_input,
                  "field '{}': numbers in event data are integers of at most 64 bits", *p);

  for (auto [field, out] :
       {std::pair<std::string_view, std::optional<std::string>*>{"traceparent", &e.traceparent},
        {"partitionkey", &e.partitionkey},
        {"correlationid", &e.correlationid},
        {"causationid", &e.causationid}}) {
    if (o.contains(field)) {
      auto s = required_string(o, field);
      if (!s) return tl::unexpected(s.error());
      *out = std::move(*s);
    }
  }
  if (e.traceparent && !is_traceparent(*e.traceparent))
    return fail(ErrorKind::invalid_input, "field 'traceparent': not a W3C traceparent: \"{}\"",
                *e.traceparent);
  return e;
}

std::size_t pipe_entry_bytes(const CloudEvent& e) {
  const std::string escaped = json::serialize(json::value(json::string(to_json(e))));
  // {"event": {"S": <escaped>}}: what PIPE_INPUT_TEMPLATE makes of the NewImage.
  constexpr std::string_view kDetailFrame = R"({"event": {"S": }})";
  constexpr std::size_t kTimeBytes = 14;
  return kTimeBytes + e.source.size() + e.type.size() + kDetailFrame.size() + escaped.size();
}

Result<CloudEvent> parse_event(std::string_view text) {
  if (text.size() > kMaxEventBytes)
    return fail(ErrorKind::invalid_input, "event: {} bytes is over the {}-byte limit", text.size(),
                kMaxEventBytes);
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  auto v = json::parse(text, ec, {}, opts);
  if (ec) return fail(ErrorKind::invalid_input, "event: malformed JSON: {}", ec.message());
  return event_from_json(v);
}

}  // namespace orderly::platform
