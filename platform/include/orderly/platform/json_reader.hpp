// JsonReader: strict, typed reads of a JSON object that collect every problem
// with its JSON path, instead of stopping at the first.
//
//   JsonReader r{body};
//   auto sku = r.string("sku", 1, 32);
//   auto qty = r.integer("quantity", 1, 1000);
//   r.array("items", 1, 100, [&](JsonReader& item, std::size_t) { ... });
//   r.done();                       // unknown keys are errors too
//   if (!r.ok()) return r.status(); // invalid_input, fields: {"$.items[3].quantity", "must be
//   ..."}
//
// Used to decode event data (bad data goes to the DLQ with the reason) and
// request bodies (the gateway lists every bad field in problem+json).
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/error.hpp"

namespace orderly::platform {

class JsonReader {
 public:
  explicit JsonReader(const boost::json::object& o, std::string path = "$");

  std::string string(std::string_view key, std::size_t min_len, std::size_t max_len);
  std::optional<std::string> optional_string(std::string_view key, std::size_t min_len,
                                             std::size_t max_len);
  // A string that `valid` accepts; `expected` says what it should look like.
  std::string string_matching(std::string_view key,
                              const std::function<bool(std::string_view)>& valid,
                              std::string_view expected);
  std::string one_of(std::string_view key, std::initializer_list<std::string_view> allowed);
  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max);
  // Absent or null: nullopt.
  std::optional<std::int64_t> optional_integer(std::string_view key, std::int64_t min,
                                               std::int64_t max);
  bool boolean(std::string_view key);
  std::optional<bool> optional_boolean(std::string_view key);  // absent or null: nullopt

  // Reads a nested object; `fn` reads its fields; unknown keys in it are errors.
  void object(std::string_view key, const std::function<void(JsonReader&)>& fn);
  void optional_object(std::string_view key, const std::function<void(JsonReader&)>& fn);
  // Reads an array of objects; `fn` is called for each element with its index.
  void array(std::string_view key, std::size_t min, std::size_t max,
             const std::function<void(JsonReader&, std::size_t)>& fn);

  // Reads an array of strings, each of which `valid` accepts.
  std::vector<std::string> string_array(std::string_view key, std::size_t min, std::size_t max,
                                        const std::function<bool(std::string_view)>& valid,
                                        std::string_view expected);

  // Accepts and ignores a field (e.g. client-sent prices the server recomputes).
  void ignore(std::string_view key) { read_.emplace(key); }
  // Marks keys not read so far as unknown. Call once, after the reads.
  void done();

  void fail(std::string_view key, std::string message);
  [[nodiscard]] bool ok() const { return errors_->empty(); }
  [[nodiscard]] const std::vector<FieldError>& errors() const { return *errors_; }
  // invalid_input carrying every error in Error::fields (and joined in its
  // message, for logs), or ok.
  [[nodiscard]] Status status() const;
  [[nodiscard]] std::string path_of(std::string_view key) const;

 private:
  JsonReader(const boost::json::object& o, std::string path,
             std::shared_ptr<std::vector<FieldError>> sink);
  const boost::json::value* find(std::string_view key, bool required);

  const boost::json::object* o_;
  std::string path_;
  std::shared_ptr<std::vector<FieldError>> errors_;
  std::set<std::string, std::less<>> read_;
};

// Money, SKUs, ISO codes: validators shared by services and the gateway.
bool is_currency_code(std::string_view s) noexcept;  // ISO 4217 shape: three upper-case letters
bool is_country_code(std::string_view s) noexcept;   // ISO 3166-1 alpha-2 shape
bool is_sku(std::string_view s) noexcept;            // ^[A-Z0-9][A-Z0-9-]{0,31}$

}  // namespace orderly::platform
