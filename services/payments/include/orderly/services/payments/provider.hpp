// The payment provider port (simulated_provider.hpp holds the stand-in for a real one).
//
// Every call carries an idempotency key (the payment id): calling again with
// the same key never charges, voids or refunds twice, as real providers
// (Stripe, Adyen) guarantee. That is what makes retrying the unit of work
// around a provider call safe.
#pragma once

#include <string>

#include "orderly/services/contracts/events.hpp"

namespace orderly::services::payments {

using contracts::Money;
using platform::Result;
using platform::Status;

enum class AuthDecision { approved, declined, pending };

struct AuthResult {
  AuthDecision decision = AuthDecision::approved;
  std::string reason;  // for declines
};

class PaymentProvider {
 public:
  virtual ~PaymentProvider() = default;
  // transient errors mean "try again"; the bus retries with backoff.
  virtual Result<AuthResult> authorize(const std::string& key, const std::string& token,
                                       const Money& amount) = 0;
  virtual Status capture(const std::string& key, const Money& amount) = 0;
  virtual Status void_authorization(const std::string& key) = 0;
  virtual Status refund(const std::string& key, const Money& amount) = 0;
};

}  // namespace orderly::services::payments
