// EventBridge-style pattern compilation and matching.
#include "orderly/platform/event_pattern.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <variant>

namespace orderly::platform {
namespace json = boost::json;

namespace {

enum class Op { lt, le, gt, ge, eq };

struct Matcher {
  enum class Kind {
    literal,
    prefix,
    suffix,
    ignore_case,
    anything_but,
    anything_but_prefix,
    exists,
    numeric
  };
  Kind kind = Kind::literal;
  json::value literal;                // literal
  std::vector<json::value> excluded;  // anything_but
  std::string text;                   // prefix, suffix, ignore_case, anything_but_prefix
  bool exists = true;
  std::vector<std::pair<Op, double>> bounds;  // numeric
};

bool number_of(const json::value& v, double& out) {
  if (v.is_double())
    out = v.get_double();
  else if (v.is_int64())
    out = static_cast<double>(v.get_int64());
  else if (v.is_uint64())
    out = static_cast<double>(v.get_uint64());
  else
    return false;
  return true;
}

bool same_literal(const json::value& a, const json::value& b) {
  double x = 0, y = 0;
  if (number_of(a, x) && number_of(b, y)) return x == y;
  return a == b;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

bool match_scalar(const Matcher& m, const json::value& v) {
  switch (m.kind) {
    case Matcher::Kind::literal:
      return same_literal(m.literal, v);
    case Matcher::Kind::prefix:
      return v.is_string() && std::string_view(v.get_string()).starts_with(m.text);
    case Matcher::Kind::suffix:
      return v.is_string() && std::string_view(v.get_string()).ends_with(m.text);
    case Matcher::Kind::ignore_case:
      return v.is_string() && iequals(v.get_string(), m.text);
    case Matcher::Kind::anything_but:
      if (v.is_object() || v.is_array()) return false;
      for (const auto& x : m.excluded)
        if (same_literal(x, v)) return false;
      return true;
    case Matcher::Kind::anything_but_prefix:
      return v.is_string() && !std::string_view(v.get_string()).starts_with(m.text);
    case Matcher::Kind::exists:
      return m.exists;
    case Matcher::Kind::numeric: {
      double x = 0;
      if (!number_of(v, x)) return false;
      for (auto [op, n] : m.bounds) {
        bool ok = false;
        switch (op) {
          case Op::lt:
            ok = x < n;
            break;
          case Op::le:
            ok = x <= n;
            break;
          case Op::gt:
            ok = x > n;
            break;
          case Op::ge:
            ok = x >= n;
            break;
          case Op::eq:
            ok = x == n;
            break;
        }
        if (!ok) return false;
      }
      return true;
    }
  }
  return false;
}

Result<Matcher> compile_matcher(const json::value& v, const std::string& path) {
  Matcher m;
  if (!v.is_object()) {
    if (v.is_array()) return fail(ErrorKind::invalid_input, "pattern {}: nested arrays", path);
    m.literal = v;
    return m;
  }
  const auto& o = v.get_object();
  if (o.size() != 1)
    return fail(ErrorKind::invalid_input, "pattern {}: a matcher object has exactly one key", path);
  // Not a structured binding: clang before 16 cannot capture one in a lambda.
  const std::string_view k = o.begin()->key();
  const boost::json::value& arg = o.begin()->value();
  auto need_string = [&](Matcher::Kind kind) -> Result<Matcher> {
    if (!arg.is_string())
      return fail(ErrorKind::invalid_input, "pattern {}: \"{}\" takes a string", path, k);
    m.kind = kind;
    m.text = std::string(arg.get_string());
    return m;
  };
  if (k == "prefix") return need_string(Matcher::Kind::prefix);
  if (k == "suffix") return need_string(Matcher::Kind::suffix);
  if (k == "equals-ignore-case") return need_string(Matcher::Kind::ignore_case);
  if (k == "exists") {
    if (!arg.is_bool())
      return fail(ErrorKind::invalid_input, "pattern {}: \"exists\" takes true or false", path);
    m.kind = Matcher::Kind::exists;
    m.exists = arg.get_bool();
    return m;
  }
  if (k == "anything-but") {
    m.kind = Matcher::Kind::anything_but;
    if (arg.is_object()) {
      const auto& ao = arg.get_object();
      if (ao.size() == 1 && ao.contains("prefix") && ao.at("prefix").is_string()) {
        m.kind = Matcher::Kind::anything_but_prefix;
        m.text = std::string(ao.at("prefix").get_string());
        return m;
      }
      return fail(ErrorKind::invalid_input,
                  "pattern {}: \"anything-but\" takes a value, a list or {{\"prefix\": s}}", path);
    }
    if (arg.is_array()) {
      if (arg.get_array().empty())
        return fail(ErrorKind::invalid_input, "pattern {}: empty \"anything-but\" list", path);
      for (const auto& x : arg.get_array()) {
        if (x.is_object() || x.is_array())
          return fail(ErrorKind::invalid_input, "pattern {}: \"anything-but\" lists literals",
                      path);
        m.excluded.push_back(x);
      }
    } else {
      m.excluded.push_back(arg);
    }
    return m;
  }
  if (k == "numeric") {
    if (!arg.is_array() || arg.get_array().empty() || arg.get_array().size() % 2 != 0 ||
        arg.get_array().size() > 4)
      return fail(ErrorKind::invalid_input,
                  "pattern {}: \"numeric\" takes [op, n] or [op, n, op, n]", path);
    m.kind = Matcher::Kind::numeric;
    const auto& a = arg.get_array();
    for (std::size_t i = 0; i < a.size(); i += 2) {
      if (!a[i].is_string())
        return fail(ErrorKind::invalid_input, "pattern {}: numeric operator must be a string",
                    path);
      const std::string_view op = a[i].get_string();
      Op parsed{};
      if (op == "<")
        parsed = Op::lt;
      else if (op == "<=")
        parsed = Op::le;
      else if (op == ">")
        parsed = Op::gt;
      else if (op == ">=")
        parsed = Op::ge;
      else if (op == "=")
        parsed = Op::eq;
      else
        return fail(ErrorKind::invalid_input, "pattern {}: unknown numeric operator \"{}\"", path,
                    op);
      double n = 0;
      if (!number_of(a[i + 1], n))
        return fail(ErrorKind::invalid_input, "pattern {}: numeric bound must be a number", path);
      m.bounds.emplace_back(parsed, n);
    }
    return m;
  }
  return fail(ErrorKind::invalid_input, "pattern {}: unknown matcher \"{}\"", path, k);
}

}  // namespace

struct EventPattern::Node {
  struct Field {
    std::string name;
    std::vector<Matcher> matchers;    // a leaf, or
    std::shared_ptr<const Node> sub;  // a nested object
  };
  std::vector<Field> fields;

