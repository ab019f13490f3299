// The simulated payment provider.
#include "orderly/services/payments/simulated_provider.hpp"

namespace orderly::services::payments {

using platform::ErrorKind;

namespace {
boost::json::object to_json(const SimulatedProvider::Account& a) {
  return {{"authorizeCalls", a.authorize_calls},
          {"authorized", a.authorized},
          {"captured", a.captured},
          {"voided", a.voided},
          {"refunded", a.refunded},
          {"captures", a.captures},
          {"refunds", a.refunds},
          {"capturedAmount", contracts::encode(a.captured_amount)},
          {"refundedAmount", contracts::encode(a.refunded_amount)}};
}
}  // namespace

SimulatedProvider::Account& SimulatedProvider::load(const std::string& key) {
  auto it = accounts_.find(key);
  if (it != accounts_.end() || !ledger_) return accounts_[key];
  Account a;
  if (auto item = ledger_->get("ACCOUNT", key); item && *item) {
    const auto& o = (*item)->attrs;
    auto i = [&](const char* f) {
      return o.contains(f) && o.at(f).is_int64() ? static_cast<int>(o.at(f).as_int64()) : 0;
    };
    auto b = [&](const char* f) { return o.contains(f) && o.at(f).is_bool() && o.at(f).as_bool(); };
    auto m = [&](const char* f) {
      Money x;
      if (o.contains(f) && o.at(f).is_object()) {
        platform::JsonReader r{o.at(f).as_object()};
        x.amount = r.integer("amount", 0, INT64_MAX);
        x.currency = r.string("currency", 0, 3);
      }
      return x;
    };
    a = Account{i("authorizeCalls"), b("authorized"),     b("captured"),
                b("voided"),         b("refunded"),       i("captures"),
                i("refunds"),        m("capturedAmount"), m("refundedAmount")};
  }
  return accounts_[key] = a;
}

Status SimulatedProvider::save(const std::string& key) {
  if (!ledger_) return {};
  auto r =
      ledger_->put(platform::Item{"ACCOUNT", key, 0, to_json(accounts_[key]), std::nullopt}, {});
  if (!r)
    return platform::fail(ErrorKind::transient, "provider ledger unavailable: {}",
                          r.error().message);
  return {};
}

Result<AuthResult> SimulatedProvider::authorize(const std::string& key, const std::string& token,
                                                const Money&) {
  std::lock_guard lk(mu_);
  auto& a = load(key);
  ++a.authorize_calls;
  if (auto s = save(key); !s) return tl::unexpected(s.error());
  // A voided payment id is finished: it cannot be authorised afterwards (a
  // late authorisation racing a cancel must not open a hold).
  if (a.voided) return AuthResult{AuthDecision::declined, "voided before authorisation"};
  if (token == "tok_ok") {
    a.authorized = true;
    if (auto s = save(key); !s) return tl::unexpected(s.error());
    return AuthResult{AuthDecision::approved, {}};
  }
  if (token == "tok_flaky") {
    if (a.authorize_calls <= 2)
      return platform::fail(ErrorKind::transient, "provider unavailable (simulated, attempt {})",
                            a.authorize_calls);
    a.authorized = true;
    if (auto s = save(key); !s) return tl::unexpected(s.error());
    return AuthResult{AuthDecision::approved, {}};
  }
  if (token == "tok_timeout") return AuthResult{AuthDecision::pending, {}};
  if (token == "tok_decline") return AuthResult{AuthDecision::declined, "card declined"};
  return AuthResult{AuthDecision::declined, "unknown payment token"};
}

Status SimulatedProvider::capture(const std::string& key, const Money& amount) {
  std::lock_guard lk(mu_);
  auto& a = load(key);
  if (a.captured) return {};  // idempotent
  if (!a.authorized || a.voided)
    return platform::fail(ErrorKind::failed_precondition, "nothing authorised to capture for {}",
                          key);
  a.captured = true;
  ++a.captures;
  a.captured_amount = amount;
  return save(key);
}

Status SimulatedProvider::void_authorization(const std::string& key) {
  std::lock_guard lk(mu_);
  auto& a = load(key);
  if (a.captured)
    return platform::fail(ErrorKind::failed_precondition, "{} is captured: refund it instead", key);
  a.voided = true;
  return save(key);
}

Status SimulatedProvider::refund(const std::string& key, const Money& amount) {
  std::lock_guard lk(mu_);
  auto& a = load(key);
  if (a.refunded) return {};  // idempotent
  if (!a.captured)
    return platform::fail(ErrorKind::failed_precondition, "{} was not captured", key);
  a.refunded = true;
  ++a.refunds;
  a.refunded_amount = amount;
  return save(key);
}

std::map<std::string, SimulatedProvider::Account> SimulatedProvider::accounts() const {
  auto* self = const_cast<SimulatedProvider*>(this);
  std::lock_guard lk(mu_);
  if (ledger_) {
    platform::QueryOptions q;
    q.limit = 10'000;
    for (;;) {
      auto page = ledger_->query("ACCOUNT", q);
      if (!page) break;
      for (const auto& it : page->items) self->load(it.sk);
      if (!page->next_cursor) break;
      q.cursor = page->next_cursor;
    }
  }
  return accounts_;
}

}  // namespace orderly::services::payments
