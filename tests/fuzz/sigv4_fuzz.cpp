// libFuzzer target: the SigV4 canonicaliser and signer (adapters/aws/sigv4).
// The input is a request as lines: the method, the URL, "name:value" headers
// up to a blank line, then the body. Each request is signed twice; checked:
//  - signing is deterministic (same canonical request, same Authorization);
//  - the canonical request has botocore's shape: method, path, query, one line
//    per signed header, a blank line, the signed-header list, and the body's
//    SHA-256 as 64 lower-case hex digits;
//  - the Authorization header is one line: AWS4-HMAC-SHA256 with this
//    credential scope, the signed-header list, and a 64-hex signature;
//  - a header the caller set to a value with CR or LF never makes the
//    canonical header block hold more lines than there are signed headers.
// Byte-for-byte agreement with botocore is checked by adapters/aws's
// sigv4_test (1,000 random requests through python3-botocore).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "orderly/adapters/aws/sigv4.hpp"

namespace aws = orderly::adapters::aws;

namespace {

constexpr std::string_view kToken =
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

bool hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::size_t count(std::string_view s, char c) {
  std::size_t n = 0;
  for (char x : s) n += x == c;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto next_line = [&in]() {
    const auto nl = in.find('\n');
    const auto line = in.substr(0, nl);
    in.remove_prefix(nl == std::string_view::npos ? in.size() : nl + 1);
    return line;
  };
  aws::SignedRequest req;
  req.method = std::string(next_line());
  req.url = std::string(next_line());
  while (!in.empty()) {
    const auto line = next_line();
    if (line.empty()) break;
    const auto colon = line.find(':');
    // Callers sign HTTP field names (RFC 9110 tokens); other names are skipped.
    const auto name = line.substr(0, colon);
    if (name.empty() || name.find_first_not_of(kToken) != std::string_view::npos) continue;
    req.headers.emplace_back(std::string(line.substr(0, colon)),
                             colon == std::string_view::npos ? "" : line.substr(colon + 1));
  }
  req.body = std::string(in);
  const aws::Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                               std::string("session-token")};
  const auto now = orderly::platform::from_unix_ms(1'764'633'600'000);  // 2025-12-02T00:00:00Z
  auto again = req;
  const auto canonical = aws::sign_v4(req, creds, "eu-west-1", "dynamodb", now);
  if (aws::sign_v4(again, creds, "eu-west-1", "dynamodb", now) != canonical) std::abort();

  std::string authorization;
  std::size_t authorizations = 0;
  for (const auto& [k, v] : req.headers)
    if (k == "Authorization") {
      authorization = v;
      ++authorizations;
    }
  for (const auto& [k, v] : again.headers)
    if (k == "Authorization" && v != authorization) std::abort();
  if (authorizations != 1) std::abort();
  if (authorization.find_first_of("\r\n") != std::string::npos) std::abort();
  const std::string_view prefix =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20251202/eu-west-1/dynamodb/aws4_request, "
      "SignedHeaders=";
  if (!authorization.starts_with(prefix)) std::abort();
  const auto sig = authorization.rfind(", Signature=");
  if (sig == std::string::npos || !hex64(std::string_view(authorization).substr(sig + 12)))
    std::abort();
  const std::string signed_headers = authorization.substr(prefix.size(), sig - prefix.size());

  // method \n path \n query \n headers... \n \n signed \n hash
  const auto last_nl = canonical.rfind('\n');
  if (last_nl == std::string::npos || !hex64(std::string_view(canonical).substr(last_nl + 1)))
    std::abort();
  const auto before = std::string_view(canonical).substr(0, last_nl);
  const auto signed_nl = before.rfind('\n');
  if (signed_nl == std::string::npos || before.substr(signed_nl + 1) != signed_headers)
    std::abort();
  if (signed_headers.find("host") == std::string::npos) std::abort();
  const std::size_t signed_count = count(signed_headers, ';') + 1;
  // Lines: method, path, query, then the header block and the blank line.
  const std::size_t lines_before = count(before.substr(0, signed_nl), '\n');
  // The method and URL came from single lines of input, so they add no line;
  // each signed header adds exactly one, and the blank line ends the block.
  if (lines_before != 3 + signed_count) std::abort();
  return 0;
}
