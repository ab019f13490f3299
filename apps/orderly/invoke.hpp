// `orderly invoke`: run one service's Lambda bootstrap under the local Runtime API.
#pragma once

#include <string>

namespace orderly::app {

struct InvokeOptions {
  std::string service;
  std::string handler = "api";  // api | events
  std::string event_file;       // '-' reads stdin
  // The bootstraps' only store is DynamoDB (no SQLite in them: ADR 0018):
  // dynamodb-endpoint URL, or, when empty, a DynamoDB Local started for this
  // invocation (tests/support/dynamodb-local.mjs; Java 17 and npm ci) and
  // stopped after it, so every such invocation starts from an empty table.
  std::string dynamodb_endpoint;
  std::string table;      // default: orderly-<service>
  std::string bootstrap;  // default: <orderly's dir>/../lambda/<service>/bootstrap
  double timeout_s = 30;
  bool timing = false;  // print init time and idle RSS to stderr
  int repeat = 1;       // invocations of the same event in one sandbox
};

// Prints the handler's JSON answer (or the error document) on stdout.
// Returns 0 for a response, 1 for a function or init error or a timeout, 2 for bad options.
int run_invoke(const InvokeOptions& o, const char* argv0);

}  // namespace orderly::app
