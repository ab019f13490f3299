// AttributeValue mapping: plain JSON <-> DynamoDB's typed JSON.
//
//   to_attribute_value(json::parse(R"({"n":1,"l":[true]})"))
//     == {"M": {"n": {"N": "1"}, "l": {"L": [{"BOOL": true}]}}}
//
// null -> NULL, bool -> BOOL, numbers -> N, string -> S, array -> L,
// object -> M; and back. Numbers keep their digits: integers that fit int64
// or uint64 come back as such (2^53+1 round-trips), others as doubles. Sets
// (SS, NS, BS) and binaries are not used by the store and are rejected.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "orderly/platform/error.hpp"

namespace orderly::adapters::aws {

boost::json::object to_attribute_value(const boost::json::value& v);
platform::Result<boost::json::value> from_attribute_value(const boost::json::value& av);

}  // namespace orderly::adapters::aws
