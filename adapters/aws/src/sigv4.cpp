// SigV4 signing, following botocore's canonicalisation.
#include "orderly/adapters/aws/sigv4.hpp"

#include <mbedtls/md.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>

namespace orderly::adapters::aws {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char d[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    out.push_back(d[p[i] >> 4]);
    out.push_back(d[p[i] & 0xf]);
  }
  return out;
}

// Python's urllib.parse.quote(s, safe='/~'): unreserved and '/' stay, the rest is %XX.
std::string quote_path(std::string_view s) {
  static constexpr char d[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(d[c >> 4]);
      out.push_back(d[c & 0xf]);
    }
  }
  return out;
}

// botocore.utils.remove_dot_segments, with empty segments dropped too.
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    const auto j = std::min(path.find('/', i), path.size());
    const auto seg = path.substr(i, j - i);
    if (!seg.empty() && seg != ".") {
      if (seg == "..") {
        if (!out.empty()) out.pop_back();
      } else {
        out.push_back(seg);
      }
    }
    i = j + 1;
  }
  std::string r = path.front() == '/' ? "/" : "";
  for (std::size_t k = 0; k < out.size(); ++k) {
    if (k) r += '/';
    r += out[k];
  }
  if (path.back() == '/' && !out.empty()) r += '/';
  return r;
}

// Python's ' '.join(value.split()) for ASCII whitespace.
std::string trimall(std::string_view v) {
  std::string out;
  std::size_t i = 0;
  auto ws = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
  };
  while (i < v.size()) {
    while (i < v.size() && ws(v[i])) ++i;
    const auto start = i;
    while (i < v.size() && !ws(v[i])) ++i;
    if (i > start) {
      if (!out.empty()) out += ' ';
      out.append(v.substr(start, i - start));
    }
  }
  return out;
}

struct Url {
  std::string scheme, host, path, query;
  std::optional<int> port;
};

Url split_url(const std::string& url) {
  Url u;
  auto rest = std::string_view(url);
  if (const auto p = rest.find("://"); p != std::string_view::npos) {
    u.scheme = lower(std::string(rest.substr(0, p)));
    rest.remove_prefix(p + 3);
  }
  const auto end = rest.find_first_of("/?#");
  auto netloc = rest.substr(0, end);
  rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  if (const auto at = netloc.rfind('@'); at != std::string_view::npos) netloc.remove_prefix(at + 1);
  if (const auto colon = netloc.rfind(':'); colon != std::string_view::npos) {
    u.port = std::atoi(std::string(netloc.substr(colon + 1)).c_str());
    netloc = netloc.substr(0, colon);
  }
  u.host = lower(std::string(netloc));
  const auto hash = rest.find('#');
  if (hash != std::string_view::npos) rest = rest.substr(0, hash);
  const auto q = rest.find('?');
  u.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) u.query = std::string(rest.substr(q + 1));
  return u;
}

std::string canonical_query(const std::string& query) {
  if (query.empty()) return "";
  std::vector<std::pair<std::string, std::string>> pairs;
  std::size_t i = 0;
  for (;;) {
    const auto amp = query.find('&', i);
    const auto pair = query.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
    const auto eq = pair.find('=');
    pairs.emplace_back(pair.substr(0, eq), eq == std::string::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string::npos) break;
    i = amp + 1;
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [k, v] : pairs) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string utc(platform::TimePoint t, const char* fmt) {
  const auto secs = static_cast<std::time_t>(platform::to_unix_ms(t) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, fmt, &tm);
  return buf;
}

}  // namespace

platform::Result<Credentials> Credentials::from_env() {
  const char* ak = std::getenv("AWS_ACCESS_KEY_ID");
  const char* sk = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (!ak || !sk || !*ak || !*sk)
    return platform::fail(platform::ErrorKind::unauthorized,
                          "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
  Credentials c{ak, sk, std::nullopt};
  if (const char* t = std::getenv("AWS_SESSION_TOKEN"); t && *t) c.session_token = t;
  return c;
}

std::string sha256_hex(std::string_view data) {
  unsigned char d[32];
  mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  return hex(d, sizeof d);
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
                  reinterpret_cast<const unsigned char*>(key.data()), key.size(),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), out);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

std::string sign_v4(SignedRequest& req, const Credentials& creds, const std::string& region,
                    const std::string& service, platform::TimePoint now) {
  const std::string stamp = utc(now, "%Y%m%dT%H%M%SZ");
  const std::string date = stamp.substr(0, 8);
  auto drop = [&](std::string_view name) {
    req.headers.erase(std::remove_if(req.headers.begin(), req.headers.end(),
                                     [&](const auto& h) { return iequal(h.first, name); }),
                      req.headers.end());
  };
  drop("Authorization");
  drop("X-Amz-Date");
  req.headers.emplace_back("X-Amz-Date", stamp);
  if (creds.session_token) {
    drop("X-Amz-Security-Token");
    req.headers.emplace_back("X-Amz-Security-Token", *creds.session_token);
  }

  const Url url = split_url(req.url);
  std::map<std::string, std::vector<std::string>> to_sign;  // sorted by lower-case name
  for (const auto& [name, value] : req.headers) {
    auto l = lower(name);
    if (l == "expect" || l == "user-agent" || l == "x-amzn-trace-id") continue;
    to_sign[l].push_back(value);
  }
  if (!to_sign.count("host")) {
    std::string host = url.host;
    const int default_port = url.scheme == "https" ? 443 : url.scheme == "http" ? 80 : -1;
    if (url.port && *url.port != default_port) host += ":" + std::to_string(*url.port);
    to_sign["host"].push_back(host);
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, values] : to_sign) {
    canonical_headers += name;
    canonical_headers += ':';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i) canonical_headers += ',';
      canonical_headers += trimall(values[i]);
    }
    canonical_headers += '\n';
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }
  std::string method = req.method;
  for (auto& c : method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  const std::string canonical = method + "\n" + quote_path(normalize_path(url.path)) + "\n" +
                                canonical_query(url.query) + "\n" + canonical_headers + "\n" +
                                signed_headers + "\n" + sha256_hex(req.body);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  const std::string string_to_sign =
      "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + sha256_hex(canonical);
  const auto k_date = hmac_sha256("AWS4" + creds.secret_key, date);
  const auto k_region = hmac_sha256(k_date, region);
  const auto k_service = hmac_sha256(k_region, service);
  const auto k_signing = hmac_sha256(k_service, "aws4_request");
  const auto sig = hmac_sha256(k_signing, string_to_sign);
  req.headers.emplace_back("Authorization",
                           "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
                               ", SignedHeaders=" + signed_headers + ", Signature=" +
                               hex(reinterpret_cast<const unsigned char*>(sig.data()), sig.size()));
  return canonical;
}

}  // namespace orderly::adapters::aws
