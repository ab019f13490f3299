// HttpClient over TLS (mbedTLS), against a TLS server in this process (on
// OpenSSL, a different TLS stack) with a certificate made here by the
// openssl command for DNS:localhost and IP:127.0.0.1.
#include "orderly/adapters/http/client.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"

namespace orderly::adapters::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct Certificate {
  orderly::testing::TempDir dir;
  std::string cert = dir.file("cert.pem");
  std::string key = dir.file("key.pem");
  Certificate() {
    const std::string cmd = fmt::format(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 "
        "-keyout {} -out {} 2>/dev/null",
        key, cert);
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("openssl req failed");
  }
};

// Serves `connections` TLS connections one after the other, one request each,
// answering "conn N" with keep-alive. After the answer on a connection listed
// in `close_notify_after`, it sends a TLS close_notify and keeps the socket
// open (what a server does when it closes an idle kept-alive connection, with
// the FIN still to come). OpenSSL on the socket itself, so that the alert
// leaves at once.
class TlsServer {
 public:
  TlsServer(const Certificate& c, int connections, std::vector<int> close_notify_after)
      : close_after_(std::move(close_notify_after)) {
    SSL_CTX_use_certificate_chain_file(ctx_.get(), c.cert.c_str());
    SSL_CTX_use_PrivateKey_file(ctx_.get(), c.key.c_str(), SSL_FILETYPE_PEM);
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, connections] { serve(connections); });
  }
  ~TlsServer() {
    if (thread_.joinable()) thread_.join();
    for (auto* ssl : kept_) SSL_free(ssl);
  }
  TlsServer(const TlsServer&) = delete;
  TlsServer& operator=(const TlsServer&) = delete;
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int notified() const { return notified_.load(); }

 private:
  void serve(int connections) {
    for (int n = 0; n < connections; ++n) {
      boost::system::error_code ec;
      auto& s = sockets_.emplace_back(io_);
      acceptor_.accept(s, ec);
      if (ec) return;
      SSL* ssl = SSL_new(ctx_.get());
      kept_.push_back(ssl);  // the socket stays open until the server ends
      SSL_set_fd(ssl, s.native_handle());
      if (SSL_accept(ssl) != 1) continue;
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        const int k = SSL_read(ssl, buf, sizeof buf);
        if (k <= 0) break;
        req.append(buf, static_cast<std::size_t>(k));
      }
      const std::string body = fmt::format("conn {}", n);
      const std::string res =
          fmt::format("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{}",
                      body.size(), body);
      SSL_write(ssl, res.data(), static_cast<int>(res.size()));
      if (std::find(close_after_.begin(), close_after_.end(), n) != close_after_.end()) {
        SSL_shutdown(ssl);  // close_notify, without waiting for the peer's
        ++notified_;
      }
    }
  }

  asio::io_context io_;
  tcp::acceptor acceptor_{io_, {asio::ip::make_address("127.0.0.1"), 0}};
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx_{SSL_CTX_new(TLS_server_method()),
                                                         SSL_CTX_free};
  std::vector<int> close_after_;
  std::list<tcp::socket> sockets_;
  std::vector<SSL*> kept_;
  std::atomic<int> notified_{0};
  int port_ = 0;
  std::thread thread_;
};

void wait_for(const std::function<bool()>& done) {
  for (int i = 0; i < 400 && !done(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

// A server that closes an idle kept-alive connection with a close_notify: the
// next request finds it closed before any byte of an answer, and is replayed
// once on a fresh connection. The alert's bytes are not an answer.
TEST(HttpClientTls, AKeptAliveConnectionClosedWithCloseNotifyIsReplayedFresh) {
  Certificate cert;
  TlsServer server(cert, 2, {0});
  auto client = HttpClient::create(
      fmt::format("https://localhost:{}", server.port()),
      ClientOptions{.request_timeout = std::chrono::seconds(60), .ca_file = cert.cert});
  ASSERT_TRUE(client) << client.error().message;
  const auto started = std::chrono::steady_clock::now();
  auto first = (*client)->send("GET", "/", {}, "");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->body, "conn 0");
  wait_for([&] { return server.notified() == 1; });
  ASSERT_EQ(server.notified(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the alert is in flight
  auto second = (*client)->send("GET", "/", {}, "");
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body, "conn 1");
  EXPECT_EQ((*client)->connections_opened(), 2u);
  // On the alert, not after the 60 s request timeout (a read that waited for
  // it, then replayed, would also end with "conn 1").
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
}

// An IP-literal host: the certificate's iPAddress entry is what names it.
TEST(HttpClientTls, AnAddressHostIsVerifiedAgainstTheCertificatesIpEntries) {
  Certificate cert;
  TlsServer server(cert, 1, {});
  auto client = HttpClient::create(fmt::format("https://127.0.0.1:{}", server.port()),
                                   ClientOptions{.ca_file = cert.cert});
  ASSERT_TRUE(client) << client.error().message;
  auto r = (*client)->send("GET", "/", {}, "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200u);
  EXPECT_EQ(r->body, "conn 0");
}

}  // namespace
}  // namespace orderly::adapters::http
