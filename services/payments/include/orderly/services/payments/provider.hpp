// The payment provider port, and the simulator that stands in for a real one.
//
// Every call carries an idempotency key (the payment id): calling again with
// the same key never charges, voids or refunds twice, as real providers
// (Stripe, Adyen) guarantee. That is what makes retrying the unit of work
// around a provider call safe.
//
// Simulated tokens: tok_ok approves; tok_decline declines; tok_timeout never
// answers (stays pending; the saga timeout cancels); tok_flaky fails
// transiently twice, then approves. Any other token is declined.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "orderly/platform/item_store.hpp"
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

class SimulatedProvider final : public PaymentProvider {
 public:
  struct Account {
    int authorize_calls = 0;
    bool authorized = false;
    bool captured = false;
    bool voided = false;
    bool refunded = false;
    int captures = 0;  // distinct captures the provider performed: must never exceed 1
    int refunds = 0;
    Money captured_amount;
    Money refunded_amount;
  };

  // With a store, the provider's own ledger survives restarts, as a real
  // provider's would (without one, a restart would forget authorisations).
  explicit SimulatedProvider(platform::ItemStore* ledger = nullptr) : ledger_(ledger) {}

  Result<AuthResult> authorize(const std::string& key, const std::string& token,
                               const Money& amount) override;
  Status capture(const std::string& key, const Money& amount) override;
  Status void_authorization(const std::string& key) override;
  Status refund(const std::string& key, const Money& amount) override;

  // What the provider did, by idempotency key (for invariant checks).
  std::map<std::string, Account> accounts() const;

 private:
  Account& load(const std::string& key);  // under mu_
  Status save(const std::string& key);    // under mu_

  platform::ItemStore* ledger_;
  mutable std::mutex mu_;
  std::map<std::string, Account> accounts_;
};

}  // namespace orderly::services::payments
