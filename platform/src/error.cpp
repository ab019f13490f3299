// Names of error kinds, for logs and problem details; field errors.
#include "orderly/platform/error.hpp"

namespace orderly::platform {

std::string_view to_string(ErrorKind k) noexcept {
  switch (k) {
    case ErrorKind::transient:
      return "transient";
    case ErrorKind::conflict:
      return "conflict";
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::unauthorized:
      return "unauthorized";
    case ErrorKind::forbidden:
      return "forbidden";
    case ErrorKind::failed_precondition:
      return "failed_precondition";
    case ErrorKind::permanent:
      return "permanent";
  }
  return "unknown";
}

tl::unexpected<Error> invalid_fields(std::vector<FieldError> fields) {
  std::string msg;
  for (const auto& f : fields) {
    if (!msg.empty()) msg += "; ";
    msg += f.path + ": " + f.message;
  }
  return make_error(ErrorKind::invalid_input, std::move(msg), std::move(fields));
}

std::string Error::describe() const {
  return fmt::format("{}: {}", to_string(kind), message);
}

}  // namespace orderly::platform
