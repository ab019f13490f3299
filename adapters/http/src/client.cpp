// HttpClient over Beast, with mbedTLS for https (ADR 0018). Every socket
// operation is an async one on a private io_context, run to completion per
// call, so that tcp_stream's timeouts apply; mbedTLS reads and writes through
// the same operations (its BIO callbacks), and Beast's synchronous HTTP
// read/write run on a small stream that is either the socket or the TLS
// session.
#include "orderly/adapters/http/client.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // the BIO error codes only
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

namespace orderly::adapters::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using platform::ErrorKind;
using platform::fail;

namespace {

// Where the common distributions keep their CA bundle. mbedTLS has no
// compiled-in default: SSL_CERT_FILE and SSL_CERT_DIR first (what the stack
// sets on Lambda, and OpenSSL's convention), then these. provided.al2023 keeps
// its bundle under /etc/pki.
constexpr std::array<const char*, 4> kCaBundles = {
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux, RHEL, Fedora
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // what the above links to
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu
    "/etc/ssl/cert.pem",                                  // Alpine, the BSDs
};

std::string tls_error(int code) {
  std::array<char, 160> buf{};
  mbedtls_strerror(code, buf.data(), buf.size());
  return fmt::format("{} (-0x{:04x})", buf.data(), static_cast<unsigned>(-code));
}

// The system trust store: $SSL_CERT_FILE and each bundle above that exists
// and is not a file already loaded; if none is, every certificate file in
// $SSL_CERT_DIR. Returns the CA files in use, for error messages. A bundle that does
// not load is skipped; a certificate mbedTLS cannot parse (say, a key type it
// lacks) is skipped and its bundle kept. With no trust anchor at all, every
// handshake fails verification (never verify_none).
std::vector<std::string> load_system_trust(mbedtls_x509_crt* ca) {
  namespace fs = std::filesystem;
  std::vector<std::string> files, loaded;  // as named; canonical
  auto seen = [&](const std::string& canonical) {
    for (const auto& l : loaded)
      if (l == canonical) return true;
    return false;
  };
  auto count = [&] {
    int n = 0;
    for (const auto* c = ca; c && c->raw.len > 0; c = c->next) ++n;
    return n;
  };
  auto load_file = [&](const std::string& file) {
    std::error_code ec;
    const auto c = fs::canonical(file, ec);
    if (ec || !fs::is_regular_file(c, ec) || seen(c.string())) return;
    const int before = count();
    mbedtls_x509_crt_parse_file(ca, file.c_str());  // > 0: that many were skipped
    if (count() > before) {
      files.push_back(file);
      loaded.push_back(c.string());
    }
  };
  if (const char* f = std::getenv("SSL_CERT_FILE"); f && *f) load_file(f);
  for (const char* bundle : kCaBundles) load_file(bundle);
  // A directory is read only when no bundle was found: it usually holds the
  // same certificates again (Debian's /etc/ssl/certs), and parsing each twice
  // would double the cost at init.
  if (const char* d = std::getenv("SSL_CERT_DIR"); d && *d && files.empty()) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) load_file(e.path().string());
  }
  return files;
}

std::string describe_trust(const std::vector<std::string>& files) {
  if (files.empty())
    return fmt::format("no CA bundle found: set SSL_CERT_FILE (looked in {})",
                       fmt::join(kCaBundles, ", "));
  return fmt::format("CA files: {}", fmt::join(files, ", "));
}

