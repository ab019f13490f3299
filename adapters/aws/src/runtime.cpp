// Lambda Runtime API client over Beast (plain HTTP on the loopback endpoint).
#include "orderly/adapters/aws/runtime.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <exception>
#include <thread>

namespace orderly::adapters::aws {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr const char* kApi = "/2018-06-01/runtime";

struct Connection {
  std::string host, port;
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;

  explicit Connection(const std::string& endpoint) {
    const auto colon = endpoint.rfind(':');
    host = endpoint.substr(0, colon);
    port = colon == std::string::npos ? "80" : endpoint.substr(colon + 1);
  }

  // One request on a kept-alive connection; reconnects once if it was closed.
  bhttp::response<bhttp::string_body> send(
      bhttp::verb verb, const std::string& target, std::string body,
      const std::vector<std::pair<std::string, std::string>>& headers, std::size_t body_limit) {
    for (int attempt = 0;; ++attempt) {
      try {
        if (!stream) {
          stream.emplace(io);
          tcp::resolver resolver(io);
          stream->connect(resolver.resolve(host, port));
        }
        bhttp::request<bhttp::string_body> req{verb, target, 11};
        req.set(bhttp::field::host, host);
        for (const auto& [k, v] : headers) req.set(k, v);
        req.body() = body;
        req.prepare_payload();
        bhttp::write(*stream, req);
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(body_limit);
        bhttp::read(*stream, buffer, parser);
        auto res = parser.release();
        if (!res.keep_alive()) stream.reset();
        return res;
      } catch (const std::exception&) {
        stream.reset();
        buffer.clear();
        if (attempt >= 1) throw;
      }
    }
  }
};

std::string error_body(const std::string& type, const std::string& message) {
  return boost::json::serialize(
      boost::json::object{{"errorType", type}, {"errorMessage", message}});
}

}  // namespace

std::optional<std::string> xray_to_traceparent(std::string_view xray) {
  // Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1
  auto field = [&](std::string_view name) -> std::string {
    auto p = xray.find(name);
    if (p == std::string_view::npos) return {};
    p += name.size();
    auto end = xray.find(';', p);
    return std::string(
        xray.substr(p, end == std::string_view::npos ? std::string_view::npos : end - p));
  };
  std::string root = field("Root=1-"), parent = field("Parent="), sampled = field("Sampled=");
  const auto dash = root.find('-');
  if (dash == std::string::npos) return std::nullopt;
  root.erase(dash, 1);
  if (root.size() != 32 || parent.size() != 16) return std::nullopt;
  for (char c : root + parent)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  return "00-" + root + "-" + parent + (sampled == "1" ? "-01" : "-00");
}

void report_init_error(const std::string& endpoint, const platform::Error& e) {
  try {
    Connection c(endpoint);
    c.send(bhttp::verb::post, std::string(kApi) + "/init/error",
           error_body("Runtime.InitError", e.describe()),
           {{"Lambda-Runtime-Function-Error-Type", "Runtime.InitError"},
            {"Content-Type", "application/json"}},
           64 * 1024);
  } catch (...) {
  }
}

int run_handler(const InvocationHandler& handler, RuntimeOptions o) {
  if (o.endpoint.empty()) {
    const char* env = std::getenv("AWS_LAMBDA_RUNTIME_API");
    if (!env || !*env) return 1;
    o.endpoint = env;
  }
  Connection conn(o.endpoint);
  for (int served = 0; o.max_invocations < 0 || served < o.max_invocations; ++served) {
    if (o.stop && o.stop->load()) return 0;
    Invocation inv;
    try {
      auto res = conn.send(bhttp::verb::get, std::string(kApi) + "/invocation/next", "", {},
                           o.max_payload + 1024);
      if (res.result_int() != 200) return 1;
      inv.request_id = std::string(res["Lambda-Runtime-Aws-Request-Id"]);
      inv.function_arn = std::string(res["Lambda-Runtime-Invoked-Function-Arn"]);
      inv.xray_trace = std::string(res["Lambda-Runtime-Trace-Id"]);
      inv.deadline_ms = std::chrono::milliseconds(
          std::atoll(std::string(res["Lambda-Runtime-Deadline-Ms"]).c_str()));
      inv.payload = std::move(res.body());
      if (o.busy) o.busy->store(true);
    } catch (const std::exception&) {
      if (o.stop && o.stop->load()) return 0;
      return 1;  // the Runtime API is gone: the sandbox is shutting down
    }
    if (!inv.xray_trace.empty()) {
      ::setenv("_X_AMZN_TRACE_ID", inv.xray_trace.c_str(), 1);
      inv.traceparent = xray_to_traceparent(inv.xray_trace);
    } else {
      ::unsetenv("_X_AMZN_TRACE_ID");
    }
    platform::Result<std::string> out =
        platform::make_error(platform::ErrorKind::permanent, "not run");
    try {
      out = handler(inv);
    } catch (const std::exception& e) {
      out = platform::make_error(platform::ErrorKind::permanent,
                                 std::string("unhandled exception: ") + e.what());
    } catch (...) {
      out = platform::make_error(platform::ErrorKind::permanent, "unhandled exception");
    }
    if (out && out->size() > o.max_payload)
      out = platform::fail(platform::ErrorKind::permanent,
                           "response of {} bytes is over the {}-byte limit", out->size(),
                           o.max_payload);
    try {
      const std::string base = std::string(kApi) + "/invocation/" + inv.request_id;
      if (out) {
        conn.send(bhttp::verb::post, base + "/response", std::move(*out),
                  {{"Content-Type", "application/json"}}, 64 * 1024);
      } else {
        const std::string type = "Orderly." + std::string(platform::to_string(out.error().kind));
        conn.send(
            bhttp::verb::post, base + "/error", error_body(type, out.error().message),
            {{"Lambda-Runtime-Function-Error-Type", type}, {"Content-Type", "application/json"}},
            64 * 1024);
      }
    } catch (const std::exception&) {
      return 1;
    }
    if (o.busy) o.busy->store(false);
  }
  return 0;
}

}  // namespace orderly::adapters::aws
