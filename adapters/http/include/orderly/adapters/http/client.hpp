// HttpClient: one kept-alive HTTP/1.1 connection (plain or TLS) to one origin,
// on Boost.Beast, with connect and request timeouts.
//
//   auto c = HttpClient::create("https://dynamodb.eu-west-1.amazonaws.com", {});
//   auto r = (*c)->send("POST", "/", {{"Content-Type", "application/x-amz-json-1.0"}}, body);
//   if (!r) ...;                 // transport failure: ErrorKind::transient (timeouts, resets)
//   r->status; r->body; r->header("x-amzn-requestid");
//
// TLS (mbedTLS, ADR 0018) verifies the peer against the system trust store
// (plus `ca_file` if given), checks the host name (DNS names and wildcards; for
// an IP literal host, the certificate's iPAddress entries), sends SNI for DNS
// names and refuses anything below TLS 1.2. The system trust store is
// $SSL_CERT_FILE and whichever of the common bundles exist (else the files of
// $SSL_CERT_DIR): /etc/pki/tls/certs/ca-bundle.crt (Amazon Linux 2023, so
// provided.al2023), /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem,
// /etc/ssl/certs/ca-certificates.crt, /etc/ssl/cert.pem.
// A request that fails on a reused connection before any byte of the answer
// arrived is retried once on a fresh connection (the server closed an idle
// keep-alive connection); other failures are returned. Calls are serialised
// by a mutex: use one client per thread for parallelism.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "orderly/platform/error.hpp"

namespace orderly::adapters::http {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{3'000};
  std::chrono::milliseconds request_timeout{10'000};  // write and read of one exchange
  std::size_t body_limit = 16 * 1024 * 1024;
  std::string ca_file;  // an extra trust anchor (PEM), e.g. a test server's certificate
};

using Headers = std::vector<std::pair<std::string, std::string>>;

struct ClientResponse {
  unsigned status = 0;
  Headers headers;
  std::string body;
  // The first value of a header (case-insensitive), if present.
  [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

struct Origin {
  bool tls = false;
  std::string host, port;
  std::string host_header;  // host[:port], without the scheme's default port
};
// Parses scheme://host[:port][/...]; only http and https.
platform::Result<Origin> parse_origin(std::string_view url);

class HttpClient {
 public:
  static platform::Result<std::unique_ptr<HttpClient>> create(std::string_view base_url,
                                                              ClientOptions options = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  platform::Result<ClientResponse> send(std::string_view method, std::string_view target,
                                        const Headers& headers, std::string body);
  [[nodiscard]] const Origin& origin() const;
  [[nodiscard]] std::size_t connections_opened() const;  // keep-alive shows as 1

  struct Impl;

 private:
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace orderly::adapters::http
