// JsonReader: strict typed reads with JSONPath error reporting.
#include "orderly/platform/json_reader.hpp"

#include <fmt/ranges.h>

#include <algorithm>

namespace orderly::platform {
namespace json = boost::json;

JsonReader::JsonReader(const json::object& o, std::string path)
    : JsonReader(o, std::move(path), std::make_shared<std::vector<FieldError>>()) {}

JsonReader::JsonReader(const json::object& o, std::string path,
                       std::shared_ptr<std::vector<FieldError>> sink)
    : o_(&o), path_(std::move(path)), errors_(std::move(sink)) {}

std::string JsonReader::path_of(std::string_view key) const {
  std::string p = path_;
  p += '.';
  p += key;
  return p;
}

void JsonReader::fail(std::string_view key, std::string message) {
  errors_->push_back({path_of(key), std::move(message)});
}

const json::value* JsonReader::find(std::string_view key, bool required) {
  read_.emplace(key);
  const auto* v = o_->if_contains(key);
  if (!v && required) fail(key, "is required");
  return v;
}

std::string JsonReader::string(std::string_view key, std::size_t min_len, std::size_t max_len) {
  const auto* v = find(key, true);
  if (!v) return {};
  if (!v->is_string()) {
    fail(key, "must be a string");
    return {};
  }
  const auto& s = v->get_string();
  // Characters as JSON Schema counts them (code points), not bytes: the text is
  // valid UTF-8 (the parser checked), so count the bytes that start a character.
  std::size_t chars = 0;
  for (const char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++chars;
  if (chars < min_len || chars > max_len) {
    fail(key, min_len == max_len ? fmt::format("must be {} characters", min_len)
                                 : fmt::format("must be {} to {} characters", min_len, max_len));
    return {};
  }
  return std::string(s);
}

std::optional<std::string> JsonReader::optional_string(std::string_view key, std::size_t min_len,
                                                       std::size_t max_len) {
  if (!o_->contains(key) || o_->at(key).is_null()) {
    read_.emplace(key);
    return std::nullopt;
  }
  const auto before = errors_->size();
  auto s = string(key, min_len, max_len);
  if (errors_->size() != before) return std::nullopt;
  return s;
}

std::string JsonReader::string_matching(std::string_view key,
                                        const std::function<bool(std::string_view)>& valid,
                                        std::string_view expected) {
  const auto* v = find(key, true);
  if (!v) return {};
  if (!v->is_string()) {
    fail(key, "must be a string");
    return {};
  }
  std::string s(v->get_string());
  if (!valid(s)) {
    fail(key, fmt::format("must be {}", expected));
    return {};
  }
  return s;
}

std::string JsonReader::one_of(std::string_view key,
                               std::initializer_list<std::string_view> allowed) {
  const auto* v = find(key, true);
  if (!v) return {};
  if (v->is_string())
    for (auto a : allowed)
      if (a == std::string_view(v->get_string())) return std::string(a);
  fail(key, fmt::format("must be one of: {}", fmt::join(allowed, ", ")));
  return {};
}

std::int64_t JsonReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  const auto* v = find(key, true);
  if (!v) return 0;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    fail(key, fmt::format("must be an integer from {} to {}", min, max));
    return 0;
  } else if (v->is_double()) {
    // 2.0 is an integer in JSON's number model; 2.5 and 1e300 are not.
    const double d = v->get_double();
    if (d != d || d < -9.2e18 || d > 9.2e18 ||
        static_cast<double>(static_cast<std::int64_t>(d)) != d) {
      fail(key, "must be an integer");
      return 0;
    }
    n = static_cast<std::int64_t>(d);
  } else {
    fail(key, "must be an integer");
    return 0;
  }
  if (n < min || n > max) {
    fail(key, fmt::format("must be an integer from {} to {}", min, max));
    return 0;
  }
  return n;
}

bool JsonReader::boolean(std::string_view key) {
  const auto* v = find(key, true);
  if (!v) return false;
  if (!v->is_bool()) {
    fail(key, "must be true or false");
    return false;
  }
  return v->get_bool();
}

std::optional<std::int64_t> JsonReader::optional_integer(std::string_view key, std::int64_t min,
                                                         std::int64_t max) {
  if (!o_->contains(key) || o_->at(key).is_null()) {
    read_.emplace(key);
    return std::nullopt;
  }
  const auto before = errors_->size();
  const auto v = integer(key, min, max);
  if (errors_->size() != before) return std::nullopt;
  return v;
}

std::optional<bool> JsonReader::optional_boolean(std::string_view key) {
  if (!o_->contains(key) || o_->at(key).is_null()) {
    read_.emplace(key);
    return std::nullopt;
  }
  const auto before = errors_->size();
  const bool b = boolean(key);
  if (errors_->size() != before) return std::nullopt;
  return b;
}

void JsonReader::object(std::string_view key, const std::function<void(JsonReader&)>& fn) {
  const auto* v = find(key, true);
  if (!v) return;
  if (!v->is_object()) {
    fail(key, "must be an object");
    return;
  }
  JsonReader child(v->get_object(), path_of(key), errors_);
  fn(child);
  child.done();
}

void JsonReader::optional_object(std::string_view key, const std::function<void(JsonReader&)>& fn) {
  if (!o_->contains(key) || o_->at(key).is_null()) {
    read_.emplace(key);
    return;
  }
  object(key, fn);
}

void JsonReader::array(std::string_view key, std::size_t min, std::size_t max,
                       const std::function<void(JsonReader&, std::size_t)>& fn) {
  const auto* v = find(key, true);
  if (!v) return;
  if (!v->is_array()) {
    fail(key, "must be an array");
    return;
  }
  const auto& a = v->get_array();
  if (a.size() < min || a.size() > max) {
    fail(key, fmt::format("must have {} to {} elements", min, max));
    return;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path_of(key), i);
    if (!a[i].is_object()) {
      errors_->push_back({p, "must be an object"});
      continue;
    }
    JsonReader child(a[i].get_object(), p, errors_);
    fn(child, i);
    child.done();
  }
}

std::vector<std::string> JsonReader::string_array(
    std::string_view key, std::size_t min, std::size_t max,
    const std::function<bool(std::string_view)>& valid, std::string_view expected) {
  std::vector<std::string> out;
  const auto* v = find(key, true);
  if (!v) return out;
  if (!v->is_array()) {
    fail(key, "must be an array");
    return out;
  }
  const auto& a = v->get_array();
  if (a.size() < min || a.size() > max) {
    fail(key, fmt::format("must have {} to {} elements", min, max));
    return out;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string p = fmt::format("{}[{}]", path_of(key), i);
    if (!a[i].is_string() || !valid(a[i].get_string())) {
      errors_->push_back({p, fmt::format("must be {}", expected)});
      continue;
    }
    out.emplace_back(a[i].get_string());
  }
  return out;
}

void JsonReader::done() {
  for (const auto& kv : *o_)
    if (!read_.count(std::string_view(kv.key()))) fail(kv.key(), "is not a known field");
}

Status JsonReader::status() const {
  if (errors_->empty()) return {};
  return invalid_fields(*errors_);
}

bool is_currency_code(std::string_view s) noexcept {
  return s.size() == 3 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool is_country_code(std::string_view s) noexcept {
  return s.size() == 2 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool is_sku(std::string_view s) noexcept {
  if (s.empty() || s.size() > 32 || s[0] == '-') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

}  // namespace orderly::platform
