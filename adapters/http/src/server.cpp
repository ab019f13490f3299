// The Beast server: acceptor, sessions with keep-alive, timeouts, graceful stop.
#include "orderly/adapters/http/server.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/id.hpp"

namespace orderly::adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
namespace ph = platform::http;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
          c == ':'))
      return false;
  return true;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() &&
               std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void split_target(ph::Request& r) {
  const auto q = r.target.find('?');
  r.path = r.target.substr(0, q);
  if (q == std::string::npos) return;
  std::string_view rest(r.target);
  rest.remove_prefix(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const auto pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    if (!pair.empty())
      r.query.emplace(url_decode(pair.substr(0, eq)),
                      eq == std::string_view::npos ? "" : url_decode(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
}

}  // namespace

// One single-threaded io_context per thread: a connection lives on one thread
// for its whole life, so there are no strands, no cross-thread wake-ups and no
// locks on the hot path (the profile of one shared context showed scheduler
// locks and context switches on top).
struct HttpServer::Impl {
  ServerOptions options;
  Handler handler;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::size_t next_io = 0;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;
  std::set<std::shared_ptr<struct Session>> sessions;
  std::unordered_map<std::string, std::size_t> per_client;  // open connections by address
  std::atomic<std::uint64_t> refused{0};
  std::once_flag stopped;

  void accept();
};

struct Session : std::enable_shared_from_this<Session> {
  HttpServer::Impl& server;
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  bhttp::response<bhttp::string_body> res;
  bool busy = false;    // between a complete request and its written response
  bool linger = false;  // an early refusal: drain what the client still sends, then close
  std::size_t drained = 0;
  std::chrono::steady_clock::time_point linger_until;
  std::string peer;

  Session(HttpServer::Impl& s, tcp::socket socket) : server(s), stream(std::move(socket)) {
    boost::system::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) peer = ep.address().to_string();
  }

  void read(bool first) {
    if (server.stopping) return close();
    parser.emplace();
    parser->body_limit(server.options.body_limit);
    parser->header_limit(16 * 1024);
    stream.expires_after(first ? server.options.read_timeout : server.options.idle_timeout);
    bhttp::async_read(
        stream, buffer, *parser,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      if (ec == beast::error::timeout && parser && parser->got_some() && !server.stopping)
        return reply_error(408, "request-timeout", "Request timeout",
                           "the request was not received in time");
      return close();
    }
    if (ec == bhttp::error::body_limit)
      return reply_error(413, "payload-too-large", "Payload too large",
                         fmt::format("the body limit is {} bytes", server.options.body_limit));
    if (ec == bhttp::error::header_limit)
      return reply_error(431, "headers-too-large", "Request header fields too large",
                         "headers over 16 KiB");
    if (ec)
      return reply_error(400, "bad-request", "Bad request", "malformed HTTP: " + ec.message());
    busy = true;
    handle(parser->release());
  }

  void reply_error(int status, std::string_view slug, std::string_view title, std::string detail) {
    ph::Request r;
    r.request_id = platform::new_uuid_v7();
    auto response = ph::problem(status, slug, title, std::move(detail), r);
    res = {};
    res.version(11);
    res.result(static_cast<unsigned>(status));
    for (const auto& [k, v] : response.headers) res.set(k, v);
    res.set("X-Request-Id", r.request_id);
    res.keep_alive(false);
    res.body() = std::move(response.body);
    res.prepare_payload();
    // The request is refused before it was read whole (413, 431, 408, 400): the
    // client may still be sending. Closing now would reset the connection and
    // the client could lose this answer; so, as nginx lingers, drain first.
    linger = true;
    write();
  }

  void handle(bhttp::request<bhttp::string_body> req) {
    const auto started = std::chrono::steady_clock::now();
    ph::Request r;
    const bool head = req.method() == bhttp::verb::head;
    r.method = head ? "GET" : std::string(req.method_string());  // HEAD is GET without the body
    r.target = std::string(req.target());
    split_target(r);
    for (const auto& f : req) {
      auto name = lower(f.name_string());
      auto [it, inserted] = r.headers.emplace(name, std::string(f.value()));
      if (!inserted) it->second += ", " + std::string(f.value());  // RFC 9110 list semantics
    }
    r.body = std::move(req.body());
    r.client = peer;
    auto given = r.header("x-request-id");
    r.request_id = given && sane_request_id(*given) ? *given : platform::new_uuid_v7();
    ph::Response out;
    try {
      out = server.handler(r);
    } catch (const std::exception&) {
      out = ph::problem(500, "internal", "Internal error", "the request could not be completed", r);
    }
    res = {};
    res.version(req.version());
    res.result(static_cast<unsigned>(out.status));
    for (const auto& [k, v] : out.headers) res.set(k, v);
    res.set("X-Request-Id", r.request_id);
    res.keep_alive(req.keep_alive() && !server.stopping);
    res.body() = std::move(out.body);
    res.prepare_payload();
    if (head) {
      const auto length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    if (server.options.access_log) {
      const auto ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
              .count();
      server.options.access_log(boost::json::serialize(boost::json::object{
          {"time", platform::format_rfc3339(platform::SystemClock::instance().now())},
          {"level", "info"},
          {"msg", "request"},
          {"method", r.method},
          {"path", r.path},
          {"status", out.status},
          {"durationUs", static_cast<std::int64_t>(ms * 1000)},
          {"bytes", res.body().size()},
          {"requestId", r.request_id},
          {"client", r.client}}));
    }
    write();
  }

  void write() {
    stream.expires_after(server.options.write_timeout);
    bhttp::async_write(stream, res, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->busy = false;
      if (ec) return self->close();
      if (!self->res.keep_alive()) return self->linger ? self->linger_close() : self->close();
      self->read(false);
    });
  }

  // Half-close (the client sees the end of the answer), then read and discard
  // what the client still sends, up to kLingerBytes or kLingerTime, then close.
  static constexpr std::size_t kLingerBytes = 8 * 1024 * 1024;
  static constexpr auto kLingerTime = std::chrono::seconds(5);
  static constexpr auto kLingerQuiet = std::chrono::seconds(1);  // no byte for this long: done

  void linger_close() {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    linger_until = std::chrono::steady_clock::now() + kLingerTime;
    drain();
  }

  void drain() {
    const auto now = std::chrono::steady_clock::now();
    if (server.stopping || drained >= kLingerBytes || now >= linger_until) return close();
    stream.expires_after(
        std::min<std::chrono::steady_clock::duration>(kLingerQuiet, linger_until - now));
    buffer.clear();
    auto space = buffer.prepare(64 * 1024);
    stream.async_read_some(space, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained += n;
      if (ec) return self->close();  // end of stream, timeout, reset: done
      self->drain();
    });
  }

  void close() {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.socket().close(ec);
    std::lock_guard lk(server.sessions_mu);
    if (server.sessions.erase(shared_from_this()) == 0) return;  // closed before
    if (auto it = server.per_client.find(peer); it != server.per_client.end() && --it->second == 0)
      server.per_client.erase(it);
  }

  // On stop: an idle keep-alive connection closes now; a busy one after its response.
  void stop_if_idle() {
    if (!busy) {
      boost::system::error_code ec;
      stream.socket().cancel(ec);
    }
  }
};

