// DynamoDbClient: one DynamoDB JSON 1.0 call (signed, sent, retried while
// its error is transient) and the mapping of DynamoDB's error answers onto
// platform::ErrorKind, the one input of the retry decision.
#include "orderly/adapters/aws/dynamodb_client.hpp"

#include <fmt/format.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <random>
#include <thread>

namespace orderly::adapters::aws {

namespace json = boost::json;
using platform::Error;
using platform::ErrorKind;
using platform::fail;
using platform::Result;

namespace {

std::string env_or(const char* name, std::string fallback = {}) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::move(fallback);
}

// "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part after '#'.
std::string short_type(std::string_view t) {
  const auto hash = t.rfind('#');
  return std::string(hash == std::string_view::npos ? t : t.substr(hash + 1));
}

struct ParsedError {
  std::string type, message;
  json::object body;
};

ParsedError parse_error(std::string_view body) {
  ParsedError out;
  boost::system::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) return out;
  out.body = std::move(v.as_object());
  if (const auto* t = out.body.if_contains("__type"); t && t->is_string())
    out.type = short_type(t->get_string());
  for (const char* key : {"message", "Message"})
    if (const auto* m = out.body.if_contains(key); m && m->is_string())
      out.message = std::string(m->get_string());
  return out;
}

bool throttling(std::string_view type) {
  return type == "ThrottlingException" || type == "ProvisionedThroughputExceededException" ||
         type == "RequestLimitExceeded" || type == "InternalServerError" ||
         type == "ServiceUnavailable" || type == "LimitExceededException";
}

}  // namespace

Error dynamodb_error(unsigned status, std::string_view body) {
  const auto e = parse_error(body);
  const std::string what = e.type.empty() ? fmt::format("HTTP {}", status) : e.type;
  auto make = [&](ErrorKind k, std::string msg) { return Error{k, std::move(msg)}; };
  const std::string text = e.message.empty() ? fmt::format("dynamodb: {}", what)
                                             : fmt::format("dynamodb: {}: {}", what, e.message);
  // The service failed or shed load: whatever the body says, the same call may succeed later.
  if (status >= 500 || status == 429) return make(ErrorKind::transient, text);
  if (e.type == "ConditionalCheckFailedException") return make(ErrorKind::conflict, text);
  if (e.type == "TransactionCanceledException") {
    // CancellationReasons: one per operation, in order; Code "None" for the ones that passed.
    std::string first_failed;
    bool only_retryable = true, any = false;
    if (const auto* rs = e.body.if_contains("CancellationReasons"); rs && rs->is_array()) {
      const auto& arr = rs->get_array();
      for (std::size_t i = 0; i < arr.size(); ++i) {
        const auto* code = arr[i].is_object() ? arr[i].as_object().if_contains("Code") : nullptr;
        if (!code || !code->is_string() || code->get_string() == "None") continue;
        any = true;
        const std::string c(code->get_string());
        if (c != "TransactionConflict" && c != "ThrottlingError" &&
            c != "ProvisionedThroughputExceeded")
          only_retryable = false;
        if (first_failed.empty() ||
            (c == "ConditionalCheckFailed" &&
             first_failed.find("ConditionalCheckFailed") == std::string::npos)) {
          std::string m;
          if (const auto* msg = arr[i].as_object().if_contains("Message"); msg && msg->is_string())
            m = fmt::format(" ({})", std::string_view(msg->get_string()));
          first_failed = fmt::format("op {}: {}{}", i, c, m);
        }
      }
    }
    if (!any)
      return make(ErrorKind::conflict,
                  fmt::format("dynamodb: transaction cancelled: {}", e.message));
    if (only_retryable)
      return make(ErrorKind::transient,
                  fmt::format("dynamodb: transaction cancelled: {}", first_failed));
    const bool validation = first_failed.find("ValidationError") != std::string::npos;
    return make(validation ? ErrorKind::invalid_input : ErrorKind::conflict,
                fmt::format("dynamodb: transaction cancelled: {}", first_failed));
  }
  if (e.type == "TransactionConflictException" || e.type == "TransactionInProgressException" ||
      throttling(e.type))
    return make(ErrorKind::transient, text);
  if (e.type == "ValidationException" || e.type == "SerializationException")
    return make(ErrorKind::invalid_input, text);
  if (e.type == "ResourceNotFoundException" || e.type == "ResourceInUseException")
    return make(ErrorKind::failed_precondition, text);
  if (e.type == "UnrecognizedClientException" || e.type == "InvalidSignatureException" ||
      e.type == "MissingAuthenticationTokenException" || e.type == "IncompleteSignatureException" ||
      e.type == "ExpiredTokenException")
    return make(ErrorKind::unauthorized, text);
  if (e.type == "AccessDeniedException") return make(ErrorKind::forbidden, text);
  return make(ErrorKind::permanent, text);
}

