// Errors are values that carry their retry meaning.
//
//   Result<Item> r = store.get(key);
//   if (!r) switch (retry_action(r.error().kind)) {
//     case RetryAction::retry_call: ...        // transient: try the same call again
//     case RetryAction::retry_unit_of_work: ...// conflict: reload state, decide again
//     case RetryAction::none: ...              // permanent: DLQ or a rejection
//   }
//
// Modelled on absl::Status (kUnavailable / kAborted / kFailedPrecondition).
// Exceptions from libraries are turned into these at the adapter boundary.
// Bad input names each bad field (Error::fields), so an API lists them in
// problem+json errors[] without parsing the message:
//
//   return invalid_fields({{"$.items[0].sku", "unknown sku NOPE"}});
//
// ORDERLY_TRY propagates a failure from a function returning Result or Status:
//
//   ORDERLY_TRY(order, load(order_id));   // auto order = load(order_id); if failed, return it
//   return decide(*order);
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>
#include <vector>

namespace orderly::platform {

enum class ErrorKind {
  transient,      // the dependency may answer next time (timeout, throttling, busy)
  conflict,       // a condition or version check failed: reload and retry the unit of work
  invalid_input,  // the caller sent something malformed; retrying cannot help
  not_found,
  unauthorized,         // no or bad credentials
  forbidden,            // good credentials, not allowed
  failed_precondition,  // not allowed in the current state (e.g. cancel a delivered order)
  permanent,            // anything else that will fail the same way again
};

enum class RetryAction { retry_call, retry_unit_of_work, none };

constexpr RetryAction retry_action(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::transient:
      return RetryAction::retry_call;
    case ErrorKind::conflict:
      return RetryAction::retry_unit_of_work;
    default:
      return RetryAction::none;
  }
}

std::string_view to_string(ErrorKind k) noexcept;

// One bad field of some input, by its path (JSONPath for bodies and event data,
// the header or parameter name otherwise).
struct FieldError {
  std::string path;  // e.g. $.items[0].quantity
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

struct Error {
  ErrorKind kind = ErrorKind::permanent;
  std::string message;             // for logs: with fields, their summary
  std::vector<FieldError> fields;  // invalid_input: every bad field, in input order

  [[nodiscard]] bool retryable() const noexcept { return retry_action(kind) != RetryAction::none; }
  [[nodiscard]] std::string describe() const;

  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = Result<void>;

inline tl::unexpected<Error> make_error(ErrorKind kind, std::string message,
                                        std::vector<FieldError> fields = {}) {
  return tl::unexpected<Error>(Error{kind, std::move(message), std::move(fields)});
}

// invalid_input naming every bad field; the message joins them for logs
// ("$.a: is required; $.b: must be a string").
tl::unexpected<Error> invalid_fields(std::vector<FieldError> fields);

template <class... Args>
tl::unexpected<Error> fail(ErrorKind kind, fmt::format_string<Args...> f, Args&&... args) {
  return make_error(kind, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace orderly::platform

// Declares `auto var = expr;` and, if it failed, returns its error from the
// enclosing function (which returns a Result or a Status). Two statements: do
// not use it as the body of an unbraced if or loop.
#define ORDERLY_TRY(var, expr) \
  auto var = (expr);           \
  if (!var) return ::tl::unexpected(std::move(var).error())
