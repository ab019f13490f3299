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

// Deadlines are swept by each worker four times a second (no timer per read
// or write): a request that stops half-way gets its 408, an idle keep-alive
// connection is closed, and a client that never reads its answer cannot hold
// stop() past the write timeout.
TEST_F(ServerTest, AHalfSentRequestGets408AfterTheReadTimeout) {
  ServerOptions o;
  o.read_timeout = std::chrono::milliseconds(300);
  start([](ph::Request&) { return ph::Response::json(200, {{"ok", true}}); }, o);
  Client c(server_->port());
  const auto t0 = std::chrono::steady_clock::now();
  auto out = c.raw("GET /slow HTTP/1.1\r\nHost: x\r\n");  // no blank line: never complete
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_NE(out.find("HTTP/1.1 408"), std::string::npos) << out;
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(3));
}

TEST_F(ServerTest, AnIdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(300);
  start([](ph::Request&) { return ph::Response::json(200, {{"ok", true}}); }, o);
  Client c(server_->port());
  EXPECT_EQ(c.send(get("/one")).result_int(), 200);
  const auto t0 = std::chrono::steady_clock::now();
  char byte;
  boost::system::error_code ec;
  c.socket.read_some(asio::buffer(&byte, 1), ec);  // blocks until the server closes
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(ec, asio::error::eof);
  EXPECT_GE(waited, std::chrono::milliseconds(250));
  EXPECT_LT(waited, std::chrono::seconds(3));
}

TEST_F(ServerTest, AClientThatNeverReadsCannotHoldStopPastTheWriteTimeout) {
  ServerOptions o;
  o.write_timeout = std::chrono::milliseconds(300);
  const std::string big(64 * 1024 * 1024, 'x');  // far more than the socket buffers hold
  start(
      [&](ph::Request& r) {
        ph::Response res;
        res.body = r.path == "/big" ? big : "small";
        return res;
      },
      o);
  Client stuck(server_->port());
  auto req = get("/big");
  req.prepare_payload();
  bhttp::write(stuck.socket, req);  // and never read the answer
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Client other(server_->port());
  EXPECT_EQ(other.send(get("/small")).body(), "small");  // the worker is not blocked
  const auto t0 = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(ServerTest, HeadAnswersTheLengthWithoutTheBodyAndHttp10KeepsAliveOnlyWhenAsked) {
  start([](ph::Request& r) {
    ph::Response res;
    res.body = "hello " + r.method;
    return res;
  });
  {
    Client c(server_->port());
    auto out = c.raw("HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_NE(out.find("Content-Length: 9\r\n"), std::string::npos) << out;  // "hello GET"
    EXPECT_TRUE(out.ends_with("\r\n\r\n")) << out;
  }
  {
    Client c(server_->port());
    auto out = c.raw("GET /x HTTP/1.0\r\n\r\n");  // 1.0 without keep-alive: closed after
    EXPECT_TRUE(out.starts_with("HTTP/1.0 200 OK\r\n")) << out;
    EXPECT_EQ(out.find("Connection: keep-alive"), std::string::npos) << out;
    EXPECT_TRUE(out.ends_with("hello GET")) << out;
  }
}

TEST(ResponseHead, TheServerOwnsFramingAndDropsHeadersThatWouldSplitTheResponse) {
  ph::Response res;
  res.status = 201;
  res.with("Location", "/v1/orders/1")
      .with("X-Evil", "a\r\nSet-Cookie: stolen=1")
      .with("Bad Name", "v")
      .with("Content-Length", "999")
      .with("Connection", "keep-alive")
      .with("X-Request-Id", "spoofed");
  const auto head = response_head(res, "rid-1", 11, false, 12);
  EXPECT_EQ(head,
            "HTTP/1.1 201 Created\r\nLocation: /v1/orders/1\r\nX-Request-Id: rid-1\r\n"
            "Content-Length: 12\r\nConnection: close\r\n\r\n");
  ph::Response empty;
  empty.status = 204;
  EXPECT_EQ(response_head(empty, "r", 10, true, 0),
            "HTTP/1.0 204 No Content\r\nX-Request-Id: r\r\nConnection: keep-alive\r\n\r\n");
}

TEST(ParseRequest, MapsRawBytesAsTheServerDoesAndRefusesWhatItWouldRefuse) {
  auto r = parse_request(
      "POST /v1/x?a=1&b=%2F+c HTTP/1.1\r\nHost: h\r\nAccept: a\r\nACCEPT: b\r\n"
      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
      1024);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->path, "/v1/x");
  EXPECT_EQ(r->query_param("b"), "/ c");
  EXPECT_EQ(r->header("accept"), "a, b");
  EXPECT_EQ(r->body, "abc");
  EXPECT_EQ(r->request_id.size(), 36u);
  EXPECT_FALSE(parse_request("GET / HTTP/1.1\r\nHost: h\r\n", 1024));  // incomplete
  EXPECT_FALSE(parse_request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 1024));
  EXPECT_FALSE(parse_request("POST / HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 1024));
  EXPECT_FALSE(
      parse_request("GET / HTTP/1.1\r\nX: " + std::string(17 * 1024, 'a') + "\r\n\r\n", 1024));
}

}  // namespace
}  // namespace orderly::adapters::http
