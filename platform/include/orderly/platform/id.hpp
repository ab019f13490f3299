// Time-sortable identifiers: UUIDv7 (RFC 9562), monotonic within the process.
//
//   std::string id = new_uuid_v7(clock.now());  // "0193...-7xxx-8xxx-..."
//
// The 12-bit rand_a field holds a counter within the same millisecond
// (RFC 9562 section 6.2, method 1), so ids made by one process sort in the
// order they were made even under a burst.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "orderly/platform/clock.hpp"

namespace orderly::platform {

std::string new_uuid_v7(TimePoint now);
std::string new_uuid_v7();
bool is_uuid(std::string_view s) noexcept;

// For the deterministic simulator only: from now on the random bits of
// new_uuid_v7 come from one generator seeded with `seed` (ids are then
// reproducible when made in a reproducible order), and the monotonic counter
// restarts. Never called by a production path.
void seed_ids_for_simulation(std::uint64_t seed);

// A UUIDv8 (RFC 9562 custom layout) that is a pure function of its inputs:
// the same (space, name) always gives the same id. Used where a retry must
// reuse an id, e.g. the payment id of an order, which is also the provider's
// idempotency key. Not a security boundary.
std::string derived_uuid(std::string_view space, std::string_view name);

}  // namespace orderly::platform
