// JSON log lines: context, levels, sampling, redaction.
#include "orderly/platform/log.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "orderly/platform/clock.hpp"

namespace orderly::platform {
namespace {

namespace json = boost::json;

// "2026-11-25T15:30:00.123Z": digits where the pattern has 'd'.
bool rfc3339_ms_utc(std::string_view s) {
  constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (s.size() != kPattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (kPattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != kPattern[i]) return false;
  return true;
}

struct Capture {
  std::vector<std::string> lines;
  Capture(log::Level level = log::Level::info, double sample = 0) {
    log::configure({.service = "orders",
                    .level = level,
                    .debug_sample_rate = sample,
                    .sink = [this](std::string_view l) { lines.emplace_back(l); }},
                   false);
  }
  ~Capture() { log::configure({}, false); }
  json::object at(std::size_t i) const { return json::parse(lines.at(i)).as_object(); }
};

TEST(Log, OneJsonObjectWithTheStandardFieldsAndTheScope) {
  Capture cap;
  {
    log::Scope outer({.correlation_id = "c-1", .request_id = "r-1"});
    log::Scope inner({.order_id = "o-1", .event_id = "e-1"});
    log::info("order placed", {{"total", 8999}});
  }
  log::info("after");
  ASSERT_EQ(cap.lines.size(), 2u);
  auto o = cap.at(0);
  EXPECT_TRUE(rfc3339_ms_utc(o.at("timestamp").as_string())) << o.at("timestamp");
  EXPECT_EQ(o.at("level"), "INFO");
  EXPECT_EQ(o.at("service"), "orders");
  EXPECT_EQ(o.at("message"), "order placed");
  EXPECT_EQ(o.at("correlation_id"), "c-1");
  EXPECT_EQ(o.at("request_id"), "r-1");
  EXPECT_EQ(o.at("order_id"), "o-1");
  EXPECT_EQ(o.at("event_id"), "e-1");
  EXPECT_EQ(o.at("total"), 8999);
  auto after = cap.at(1);
  EXPECT_FALSE(after.contains("order_id"));
  EXPECT_FALSE(after.contains("correlation_id"));
}

TEST(Log, LevelsFilterAndDebugIsSampledPerScope) {
  {
    Capture cap(log::Level::warn);
    log::info("hidden");
    log::warn("shown");
    log::debug("hidden");
    ASSERT_EQ(cap.lines.size(), 1u);
    EXPECT_EQ(cap.at(0).at("level"), "WARN");
  }
  {
    Capture cap(log::Level::info, 1.0);  // every scope sampled
    log::debug("outside any scope: not sampled");
    {
      log::Scope s({.request_id = "r"});
      log::debug("inside: sampled");
    }
    ASSERT_EQ(cap.lines.size(), 1u);
    EXPECT_EQ(cap.at(0).at("level"), "DEBUG");
  }
  EXPECT_EQ(log::parse_level("WARNING"), log::Level::warn);
  EXPECT_FALSE(log::parse_level("loud"));
}

TEST(Log, SecretsAreRedactedWhereverTheyAppear) {
  Capture cap;
  const std::string jwt =
      "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
  log::info("token was " + jwt + " and card tok_4242abc, header Bearer abc.def",
            {{"authorization", "Bearer " + jwt},
             {"paymentToken", "tok_visa"},
             {"nested", {{"client_secret", "s3cr3t"}, {"list", {"tok_ok", "fine"}}}},
             {"note", "user said " + jwt},
             {"tokens_issued", 3},
             {"harmless", "tokenless text"}});
  const auto& line = cap.lines.at(0);
  EXPECT_EQ(line.find("eyJ"), std::string::npos) << line;
  EXPECT_EQ(line.find("tok_"), std::string::npos) << line;
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos) << line;
  EXPECT_EQ(line.find("abc.def"), std::string::npos) << line;
  auto o = cap.at(0);
  EXPECT_EQ(o.at("authorization"), "[REDACTED]");
  EXPECT_EQ(o.at("paymentToken"), "[REDACTED]");
  EXPECT_EQ(o.at("nested").at("client_secret"), "[REDACTED]");
  EXPECT_EQ(o.at("nested").at("list").at(0), "[REDACTED:payment-token]");
  EXPECT_EQ(o.at("nested").at("list").at(1), "fine");
  EXPECT_EQ(o.at("note"), "user said [REDACTED:jwt]");
  EXPECT_EQ(o.at("tokens_issued"), "[REDACTED]");  // a name with "token" is redacted, even a count
  EXPECT_EQ(o.at("harmless"), "tokenless text");
  EXPECT_NE(std::string(o.at("message").as_string()).find("[REDACTED:jwt]"), std::string::npos);
}

TEST(Rfc3339, ParsesWhatFormatWritesAndOffsets) {
  const auto t = from_unix_ms(1'764'078'600'123);
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
  EXPECT_EQ(parse_rfc3339("2025-11-25T13:50:00.123+01:00"), from_unix_ms(1'764'075'000'123));
  EXPECT_EQ(parse_rfc3339("2025-11-25T12:50:00Z"), from_unix_ms(1'764'075'000'000));
  for (const char* bad : {"", "2025-11-25", "2025-11-25T12:50:00", "2025-13-25T12:50:00Z",
                          "2025-11-25T12:50:00.Z", "2025-11-25T12:50:00Zjunk"})
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
}

}  // namespace
}  // namespace orderly::platform
