// HttpClient over Beast: async operations on a private io_context, run to
// completion per call, so that tcp_stream's timeouts apply.
#include "orderly/adapters/http/client.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

namespace orderly::adapters::http {

namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using platform::ErrorKind;
using platform::fail;

namespace {

// Where the common distributions keep their CA bundle. The Lambda bootstraps
// link Debian's OpenSSL, whose compiled-in default (/usr/lib/ssl/cert.pem and
// /usr/lib/ssl/certs) does not exist on provided.al2023: Amazon Linux keeps its
// bundle under /etc/pki.
constexpr std::array<const char*, 3> kCaBundles = {
    "/etc/pki/tls/certs/ca-bundle.crt",                   // Amazon Linux, RHEL, Fedora
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  // what the above links to
    "/etc/ssl/certs/ca-certificates.crt",                 // Debian, Ubuntu, Alpine
};

// The system trust store: OpenSSL's defaults (SSL_CERT_FILE and SSL_CERT_DIR
// when set, else its compiled-in paths), plus each bundle above that exists
// and is not a file already loaded. Returns the CA files in use, for error
// messages. A bundle that does not load is skipped: with no trust anchor at
// all, every handshake fails verification (never verify_none).
std::vector<std::string> load_system_trust(SSL_CTX* ctx) {
  namespace fs = std::filesystem;
  std::vector<std::string> files, loaded;  // as named; canonical
  auto seen = [&](const std::string& canonical) {
    for (const auto& l : loaded)
      if (l == canonical) return true;
    return false;
  };
  SSL_CTX_set_default_verify_paths(ctx);  // silently skips paths that do not exist
  ERR_clear_error();
  const char* env_file = std::getenv(X509_get_default_cert_file_env());
  const std::string default_file =
      env_file && *env_file ? std::string(env_file) : std::string(X509_get_default_cert_file());
  std::error_code ec;
  if (auto c = fs::canonical(default_file, ec); !ec && fs::is_regular_file(c, ec)) {
    files.push_back(default_file);
    loaded.push_back(c.string());
  }
  for (const char* bundle : kCaBundles) {
    const auto c = fs::canonical(bundle, ec);
    if (ec || !fs::is_regular_file(c, ec) || seen(c.string())) continue;
    if (SSL_CTX_load_verify_locations(ctx, bundle, nullptr) == 1) {
      files.emplace_back(bundle);
      loaded.push_back(c.string());
    }
    ERR_clear_error();
  }
  return files;
}

std::string describe_trust(const std::vector<std::string>& files) {
  if (files.empty())
    return fmt::format("no CA bundle found: set SSL_CERT_FILE (looked in {}, {})",
                       X509_get_default_cert_file(), fmt::join(kCaBundles, ", "));
  return fmt::format("CA files: {}", fmt::join(files, ", "));
}

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
  ssl::context tls_ctx{ssl::context::tls_client};
  std::vector<std::string> ca_files;  // the trust anchors' files, for error messages
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
  std::mutex mu;
  std::size_t opened = 0;

  bool connected() const { return plain.has_value() || secure.has_value(); }
  void drop() {
    plain.reset();
    secure.reset();
    buffer.clear();
  }
  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }

  // Runs the io_context until the started operation completes.
  void run() {
    io.restart();
    io.run();
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
    if (origin.tls) {
      secure.emplace(io, tls_ctx);
    } else {
      plain.emplace(io);
    }
    auto& tcp_layer = lowest();
    tcp_layer.expires_after(options.connect_timeout);
    tcp_layer.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run();
    if (ec) {
      drop();
      return fail(ErrorKind::transient, "connect {}:{}: {}", origin.host, origin.port,
                  ec.message());
    }
    tcp_layer.socket().set_option(tcp::no_delay(true), ec);
    if (origin.tls) {
      // SSL_set_tlsext_host_name is a macro with a C cast; call what it expands to.
      if (SSL_ctrl(secure->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   origin.host.data()) != 1) {
        drop();
        return fail(ErrorKind::transient, "TLS SNI for {} failed", origin.host);
      }
      secure->set_verify_callback(ssl::host_name_verification(origin.host));
      tcp_layer.expires_after(options.connect_timeout);
      secure->async_handshake(ssl::stream_base::client, [&](beast::error_code e) { ec = e; });
      run();
      if (ec) {
        drop();
        // A certificate that does not verify will not verify on a retry either.
        const bool verify = ec.category() == asio::error::get_ssl_category();
        if (verify)
          return fail(ErrorKind::failed_precondition, "TLS handshake with {}: {} ({})", origin.host,
                      ec.message(), describe_trust(ca_files));
        return fail(ErrorKind::transient, "TLS handshake with {}: {}", origin.host, ec.message());
      }
    }
    ++opened;
    return {};
  }

  // One exchange on the open connection. `answered` tells whether any of the
  // response was read (then the request must not be replayed).
  platform::Result<ClientResponse> exchange(bhttp::request<bhttp::string_body>& req,
                                            bool& answered) {
    beast::error_code ec;
    lowest().expires_after(options.request_timeout);
    auto on_write = [&](beast::error_code e, std::size_t) { ec = e; };
    if (plain)
      bhttp::async_write(*plain, req, on_write);
    else
      bhttp::async_write(*secure, req, on_write);
    run();
    if (ec) return fail(ErrorKind::transient, "write to {}: {}", origin.host, ec.message());
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(options.body_limit);
    auto on_read = [&](beast::error_code e, std::size_t n) {
      ec = e;
      answered = answered || n > 0;
    };
    if (plain)
      bhttp::async_read(*plain, buffer, parser, on_read);
    else
      bhttp::async_read(*secure, buffer, parser, on_read);
    run();
    if (ec) {
      if (ec == bhttp::error::body_limit)
        return fail(ErrorKind::permanent, "response from {} is larger than {} bytes", origin.host,
                    options.body_limit);
      return fail(ErrorKind::transient, "read from {}: {}", origin.host, ec.message());
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
    beast::error_code ec;
    SSL_CTX_set_min_proto_version(impl->tls_ctx.native_handle(), TLS1_2_VERSION);
    impl->ca_files = load_system_trust(impl->tls_ctx.native_handle());
    if (!impl->options.ca_file.empty()) {
      impl->tls_ctx.load_verify_file(impl->options.ca_file, ec);
      if (ec)
        return fail(ErrorKind::invalid_input, "CA file {}: {}", impl->options.ca_file,
                    ec.message());
      impl->ca_files.push_back(impl->options.ca_file);
    }
    impl->tls_ctx.set_verify_mode(ssl::verify_peer);
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