bool dynamodb_retryable(unsigned status, std::string_view body) {
  return platform::retry_action(dynamodb_error(status, body).kind) ==
         platform::RetryAction::retry_call;
}

Result<DynamoDbOptions> dynamodb_options_from_env() {
  DynamoDbOptions o;
  o.region = env_or("AWS_REGION", env_or("AWS_DEFAULT_REGION"));
  if (o.region.empty()) return fail(ErrorKind::invalid_input, "AWS_REGION is not set");
  auto creds = Credentials::from_env();
  if (!creds) return tl::unexpected(creds.error());
  o.credentials = std::move(*creds);
  o.endpoint = env_or("ORDERLY_DYNAMODB_ENDPOINT",
                      fmt::format("https://dynamodb.{}.amazonaws.com", o.region));
  return o;
}

Result<DynamoDbOptions> sqs_options_from_env() {
  auto o = dynamodb_options_from_env();
  if (!o) return o;
  o->service = "sqs";
  o->target_prefix = "AmazonSQS";
  o->endpoint =
      env_or("AWS_ENDPOINT_URL_SQS", fmt::format("https://sqs.{}.amazonaws.com", o->region));
  o->max_attempts = 2;
  o->http.connect_timeout = std::chrono::seconds(1);
  o->http.request_timeout = std::chrono::seconds(2);
  return o;
}

DynamoDbClient::DynamoDbClient(DynamoDbOptions options, std::unique_ptr<http::HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}
DynamoDbClient::~DynamoDbClient() = default;

Result<std::unique_ptr<DynamoDbClient>> DynamoDbClient::create(DynamoDbOptions options) {
  while (!options.endpoint.empty() && options.endpoint.back() == '/') options.endpoint.pop_back();
  if (options.region.empty()) return fail(ErrorKind::invalid_input, "dynamodb: no region");
  if (options.max_attempts < 1) options.max_attempts = 1;
  auto http = http::HttpClient::create(options.endpoint, options.http);
  if (!http) return tl::unexpected(http.error());
  if (!options.sleep) options.sleep = [](platform::Millis d) { std::this_thread::sleep_for(d); };
  return std::unique_ptr<DynamoDbClient>(new DynamoDbClient(std::move(options), std::move(*http)));
}

DynamoDbClient::Stats DynamoDbClient::stats() const {
  return {calls_.load(), attempts_.load(), retries_.load()};
}

Result<json::object> DynamoDbClient::call(std::string_view operation, const json::object& request) {
  ++calls_;
  if (options_.on_request) options_.on_request(operation, request);
  const std::string body = json::serialize(request);
  const std::string target = fmt::format("{}.{}", options_.target_prefix, operation);
  thread_local std::minstd_rand rng{std::random_device{}()};
  const platform::Clock& clock =
      options_.clock ? *options_.clock : platform::SystemClock::instance();
  for (int attempt = 1;; ++attempt) {
    ++attempts_;
    SignedRequest req{"POST",
                      options_.endpoint + "/",
                      {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", target}},
                      body};
    sign_v4(req, options_.credentials, options_.region, options_.service, clock.now());
    auto res = http_->send("POST", "/", req.headers, body);
    Error err;
    if (!res) {
      err = res.error();  // transport: transient, or failed_precondition for a bad certificate
    } else if (res->status == 200) {
      boost::system::error_code ec;
      auto v = json::parse(res->body, ec);
      if (!ec && v.is_object()) return std::move(v.as_object());
      err = Error{ErrorKind::transient, fmt::format("{} {}: unreadable answer ({} bytes)",
                                                    options_.service, operation, res->body.size())};
    } else {
      err = dynamodb_error(res->status, res->body);
    }
    const bool retry = platform::retry_action(err.kind) == platform::RetryAction::retry_call;
    if (!retry || attempt >= options_.max_attempts) {
      if (retry) err.message += fmt::format(" (after {} attempts)", attempt);
      return tl::unexpected(std::move(err));
    }
    ++retries_;
    options_.sleep(options_.backoff.delay(attempt, rng));
  }
}

}  // namespace orderly::adapters::aws
