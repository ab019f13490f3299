// `orderly invoke`: like `sam local invoke`, without containers. The bootstrap
// runs as a child process with the environment Lambda gives it
// (AWS_LAMBDA_RUNTIME_API, _HANDLER, AWS_REGION, function name and memory),
// against the project's LocalRuntime; its logs go to stderr, the answer to
// stdout.
#include "invoke.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <utility>
#include <vector>

#include "orderly/adapters/aws/dynamodb.hpp"
#include "orderly/adapters/aws/local_runtime.hpp"

namespace orderly::app {

namespace fs = std::filesystem;
using adapters::aws::LocalOutcome;
using adapters::aws::LocalRuntime;

namespace {

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

std::string default_bootstrap(const char* argv0, const std::string& service) {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) self = fs::absolute(argv0);
  return (self.parent_path().parent_path() / "lambda" / service / "bootstrap").string();
}

// A local DynamoDB (DynamoDB Local) starts empty: create the
// service's table there, as the CDK app does on AWS. Never on a real endpoint.
bool ensure_local_table(const std::string& endpoint, const std::string& table) {
  const bool loopback = endpoint.find("://127.0.0.1") != std::string::npos ||
                        endpoint.find("://localhost") != std::string::npos ||
                        endpoint.find("://[::1]") != std::string::npos;
  if (!loopback) return true;
  adapters::aws::DynamoDbOptions o;
  o.endpoint = endpoint;
  const char* region = std::getenv("AWS_REGION");
  o.region = region ? region : "us-east-1";
  o.credentials = {"local", "local", std::nullopt};
  o.max_attempts = 2;
  auto client = adapters::aws::DynamoDbClient::create(o);
  if (!client) {
    std::fprintf(stderr, "invoke: %s\n", client.error().describe().c_str());
    return false;
  }
  auto described = (*client)->call("DescribeTable", {{"TableName", table}});
  if (!described) {
    auto created = (*client)->call("CreateTable",
                                   adapters::aws::DynamoDbItemStore::create_table_request(table));
    if (!created) {
      std::fprintf(stderr, "invoke: create table %s: %s\n", table.c_str(),
                   created.error().describe().c_str());
      return false;
    }
  }
  for (int i = 0; i < 500; ++i) {
    auto d = (*client)->call("DescribeTable", {{"TableName", table}});
    const auto* t = d ? d->if_contains("Table") : nullptr;
    if (t && t->is_object() && t->as_object().if_contains("TableStatus") &&
        t->as_object().at("TableStatus") == "ACTIVE")
      return true;
    ::usleep(10'000);
  }
  std::fprintf(stderr, "invoke: table %s never became ACTIVE\n", table.c_str());
  return false;
}

// Waits up to `grace` for the child to exit, then sends it `then` and reaps it.
// Returns its wait status, and whether the grace ran out.
std::pair<int, bool> reap(pid_t pid, std::chrono::milliseconds grace, int then) {
  int status = 0;
  const auto until = std::chrono::steady_clock::now() + grace;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      ::kill(pid, then);
      ::waitpid(pid, &status, 0);
      return {status, true};
    }
    ::usleep(1000);
  }
  return {status, false};
}

// A DynamoDB Local for one invocation: tests/support/dynamodb-local.mjs on a
// free loopback port; it stops when its stdin closes (the destructor), and so
// also if this process dies.
class EphemeralDynamoDb {
 public:
  ~EphemeralDynamoDb() {
    if (pid_ <= 0) return;
    if (stdin_ >= 0) ::close(stdin_);
    if (stdout_ >= 0) ::close(stdout_);
    reap(pid_, std::chrono::seconds(10), SIGTERM);
  }
  // Returns the endpoint URL, or an empty string (and says why on stderr).
  std::string start() {
    const std::string script = ORDERLY_SOURCE_DIR "/tests/support/dynamodb-local.mjs";
    if (!fs::exists(script)) {
      std::fprintf(stderr, "invoke: no %s: pass --store dynamodb-endpoint URL\n", script.c_str());
      return {};
    }
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) {
      std::perror("invoke: pipe");
      return {};
    }
    pid_ = ::fork();
    if (pid_ < 0) {
      std::perror("invoke: fork");
      return {};
    }
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      ::execlp("node", "node", script.c_str(), "--port", "0", static_cast<char*>(nullptr));
      std::perror("invoke: node");
      _exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    stdin_ = in[1];
    stdout_ = out[0];
    std::string seen;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{stdout_, POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      const auto n = ::read(stdout_, buf, sizeof buf);
      if (n <= 0) break;
      seen.append(buf, static_cast<std::size_t>(n));
      if (const auto at = seen.find("listening "); at != std::string::npos) {
        const auto eol = seen.find('\n', at);
        if (eol == std::string::npos) continue;
        const std::string url = "http://127.0.0.1:" + seen.substr(at + 10, eol - at - 10);
        std::fprintf(stderr, "invoke: DynamoDB Local for this invocation on %s\n", url.c_str());
        return url;
      }
    }
    std::fprintf(stderr,
                 "invoke: DynamoDB Local did not start (needs Java 17 and npm ci; or pass "
                 "--store dynamodb-endpoint URL)\n");
    return {};
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1, stdout_ = -1;
};

}  // namespace

