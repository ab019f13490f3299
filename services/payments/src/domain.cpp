// Payment transitions.
#include "orderly/services/payments/domain.hpp"

#include "orderly/platform/id.hpp"

namespace orderly::services::payments {

namespace c = contracts;
namespace json = boost::json;
using platform::ErrorKind;

std::string_view to_string(PaymentStatus s) {
  switch (s) {
    case PaymentStatus::pending:
      return "PENDING";
    case PaymentStatus::authorized:
      return "AUTHORIZED";
    case PaymentStatus::declined:
      return "DECLINED";
    case PaymentStatus::captured:
      return "CAPTURED";
    case PaymentStatus::voided:
      return "VOIDED";
    case PaymentStatus::refunded:
      return "REFUNDED";
    case PaymentStatus::cancelled_early:
      return "CANCELLED_EARLY";
  }
  return "?";
}

std::string payment_id_for(const std::string& order_id) {
  return platform::derived_uuid("orderly.payments", order_id);
}

bool needs_authorization(const std::optional<Payment>& existing) {
  return !existing;
}

Outcome skip_authorization(const std::optional<Payment>& existing) {
  Outcome o;
  o.note = existing && existing->status == PaymentStatus::cancelled_early
               ? "the order was cancelled before payment began: nothing authorised"
               : "authorisation already ran";
  return o;
}

Result<Outcome> authorized(const std::string& order_id, const Money& amount, const AuthResult& r) {
  Outcome o;
  Payment p{order_id, payment_id_for(order_id), PaymentStatus::pending, amount, {}};
  switch (r.decision) {
    case AuthDecision::approved:
      p.status = PaymentStatus::authorized;
      o.events.emplace_back(c::PaymentAuthorized{order_id, p.payment_id, amount});
      break;
    case AuthDecision::declined:
      p.status = PaymentStatus::declined;
      p.decline_reason = r.reason.empty() ? "declined" : r.reason;
      o.events.emplace_back(c::PaymentDeclined{order_id, p.payment_id, amount, p.decline_reason});
      break;
    case AuthDecision::pending:
      o.note = "the provider has not answered; the saga timeout decides";
      break;
  }
  o.payment = std::move(p);
  return o;
}

Result<Outcome> capture(const std::optional<Payment>& existing, const std::string& order_id) {
  if (!existing || existing->status == PaymentStatus::pending)
    return platform::fail(ErrorKind::failed_precondition,
                          "order {} has no authorised payment to capture", order_id);
  Outcome o;
  switch (existing->status) {
    case PaymentStatus::authorized:
      o.payment = *existing;
      o.payment->status = PaymentStatus::captured;
      o.call = ProviderCall::capture;
      o.events.emplace_back(c::PaymentCaptured{order_id, existing->payment_id, existing->amount});
      return o;
    case PaymentStatus::captured:
      // Two deliveries of one OrderConfirmed: the other one captured it.
      o.note = "already captured";
      return o;
    default:
      // A cancel released the money first: settled by state, nothing is captured.
      o.note = fmt::format("the payment was {} before capture: nothing to capture",
                           to_string(existing->status));
      return o;
  }
}

Result<Outcome> cancel(const std::optional<Payment>& existing, const std::string& order_id,
                       const Money& amount) {
  Outcome o;
  if (!existing) {
    // The authorisation may be running, or may have reached the provider and
    // never been recorded (a crash, a failed commit): void by payment id
    // anyway. Voiding nothing is harmless, and a voided id cannot be
    // authorised afterwards, so no hold is ever left open.
    o.payment =
        Payment{order_id, payment_id_for(order_id), PaymentStatus::cancelled_early, amount, {}};
    o.call = ProviderCall::void_authorization;
    o.note = "cancelled before payment was recorded: voided by payment id";
    return o;
  }
  o.payment = *existing;
  switch (existing->status) {
    case PaymentStatus::authorized:
    case PaymentStatus::pending:
      o.payment->status = PaymentStatus::voided;
      o.call = ProviderCall::void_authorization;
      o.events.emplace_back(c::PaymentVoided{order_id, existing->payment_id, existing->amount});
      return o;
    case PaymentStatus::captured:
      o.payment->status = PaymentStatus::refunded;
      o.call = ProviderCall::refund;
      o.events.emplace_back(c::PaymentRefunded{order_id, existing->payment_id, existing->amount});
      return o;
    case PaymentStatus::declined:
    case PaymentStatus::voided:
    case PaymentStatus::refunded:
    case PaymentStatus::cancelled_early: {
      // Nothing held, or already released (two deliveries of one cancel).
      Outcome none;
      none.note = fmt::format("{}: nothing to release", to_string(existing->status));
      return none;
    }
  }
  return platform::fail(ErrorKind::permanent, "payment for order {} has an unknown status",
                        order_id);
}

Outcome refund_instead(const Outcome& void_outcome) {
  Outcome o = void_outcome;
  o.payment->status = PaymentStatus::refunded;
  o.call = ProviderCall::refund;
  o.events.clear();
  o.events.emplace_back(
      c::PaymentRefunded{o.payment->order_id, o.payment->payment_id, o.payment->amount});
  o.note = "the provider had captured it already: refunded instead of voided";
  return o;
}

json::object to_json(const Payment& p) {
  json::object o{{"orderId", p.order_id},
                 {"paymentId", p.payment_id},
                 {"status", to_string(p.status)},
                 {"amount", c::encode(p.amount)}};
  if (!p.decline_reason.empty()) o["declineReason"] = p.decline_reason;
  return o;
}

Result<Payment> payment_from_json(const json::object& o) {
  platform::JsonReader r{o};
  Payment p;
  p.order_id = r.string("orderId", 1, 64);
  p.payment_id = r.string("paymentId", 1, 64);
  const auto status = r.one_of("status", {"PENDING", "AUTHORIZED", "DECLINED", "CAPTURED", "VOIDED",
                                          "REFUNDED", "CANCELLED_EARLY"});
  for (auto s : {PaymentStatus::pending, PaymentStatus::authorized, PaymentStatus::declined,
                 PaymentStatus::captured, PaymentStatus::voided, PaymentStatus::refunded,
                 PaymentStatus::cancelled_early})
    if (to_string(s) == status) p.status = s;
  p.amount = c::read_money(r, "amount");
  p.decline_reason = r.optional_string("declineReason", 1, 200).value_or("");
  r.done();
  if (auto s = r.status(); !s)
    return platform::fail(ErrorKind::permanent, "stored payment is unreadable: {}",
                          s.error().message);
  return p;
}

}  // namespace orderly::services::payments
