// W3C traceparent parsing and spans.
#include "orderly/platform/trace.hpp"

#include <gtest/gtest.h>

#include "orderly/platform/event.hpp"
#include "orderly/platform/log.hpp"

namespace orderly::platform {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(Traceparent, ParsesAndFormatsTheW3cExample) {
  auto c = parse_traceparent(kValid);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->span_id, "00f067aa0ba902b7");
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(format_traceparent(*c), kValid);
  auto unsampled = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled);
  EXPECT_FALSE(unsampled->sampled);
}

TEST(Traceparent, RefusesWhatTheSpecRefuses) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",        // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",     // upper case
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",     // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",     // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",  // 00 with extra fields
           "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // separator
           "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",     // not hex
           "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",     // misplaced dash
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz",     // flags not hex
           "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.x",   // future: bad extra
       })
    EXPECT_FALSE(parse_traceparent(bad)) << bad;
  // A future version is read by its first four fields.
  EXPECT_TRUE(
      parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever"));
}

TEST(Traceparent, NewIdsAreWellFormedAndChildrenKeepTheTrace) {
  const auto root = new_root_trace();
  EXPECT_TRUE(parse_traceparent(format_traceparent(root)));
  const auto child = child_of(root);
  EXPECT_EQ(child.trace_id, root.trace_id);
  EXPECT_NE(child.span_id, root.span_id);
  EXPECT_EQ(child.span_id.size(), 16u);
}

TEST(Span, NestsOnTheThreadAndWritesARecord) {
  std::vector<std::string> lines;
  log::configure({.service = "t", .sink = [&](std::string_view l) { lines.emplace_back(l); }},
                 false);
  EXPECT_EQ(current_span(), nullptr);
  const auto parent = *parse_traceparent(kValid);
  {
    Span outer("outer", parent);
    ASSERT_NE(current_span(), nullptr);
    EXPECT_EQ(current_span()->context.trace_id, parent.trace_id);
    EXPECT_EQ(current_span()->parent_span_id, parent.span_id);
    {
      Span inner("inner", outer.context());
      EXPECT_EQ(current_span()->parent_span_id, outer.context().span_id);
    }
    EXPECT_EQ(current_span()->context.span_id, outer.context().span_id);
  }
  EXPECT_EQ(current_span(), nullptr);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("\"name\":\"inner\""), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("\"parent_span_id\":\"00f067aa0ba902b7\""), std::string::npos)
      << lines[1];
  EXPECT_NE(lines[1].find("\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\""), std::string::npos);
  log::configure({}, false);
}

TEST(Span, EventsCausedInsideAConsumerSpanAreItsChildren) {
  log::configure({.spans = false}, false);
  CloudEvent cause = make_event("orderly.test", "orderly.test.A.v1", "s", {}, from_unix_ms(0));
  cause.traceparent = kValid;
  CloudEvent next = make_event("orderly.test", "orderly.test.B.v1", "s", {}, from_unix_ms(0));
  {
    Span consumer("handle", parse_traceparent(*cause.traceparent));
    caused_by(next, cause);
    EXPECT_EQ(*next.traceparent, consumer.traceparent());
  }
  EXPECT_EQ(next.traceparent->substr(3, 32), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_NE(next.traceparent->substr(36, 16), "00f067aa0ba902b7");
  // Outside a span, the cause's traceparent is copied.
  CloudEvent plain = make_event("orderly.test", "orderly.test.C.v1", "s", {}, from_unix_ms(0));
  caused_by(plain, cause);
  EXPECT_EQ(plain.traceparent, cause.traceparent);
  log::configure({}, false);
}

}  // namespace
}  // namespace orderly::platform
