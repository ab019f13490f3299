// Lambda event mappers: the same routes and bus handlers as the embedded
// runtime, fed from API Gateway and SQS.
//
//   // _HANDLER=api
//   auto response = handle_apigw_v2(event, [&](Request& r) { return router.handle(r); });
//   // _HANDLER=events
//   auto answer = handle_sqs_batch(event, rule.handler);   // {"batchItemFailures":[...]}
//
// API Gateway HTTP API (payload 2.0): the identity comes from the JWT
// authorizer's claims (sub, scope) and scopes; the answer is the 2.0 response
// (statusCode, headers, body, isBase64Encoded), problem+json on errors as
// locally. SQS: each body is an EventBridge event whose detail is our
// CloudEvent, or a bare CloudEvent; a message that cannot be read, or that the
// handler did not settle ok, is listed in batchItemFailures (so SQS retries
// it and, after maxReceiveCount, moves it to the DLQ): nothing is lost.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::adapters::aws {

platform::Result<platform::http::Request> request_from_apigw_v2(const boost::json::value& event);
boost::json::object apigw_v2_response(const platform::http::Response& res);
// Never throws; a malformed event gets a 400 problem.
boost::json::object handle_apigw_v2(
    const boost::json::value& event,
    const std::function<platform::http::Response(platform::http::Request&)>& handler);

// A malformed batch (no Records array) is an error: the runtime reports it and
// SQS redelivers the whole batch.
platform::Result<boost::json::object> handle_sqs_batch(const boost::json::value& event,
                                                       const platform::BatchHandler& handler);

}  // namespace orderly::adapters::aws
