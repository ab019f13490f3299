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

#include "orderly/platform/subscriptions.hpp"
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

}  // namespace orderly::services::contracts
