// The Beast server: keep-alive, request ids, body limit, malformed HTTP, handler exceptions,
// graceful stop.
#include "orderly/adapters/http/server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <thread>

namespace orderly::adapters::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
namespace ph = platform::http;

struct Client {
  asio::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;
  explicit Client(std::uint16_t port) {
    socket.connect({asio::ip::make_address("127.0.0.1"), port});
  }
  bhttp::response<bhttp::string_body> send(bhttp::request<bhttp::string_body> req) {
    req.prepare_payload();
    bhttp::write(socket, req);
    bhttp::response<bhttp::string_body> res;
    bhttp::read(socket, buffer, res);
    return res;
  }
  std::string raw(const std::string& bytes) {
    asio::write(socket, asio::buffer(bytes));
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      auto n = socket.read_some(asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) break;
    }
    return out;
  }
};

bhttp::request<bhttp::string_body> get(const std::string& target) {
  bhttp::request<bhttp::string_body> r{bhttp::verb::get, target, 11};
  r.set(bhttp::field::host, "127.0.0.1");
  return r;
}

class ServerTest : public ::testing::Test {
 protected:
  void start(Handler h, ServerOptions o = {}) {
    o.port = 0;
    auto s = HttpServer::start(std::move(o), std::move(h));
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }
  std::unique_ptr<HttpServer> server_;
};

TEST_F(ServerTest, ServesKeepAliveRequestsWithRequestIdsAndQueryParameters) {
  start([](ph::Request& r) {
    return ph::Response::json(200, {{"path", r.path}, {"q", r.query_param("name").value_or("")}});
  });
  Client c(server_->port());
  auto a = c.send(get("/hello?name=a%20b&x=1"));
  EXPECT_EQ(a.result_int(), 200);
  EXPECT_EQ(a.body(), R"({"path":"/hello","q":"a b"})");
  EXPECT_EQ(a[bhttp::field::content_type], "application/json");
  EXPECT_EQ(a["X-Request-Id"].size(), 36u);
  auto req = get("/again");
  req.set("X-Request-Id", "client-chosen-1");
  auto b = c.send(req);  // same connection
  EXPECT_EQ(b["X-Request-Id"], "client-chosen-1");
  auto bad_id = get("/again");
  bad_id.set("X-Request-Id", "no spaces or <script>");
  EXPECT_NE(c.send(bad_id)["X-Request-Id"], "no spaces or <script>");
}

TEST_F(ServerTest, BodiesOverTheLimitGet413AndMalformedHttpGets400) {
  ServerOptions o;
  o.body_limit = 1024;
  start([](ph::Request&) { return ph::Response::json(200, {{"ok", true}}); }, o);
  {
    Client c(server_->port());
    auto req = get("/big");
    req.method(bhttp::verb::post);
    req.body() = std::string(1025, 'x');
    auto res = c.send(req);
    EXPECT_EQ(res.result_int(), 413);
    EXPECT_EQ(res[bhttp::field::content_type], "application/problem+json");
  }
  {
    Client c(server_->port());
    auto out = c.raw("GARBAGE\r\n\r\n");
    EXPECT_NE(out.find("HTTP/1.1 400"), std::string::npos) << out;
  }
  Client c(server_->port());
  EXPECT_EQ(c.send(get("/still-up")).result_int(), 200);
}

TEST_F(ServerTest, HandlerExceptionsBecome500ProblemsAndTheServerStaysUp) {
  start([](ph::Request& r) -> ph::Response {
    if (r.path == "/boom") throw std::runtime_error("kaboom");
    return ph::Response::json(200, {{"ok", true}});
  });
  Client c(server_->port());
  auto res = c.send(get("/boom"));
  EXPECT_EQ(res.result_int(), 500);
  EXPECT_EQ(res.body().find("kaboom"), std::string::npos);  // no internals leak
  EXPECT_EQ(c.send(get("/ok")).result_int(), 200);
}

TEST_F(ServerTest, StopFinishesRequestsInFlight) {
  std::promise<void> entered;
  start([&](ph::Request&) {
    entered.set_value();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return ph::Response::json(200, {{"done", true}});
  });
  auto port = server_->port();
  auto response = std::async(std::launch::async, [port] {
    Client c(port);
    return c.send(get("/slow"));
  });
  entered.get_future().wait();
  server_->stop();  // returns after the slow request was answered
  auto res = response.get();
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), R"({"done":true})");
  EXPECT_FALSE(res.keep_alive());
  asio::io_context io;
  tcp::socket s{io};
  boost::system::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  EXPECT_TRUE(ec);  // no longer accepting
}

}  // namespace
}  // namespace orderly::adapters::http