int run_invoke(const InvokeOptions& o, const char* argv0) {
  std::string payload;
  if (o.event_file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    payload = ss.str();
  } else {
    std::ifstream in(o.event_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "invoke: cannot read %s\n", o.event_file.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    payload = ss.str();
  }
  const std::string bootstrap =
      o.bootstrap.empty() ? default_bootstrap(argv0, o.service) : o.bootstrap;
  if (::access(bootstrap.c_str(), X_OK) != 0) {
    std::fprintf(stderr, "invoke: no bootstrap at %s (build it: make build)\n", bootstrap.c_str());
    return 2;
  }
  auto rt = LocalRuntime::start();
  if (!rt) {
    std::fprintf(stderr, "invoke: %s\n", rt.error().describe().c_str());
    return 2;
  }

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string_view kv(*e);
    if (kv.starts_with("AWS_LAMBDA_") || kv.starts_with("_HANDLER=") ||
        kv.starts_with("ORDERLY_STORE=") || kv.starts_with("ORDERLY_TABLE="))
      continue;
    env.emplace_back(kv);
  }
  const std::string function = "orderly-" + o.service + "-" + o.handler;
  env.push_back("AWS_LAMBDA_RUNTIME_API=" + (*rt)->endpoint());
  env.push_back("_HANDLER=" + o.handler);
  env.push_back("AWS_LAMBDA_FUNCTION_NAME=" + function);
  env.push_back("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256");
  env.push_back("AWS_LAMBDA_FUNCTION_VERSION=$LATEST");
  env.push_back("ORDERLY_SERVICE=" + o.service);
  if (!std::getenv("AWS_REGION")) env.push_back("AWS_REGION=us-east-1");
  EphemeralDynamoDb ephemeral;
  std::string endpoint = o.dynamodb_endpoint;
  if (endpoint.empty()) {
    endpoint = ephemeral.start();
    if (endpoint.empty()) return 2;
  }
  const std::string table = o.table.empty() ? "orderly-" + o.service : o.table;
  if (!ensure_local_table(endpoint, table)) return 2;
  env.push_back("ORDERLY_STORE=dynamodb");
  env.push_back("ORDERLY_DYNAMODB_ENDPOINT=" + endpoint);
  env.push_back("ORDERLY_TABLE=" + table);
  // A local endpoint takes any credentials; real ones come from the environment.
  if (!std::getenv("AWS_ACCESS_KEY_ID")) env.push_back("AWS_ACCESS_KEY_ID=local");
  if (!std::getenv("AWS_SECRET_ACCESS_KEY")) env.push_back("AWS_SECRET_ACCESS_KEY=local");
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  const auto timeout = std::chrono::milliseconds(static_cast<long>(o.timeout_s * 1000));
  for (int i = 0; i < o.repeat; ++i) (*rt)->enqueue({.payload = payload, .timeout = timeout});

  std::fflush(stdout);
  const auto spawned = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("invoke: fork");
    return 2;
  }
  if (pid == 0) {
    ::dup2(2, 1);  // the function's logs go to stderr; stdout carries only the answer
    char* argv[] = {const_cast<char*>(bootstrap.c_str()), nullptr};
    ::execve(bootstrap.c_str(), argv, envp.data());
    std::perror("invoke: exec");
    _exit(127);
  }

  int rc = 0;
  for (int i = 0; i < o.repeat; ++i) {
    auto outcome = (*rt)->wait(timeout + std::chrono::seconds(2));
    if (i + 1 < o.repeat && outcome.kind == LocalOutcome::Kind::response) continue;
    switch (outcome.kind) {
      case LocalOutcome::Kind::response:
        std::printf("%s\n", outcome.body.c_str());
        break;
      case LocalOutcome::Kind::error:
      case LocalOutcome::Kind::init_error:
        std::printf("%s\n", outcome.body.c_str());
        std::fprintf(stderr, "invoke: %s (%s)\n",
                     outcome.kind == LocalOutcome::Kind::error ? "function error" : "init error",
                     outcome.error_type.c_str());
        rc = 1;
        break;
      case LocalOutcome::Kind::timeout:
        std::fprintf(stderr, "invoke: no answer within %.1f s\n", o.timeout_s);
        rc = 1;
        break;
    }
    if (rc) break;
  }
  if (o.timing) {
    const auto ready = (*rt)->first_next_at();
    const double init_ms =
        ready ? std::chrono::duration<double, std::milli>(*ready - spawned).count() : -1;
    std::fprintf(stderr, "invoke-timing init_ms=%.3f idle_rss_kb=%ld\n", init_ms, rss_kb(pid));
  }
  ::kill(pid, SIGTERM);  // idle in /next: a clean exit
  const auto [status, ignored] = reap(pid, std::chrono::seconds(3), SIGKILL);
  if (ignored) {
    std::fprintf(stderr, "invoke: the function ignored SIGTERM\n");
    rc = rc ? rc : 1;
  }
  (*rt)->stop();
  if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    std::fprintf(stderr, "invoke: the function exited with status %d\n", status);
    rc = 1;
  }
  return rc;
}

}  // namespace orderly::app
