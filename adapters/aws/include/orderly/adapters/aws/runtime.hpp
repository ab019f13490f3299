// The Lambda Runtime API client: a custom runtime's whole loop.
//
//   int main() {
//     return run_handler([](const Invocation& inv) -> Result<std::string> { return
//     handle(inv.payload); });
//   }
//
// It speaks the documented HTTP protocol on AWS_LAMBDA_RUNTIME_API
// (next, response, error, init error), exposes the request id and deadline,
// copies Lambda-Runtime-Trace-Id into _X_AMZN_TRACE_ID (and maps it to a W3C
// traceparent), accepts payloads up to 6 MB, never lets an exception escape
// (it is reported as the invocation's error), and returns on SIGTERM.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "orderly/platform/error.hpp"

namespace orderly::adapters::aws {

struct Invocation {
  std::string request_id;
  std::string payload;
  std::chrono::milliseconds deadline_ms{0};  // unix ms
  std::string function_arn;
  std::string xray_trace;                  // Root=1-...;Parent=...;Sampled=1
  std::optional<std::string> traceparent;  // the same trace, W3C form
};

using InvocationHandler = std::function<platform::Result<std::string>(const Invocation&)>;

struct RuntimeOptions {
  std::string endpoint;  // host:port; default: $AWS_LAMBDA_RUNTIME_API
  std::size_t max_payload = 6 * 1024 * 1024;
  const std::atomic<bool>* stop = nullptr;  // checked between invocations (SIGTERM)
  // True from the moment an invocation is received until its answer is posted
  // (a SIGTERM handler may leave at once when it is false).
  std::atomic<bool>* busy = nullptr;
  int max_invocations = -1;  // tests: return after this many
};

// Maps an X-Ray trace header to a W3C traceparent, if it has a Root and a Parent.
std::optional<std::string> xray_to_traceparent(std::string_view xray);

// Runs the loop; returns 0 on a clean stop, 1 if the Runtime API is unreachable or init failed.
int run_handler(const InvocationHandler& handler, RuntimeOptions options = {});

// Reports an initialisation failure (before the loop), as the protocol asks.
void report_init_error(const std::string& endpoint, const platform::Error& e);

}  // namespace orderly::adapters::aws
