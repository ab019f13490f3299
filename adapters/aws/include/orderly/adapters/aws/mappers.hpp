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
#include <string>
#include <string_view>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/http.hpp"

namespace orderly::adapters::aws {

platform::Result<platform::http::Request> request_from_apigw_v2(const boost::json::value& event);
boost::json::object apigw_v2_response(const platform::http::Response& res);
// Never throws; a malformed event gets a 400 problem.
boost::json::object handle_apigw_v2(
    const boost::json::value& event,
    const std::function<platform::http::Response(platform::http::Request&)>& handler);

// A record the batch answer lists as failed, with what SQS needs to be told
// when it should come back (ChangeMessageVisibility on its receipt handle).
struct FailedRecord {
  std::string message_id;
  std::string receipt_handle;    // empty when the record had none
  std::string event_source_arn;  // arn:aws:sqs:<region>:<account>:<queue>
  int receive_count = 1;         // ApproximateReceiveCount, 1 on the first delivery
  bool poison = false;           // unreadable, or its handler failed permanently
};

// A malformed batch (no Records array) is an error: the runtime reports it and
// SQS redelivers the whole batch. `failed`, when given, receives one entry per
// item of batchItemFailures.
platform::Result<boost::json::object> handle_sqs_batch(const boost::json::value& event,
                                                       const platform::BatchHandler& handler,
                                                       std::vector<FailedRecord>* failed = nullptr);

// The QueueUrl of a queue ARN (arn:aws:sqs:eu-west-1:123:q ->
// https://sqs.eu-west-1.amazonaws.com/123/q); empty if it is not a queue ARN.
std::string queue_url_of(std::string_view queue_arn);

}  // namespace orderly::adapters::aws