  bool matches(const json::object& o) const {
    for (const auto& f : fields) {
      const json::value* v = o.if_contains(f.name);
      if (f.sub) {
        if (!v || !v->is_object() || !f.sub->matches(v->get_object())) return false;
        continue;
      }
      bool hit = false;
      if (!v) {
        for (const auto& m : f.matchers)
          hit = hit || (m.kind == Matcher::Kind::exists && !m.exists);
      } else if (v->is_array()) {
        for (const auto& m : f.matchers) {
          if (m.kind == Matcher::Kind::exists) {
            hit = hit || m.exists;
            continue;
          }
          for (const auto& el : v->get_array()) hit = hit || match_scalar(m, el);
        }
      } else {
        for (const auto& m : f.matchers) hit = hit || match_scalar(m, *v);
      }
      if (!hit) return false;
    }
    return true;
  }
};

namespace {

Result<std::shared_ptr<const EventPattern::Node>> compile(const json::object& o,
                                                          const std::string& path) {
  auto node = std::make_shared<EventPattern::Node>();
  for (const auto& [k, v] : o) {
    const std::string p = path.empty() ? std::string(k) : path + "." + std::string(k);
    EventPattern::Node::Field f;
    f.name = std::string(k);
    if (v.is_object()) {
      auto sub = compile(v.get_object(), p);
      if (!sub) return tl::unexpected(sub.error());
      f.sub = *sub;
    } else if (v.is_array()) {
      if (v.get_array().empty())
        return fail(ErrorKind::invalid_input, "pattern {}: empty list matches nothing", p);
      for (const auto& alt : v.get_array()) {
        auto m = compile_matcher(alt, p);
        if (!m) return tl::unexpected(m.error());
        f.matchers.push_back(std::move(*m));
      }
    } else {
      return fail(ErrorKind::invalid_input, "pattern {}: must be a list or an object", p);
    }
    node->fields.push_back(std::move(f));
  }
  return std::shared_ptr<const EventPattern::Node>(std::move(node));
}

}  // namespace

EventPattern::EventPattern() : source_(json::object{}), root_(std::make_shared<Node>()) {}
EventPattern::~EventPattern() = default;
EventPattern::EventPattern(const EventPattern&) = default;
EventPattern& EventPattern::operator=(const EventPattern&) = default;
EventPattern::EventPattern(EventPattern&&) noexcept = default;
EventPattern& EventPattern::operator=(EventPattern&&) noexcept = default;

Result<EventPattern> EventPattern::from_json(const json::value& v) {
  if (!v.is_object()) return fail(ErrorKind::invalid_input, "pattern: must be a JSON object");
  auto root = compile(v.get_object(), "");
  if (!root) return tl::unexpected(root.error());
  EventPattern p;
  p.source_ = v;
  p.root_ = *root;
  return p;
}

Result<EventPattern> EventPattern::parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return fail(ErrorKind::invalid_input, "pattern: malformed JSON: {}", ec.message());
  return from_json(v);
}

EventPattern EventPattern::for_types(const std::vector<std::string>& types) {
  json::array a;
  for (const auto& t : types) a.emplace_back(t);
  auto p = from_json(json::object{{"type", std::move(a)}});
  return std::move(*p);  // literals always compile
}

bool EventPattern::matches(const json::object& event) const {
  return root_->matches(event);
}

bool EventPattern::matches(const CloudEvent& e) const {
  return matches(to_json_object(e));
}

std::vector<std::string> EventPattern::literal_types() const {
  std::vector<std::string> out;
  if (const auto* t = source_.as_object().if_contains("type"); t && t->is_array())
    for (const auto& x : t->get_array())
      if (x.is_string()) out.emplace_back(x.get_string());
  return out;
}

}  // namespace orderly::platform
