// Payments domain and the simulated provider: tokens, idempotency by key.
#include "orderly/services/payments/domain.hpp"

#include <gtest/gtest.h>

#include <map>
#include <utility>

#include "orderly/services/payments/simulated_provider.hpp"

namespace orderly::services::payments {
namespace {

namespace c = contracts;
using platform::ErrorKind;

const Money kAmount{2'899, "GBP"};

Payment with(PaymentStatus s) {
  return Payment{"o-1", payment_id_for("o-1"), s, kAmount, {}};
}

TEST(Authorize, ApprovalDeclineAndNoAnswer) {
  auto ok = authorized("o-1", kAmount, {AuthDecision::approved, {}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->payment->status, PaymentStatus::authorized);
  EXPECT_EQ(std::get<c::PaymentAuthorized>(ok->events.at(0)).amount, kAmount);
  auto no = authorized("o-1", kAmount, {AuthDecision::declined, "card declined"});
  EXPECT_EQ(no->payment->status, PaymentStatus::declined);
  EXPECT_EQ(std::get<c::PaymentDeclined>(no->events.at(0)).reason, "card declined");
  auto silent = authorized("o-1", kAmount, {AuthDecision::pending, {}});
  EXPECT_EQ(silent->payment->status, PaymentStatus::pending);
  EXPECT_TRUE(silent->events.empty());
}

TEST(Authorize, OnlyOncePerOrderAndNeverAfterAnEarlyCancel) {
  EXPECT_TRUE(needs_authorization(std::nullopt));
  EXPECT_FALSE(needs_authorization(with(PaymentStatus::cancelled_early)));
  EXPECT_FALSE(needs_authorization(with(PaymentStatus::authorized)));
  EXPECT_TRUE(skip_authorization(with(PaymentStatus::cancelled_early)).events.empty());
  EXPECT_EQ(payment_id_for("o-1"), payment_id_for("o-1"));
}

TEST(Capture, OnlyAnAuthorisedPayment) {
  auto t = capture(with(PaymentStatus::authorized), "o-1");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->payment->status, PaymentStatus::captured);
  EXPECT_EQ(t->call, ProviderCall::capture);
  EXPECT_EQ(std::get<c::PaymentCaptured>(t->events.at(0)).amount, kAmount);
  // Settled by state, never by timing: a repeated capture, or one that comes
  // after a cancel released the money, changes nothing and is no error (an
  // ordinary race must not send money to the DLQ).
  for (auto s : {PaymentStatus::declined, PaymentStatus::captured, PaymentStatus::voided,
                 PaymentStatus::refunded, PaymentStatus::cancelled_early}) {
    auto none = capture(with(s), "o-1");
    ASSERT_TRUE(none) << to_string(s);
    EXPECT_FALSE(none->payment) << to_string(s);
    EXPECT_EQ(none->call, ProviderCall::none);
    EXPECT_TRUE(none->events.empty());
    EXPECT_FALSE(none->note.empty());
  }
  // Without an authorisation there is nothing a confirmation could capture.
  EXPECT_EQ(capture(with(PaymentStatus::pending), "o-1").error().kind,
            ErrorKind::failed_precondition);
  EXPECT_FALSE(capture(std::nullopt, "o-1"));
}

TEST(Cancel, VoidsAnAuthorisationRefundsACaptureAndTombstonesTheUnseen) {
  auto v = cancel(with(PaymentStatus::authorized), "o-1", kAmount);
  EXPECT_EQ(v->payment->status, PaymentStatus::voided);
  EXPECT_EQ(v->call, ProviderCall::void_authorization);
  EXPECT_TRUE(std::holds_alternative<c::PaymentVoided>(v->events.at(0)));
  auto p = cancel(with(PaymentStatus::pending), "o-1", kAmount);
  EXPECT_EQ(p->payment->status, PaymentStatus::voided);
  auto r = cancel(with(PaymentStatus::captured), "o-1", kAmount);
  EXPECT_EQ(r->payment->status, PaymentStatus::refunded);
  EXPECT_EQ(r->call, ProviderCall::refund);
  EXPECT_TRUE(std::holds_alternative<c::PaymentRefunded>(r->events.at(0)));
  auto d = cancel(with(PaymentStatus::declined), "o-1", kAmount);
  EXPECT_FALSE(d->payment);
  EXPECT_TRUE(d->events.empty());
  // Cancelled before any payment was recorded: the authorisation may still
  // have reached the provider, so the compensation voids by payment id.
  auto early = cancel(std::nullopt, "o-1", kAmount);
  EXPECT_EQ(early->payment->status, PaymentStatus::cancelled_early);
  EXPECT_EQ(early->call, ProviderCall::void_authorization);
  EXPECT_EQ(early->payment->payment_id, payment_id_for("o-1"));
  // A second cancel (two deliveries of one event) releases nothing twice.
  for (auto s : {PaymentStatus::voided, PaymentStatus::refunded, PaymentStatus::cancelled_early}) {
    auto again = cancel(with(s), "o-1", kAmount);
    ASSERT_TRUE(again) << to_string(s);
    EXPECT_FALSE(again->payment);
    EXPECT_EQ(again->call, ProviderCall::none);
  }
}

TEST(Cancel, AVoidThatMeetsACaptureBecomesARefund) {
  auto v = cancel(with(PaymentStatus::authorized), "o-1", kAmount);
  auto r = refund_instead(*v);
  EXPECT_EQ(r.payment->status, PaymentStatus::refunded);
  EXPECT_EQ(r.call, ProviderCall::refund);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(std::get<c::PaymentRefunded>(r.events.at(0)).amount, kAmount);
}

TEST(SimulatedProvider, AVoidedPaymentIdCannotBeAuthorisedAfterwards) {
  SimulatedProvider p;
  ASSERT_TRUE(p.void_authorization("k"));  // before anything: harmless
  auto late = p.authorize("k", "tok_ok", kAmount);
  ASSERT_TRUE(late);
  EXPECT_EQ(late->decision, AuthDecision::declined);
  EXPECT_FALSE(p.accounts().at("k").authorized);
}

TEST(SimulatedProvider, TokensBehaveAsDocumentedAndNothingChargesTwice) {
  SimulatedProvider p;
  EXPECT_EQ(p.authorize("k1", "tok_ok", kAmount)->decision, AuthDecision::approved);
  EXPECT_EQ(p.authorize("k2", "tok_decline", kAmount)->decision, AuthDecision::declined);
  EXPECT_EQ(p.authorize("k3", "tok_timeout", kAmount)->decision, AuthDecision::pending);
  EXPECT_EQ(p.authorize("k4", "tok_flaky", kAmount).error().kind, ErrorKind::transient);
  EXPECT_EQ(p.authorize("k4", "tok_flaky", kAmount).error().kind, ErrorKind::transient);
  EXPECT_EQ(p.authorize("k4", "tok_flaky", kAmount)->decision, AuthDecision::approved);
  EXPECT_EQ(p.authorize("k5", "tok_bogus", kAmount)->decision, AuthDecision::declined);
  ASSERT_TRUE(p.capture("k1", kAmount));
  ASSERT_TRUE(p.capture("k1", kAmount));  // replayed: the first outcome again
  EXPECT_EQ(p.accounts().at("k1").capture_calls, 2);
  EXPECT_EQ(p.accounts().at("k1").captured_amount, kAmount);
  EXPECT_FALSE(p.capture("k2", kAmount));
  EXPECT_FALSE(p.void_authorization("k1"));  // captured: refund instead
  ASSERT_TRUE(p.refund("k1", kAmount));
  ASSERT_TRUE(p.refund("k1", kAmount));
  EXPECT_EQ(p.accounts().at("k1").refund_calls, 2);
  EXPECT_EQ(p.accounts().at("k1").refunded_amount, kAmount);
  ASSERT_TRUE(p.void_authorization("k4"));
  EXPECT_FALSE(p.capture("k4", kAmount));
}

// A replay under the same idempotency key with another amount is refused, as a
// real provider refuses it, and moves no money: it used to answer OK, so a
// system that recomputed an order's total between a capture and its retry
// would have believed it captured what it never did.
TEST(SimulatedProvider, AReplayWithAnotherAmountIsRefusedAndMovesNothing) {
  SimulatedProvider p;
  const Money other{kAmount.amount + 1, kAmount.currency};
  ASSERT_EQ(p.authorize("k", "tok_ok", kAmount)->decision, AuthDecision::approved);
  ASSERT_TRUE(p.capture("k", kAmount));
  auto again = p.capture("k", other);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind, ErrorKind::failed_precondition);
  EXPECT_NE(again.error().message.find("same amount"), std::string::npos) << again.error().message;
  EXPECT_EQ(p.accounts().at("k").captured_amount, kAmount);
  ASSERT_TRUE(p.refund("k", kAmount));
  auto refund_again = p.refund("k", other);
  ASSERT_FALSE(refund_again);
  EXPECT_EQ(refund_again.error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(p.accounts().at("k").refunded_amount, kAmount);
  EXPECT_EQ(p.accounts().at("k").capture_calls, 2);
  EXPECT_EQ(p.accounts().at("k").refund_calls, 2);
}

// The provider's ledger as a map, counting its writes, whose reads can be
// made to fail (a double: what is tested is the provider, not a store).
class Ledger final : public platform::ItemStore {
 public:
  int writes = 0;
  bool fail_reads = false;
  Result<std::optional<platform::Item>> get(const std::string& pk, const std::string& sk) override {
    if (fail_reads) return platform::fail(ErrorKind::transient, "ledger unreachable");
    auto it = items_.find({pk, sk});
    if (it == items_.end()) return std::optional<platform::Item>{};
    return std::optional<platform::Item>{it->second};
  }
  Result<std::int64_t> put(const platform::Item& item, platform::Condition) override {
    ++writes;
    items_[{item.pk, item.sk}] = item;
    return std::int64_t{1};
  }
  Result<std::int64_t> update(const platform::Update&) override { return unsupported(); }
  Status remove(const std::string&, const std::string&, platform::Condition) override {
    return tl::unexpected(unsupported().error());
  }
  Result<platform::Page> query(const std::string& pk, const platform::QueryOptions&) override {
    platform::Page page;
    for (const auto& [key, item] : items_)
      if (key.first == pk) page.items.push_back(item);
    return page;
  }
  Status transact_write(const std::vector<platform::WriteOp>&) override {
    return tl::unexpected(unsupported().error());
  }

 private:
  static Result<std::int64_t> unsupported() {
    return platform::fail(ErrorKind::invalid_input, "not used by the provider");
  }
  std::map<std::pair<std::string, std::string>, platform::Item> items_;
};

TEST(SimulatedProvider, EachCallIsOneLedgerWriteAndARestartSeesIt) {
  Ledger ledger;
  {
    SimulatedProvider p{&ledger};
    ASSERT_EQ(p.authorize("k", "tok_ok", kAmount)->decision, AuthDecision::approved);
    EXPECT_EQ(ledger.writes, 1);  // the call and its outcome together
    ASSERT_TRUE(p.capture("k", kAmount));
    EXPECT_EQ(ledger.writes, 2);
  }
  SimulatedProvider restarted{&ledger};
  const auto a = restarted.accounts().at("k");
  EXPECT_EQ(a.authorize_calls, 1);
  EXPECT_TRUE(a.authorized);
  EXPECT_TRUE(a.captured);
  EXPECT_EQ(a.capture_calls, 1);
  EXPECT_EQ(a.captured_amount, kAmount);
}

// An unreadable ledger is an error to retry, never a fresh account: a fresh
// one would approve a payment id the ledger holds as voided, and overwrite it.
TEST(SimulatedProvider, AnUnreadableLedgerFailsTheCallAndChangesNothing) {
  Ledger ledger;
  SimulatedProvider p{&ledger};
  ASSERT_TRUE(p.void_authorization("k"));
  ledger.fail_reads = true;
  auto late = p.authorize("k", "tok_ok", kAmount);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().kind, ErrorKind::transient);
  ledger.fail_reads = false;
  const auto a = p.accounts().at("k");
  EXPECT_TRUE(a.voided);
  EXPECT_FALSE(a.authorized);
  EXPECT_EQ(a.authorize_calls, 0);
}

TEST(PaymentJson, RoundTrips) {
  auto p = with(PaymentStatus::declined);
  p.decline_reason = "card declined";
  EXPECT_EQ(*payment_from_json(to_json(p)), p);
  auto broken = to_json(p);
  broken.erase("amount");
  EXPECT_EQ(payment_from_json(broken).error().kind, ErrorKind::permanent);
}

}  // namespace
}  // namespace orderly::services::payments
