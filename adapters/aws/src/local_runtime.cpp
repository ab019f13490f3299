// LocalRuntime on the project's Beast server.
#include "orderly/adapters/aws/local_runtime.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "orderly/adapters/http/server.hpp"
#include "orderly/platform/id.hpp"

namespace orderly::adapters::aws {

namespace ph = platform::http;
using Clock = std::chrono::steady_clock;

struct LocalRuntime::Impl {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::deque<LocalInvocation> queue;
  std::deque<LocalOutcome> outcomes;
  std::optional<Clock::time_point> first_next;
  bool stopping = false;
  std::unique_ptr<http::HttpServer> server;

  void settle(LocalOutcome o) {
    {
      std::lock_guard lk(mu);
      outcomes.push_back(std::move(o));
    }
    cv.notify_all();
  }

  ph::Response handle(ph::Request& r) {
    static constexpr std::string_view kBase = "/2018-06-01/runtime/";
    if (!r.path.starts_with(kBase)) return ph::problem(404, "not-found", "Not found", r.path, r);
    const std::string_view rest = std::string_view(r.path).substr(kBase.size());
    auto error_type = [&] {
      auto it = r.headers.find("lambda-runtime-function-error-type");
      return it == r.headers.end() ? std::string("Unhandled") : it->second;
    };
    if (r.method == "GET" && rest == "invocation/next") {
      std::unique_lock lk(mu);
      if (!first_next) first_next = Clock::now();
      cv.wait(lk, [&] { return stopping || !queue.empty(); });
      if (queue.empty()) return ph::problem(503, "stopping", "Runtime stopping", "", r);
      auto inv = std::move(queue.front());
      queue.pop_front();
      const auto deadline = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::system_clock::now().time_since_epoch()) +
                            inv.timeout;
      ph::Response res;
      res.status = 200;
      res.body = std::move(inv.payload);
      res.with("Content-Type", "application/json")
          .with("Lambda-Runtime-Aws-Request-Id", inv.request_id)
          .with("Lambda-Runtime-Deadline-Ms", std::to_string(deadline.count()))
          .with("Lambda-Runtime-Invoked-Function-Arn", inv.function_arn)
          .with("Lambda-Runtime-Trace-Id", inv.trace_id);
      return res;
    }
    if (r.method == "POST" && rest == "init/error") {
      settle({LocalOutcome::Kind::init_error, "", r.body, error_type()});
      return ph::Response::json(202, {{"status", "OK"}});
    }
    static constexpr std::string_view kInv = "invocation/";
    if (r.method == "POST" && rest.starts_with(kInv)) {
      const auto tail = rest.substr(kInv.size());
      const auto slash = tail.find('/');
      if (slash != std::string_view::npos) {
        const std::string id(tail.substr(0, slash));
        const auto what = tail.substr(slash + 1);
        if (what == "response") {
          settle({LocalOutcome::Kind::response, id, r.body, ""});
          return ph::Response::json(202, {{"status", "OK"}});
        }
        if (what == "error") {
          settle({LocalOutcome::Kind::error, id, r.body, error_type()});
          return ph::Response::json(202, {{"status", "OK"}});
        }
      }
    }
    return ph::problem(404, "not-found", "Not found", r.path, r);
  }
};

LocalRuntime::LocalRuntime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
LocalRuntime::~LocalRuntime() {
  stop();
}

platform::Result<std::unique_ptr<LocalRuntime>> LocalRuntime::start() {
  auto impl = std::make_unique<Impl>();
  auto* raw = impl.get();
  // Two threads: one may be parked in a /next while the other takes a post.
  auto server = http::HttpServer::start({.host = "127.0.0.1",
                                         .port = 0,
                                         .threads = 2,
                                         .body_limit = 7 * 1024 * 1024,
                                         .read_timeout = std::chrono::milliseconds(15 * 60 * 1000),
                                         .write_timeout = std::chrono::milliseconds(60'000),
                                         .idle_timeout = std::chrono::milliseconds(15 * 60 * 1000)},
                                        [raw](ph::Request& r) { return raw->handle(r); });
  if (!server) return tl::unexpected(server.error());
  impl->server = std::move(*server);
  return std::unique_ptr<LocalRuntime>(new LocalRuntime(std::move(impl)));
}

std::string LocalRuntime::endpoint() const {
  return "127.0.0.1:" + std::to_string(impl_->server->port());
}

std::string LocalRuntime::enqueue(LocalInvocation inv) {
  if (inv.request_id.empty()) inv.request_id = platform::new_uuid_v7();
  if (inv.trace_id.empty()) {
    const auto hex = platform::new_uuid_v7();  // 32 hex digits once the dashes go
    std::string digits;
    for (char c : hex)
      if (c != '-') digits += c;
    inv.trace_id = "Root=1-" + digits.substr(0, 8) + "-" + digits.substr(8, 24) +
                   ";Parent=" + digits.substr(16, 16) + ";Sampled=1";
  }
  std::string id = inv.request_id;
  {
    std::lock_guard lk(impl_->mu);
    impl_->queue.push_back(std::move(inv));
  }
  impl_->cv.notify_all();
  return id;
}

LocalOutcome LocalRuntime::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lk(impl_->mu);
  if (!impl_->cv.wait_for(lk, timeout, [&] { return !impl_->outcomes.empty(); })) return {};
  auto o = std::move(impl_->outcomes.front());
  impl_->outcomes.pop_front();
  return o;
}

std::optional<Clock::time_point> LocalRuntime::first_next_at() const {
  std::lock_guard lk(impl_->mu);
  return impl_->first_next;
}

void LocalRuntime::stop() {
  if (!impl_ || !impl_->server) return;
  {
    std::lock_guard lk(impl_->mu);
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  impl_->server->stop();
  impl_->server.reset();
}

}  // namespace orderly::adapters::aws