// mbedTLS 2.28 checks DNS names only; it skips iPAddress entries of the
// subjectAltName. For a host that is an IP literal the name check is ours:
// the leaf's SAN must hold exactly those address bytes (RFC 6125 6.2.1).
bool san_has_ip(const mbedtls_x509_crt& crt, const std::vector<unsigned char>& ip) {
  unsigned char* p = crt.v3_ext.p;
  if (!p) return false;
  const unsigned char* end = p + crt.v3_ext.len;
  std::size_t len = 0;
  // [3] EXPLICIT Extensions, if the buffer starts at the tag.
  if (mbedtls_asn1_get_tag(&p, end, &len,
                           MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) == 0)
    end = p + len;
  if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
    return false;
  end = p + len;
  while (p < end) {
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) != 0)
      return false;
    const unsigned char* ext_end = p + len;
    mbedtls_asn1_buf oid{};
    if (mbedtls_asn1_get_tag(&p, ext_end, &oid.len, MBEDTLS_ASN1_OID) != 0) return false;
    oid.p = p;
    p += oid.len;
    const bool san = oid.len == MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME) &&
                     std::memcmp(oid.p, MBEDTLS_OID_SUBJECT_ALT_NAME, oid.len) == 0;
    if (!san) {
      p = const_cast<unsigned char*>(ext_end);
      continue;
    }
    int critical = 0;
    mbedtls_asn1_get_bool(&p, ext_end, &critical);  // optional
    if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) != 0) return false;
    if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE) !=
        0)
      return false;
    const unsigned char* names_end = p + len;
    while (p < names_end) {
      const unsigned char tag = *p++;
      if (mbedtls_asn1_get_len(&p, names_end, &len) != 0) return false;
      if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_IP_ADDRESS) &&
          len == ip.size() && std::memcmp(p, ip.data(), len) == 0)
        return true;
      p += len;
    }
    return false;
  }
  return false;
}

// The address bytes of an IP literal host; empty for a DNS name.
std::vector<unsigned char> ip_bytes(const std::string& host) {
  std::array<unsigned char, 16> b{};
  if (inet_pton(AF_INET, host.c_str(), b.data()) == 1) return {b.begin(), b.begin() + 4};
  if (inet_pton(AF_INET6, host.c_str(), b.data()) == 1) return {b.begin(), b.end()};
  return {};
}

// What every connection of one client shares: the random generator, the
// trust anchors and the TLS configuration (TLS 1.2 and up, peer verified).
struct TlsConfig {
  mbedtls_entropy_context entropy;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt ca;
  mbedtls_ssl_config conf;
  TlsConfig() {
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_x509_crt_init(&ca);
    mbedtls_ssl_config_init(&conf);
  }
  ~TlsConfig() {
    mbedtls_ssl_config_free(&conf);
    mbedtls_x509_crt_free(&ca);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
  }
  TlsConfig(const TlsConfig&) = delete;
  TlsConfig& operator=(const TlsConfig&) = delete;
};

struct SslDeleter {
  void operator()(mbedtls_ssl_context* s) const {
    mbedtls_ssl_free(s);
    delete s;
  }
};

}  // namespace

std::optional<std::string> ClientResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (beast::iequals(k, name)) return v;
  return std::nullopt;
}

platform::Result<Origin> parse_origin(std::string_view url) {
  Origin o;
  std::string_view rest;
  if (url.starts_with("https://")) {
    o.tls = true;
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return fail(ErrorKind::invalid_input, "URL {} is not http:// or https://", url);
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.empty() || rest.find('@') != std::string_view::npos)
    return fail(ErrorKind::invalid_input, "URL {} has no usable host", url);
  const std::string default_port = o.tls ? "443" : "80";
  if (rest.front() == '[') {  // [IPv6]:port
    const auto close = rest.find(']');
    if (close == std::string_view::npos)
      return fail(ErrorKind::invalid_input, "URL {}: bad IPv6 literal", url);
    o.host = std::string(rest.substr(1, close - 1));
    const auto after = rest.substr(close + 1);
    o.port = after.starts_with(":") ? std::string(after.substr(1)) : default_port;
  } else {
    const auto colon = rest.rfind(':');
    o.host = std::string(rest.substr(0, colon));
    o.port = colon == std::string_view::npos ? default_port : std::string(rest.substr(colon + 1));
  }
  if (o.host.empty() || o.port.empty() ||
      o.port.find_first_not_of("0123456789") != std::string::npos || o.port.size() > 5)
    return fail(ErrorKind::invalid_input, "URL {} has a bad host or port", url);
  const bool v6 = o.host.find(':') != std::string::npos;
  o.host_header = v6 ? "[" + o.host + "]" : o.host;
  if (o.port != default_port) {
    o.host_header += ':';
    o.host_header += o.port;
  }
  return o;
}