void HttpServer::Impl::accept() {
  auto& target = *ios[next_io++ % ios.size()];
  acceptor->async_accept(target, [this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (!stopping && ec != asio::error::operation_aborted) accept();
      return;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto s = std::make_shared<Session>(*this, std::move(socket));
    {
      std::lock_guard lk(sessions_mu);
      auto& mine = per_client[s->peer];
      if (sessions.size() >= options.max_connections ||
          mine >= options.max_connections_per_client) {
        if (mine == 0) per_client.erase(s->peer);
        ++refused;
        // Cheap and bounded: one non-blocking write of a fixed answer, then close.
        static const std::string kBusy = [] {
          const std::string body = R"({"type":"https://orderly.dev/problems/too-many-connections",)"
                                   R"("title":"Too many connections","status":503})";
          return fmt::format(
              "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/problem+json\r\n"
              "Retry-After: 1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{}",
              body.size(), body);
        }();
        auto& sock = s->stream.socket();
        sock.non_blocking(true, ec);
        sock.write_some(asio::buffer(kBusy.data(), kBusy.size()), ec);
        sock.shutdown(tcp::socket::shutdown_both, ec);
        sock.close(ec);
        accept();
        return;
      }
      ++mine;
      sessions.insert(s);
    }
    asio::dispatch(s->stream.get_executor(), [s] { s->read(true); });
    accept();
  });
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

platform::Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerOptions options,
                                                                Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->handler = std::move(handler);
  const int n = std::max(1, impl->options.threads);
  for (int i = 0; i < n; ++i) {
    impl->ios.push_back(std::make_unique<asio::io_context>(1));
    impl->guards.push_back(asio::make_work_guard(*impl->ios.back()));
  }
  impl->acceptor = std::make_unique<tcp::acceptor>(*impl->ios[0]);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(impl->options.host, ec);
  if (ec)
    return platform::fail(platform::ErrorKind::invalid_input, "bad listen address {}",
                          impl->options.host);
  tcp::endpoint ep{address, impl->options.port};
  impl->acceptor->open(ep.protocol(), ec);
  if (!ec) impl->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor->bind(ep, ec);
  if (!ec) impl->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return platform::fail(platform::ErrorKind::permanent, "cannot listen on {}:{}: {}",
                          impl->options.host, impl->options.port, ec.message());
  impl->accept();
  for (auto& io : impl->ios) impl->threads.emplace_back([io = io.get()] { io->run(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor->local_endpoint(ec).port();
}

void HttpServer::stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->stopping = true;
    asio::post(*impl_->ios[0], [this] {
      boost::system::error_code ec;
      impl_->acceptor->close(ec);
    });
    {
      std::lock_guard lk(impl_->sessions_mu);
      for (const auto& s : impl_->sessions)
        asio::post(s->stream.get_executor(), [s] { s->stop_if_idle(); });
    }
    impl_->guards.clear();  // each run() returns once its sessions are done
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
  });
}

HttpServer::~HttpServer() {
  stop();
}

}  // namespace orderly::adapters::http
