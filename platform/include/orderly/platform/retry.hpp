// retry_on_conflict: runs a unit of work again while it loses a race (a
// condition or version check failed), reloading and deciding each time.
//
//   Result<Order> r = retry_on_conflict(8, [&]() -> Result<Order> {
//     ORDERLY_TRY(order, load(id));       // reload: what the last attempt read is stale
//     ORDERLY_TRY(next, decide(*order));
//     UnitOfWork uow{clock};
//     ...                                 // state + outbox
//     if (auto s = uow.commit(store); !s) return tl::unexpected(s.error());
//     return next;
//   }, "order is changing too fast; try again");
//
// Only errors whose retry_action() is retry_unit_of_work (conflicts) are
// retried; success and every other error are returned as they are. When all
// attempts conflicted the result is transient: a later call may succeed.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>

#include "orderly/platform/error.hpp"

namespace orderly::platform {

// `attempt` returns a Result or Status and is called at least once. On
// exhaustion the error says `exhausted`, or names the last conflict if empty.
template <class F>
[[nodiscard]] std::invoke_result_t<F&> retry_on_conflict(int attempts, F&& attempt,
                                                         std::string_view exhausted = {}) {
  using R = std::invoke_result_t<F&>;
  for (int i = 1;; ++i) {
    R r = attempt();
    if (r || retry_action(r.error().kind) != RetryAction::retry_unit_of_work) return r;
    if (i >= attempts) {
      if (!exhausted.empty()) return make_error(ErrorKind::transient, std::string(exhausted));
      return fail(ErrorKind::transient, "still conflicting after {} attempts: {}", i,
                  r.error().message);
    }
  }
}

}  // namespace orderly::platform
