// The simulated payment provider: the stand-in for a real one (Stripe, Adyen)
// locally and in tests. Idempotent by key, as the port requires.
//
// Tokens: tok_ok approves; tok_decline declines; tok_timeout never answers
// (stays pending; the saga timeout cancels); tok_flaky fails transiently
// twice, then approves. Any other token is declined.
//
//   SimulatedProvider provider{&ledger_store};   // the ledger survives restarts
//   PaymentsService payments{store, clock, provider};
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "orderly/platform/item_store.hpp"
#include "orderly/services/payments/provider.hpp"

namespace orderly::services::payments {

class SimulatedProvider final : public PaymentProvider {
 public:
  struct Account {
    int authorize_calls = 0;
    bool authorized = false;
    bool captured = false;
    bool voided = false;
    bool refunded = false;
    // Every capture and refund asked for under this key, replays included: a
    // retry after a crash between the call and its commit shows here. The
    // money moves once (captured, refunded), as with a real provider, which
    // answers a replay with the first outcome and refuses one whose amount
    // differs.
    int capture_calls = 0;
    int refund_calls = 0;
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
  Result<Account> load(const std::string& key);           // under mu_
  Status save(const std::string& key, const Account& a);  // under mu_
  // Capture or refund, as data: the fields it counts and sets, and when it
  // is refused (the reason), for move_money().
  struct MoneyCall {
    int Account::*calls;
    bool Account::*done;
    Money Account::*amount;
    const char* past;  // "captured for", "refunded"
    std::optional<std::string> (*refuse)(const Account&, const std::string& key);
  };
  Status move_money(const std::string& key, const Money& amount, const MoneyCall& call);

  platform::ItemStore* ledger_;
  mutable std::mutex mu_;
  std::map<std::string, Account> accounts_;  // the accounts when there is no ledger
};

}  // namespace orderly::services::payments
