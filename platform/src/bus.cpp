// Bus port helpers: result mapping and rule validation.
#include "orderly/platform/bus.hpp"

#include <exception>

namespace orderly::platform {

DeliveryResult DeliveryResult::from(const Status& s) {
  if (s) return ok();
  if (s.error().retryable()) return retry(s.error().describe());
  return fail(s.error().describe());
}

BatchHandler each_message(std::function<Status(const Delivery&)> fn) {
  return [fn = std::move(fn)](const std::vector<Delivery>& batch) {
    std::vector<DeliveryResult> out;
    out.reserve(batch.size());
    for (const auto& d : batch) {
      try {
        out.push_back(DeliveryResult::from(fn(d)));
      } catch (const std::exception& e) {
        out.push_back(DeliveryResult::retry(std::string("exception: ") + e.what()));
      } catch (...) {
        out.push_back(DeliveryResult::retry("exception: unknown"));
      }
    }
    return out;
  };
}

Status validate_rule(const Rule& r) {
  if (r.name.empty() || r.name.size() > 64)
    return fail(ErrorKind::invalid_input, "rule name must be 1 to 64 characters");
  for (char c : r.name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == '_';
    if (!ok) return fail(ErrorKind::invalid_input, "rule '{}': name has '{}'", r.name, c);
  }
  if (!r.handler) return fail(ErrorKind::invalid_input, "rule '{}': no handler", r.name);
  const auto& o = r.options;
  if (o.batch_size < 1 || o.batch_size > 10'000)
    return fail(ErrorKind::invalid_input, "rule '{}': batch_size must be 1..10000", r.name);
  if (o.max_receive_count < 1 || o.max_receive_count > 1000)
    return fail(ErrorKind::invalid_input, "rule '{}': max_receive_count must be 1..1000", r.name);
  if (o.visibility_timeout.count() < 1)
    return fail(ErrorKind::invalid_input, "rule '{}': visibility_timeout must be positive", r.name);
  if (o.backoff_base.count() < 0 || o.backoff_cap < o.backoff_base)
    return fail(ErrorKind::invalid_input, "rule '{}': need 0 <= backoff_base <= backoff_cap",
                r.name);
  return {};
}

}  // namespace orderly::platform
