// SigV4 against botocore: 1,000 random requests (methods, paths with dot
// segments and reserved characters, queries, repeated and blacklisted headers,
// binary bodies, session tokens) must get byte-identical Authorization headers
// from sign_v4 and from botocore's SigV4Auth at the same fixed time.
#include "orderly/adapters/aws/sigv4.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "orderly/platform/base64.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::aws {
namespace {

namespace json = boost::json;

std::string b64(std::string_view s) {
  return platform::base64_encode(s);
}

struct Case {
  SignedRequest req;
  Credentials creds;
  std::string region, service;
  std::int64_t unix_s;
};

Case random_case(std::mt19937_64& rng) {
  auto pick = [&](auto const& v) {
    return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
  };
  auto chance = [&](double p) { return std::bernoulli_distribution(p)(rng); };
  auto text = [&](std::string_view alphabet, int lo, int hi) {
    std::string s;
    for (int n = std::uniform_int_distribution<int>(lo, hi)(rng); n > 0; --n) s += pick(alphabet);
    return s;
  };
  const std::string path_chars = "abcXYZ019-_.~!$&'()*+,;=:@%20 ";
  const std::string query_chars = "abcXYZ019-_.~%2F%20+:@/,";
  const std::string value_chars = "abc XYZ 019-_.~!$&'()*+,;=:@/  \t";
  Case c;
  c.req.method =
      pick(std::vector<std::string>{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "post"});
  const std::string scheme = pick(std::vector<std::string>{"https", "http"});
  std::string host = pick(std::vector<std::string>{"dynamodb.eu-west-1.amazonaws.com", "LocalHost",
                                                   "127.0.0.1", "Example.COM"});
  if (chance(0.4)) {
    host += ':';
    host += pick(std::vector<std::string>{"443", "80", "8000", "4567"});
  }
  std::string path;
  for (int n = std::uniform_int_distribution<int>(0, 5)(rng); n > 0; --n) {
    path += '/';
    path += chance(0.15) ? pick(std::vector<std::string>{".", "..", ""}) : text(path_chars, 1, 8);
  }
  if (chance(0.2)) path += "/";
  std::string url = scheme + "://" + host + path;
  if (chance(0.6)) {
    url += "?";
    for (int n = std::uniform_int_distribution<int>(1, 4)(rng); n > 0; --n) {
      if (url.back() != '?') url += "&";
      url += text(query_chars, 0, 6);
      if (chance(0.8)) {
        url += '=';
        url += text(query_chars, 0, 6);
      }
    }
  }
  c.req.url = url;
  for (int n = std::uniform_int_distribution<int>(0, 6)(rng); n > 0; --n) {
    std::string name = pick(std::vector<std::string>{
        "Content-Type", "X-Amz-Target", "x-custom", "X-CUSTOM", "User-Agent", "Expect",
        "X-Amzn-Trace-Id", "Accept", "X-Amz-Meta-Thing", "Host"});
    c.req.headers.emplace_back(name, text(value_chars, 1, 20));
  }
  if (chance(0.7)) {
    const int len = std::uniform_int_distribution<int>(1, 300)(rng);
    for (int i = 0; i < len; ++i)
      c.req.body.push_back(static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng)));
  }
  c.creds.access_key = "AKIA";
  c.creds.access_key += text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16);
  c.creds.secret_key =
      text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/", 40, 40);
  if (chance(0.5)) c.creds.session_token = text("abcdefghijklmnopqrstuvwxyz0123456789+/=", 20, 80);
  c.region = pick(std::vector<std::string>{"us-east-1", "eu-west-1", "ap-southeast-2"});
  c.service = pick(std::vector<std::string>{"dynamodb", "sqs", "events", "execute-api"});
  c.unix_s = std::uniform_int_distribution<std::int64_t>(1'600'000'000, 1'900'000'000)(rng);
  return c;
}

TEST(SigV4, MatchesBotocoreOnAThousandRandomRequests) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/python3"))
      << "python3-botocore (Debian) is required";
  orderly::testing::TempDir dir;
  std::mt19937_64 rng(20261125);
  std::vector<Case> cases;
  {
    std::ofstream in(dir.file("cases.jsonl"));
    for (int i = 0; i < 1000; ++i) {
      cases.push_back(random_case(rng));
      const auto& c = cases.back();
      json::array headers;
      for (const auto& [k, v] : c.req.headers) headers.push_back(json::array{k, v});
      json::object o{{"method", c.req.method},
                     {"url", c.req.url},
                     {"headers", headers},
                     {"body", b64(c.req.body)},
                     {"access_key", c.creds.access_key},
                     {"secret_key", c.creds.secret_key},
                     {"region", c.region},
                     {"service", c.service},
                     {"unix", c.unix_s}};
      if (c.creds.session_token) o["token"] = *c.creds.session_token;
      in << json::serialize(o) << "\n";
    }
  }
  const std::string cmd = "/usr/bin/python3 " ORDERLY_SOURCE_DIR
                          "/tests/oracle/sigv4_oracle.py < " +
                          dir.file("cases.jsonl") + " > " + dir.file("signed.jsonl");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream out(dir.file("signed.jsonl"));
  std::string line;
  std::size_t i = 0, same = 0;
  while (std::getline(out, line)) {
    ASSERT_LT(i, cases.size());
    auto oracle = json::parse(line).as_object();
    auto c = cases[i];
    const auto canonical =
        sign_v4(c.req, c.creds, c.region, c.service, platform::from_unix_ms(c.unix_s * 1000));
    std::string auth;
    for (const auto& [k, v] : c.req.headers)
      if (k == "Authorization") auth = v;
    if (auth == oracle.at("authorization").as_string())
      ++same;
    else
      ADD_FAILURE() << "case " << i << " " << cases[i].req.method << " " << cases[i].req.url
                    << "\n ours:   " << auth
                    << "\n botocore: " << oracle.at("authorization").as_string()
                    << "\n canonical:\n"
                    << canonical;
    ++i;
    if (i - same > 5) break;  // enough to debug
  }
  EXPECT_EQ(i, cases.size());
  EXPECT_EQ(same, cases.size());
}

TEST(SigV4, KnownVectorAndCredentialsFromTheEnvironment) {
  // AWS's documented example (GET iam ListUsers, 2015-08-30T12:36:00Z).
  SignedRequest r{"GET",
                  "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                  {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
                  ""};
  Credentials c{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::nullopt};
  sign_v4(r, c, "us-east-1", "iam", platform::from_unix_ms(1'440'938'160'000));
  EXPECT_EQ(r.headers.back().second,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, "
            "Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7");
  ::setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  auto env = Credentials::from_env();
  ASSERT_TRUE(env);
  EXPECT_EQ(env->access_key, "AKID");
  EXPECT_FALSE(env->session_token);
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  EXPECT_EQ(Credentials::from_env().error().kind, platform::ErrorKind::unauthorized);
}

}  // namespace
}  // namespace orderly::adapters::aws