struct HttpClient::Impl {
  Origin origin;
  ClientOptions options;
  asio::io_context io;
  std::unique_ptr<TlsConfig> tls;      // https only
  std::vector<unsigned char> host_ip;  // an IP literal host's bytes: the name check is ours
  std::vector<std::string> ca_files;   // the trust anchors' files, for error messages
  std::optional<beast::tcp_stream> socket;
  std::unique_ptr<mbedtls_ssl_context, SslDeleter> session;  // on `socket`, https only
  beast::error_code io_error;  // the last socket error under mbedTLS (timeouts, resets)
  std::string scratch;         // one TLS record's worth of a request
  beast::flat_buffer buffer;
  std::mutex mu;
  std::size_t opened = 0;
  // Bytes of the answer read in this exchange: after TLS, so that an alert
  // (the close_notify of a server closing an idle connection) is not an answer.
  std::size_t received = 0;

  bool connected() const { return socket.has_value(); }
  void drop() {
    session.reset();
    socket.reset();
    buffer.clear();
  }

  // Runs the io_context until the started operation completes.
  void run() {
    io.restart();
    io.run();
  }

  // The socket, one operation at a time, under the stream's deadline:
  // `start(handler)` starts an async_read_some or async_write_some.
  template <class Start>
  std::size_t socket_op(Start start, beast::error_code& ec) {
    std::size_t n = 0;
    start([&](beast::error_code e, std::size_t k) {
      ec = e;
      n = k;
    });
    run();
    return n;
  }
  std::size_t socket_read(asio::mutable_buffer b, beast::error_code& ec) {
    return socket_op([&](auto h) { socket->async_read_some(b, std::move(h)); }, ec);
  }
  std::size_t socket_write(asio::const_buffer b, beast::error_code& ec) {
    return socket_op([&](auto h) { socket->async_write_some(b, std::move(h)); }, ec);
  }

  // mbedTLS's BIO: the same socket operations.
  static int bio_send(void* ctx, const unsigned char* buf, std::size_t len) {
    auto* self = static_cast<Impl*>(ctx);
    const auto n = self->socket_write(asio::buffer(buf, len), self->io_error);
    if (self->io_error) return MBEDTLS_ERR_NET_SEND_FAILED;
    return static_cast<int>(n);
  }
  static int bio_recv(void* ctx, unsigned char* buf, std::size_t len) {
    auto* self = static_cast<Impl*>(ctx);
    const auto n = self->socket_read(asio::buffer(buf, len), self->io_error);
    if (self->io_error == asio::error::eof) return 0;  // mbedTLS: the peer closed
    if (self->io_error) return MBEDTLS_ERR_NET_RECV_FAILED;
    return static_cast<int>(n);
  }
  static int verify_ip(void* ctx, mbedtls_x509_crt* crt, int depth, std::uint32_t* flags) {
    const auto* self = static_cast<const Impl*>(ctx);
    if (depth == 0 && !san_has_ip(*crt, self->host_ip)) *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    return 0;
  }

