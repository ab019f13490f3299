// API Gateway v2 and SQS mappers.
#include "orderly/adapters/aws/mappers.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <unordered_map>

#include "orderly/platform/base64.hpp"
#include "orderly/platform/id.hpp"

namespace orderly::adapters::aws {

namespace json = boost::json;
namespace ph = platform::http;
using platform::ErrorKind;

namespace {

const json::value* at_path(const json::value& v, std::initializer_list<const char*> path) {
  const json::value* cur = &v;
  for (const char* k : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->as_object().if_contains(k);
    if (!cur) return nullptr;
  }
  return cur;
}

std::string str(const json::value* v) {
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

platform::Result<ph::Request> request_from_apigw_v2(const json::value& event) {
  if (!event.is_object())
    return platform::fail(ErrorKind::invalid_input, "API Gateway event: not an object");
  if (str(at_path(event, {"version"})) != "2.0")
    return platform::fail(ErrorKind::invalid_input, "API Gateway event: version must be 2.0");
  ph::Request r;
  r.method = str(at_path(event, {"requestContext", "http", "method"}));
  r.path = str(at_path(event, {"rawPath"}));
  if (r.method.empty() || r.path.empty())
    return platform::fail(ErrorKind::invalid_input,
                          "API Gateway event: requestContext.http.method and rawPath are required");
  const auto query = str(at_path(event, {"rawQueryString"}));
  r.target = query.empty() ? r.path : r.path + "?" + query;
  std::string_view rest(query);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty())
      r.query.emplace(std::string(pair.substr(0, eq)),
                      eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  if (const auto* h = at_path(event, {"headers"}); h && h->is_object())
    for (const auto& [k, v] : h->as_object()) {
      std::string name(k);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (v.is_string()) r.headers[name] = std::string(v.get_string());
    }
  const auto body = str(at_path(event, {"body"}));
  const auto* b64 = at_path(event, {"isBase64Encoded"});
  if (b64 && b64->is_bool() && b64->get_bool()) {
    auto decoded = platform::base64_decode(body);
    if (!decoded)
      return platform::fail(ErrorKind::invalid_input, "API Gateway event: body is not base64");
    r.body = std::move(*decoded);
  } else {
    r.body = body;
  }
  r.request_id = str(at_path(event, {"requestContext", "requestId"}));
  if (r.request_id.empty()) r.request_id = platform::new_uuid_v7();
  r.client = str(at_path(event, {"requestContext", "http", "sourceIp"}));
  // API Gateway's JWT authorizer already verified the token; take who it says.
  if (const auto* claims = at_path(event, {"requestContext", "authorizer", "jwt", "claims"});
      claims && claims->is_object()) {
    ph::Identity who;
    who.subject = str(claims->as_object().if_contains("sub"));
    ph::add_scopes(who, str(claims->as_object().if_contains("scope")));
    if (const auto* scopes = at_path(event, {"requestContext", "authorizer", "jwt", "scopes"});
        scopes && scopes->is_array())
      for (const auto& s : scopes->as_array())
        if (s.is_string()) ph::add_scopes(who, s.get_string());
    if (!who.subject.empty()) r.identity = std::move(who);
  }
  return r;
}

json::object apigw_v2_response(const ph::Response& res) {
  json::object headers;
  for (const auto& [k, v] : res.headers) headers[k] = v;
  return {{"statusCode", res.status},
          {"headers", std::move(headers)},
          {"body", res.body},
          {"isBase64Encoded", false}};
}

json::object handle_apigw_v2(const json::value& event,
                             const std::function<ph::Response(ph::Request&)>& handler) {
  auto req = request_from_apigw_v2(event);
  if (!req) {
    ph::Request none;
    none.request_id = platform::new_uuid_v7();
    return apigw_v2_response(
        ph::problem(400, "bad-event", "Malformed API Gateway event", req.error().message, none));
  }
  ph::Response res;
  try {
    res = handler(*req);
  } catch (const std::exception&) {
    res =
        ph::problem(500, "internal", "Internal error", "the request could not be completed", *req);
  }
  res.with("X-Request-Id", req->request_id);
  return apigw_v2_response(res);
}

std::string queue_url_of(std::string_view arn) {
  // arn:aws:sqs:<region>:<account>:<name>
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto colon = arn.find(':', start);
    parts.push_back(arn.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[3].empty() ||
      parts[4].empty() || parts[5].empty())
    return {};
  const std::string_view suffix = parts[1] == "aws-cn" ? ".amazonaws.com.cn" : ".amazonaws.com";
  return fmt::format("https://sqs.{}{}/{}/{}", parts[3], suffix, parts[4], parts[5]);
}

platform::Result<json::object> handle_sqs_batch(const json::value& event,
                                                const platform::BatchHandler& handler,
                                                std::vector<FailedRecord>* failed) {
  const auto* records = at_path(event, {"Records"});
  if (!records || !records->is_array())
    return platform::fail(ErrorKind::invalid_input, "SQS event: no Records array");
  json::array failures;
  struct Source {
    std::string receipt_handle, arn;
    int receives = 1;
  };
  std::unordered_map<std::string, Source> sources;  // by message id
  auto fail_item = [&](const std::string& id, bool poison) {
    failures.push_back(json::object{{"itemIdentifier", id}});
    if (!failed) return;
    const auto& src = sources[id];
    failed->push_back({id, src.receipt_handle, src.arn, src.receives, poison});
  };
  std::vector<platform::Delivery> batch;
  for (const auto& rec : records->as_array()) {
    const auto id = str(at_path(rec, {"messageId"}));
    if (id.empty()) continue;  // nothing SQS could be told about; the batch result cannot name it
    const int receives =
        std::atoi(str(at_path(rec, {"attributes", "ApproximateReceiveCount"})).c_str());
    sources[id] = {str(at_path(rec, {"receiptHandle"})), str(at_path(rec, {"eventSourceARN"})),
                   receives > 0 ? receives : 1};
    boost::system::error_code ec;
    auto body = json::parse(str(at_path(rec, {"body"})), ec);
    // A bare CloudEvent; or an EventBridge event whose detail is the CloudEvent,
    // or, as the outbox pipe delivers it (ADR 0005), {"event": {"S": "<its JSON text>"}}.
    const json::value* ce = &body;
    if (!ec && body.is_object() && body.as_object().contains("detail-type")) {
      ce = body.as_object().if_contains("detail");
      if (ce)
        if (const auto* text = at_path(*ce, {"event", "S"}))
          ce = text->is_string() ? text : nullptr;  // a DynamoDB S is text, or it is broken
    }
    auto e = ec || !ce ? platform::Result<platform::CloudEvent>(
                             platform::make_error(ErrorKind::invalid_input, "body is not JSON"))
             : ce->is_string() ? platform::parse_event(ce->get_string())
                               : platform::event_from_json(*ce);
    if (!e) {
      fail_item(id, true);  // redelivered, then dead-lettered by the queue's redrive policy,
                            // with the body intact
      continue;
    }
    batch.push_back({std::move(*e), id, receives > 0 ? receives : 1});
  }
  if (!batch.empty()) {
    std::vector<platform::DeliveryResult> results;
    try {
      results = handler(batch);
    } catch (const std::exception&) {
      results.clear();
    }
    for (std::size_t i = 0; i < batch.size(); ++i)
      if (i >= results.size() || results[i].outcome != platform::Outcome::ok)
        fail_item(batch[i].message_id,
                  i < results.size() && results[i].outcome == platform::Outcome::fail);
  }
  return json::object{{"batchItemFailures", std::move(failures)}};
}

}  // namespace orderly::adapters::aws
