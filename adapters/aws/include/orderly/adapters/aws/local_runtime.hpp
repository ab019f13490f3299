// LocalRuntime: the Lambda Runtime API, served on 127.0.0.1 for one function
// process, as the Lambda service serves it to a sandbox (the documented
// protocol: GET invocation/next, POST invocation/{id}/response|error,
// POST init/error). `orderly invoke`, the packaging tests and the cold-start
// benchmark run real bootstraps under it.
//
//   LocalRuntime rt;                                  // listens on a free port
//   rt.enqueue({.payload = event_json});              // what the next /next returns
//   spawn bootstrap with AWS_LAMBDA_RUNTIME_API=rt.endpoint()
//   auto outcome = rt.wait(30s);                      // response, error or init error
//   rt.first_next_at();                               // when the function was ready
//
// A /next with nothing queued waits (as Lambda freezes an idle sandbox) until
// an invocation is enqueued or the runtime stops.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "orderly/platform/error.hpp"

namespace orderly::adapters::aws {

struct LocalInvocation {
  std::string payload;
  std::string request_id;  // default: a new UUID
  std::chrono::milliseconds timeout{30'000};
  std::string function_arn = "arn:aws:lambda:us-east-1:000000000000:function:orderly-local";
  std::string trace_id;  // Lambda-Runtime-Trace-Id (X-Ray); default: a new sampled one
};

struct LocalOutcome {
  enum class Kind { response, error, init_error, timeout } kind = Kind::timeout;
  std::string request_id;
  std::string body;        // the response, or the error document
  std::string error_type;  // Lambda-Runtime-Function-Error-Type
};

class LocalRuntime {
 public:
  static platform::Result<std::unique_ptr<LocalRuntime>> start();
  ~LocalRuntime();
  [[nodiscard]] std::string endpoint() const;  // 127.0.0.1:port

  std::string enqueue(LocalInvocation invocation);  // returns the request id
  // The next outcome (in order of arrival), or Kind::timeout.
  LocalOutcome wait(std::chrono::milliseconds timeout);
  // When the function first asked for work (its init was done), if it has.
  [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> first_next_at() const;
  void stop();

  struct Impl;

 private:
  explicit LocalRuntime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::adapters::aws
