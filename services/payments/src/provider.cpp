// The simulated payment provider.
#include "orderly/services/payments/provider.hpp"

namespace orderly::services::payments {

using platform::ErrorKind;

Result<AuthResult> SimulatedProvider::authorize(const std::string& key, const std::string& token,
                                                const Money&) {
  std::lock_guard lk(mu_);
  auto& a = accounts_[key];
  ++a.authorize_calls;
  if (token == "tok_ok") {
    a.authorized = true;
    return AuthResult{AuthDecision::approved, {}};
  }
  if (token == "tok_flaky") {
    if (a.authorize_calls <= 2)
      return platform::fail(ErrorKind::transient, "provider unavailable (simulated, attempt {})",
                            a.authorize_calls);
    a.authorized = true;
    return AuthResult{AuthDecision::approved, {}};
  }
  if (token == "tok_timeout") return AuthResult{AuthDecision::pending, {}};
  if (token == "tok_decline") return AuthResult{AuthDecision::declined, "card declined"};
  return AuthResult{AuthDecision::declined, "unknown payment token"};
}

Status SimulatedProvider::capture(const std::string& key, const Money& amount) {
  std::lock_guard lk(mu_);
  auto& a = accounts_[key];
  if (a.captured) return {};  // idempotent
  if (!a.authorized || a.voided)
    return platform::fail(ErrorKind::failed_precondition, "nothing authorised to capture for {}",
                          key);
  a.captured = true;
  ++a.captures;
  a.captured_amount = amount;
  return {};
}

Status SimulatedProvider::void_authorization(const std::string& key) {
  std::lock_guard lk(mu_);
  auto& a = accounts_[key];
  if (a.captured)
    return platform::fail(ErrorKind::failed_precondition, "{} is captured: refund it instead", key);
  a.voided = true;
  return {};
}

Status SimulatedProvider::refund(const std::string& key, const Money& amount) {
  std::lock_guard lk(mu_);
  auto& a = accounts_[key];
  if (a.refunded) return {};  // idempotent
  if (!a.captured)
    return platform::fail(ErrorKind::failed_precondition, "{} was not captured", key);
  a.refunded = true;
  ++a.refunds;
  a.refunded_amount = amount;
  return {};
}

std::map<std::string, SimulatedProvider::Account> SimulatedProvider::accounts() const {
  std::lock_guard lk(mu_);
  return accounts_;
}

}  // namespace orderly::services::payments
