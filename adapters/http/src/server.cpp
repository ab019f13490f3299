// The Beast server: acceptor, sessions with keep-alive, timeouts, graceful stop.
#include "orderly/adapters/http/server.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "orderly/platform/clock.hpp"
#include "orderly/platform/id.hpp"
#include "orderly/platform/thread_name.hpp"

namespace orderly::adapters::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
namespace ph = platform::http;
using Clock = std::chrono::steady_clock;

namespace {

// Concrete executor types: no any_io_executor type erasure on the hot path.
using Executor = asio::io_context::executor_type;
using Socket = asio::basic_stream_socket<tcp, Executor>;
using Timer = asio::basic_waitable_timer<Clock, asio::wait_traits<Clock>, Executor>;

constexpr std::size_t kHeaderLimit = 16 * 1024;

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

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string url_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 &&
               hex_value(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// RFC 9110 token characters, for header names a handler sets.
bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool safe_header(std::string_view name, std::string_view value) {
  if (name.empty() || !std::all_of(name.begin(), name.end(), token_char)) return false;
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

}  // namespace

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

namespace {

// The request as handlers see it. HEAD is served as GET without the body.
ph::Request to_request(bhttp::request<bhttp::string_body>& req, const std::string& peer) {
  ph::Request r;
  r.method =
      req.method() == bhttp::verb::head ? std::string("GET") : std::string(req.method_string());
  r.target = std::string(req.target());
  split_target(r);
  for (const auto& f : req) {
    auto [it, inserted] = r.headers.emplace(lower(f.name_string()), std::string(f.value()));
    if (!inserted) {  // RFC 9110 list semantics
      it->second += ", ";
      it->second += f.value();
    }
  }
  r.body = std::move(req.body());
  r.client = peer;
  auto given = r.header("x-request-id");
  r.request_id = given && sane_request_id(*given) ? std::move(*given) : platform::new_uuid_v7();
  return r;
}

}  // namespace

std::string response_head(const ph::Response& res, const std::string& request_id, unsigned version,
                          bool keep_alive, std::size_t content_length) {
  std::string out;
  out.reserve(256);
  const auto status = static_cast<unsigned>(res.status);
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += bhttp::obsolete_reason(bhttp::int_to_status(status));
  out += "\r\n";
  for (const auto& [k, v] : res.headers) {
    // A handler's header that could split the response is dropped, never sent.
    if (!safe_header(k, v)) continue;
    if (beast::iequals(k, "content-length") || beast::iequals(k, "connection") ||
        beast::iequals(k, "transfer-encoding") || beast::iequals(k, "x-request-id"))
      continue;  // the server owns framing and the request id
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "X-Request-Id: ";
  out += request_id;
  out += "\r\n";
  // No body and no Content-Length on 1xx, 204 and 304 (RFC 9110 8.6).
  if (!(status < 200 || status == 204 || status == 304)) {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n";
  }
  if (version == 10 && keep_alive) out += "Connection: keep-alive\r\n";
  if (version != 10 && !keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

platform::Result<ph::Request> parse_request(std::string_view raw, std::size_t body_limit) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(body_limit);
  parser.header_limit(kHeaderLimit);
  parser.eager(true);
  beast::error_code ec;
  std::size_t used = 0;
  while (!ec && !parser.is_done() && used < raw.size()) {
    const auto n = parser.put(asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (ec == bhttp::error::need_more) break;
    if (n == 0 && !ec) break;
    used += n;
  }
  if (!parser.is_done() && (!ec || ec == bhttp::error::need_more)) {
    parser.put_eof(ec);
    if (!ec && !parser.is_done()) ec = bhttp::error::partial_message;
  }
  if (ec) return platform::fail(platform::ErrorKind::invalid_input, "{}", ec.message());
  auto msg = parser.release();
  return to_request(msg, "127.0.0.1");
}

struct Session;

// One single-threaded io_context per thread: a connection lives on one thread
// for its whole life, so there are no strands, no cross-thread wake-ups and no
// locks on the hot path (the profile of one shared context showed scheduler
// locks and context switches on top). Each worker sweeps its own connections'
// deadlines four times a second: a deadline is a plain store per request, where
// a timer per read and write cost a timer-queue update and often a
// timerfd_settime(2) each.
struct Worker {
  asio::io_context io{1};
  Timer sweeper{io.get_executor()};
  std::vector<Session*> sessions;  // only touched on this worker's thread
  bool stopping = false;
  void sweep();
  void arm() {
    sweeper.expires_after(std::chrono::milliseconds(250));
    sweeper.async_wait([this](beast::error_code) { sweep(); });
  }
};

struct HttpServer::Impl {
  ServerOptions options;
  Handler handler;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<asio::executor_work_guard<Executor>> guards;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::size_t next_worker = 0;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::mutex sessions_mu;
  std::set<std::shared_ptr<Session>> sessions;
  std::unordered_map<std::string, std::size_t> per_client;  // open connections by address
  std::atomic<std::uint64_t> refused{0};
  std::once_flag stopped;

  void accept();
};

struct Session : std::enable_shared_from_this<Session> {
  HttpServer::Impl& server;
  Worker& worker;
  Socket socket;
  std::size_t slot = 0;  // index in worker.sessions
  bool registered = false;
  Clock::time_point deadline = Clock::time_point::max();
  bool timed_out = false;
  beast::flat_buffer buffer;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser;
  std::string head;  // the response: status line and headers,
  std::string body;  // then the body, written with one gathering write
  bool keep_alive = false;
  bool busy = false;    // between a complete request and its written response
  bool linger = false;  // an early refusal: drain what the client still sends, then close
  std::size_t drained = 0;
  Clock::time_point linger_until;
  std::string peer;

  Session(HttpServer::Impl& s, Worker& w, Socket sock)
      : server(s), worker(w), socket(std::move(sock)) {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (!ec) peer = ep.address().to_string();
  }

  void expire_in(Clock::duration d) {
    deadline = Clock::now() + d;
    timed_out = false;
  }

  void start() {
    slot = worker.sessions.size();
    worker.sessions.push_back(this);
    registered = true;
    read(true);
  }

  void read(bool first) {
    if (server.stopping) return close();
    parser.emplace();
    parser->body_limit(server.options.body_limit);
    parser->header_limit(kHeaderLimit);
    expire_in(first ? server.options.read_timeout : server.options.idle_timeout);
    bhttp::async_read(
        socket, buffer, *parser,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec && timed_out) {
      if (parser && parser->got_some() && !server.stopping)
        return reply_error(408, "request-timeout", "Request timeout",
                           "the request was not received in time");
      return close();
    }
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == asio::error::connection_reset || ec == asio::error::eof)
      return close();
    if (ec == bhttp::error::body_limit)
      return reply_error(413, "payload-too-large", "Payload too large",
                         fmt::format("the body limit is {} bytes", server.options.body_limit));
    if (ec == bhttp::error::header_limit)
      return reply_error(431, "headers-too-large", "Request header fields too large",
                         "headers over 16 KiB");
    if (ec)
      return reply_error(400, "bad-request", "Bad request", "malformed HTTP: " + ec.message());
    busy = true;
    handle();
  }

  void reply_error(int status, std::string_view slug, std::string_view title, std::string detail) {
    ph::Request r;
    r.request_id = platform::new_uuid_v7();
    auto response = ph::problem(status, slug, title, std::move(detail), r);
    body = std::move(response.body);
    keep_alive = false;
    head = response_head(response, r.request_id, 11, false, body.size());
    // The request is refused before it was read whole (413, 431, 408, 400): the
    // client may still be sending. Closing now would reset the connection and
    // the client could lose this answer; so, as nginx lingers, drain first.
    linger = true;
    write();
  }

  void handle() {
    const auto started = Clock::now();
    auto& msg = parser->get();
    const bool head_only = msg.method() == bhttp::verb::head;
    const unsigned version = msg.version();
    const bool client_keeps = msg.keep_alive();
    ph::Request r = to_request(msg, peer);
    ph::Response out;
    try {
      out = server.handler(r);
    } catch (const std::exception&) {
      out = ph::problem(500, "internal", "Internal error", "the request could not be completed", r);
    }
    keep_alive = client_keeps && !server.stopping;
    const std::size_t length = out.body.size();
    body = head_only || out.status < 200 || out.status == 204 || out.status == 304
               ? std::string()
               : std::move(out.body);
    head = response_head(out, r.request_id, version, keep_alive, length);
    if (server.options.access_log) {
      const auto ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
      server.options.access_log(boost::json::serialize(boost::json::object{
          {"time", platform::format_rfc3339(platform::SystemClock::instance().now())},
          {"level", "info"},
          {"msg", "request"},
          {"method", r.method},
          {"path", r.path},
          {"status", out.status},
          {"durationUs", static_cast<std::int64_t>(ms * 1000)},
          {"bytes", length},
          {"requestId", r.request_id},
          {"client", platform::http::log_client(r.client)}}));
    }
    write();
  }

  void write() {
    expire_in(server.options.write_timeout);
    const std::array<asio::const_buffer, 2> parts{asio::buffer(head), asio::buffer(body)};
    asio::async_write(socket, parts,
                      [self = shared_from_this()](beast::error_code ec, std::size_t) {
                        self->busy = false;
                        if (ec) return self->close();
                        if (!self->keep_alive)
                          return self->linger ? self->linger_close() : self->close();
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
    socket.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) return close();
    linger_until = Clock::now() + kLingerTime;
    drain();
  }

  void drain() {
    const auto now = Clock::now();
    if (server.stopping || drained >= kLingerBytes || now >= linger_until) return close();
    expire_in(std::min<Clock::duration>(kLingerQuiet, linger_until - now));
    buffer.clear();
    auto space = buffer.prepare(64 * 1024);
    socket.async_read_some(space, [self = shared_from_this()](beast::error_code ec, std::size_t n) {
      self->drained += n;
      if (ec) return self->close();  // end of stream, timeout, reset: done
      self->drain();
    });
  }

  void close() {
    boost::system::error_code ec;
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    if (registered) {  // swap-remove from the worker's sweep list
      registered = false;
      auto& list = worker.sessions;
      list[slot] = list.back();
      list[slot]->slot = slot;
      list.pop_back();
    }
    std::lock_guard lk(server.sessions_mu);
    if (server.sessions.erase(shared_from_this()) == 0) return;  // closed before
    if (auto it = server.per_client.find(peer); it != server.per_client.end() && --it->second == 0)
      server.per_client.erase(it);
  }

  // On stop: an idle keep-alive connection closes now; a busy one after its response.
  void stop_if_idle() {
    if (!busy) {
      boost::system::error_code ec;
      socket.cancel(ec);
    }
  }
};

void Worker::sweep() {
  const auto now = Clock::now();
  for (Session* s : sessions) {
    if (s->timed_out || s->deadline > now) continue;
    s->timed_out = true;  // the pending read or write completes with operation_aborted
    boost::system::error_code ec;
    s->socket.cancel(ec);
  }
  // Keeps sweeping while stopping until the last connection is gone, so that a
  // slow reader cannot hold stop() past its write timeout.
  if (!stopping || !sessions.empty()) arm();
}

void HttpServer::Impl::accept() {
  auto& worker = *workers[next_worker++ % workers.size()];
  acceptor->async_accept(worker.io, [this, &worker](beast::error_code ec, tcp::socket accepted) {
    if (ec) {
      if (!stopping && ec != asio::error::operation_aborted) accept();
      return;
    }
    accepted.set_option(tcp::no_delay(true), ec);
    // Moved onto a socket with the worker's concrete executor type.
    Socket socket(worker.io.get_executor());
    {
      const auto protocol = accepted.local_endpoint(ec).protocol();
      const auto fd = ec ? -1 : accepted.release(ec);
      if (!ec) socket.assign(protocol, fd, ec);
      if (ec) {
        if (fd >= 0 && !socket.is_open()) ::close(fd);
        accept();
        return;
      }
    }
    auto s = std::make_shared<Session>(*this, worker, std::move(socket));
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
        auto& sock = s->socket;
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
    asio::dispatch(worker.io.get_executor(), [s] { s->start(); });
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
    impl->workers.push_back(std::make_unique<Worker>());
    impl->guards.push_back(asio::make_work_guard(impl->workers.back()->io));
  }
  impl->acceptor = std::make_unique<tcp::acceptor>(impl->workers[0]->io);
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
  for (auto& w : impl->workers) {
    w->arm();
    impl->threads.emplace_back([w = w.get(), n = impl->threads.size()] {
      platform::name_this_thread(fmt::format("http-{}", n));
      w->io.run();
    });
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

std::uint16_t HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor->local_endpoint(ec).port();
}

void HttpServer::stop() {
  std::call_once(impl_->stopped, [this] {
    impl_->stopping = true;
    asio::post(impl_->workers[0]->io, [this] {
      boost::system::error_code ec;
      impl_->acceptor->close(ec);
    });
    {
      std::lock_guard lk(impl_->sessions_mu);
      for (const auto& s : impl_->sessions) asio::post(s->worker.io, [s] { s->stop_if_idle(); });
    }
    for (auto& w : impl_->workers)
      asio::post(w->io, [w = w.get()] {
        w->stopping = true;
        if (w->sessions.empty()) w->sweeper.cancel();  // its handler sees nothing left to sweep
      });
    impl_->guards.clear();  // each run() returns once its sessions are done
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
  });
}

HttpServer::~HttpServer() {
  stop();
}

}  // namespace orderly::adapters::http
