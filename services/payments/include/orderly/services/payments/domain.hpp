// Payments as pure functions. The provider is called by the handler between
// "decide what to ask" and "record the answer"; these functions never call it.
//
//   if (needs_authorization(existing)) { auto r = provider.authorize(...); t = authorized(...); }
//   auto t = capture(existing);   // AUTHORIZED -> CAPTURED, asks for a provider capture
//   auto t = cancel(existing);    // void an authorisation, refund a capture
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "orderly/services/contracts/events.hpp"
#include "orderly/services/payments/provider.hpp"

namespace orderly::services::payments {

enum class PaymentStatus {
  pending,
  authorized,
  declined,
  captured,
  voided,
  refunded,
  cancelled_early
};
std::string_view to_string(PaymentStatus s);

struct Payment {
  std::string order_id, payment_id;
  PaymentStatus status = PaymentStatus::pending;
  Money amount;
  std::string decline_reason;
  friend bool operator==(const Payment&, const Payment&) = default;
};

enum class ProviderCall { none, capture, void_authorization, refund };

using PaymentEvent =
    std::variant<contracts::PaymentAuthorized, contracts::PaymentDeclined,
                 contracts::PaymentCaptured, contracts::PaymentVoided, contracts::PaymentRefunded>;

struct Outcome {
  std::optional<Payment> payment;  // to store, when it changed
  std::vector<PaymentEvent> events;
  ProviderCall call = ProviderCall::none;  // to make before committing
  std::string note;
};

// The payment id of an order: stable, so a retried authorisation reuses it.
std::string payment_id_for(const std::string& order_id);

bool needs_authorization(const std::optional<Payment>& existing);
// Records the provider's answer to the authorisation of a new payment.
Result<Outcome> authorized(const std::string& order_id, const Money& amount, const AuthResult& r);
// Nothing happens when the order was cancelled first, or authorisation already ran.
Outcome skip_authorization(const std::optional<Payment>& existing);
Result<Outcome> capture(const std::optional<Payment>& existing, const std::string& order_id);
Result<Outcome> cancel(const std::optional<Payment>& existing, const std::string& order_id,
                       const Money& amount);
// A void the provider refused because the payment was captured meanwhile (a
// capture racing the cancel): the same compensation as a refund.
Outcome refund_instead(const Outcome& void_outcome);

boost::json::object to_json(const Payment& p);
Result<Payment> payment_from_json(const boost::json::object& o);

}  // namespace orderly::services::payments
