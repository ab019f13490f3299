// AttributeValue <-> plain JSON, both ways (see attribute_value.hpp).
#include "orderly/adapters/aws/attribute_value.hpp"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

namespace orderly::adapters::aws {

namespace json = boost::json;
using platform::ErrorKind;
using platform::fail;
using platform::Result;

namespace {

std::string number_text(const json::value& v) {
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return fmt::format("{}", v.get_double());
}

}  // namespace

json::object to_attribute_value(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return {{"NULL", true}};
    case json::kind::bool_:
      return {{"BOOL", v.get_bool()}};
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return {{"N", number_text(v)}};
    case json::kind::string:
      return {{"S", v.get_string()}};
    case json::kind::array: {
      json::array l;
      l.reserve(v.get_array().size());
      for (const auto& x : v.get_array()) l.emplace_back(to_attribute_value(x));
      return {{"L", std::move(l)}};
    }
    case json::kind::object: {
      json::object m;
      for (const auto& [k, x] : v.get_object()) m.emplace(k, to_attribute_value(x));
      return {{"M", std::move(m)}};
    }
  }
  return {{"NULL", true}};
}

Result<json::value> from_attribute_value(const json::value& av) {
  if (!av.is_object() || av.get_object().size() != 1)
    return fail(ErrorKind::permanent, "dynamodb: malformed AttributeValue {}", json::serialize(av));
  const auto& [tag, val] = *av.get_object().begin();
  if (tag == "S" && val.is_string()) return json::value(val.get_string());
  if (tag == "BOOL" && val.is_bool()) return json::value(val.get_bool());
  if (tag == "NULL") return json::value(nullptr);
  if (tag == "N" && val.is_string()) {
    const std::string_view s = val.get_string();
    if (s.find_first_of(".eE") == std::string_view::npos) {
      std::int64_t i = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
      if (ec == std::errc() && p == s.data() + s.size()) return json::value(i);
      std::uint64_t u = 0;
      auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), u);
      if (ec2 == std::errc() && p2 == s.data() + s.size()) return json::value(u);
    }
    char* end = nullptr;
    const std::string copy(s);
    const double d = std::strtod(copy.c_str(), &end);
    if (end && *end == '\0' && !copy.empty()) return json::value(d);
    return fail(ErrorKind::permanent, "dynamodb: bad number {}", copy);
  }
  if (tag == "L" && val.is_array()) {
    json::array out;
    for (const auto& x : val.get_array()) {
      auto e = from_attribute_value(x);
      if (!e) return e;
      out.push_back(std::move(*e));
    }
    return json::value(std::move(out));
  }
  if (tag == "M" && val.is_object()) {
    json::object out;
    for (const auto& [k, x] : val.get_object()) {
      auto e = from_attribute_value(x);
      if (!e) return e;
      out.emplace(k, std::move(*e));
    }
    return json::value(std::move(out));
  }
  return fail(ErrorKind::permanent, "dynamodb: unsupported AttributeValue type {}",
              std::string_view(tag));
}

}  // namespace orderly::adapters::aws
