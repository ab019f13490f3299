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
          {"captureCalls", a.capture_calls},
          {"refundCalls", a.refund_calls},
          {"capturedAmount", contracts::encode(a.captured_amount)},
          {"refundedAmount", contracts::encode(a.refunded_amount)}};
}
}  // namespace

namespace {

SimulatedProvider::Account from_json(const boost::json::object& o) {
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
  return {i("authorizeCalls"), b("authorized"),     b("captured"),
          b("voided"),         b("refunded"),       i("captureCalls"),
          i("refundCalls"),    m("capturedAmount"), m("refundedAmount")};
}

}  // namespace

// With a ledger, the ledger alone holds the accounts: nothing is cached, so
// memory does not grow with the orders, and a restart reads what was saved.
Result<SimulatedProvider::Account> SimulatedProvider::load(const std::string& key) {
  if (!ledger_) {
    auto it = accounts_.find(key);
    return it == accounts_.end() ? Account{} : it->second;
  }
  auto item = ledger_->get("ACCOUNT", key);
  if (!item)
    return platform::fail(ErrorKind::transient, "provider ledger unavailable: {}",
                          item.error().message);
  return *item ? from_json((*item)->attrs) : Account{};
}

Status SimulatedProvider::save(const std::string& key, const Account& a) {
  if (!ledger_) {
    accounts_[key] = a;
    return {};
  }
  auto r = ledger_->put(platform::Item{"ACCOUNT", key, 0, to_json(a), std::nullopt}, {});
  if (!r)
    return platform::fail(ErrorKind::transient, "provider ledger unavailable: {}",
                          r.error().message);
  return {};
}

// One write per call, with the call counted in it: the ledger never holds a
// call without its outcome (and an order costs the provider two commits,
// authorise and capture, not three).
Result<AuthResult> SimulatedProvider::authorize(const std::string& key, const std::string& token,
                                                const Money&) {
  std::lock_guard lk(mu_);
  ORDERLY_TRY(a, load(key));
  ++a->authorize_calls;
  AuthResult result{AuthDecision::declined, "unknown payment token"};
  // A voided payment id is finished: it cannot be authorised afterwards (a
  // late authorisation racing a cancel must not open a hold).
  if (a->voided) {
    result = {AuthDecision::declined, "voided before authorisation"};
  } else if (token == "tok_ok") {
    a->authorized = true;
    result = {AuthDecision::approved, {}};
  } else if (token == "tok_flaky") {
    if (a->authorize_calls <= 2) {
      if (auto s = save(key, *a); !s) return tl::unexpected(s.error());
      return platform::fail(ErrorKind::transient, "provider unavailable (simulated, attempt {})",
                            a->authorize_calls);
    }
    a->authorized = true;
    result = {AuthDecision::approved, {}};
  } else if (token == "tok_timeout") {
    result = {AuthDecision::pending, {}};
  } else if (token == "tok_decline") {
    result = {AuthDecision::declined, "card declined"};
  }
  if (auto s = save(key, *a); !s) return tl::unexpected(s.error());
  return result;
}

// A capture or a refund. The call is counted whatever it answers. A replay
// under the key (the money moved already) answers the first outcome again,
// unless it asks for another amount: a real provider refuses that, since the
// key already stands for another request.
Status SimulatedProvider::move_money(const std::string& key, const Money& amount,
                                     const MoneyCall& call) {
  std::lock_guard lk(mu_);
  ORDERLY_TRY(a, load(key));
  ++(*a.*call.calls);
  if (*a.*call.done) {
    if (auto s = save(key, *a); !s) return s;
    const Money& first = *a.*call.amount;
    if (first == amount) return {};
    return platform::fail(ErrorKind::failed_precondition,
                          "{} was {} {} {}: a replay must ask for the same amount, not {} {}", key,
                          call.past, first.amount, first.currency, amount.amount, amount.currency);
  }
  if (auto refusal = call.refuse(*a, key)) {
    if (auto s = save(key, *a); !s) return s;
    return platform::fail(ErrorKind::failed_precondition, "{}", *refusal);
  }
  *a.*call.done = true;
  *a.*call.amount = amount;
  return save(key, *a);
}

Status SimulatedProvider::capture(const std::string& key, const Money& amount) {
  static const MoneyCall call{
      &Account::capture_calls, &Account::captured, &Account::captured_amount, "captured for",
      [](const Account& a, const std::string& id) -> std::optional<std::string> {
        if (!a.authorized || a.voided) return "nothing authorised to capture for " + id;
        return std::nullopt;
      }};
  return move_money(key, amount, call);
}

Status SimulatedProvider::refund(const std::string& key, const Money& amount) {
  static const MoneyCall call{
      &Account::refund_calls, &Account::refunded, &Account::refunded_amount, "refunded",
      [](const Account& a, const std::string& id) -> std::optional<std::string> {
        if (!a.captured) return id + " was not captured";
        return std::nullopt;
      }};
  return move_money(key, amount, call);
}

Status SimulatedProvider::void_authorization(const std::string& key) {
  std::lock_guard lk(mu_);
  ORDERLY_TRY(a, load(key));
  if (a->captured)
    return platform::fail(ErrorKind::failed_precondition, "{} is captured: refund it instead", key);
  a->voided = true;
  return save(key, *a);
}

std::map<std::string, SimulatedProvider::Account> SimulatedProvider::accounts() const {
  std::lock_guard lk(mu_);
  if (!ledger_) return accounts_;
  std::map<std::string, Account> out;
  platform::QueryOptions q;
  q.limit = 10'000;
  for (;;) {
    auto page = ledger_->query("ACCOUNT", q);
    if (!page) break;
    for (const auto& it : page->items) out[it.sk] = from_json(it.attrs);
    if (!page->next_cursor) break;
    q.cursor = page->next_cursor;
  }
  return out;
}

}  // namespace orderly::services::payments
