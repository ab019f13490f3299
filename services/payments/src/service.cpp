// Payments: handlers around the provider.
#include "orderly/services/payments/service.hpp"

#include "orderly/services/contracts/handlers.hpp"

namespace orderly::services::payments {

namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
using platform::ErrorKind;
using platform::Item;
using platform::Status;
using platform::UnitOfWork;

namespace {
constexpr std::string_view kPaymentSk = "PAYMENT";
std::string payment_pk(std::string_view order_id) {
  return "PAYMENT#" + std::string(order_id);
}
}  // namespace

PaymentsService::PaymentsService(platform::ItemStore& store, const platform::Clock& clock,
                                 PaymentProvider& provider)
    : store_(store), clock_(clock), provider_(provider) {}

std::vector<std::string> PaymentsService::produces() {
  return {std::string(c::PaymentAuthorized::kType), std::string(c::PaymentDeclined::kType),
          std::string(c::PaymentCaptured::kType),   std::string(c::PaymentVoided::kType),
          std::string(c::PaymentRefunded::kType),   std::string(c::PaymentsCustomerErased::kType)};
}

std::vector<platform::Subscription<PaymentsService>> PaymentsService::subscriptions() {
  using c::on;
  return {{std::string(kEventsRule),
           {
               on<c::OrderPlaced>([](PaymentsService& s, const c::OrderPlaced& d,
                                     const CloudEvent& e, UnitOfWork& uow) -> Status {
                 ORDERLY_TRY(loaded, s.load(d.order_id));
                 if (!needs_authorization(loaded->payment))
                   return s.finish(*loaded, skip_authorization(loaded->payment), e, uow);
                 // The customer's data was erased while this placement was still on
                 // its way (the order had ended first: cancelled before payments saw
                 // it; the bus redacted the token). An erased order is never
                 // authorised, and an earlier attempt that reached the provider before
                 // a crash is voided by payment id, as a cancel does.
                 if (d.payment_token == c::kErased) {
                   ORDERLY_TRY(outcome, cancel(loaded->payment, d.order_id, d.total));
                   return s.finish(*loaded, *outcome, e, uow);
                 }
                 // A transient provider failure goes back to the bus, which retries.
                 ORDERLY_TRY(answer, s.provider_.authorize(payment_id_for(d.order_id),
                                                           d.payment_token, d.total));
                 ORDERLY_TRY(outcome, authorized(d.order_id, d.total, *answer));
                 return s.finish(*loaded, *outcome, e, uow);
               }),
               on<c::OrderConfirmed>([](PaymentsService& s, const c::OrderConfirmed& d,
                                        const CloudEvent& e, UnitOfWork& uow) -> Status {
                 ORDERLY_TRY(loaded, s.load(d.order_id));
                 ORDERLY_TRY(outcome, capture(loaded->payment, d.order_id));
                 return s.finish(*loaded, *outcome, e, uow);
               }),
               on<c::OrderCancelled>([](PaymentsService& s, const c::OrderCancelled& d,
                                        const CloudEvent& e, UnitOfWork& uow) -> Status {
                 ORDERLY_TRY(loaded, s.load(d.order_id));
                 ORDERLY_TRY(outcome, cancel(loaded->payment, d.order_id, d.total));
                 return s.finish(*loaded, *outcome, e, uow);
               }),
               // Payments keeps ids, amounts and states, never the token or a name:
               // nothing to redact; the records stay for accounting.
               on<c::CustomerErasureRequested>([](PaymentsService& s,
                                                  const c::CustomerErasureRequested& d,
                                                  const CloudEvent& e, UnitOfWork& uow) {
                 return c::answer_erasure<c::PaymentsCustomerErased>(s.store_, d, 0, e, uow);
               }),
           }}};
}

std::vector<platform::Rule> PaymentsService::rules() {
  return platform::bind(subscriptions(), *this, store_, clock_);
}

Result<PaymentsService::Loaded> PaymentsService::load(const std::string& order_id) {
  Loaded l;
  ORDERLY_TRY(item, store_.get(payment_pk(order_id), std::string(kPaymentSk)));
  if (*item) {
    ORDERLY_TRY(p, payment_from_json((*item)->attrs));
    l.payment = std::move(*p);
    l.version = (*item)->version;
  }
  return l;
}

Status PaymentsService::finish(const Loaded& loaded, const Outcome& decided,
                               const CloudEvent& cause, UnitOfWork& uow) {
  // The provider is idempotent by payment id, so repeating this call when the
  // commit below conflicts, or the message is redelivered, charges nothing twice.
  Outcome outcome = decided;
  if (outcome.payment) {
    const auto& p = *outcome.payment;
    Status call;
    switch (outcome.call) {
      case ProviderCall::none:
        break;
      case ProviderCall::capture:
        call = provider_.capture(p.payment_id, p.amount);
        // Released at the provider by a cancel whose commit has not landed
        // yet: that cancel finishes the compensation; nothing is captured.
        if (!call && call.error().kind == ErrorKind::failed_precondition) return {};
        break;
      case ProviderCall::void_authorization:
        call = provider_.void_authorization(p.payment_id);
        // Captured meanwhile by a capture racing this cancel: refund it.
        if (!call && call.error().kind == ErrorKind::failed_precondition &&
            outcome.payment->status == PaymentStatus::voided) {
          outcome = refund_instead(outcome);
          call = provider_.refund(p.payment_id, p.amount);
        }
        break;
      case ProviderCall::refund:
        call = provider_.refund(p.payment_id, p.amount);
        break;
    }
    if (!call) return call;
    const auto& written = *outcome.payment;
    uow.put(Item{payment_pk(written.order_id), std::string(kPaymentSk), 0, to_json(written),
                 std::nullopt},
            loaded.payment ? Condition::version_is(loaded.version) : Condition::not_exists());
  }
  for (auto& e : c::to_events(outcome.events, &cause, clock_.now())) uow.emit(std::move(e));
  return {};
}

Result<std::optional<Payment>> PaymentsService::get_payment(const std::string& order_id) {
  ORDERLY_TRY(l, load(order_id));
  return l->payment;
}

}  // namespace orderly::services::payments