  // Beast's synchronous HTTP read and write run on this: the socket, or the
  // TLS session on it.
  struct Stream {
    Impl& impl;
    template <class Buffers>
    std::size_t read_some(const Buffers& buffers, beast::error_code& ec) {
      ec = {};
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
           ++it) {
        asio::mutable_buffer b = *it;
        if (b.size() == 0) continue;
        if (!impl.session) {
          const auto n = impl.socket_read(b, ec);
          impl.received += n;
          return n;
        }
        for (;;) {
          const int r =
              mbedtls_ssl_read(impl.session.get(), static_cast<unsigned char*>(b.data()), b.size());
          if (r > 0) {
            impl.received += static_cast<std::size_t>(r);
            return static_cast<std::size_t>(r);
          }
          if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
          if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            ec = asio::error::eof;
          } else if (impl.io_error) {
            ec = impl.io_error;
          } else {
            ec = asio::error::connection_aborted;
            impl.tls_failure = tls_error(r);
          }
          return 0;
        }
      }
      return 0;
    }
    template <class Buffers>
    std::size_t read_some(const Buffers& buffers) {
      beast::error_code ec;
      const auto n = read_some(buffers, ec);
      if (ec) throw beast::system_error(ec);
      return n;
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& buffers, beast::error_code& ec) {
      ec = {};
      if (!impl.session) {
        std::size_t total = 0;
        for (auto it = asio::buffer_sequence_begin(buffers);
             it != asio::buffer_sequence_end(buffers); ++it) {
          asio::const_buffer b = *it;
          if (b.size() == 0) continue;
          total = impl.socket_write(b, ec);
          break;
        }
        return total;
      }
      // Gather the pieces (status line, fields, body) into one TLS record of
      // at most 16 KiB, not one record per piece.
      impl.scratch.clear();
      for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
           ++it) {
        asio::const_buffer b = *it;
        const auto room = kRecord - impl.scratch.size();
        impl.scratch.append(static_cast<const char*>(b.data()), std::min(room, b.size()));
        if (impl.scratch.size() == kRecord) break;
      }
      if (impl.scratch.empty()) return 0;
      for (;;) {
        const int r = mbedtls_ssl_write(impl.session.get(),
                                        reinterpret_cast<const unsigned char*>(impl.scratch.data()),
                                        impl.scratch.size());
        if (r >= 0) return static_cast<std::size_t>(r);
        if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
        if (impl.io_error) {
          ec = impl.io_error;
        } else {
          ec = asio::error::connection_aborted;
          impl.tls_failure = tls_error(r);
        }
        return 0;
      }
    }
    template <class Buffers>
    std::size_t write_some(const Buffers& buffers) {
      beast::error_code ec;
      const auto n = write_some(buffers, ec);
      if (ec) throw beast::system_error(ec);
      return n;
    }
    static constexpr std::size_t kRecord = 16 * 1024;
  };
  std::string tls_failure;  // what mbedTLS said, when a TLS error ended an exchange

  platform::Status handshake() {
    session.reset(new mbedtls_ssl_context);
    mbedtls_ssl_init(session.get());
    if (const int r = mbedtls_ssl_setup(session.get(), &tls->conf); r != 0) {
      drop();
      return fail(ErrorKind::transient, "TLS setup for {}: {}", origin.host, tls_error(r));
    }
    if (host_ip.empty()) {
      // SNI, and the name the certificate must carry (DNS names, wildcards).
      if (const int r = mbedtls_ssl_set_hostname(session.get(), origin.host.c_str()); r != 0) {
        drop();
        return fail(ErrorKind::invalid_input, "TLS host name {}: {}", origin.host, tls_error(r));
      }
    } else {
      mbedtls_ssl_set_verify(session.get(), &Impl::verify_ip, this);  // no SNI for an address
    }
    mbedtls_ssl_set_bio(session.get(), this, &Impl::bio_send, &Impl::bio_recv, nullptr);
    io_error = {};
    socket->expires_after(options.connect_timeout);
    int r = 0;
    do {
      r = mbedtls_ssl_handshake(session.get());
    } while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (r == 0) return {};
    const auto flags = mbedtls_ssl_get_verify_result(session.get());
    const auto socket_error = io_error;
    drop();
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      // A certificate that does not verify will not verify on a retry either.
      std::array<char, 512> info{};
      mbedtls_x509_crt_verify_info(info.data(), info.size(), "", flags);
      std::string why(info.data());
      while (!why.empty() && why.back() == '\n') why.pop_back();
      for (auto& c : why)
        if (c == '\n') c = ';';
      return fail(ErrorKind::failed_precondition,
                  "TLS handshake with {}: certificate verify failed: {} ({})", origin.host, why,
                  describe_trust(ca_files));
    }
    if (socket_error)
      return fail(ErrorKind::transient, "TLS handshake with {}: {}", origin.host,
                  socket_error.message());
    // The peer refused us (an alert) or spoke no TLS we accept: a retry would too.
    return fail(ErrorKind::failed_precondition, "TLS handshake with {}: {}", origin.host,
                tls_error(r));
  }

  platform::Status connect() {
    beast::error_code ec;
    tcp::resolver resolver(io);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(origin.host, origin.port,
                           [&](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    run();
    if (ec) return fail(ErrorKind::transient, "resolve {}: {}", origin.host, ec.message());
    socket.emplace(io);
    socket->expires_after(options.connect_timeout);
    socket->async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) {
      drop();
      return fail(ErrorKind::transient, "connect {}:{}: {}", origin.host, origin.port,
                  ec.message());
    }
    socket->socket().set_option(tcp::no_delay(true), ec);
    if (origin.tls)
      if (auto h = handshake(); !h) return h;
    ++opened;
    return {};
  }

  // One exchange on the open connection. `answered` tells whether any of the
  // response was read (then the request must not be replayed).
  platform::Result<ClientResponse> exchange(bhttp::request<bhttp::string_body>& req,
                                            bool& answered) {
    beast::error_code ec;
    Stream stream{*this};
    io_error = {};
    tls_failure.clear();
    received = 0;
    socket->expires_after(options.request_timeout);
    bhttp::write(stream, req, ec);
    if (ec)
      return fail(ErrorKind::transient, "write to {}: {}", origin.host,
                  tls_failure.empty() ? ec.message() : tls_failure);
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.body_limit);
    bhttp::read(stream, buffer, parser, ec);
    answered = received > 0;
    if (ec) {
      if (ec == bhttp::error::body_limit)
        return fail(ErrorKind::permanent, "response from {} is larger than {} bytes", origin.host,
                    options.body_limit);
      return fail(ErrorKind::transient, "read from {}: {}", origin.host,
                  tls_failure.empty() ? ec.message() : tls_failure);
    }
    auto res = parser.release();
    ClientResponse out;
    out.status = res.result_int();
    for (const auto& f : res) out.headers.emplace_back(f.name_string(), f.value());
    out.body = std::move(res.body());
    if (!res.keep_alive()) drop();
    return out;
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

const Origin& HttpClient::origin() const {
  return impl_->origin;
}
std::size_t HttpClient::connections_opened() const {
  return impl_->opened;
}

platform::Result<std::unique_ptr<HttpClient>> HttpClient::create(std::string_view base_url,
                                                                 ClientOptions options) {
  auto origin = parse_origin(base_url);
  if (!origin) return tl::unexpected(origin.error());
  auto impl = std::make_unique<Impl>();
  impl->origin = std::move(*origin);
  impl->options = std::move(options);
  if (impl->origin.tls) {
    impl->tls = std::make_unique<TlsConfig>();
    auto& t = *impl->tls;
    static constexpr char kPersonal[] = "orderly-http-client";
    if (const int r = mbedtls_ctr_drbg_seed(&t.drbg, mbedtls_entropy_func, &t.entropy,
                                            reinterpret_cast<const unsigned char*>(kPersonal),
                                            sizeof kPersonal - 1);
        r != 0)
      return fail(ErrorKind::transient, "TLS random generator: {}", tls_error(r));
    if (const int r =
            mbedtls_ssl_config_defaults(&t.conf, MBEDTLS_SSL_IS_CLIENT,
                                        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
        r != 0)
      return fail(ErrorKind::transient, "TLS configuration: {}", tls_error(r));
    mbedtls_ssl_conf_min_version(&t.conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_authmode(&t.conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_rng(&t.conf, mbedtls_ctr_drbg_random, &t.drbg);
    impl->ca_files = load_system_trust(&t.ca);
    if (!impl->options.ca_file.empty()) {
      const int r = mbedtls_x509_crt_parse_file(&t.ca, impl->options.ca_file.c_str());
      if (r < 0)
        return fail(ErrorKind::invalid_input, "CA file {}: {}", impl->options.ca_file,
                    tls_error(r));
      impl->ca_files.push_back(impl->options.ca_file);
    }
    mbedtls_ssl_conf_ca_chain(&t.conf, &t.ca, nullptr);
    impl->host_ip = ip_bytes(impl->origin.host);
  }
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

platform::Result<ClientResponse> HttpClient::send(std::string_view method, std::string_view target,
                                                  const Headers& headers, std::string body) {
  const auto verb = bhttp::string_to_verb(method);
  if (verb == bhttp::verb::unknown)
    return fail(ErrorKind::invalid_input, "unknown HTTP method {}", method);
  std::lock_guard lock(impl_->mu);
  bhttp::request<bhttp::string_body> req{verb, target, 11};
  req.set(bhttp::field::host, impl_->origin.host_header);
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  req.keep_alive(true);
  for (int attempt = 0;; ++attempt) {
    const bool reused = impl_->connected();
    if (!reused)
      if (auto c = impl_->connect(); !c) return tl::unexpected(c.error());
    bool answered = false;
    auto r = impl_->exchange(req, answered);
    if (r) return r;
    impl_->drop();
    // A kept-alive connection the server had already closed: replay once, fresh.
    if (reused && !answered && attempt == 0) continue;
    return r;
  }
}

}  // namespace orderly::adapters::http
