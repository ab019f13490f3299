// Payments: handlers around the provider.
#include "orderly/services/payments/service.hpp"

namespace orderly::services::payments {

namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
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
          std::string(c::PaymentCaptured::kType), std::string(c::PaymentVoided::kType),
          std::string(c::PaymentRefunded::kType)};
}

std::vector<platform::Rule> PaymentsService::rules() {
  using c::on;
  std::vector<platform::Rule> out;
  out.push_back(platform::make_rule(
      std::string(kEventsRule),
      {
          on<c::OrderPlaced>([this](const c::OrderPlaced& d, const CloudEvent& e,
                                    UnitOfWork& uow) -> Status {
            auto loaded = load(d.order_id);
            if (!loaded) return tl::unexpected(loaded.error());
            if (!needs_authorization(loaded->payment))
              return finish(*loaded, skip_authorization(loaded->payment), e, uow);
            auto answer = provider_.authorize(payment_id_for(d.order_id), d.payment_token, d.total);
            if (!answer) return tl::unexpected(answer.error());  // transient: the bus retries
            auto outcome = authorized(d.order_id, d.total, *answer);
            if (!outcome) return tl::unexpected(outcome.error());
            return finish(*loaded, *outcome, e, uow);
          }),
          on<c::OrderConfirmed>(
              [this](const c::OrderConfirmed& d, const CloudEvent& e, UnitOfWork& uow) -> Status {
                auto loaded = load(d.order_id);
                if (!loaded) return tl::unexpected(loaded.error());
                auto outcome = capture(loaded->payment, d.order_id);
                if (!outcome) return tl::unexpected(outcome.error());
                return finish(*loaded, *outcome, e, uow);
              }),
          on<c::OrderCancelled>(
              [this](const c::OrderCancelled& d, const CloudEvent& e, UnitOfWork& uow) -> Status {
                auto loaded = load(d.order_id);
                if (!loaded) return tl::unexpected(loaded.error());
                auto outcome = cancel(loaded->payment, d.order_id, d.total);
                if (!outcome) return tl::unexpected(outcome.error());
                return finish(*loaded, *outcome, e, uow);
              }),
      },
      store_, clock_));
  return out;
}

Result<PaymentsService::Loaded> PaymentsService::load(const std::string& order_id) {
  Loaded l;
  auto item = store_.get(payment_pk(order_id), std::string(kPaymentSk));
  if (!item) return tl::unexpected(item.error());
  if (*item) {
    auto p = payment_from_json((*item)->attrs);
    if (!p) return tl::unexpected(p.error());
    l.payment = std::move(*p);
    l.version = (*item)->version;
  }
  return l;
}

Status PaymentsService::finish(const Loaded& loaded, const Outcome& outcome,
                               const CloudEvent& cause, UnitOfWork& uow) {
  // The provider is idempotent by payment id, so repeating this call when the
  // commit below conflicts, or the message is redelivered, charges nothing twice.
  if (outcome.payment) {
    const auto& p = *outcome.payment;
    Status call;
    switch (outcome.call) {
      case ProviderCall::none:
        break;
      case ProviderCall::capture:
        call = provider_.capture(p.payment_id, p.amount);
        break;
      case ProviderCall::void_authorization:
        call = provider_.void_authorization(p.payment_id);
        break;
      case ProviderCall::refund:
        call = provider_.refund(p.payment_id, p.amount);
        break;
    }
    if (!call) return call;
    uow.put(Item{payment_pk(p.order_id), std::string(kPaymentSk), 0, to_json(p), std::nullopt},
            loaded.payment ? Condition::version_is(loaded.version) : Condition::not_exists());
  }
  for (auto& e : c::to_events(outcome.events, &cause, clock_.now())) uow.emit(std::move(e));
  return {};
}

Result<std::optional<Payment>> PaymentsService::get_payment(const std::string& order_id) {
  auto l = load(order_id);
  if (!l) return tl::unexpected(l.error());
  return l->payment;
}

}  // namespace orderly::services::payments
