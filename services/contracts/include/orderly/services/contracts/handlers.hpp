// Typed event handlers: the glue between a service's subscriptions and the
// event contracts. Included by services' handler code, never by a domain.
//
//   std::vector<platform::Subscription<Orders>> Orders::subscriptions() {
//     return {{"orders.saga", {
//         on<InventoryReserved>([](Orders& s, const InventoryReserved& d, const CloudEvent& e,
//                                  UnitOfWork& uow) { return s.reserved(d, e, uow); }),
//     }}};
//   }
//
// on<E> decodes the event's data strictly: a bad event fails permanently
// (invalid_input naming the field) and goes to the DLQ with that reason.
#pragma once

#include <string>
#include <utility>

#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/contracts/events.hpp"

namespace orderly::services::contracts {

template <class E, class F>
struct On {
  F fn;
  // Converts to the typed handler of whichever service lists it.
  template <class S>
  operator platform::TypedHandler<S>() const {  // NOLINT(google-explicit-constructor)
    return {std::string(E::kType),
            [fn = fn](S& service, const platform::CloudEvent& e,
                      platform::UnitOfWork& uow) -> platform::Status {
              auto d = decode<E>(e);
              if (!d) return tl::unexpected(d.error());
              return fn(service, *d, e, uow);
            }};
  }
};

template <class E, class F>
On<E, F> on(F fn) {
  return {std::move(fn)};
}

// A service's answer to an erasure (`Answer` is its <Service>CustomerErased),
// emitted as a consequence of the request, once its redaction is made and
// purged from its store's files (ItemStore::purge_overwritten).
template <class Answer>
platform::Status answer_erasure(platform::ItemStore& store, const CustomerErasureRequested& d,
                                std::int64_t redacted, const platform::CloudEvent& cause,
                                platform::UnitOfWork& uow) {
  if (auto s = store.purge_overwritten(); !s) return s;
  auto e = to_event(Answer{d.erasure_id, d.customer_id, redacted}, uow.clock().now());
  platform::caused_by(e, cause);
  uow.emit(std::move(e));
  return {};
}

}  // namespace orderly::services::contracts
