// The Lambda host's retry backoff on SQS: when a failed record comes back.
#include "orderly/apps/lambda/host.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <set>

#include "orderly/platform/bus.hpp"
#include "support/temp_dir.hpp"

namespace orderly::apps::lambda {
namespace {

using adapters::aws::FailedRecord;

const std::string kArn = "arn:aws:sqs:eu-west-1:123456789012:orderly-dev-orders-saga";

FailedRecord failed(std::string id, int receives, bool poison = false) {
  return {id, "rh-" + id, kArn, receives, poison};
}

platform::Backoff bus_backoff() {
  const platform::RuleOptions o;
  return {o.backoff_base, o.backoff_cap};
}

// A retry waits the embedded bus's backoff for its receive count: never longer
// than the ceiling (rounded up to whole seconds), and spread below it.
TEST(LambdaRetryBackoff, ARetryWaitsTheBusBackoffForItsReceiveCount) {
  std::minstd_rand rng(7);
  const auto backoff = bus_backoff();
  for (int receives = 1; receives <= 10; ++receives) {
    const auto ceiling_s = (backoff.ceiling(receives).count() + 999) / 1000;
    std::set<int> seen;
    for (int i = 0; i < 400; ++i) {
      const auto changes = retry_visibility({failed("m", receives)}, backoff, rng);
      ASSERT_EQ(changes.size(), 1u);
      EXPECT_EQ(changes[0].queue_url,
                "https://sqs.eu-west-1.amazonaws.com/123456789012/orderly-dev-orders-saga");
      EXPECT_EQ(changes[0].receipt_handle, "rh-m");
      ASSERT_GE(changes[0].seconds, 0);
      ASSERT_LE(changes[0].seconds, ceiling_s) << "receive " << receives;
      seen.insert(changes[0].seconds);
    }
    // Full jitter: more than one value whenever the ceiling allows it.
    if (ceiling_s >= 2) {
      EXPECT_GT(seen.size(), 1u) << "receive " << receives;
    }
  }
  // Far below the queue's visibility timeout (180 s), which applied before.
  EXPECT_LE(backoff.ceiling(10).count(), 10'000);
}

TEST(LambdaRetryBackoff, PoisonComesBackAtOnceAndRecordsWithoutAHandleAreLeftAlone) {
  std::minstd_rand rng(1);
  FailedRecord no_handle = failed("x", 3);
  no_handle.receipt_handle.clear();
  FailedRecord no_queue = failed("y", 3);
  no_queue.event_source_arn = "arn:aws:sns:eu-west-1:1:topic";
  const auto changes =
      retry_visibility({failed("p", 9, true), no_handle, no_queue}, bus_backoff(), rng);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].message_id, "p");
  EXPECT_EQ(changes[0].seconds, 0);
}

// One request per queue and at most 10 entries, each valid for botocore's SQS
// model (ChangeMessageVisibilityBatch).
TEST(LambdaRetryBackoff, BatchRequestsAreSplitByQueueAndTenAndValidForBotocore) {
  std::vector<VisibilityChange> changes;
  for (int i = 0; i < 23; ++i)
    changes.push_back({"https://sqs.eu-west-1.amazonaws.com/1/a", "m" + std::to_string(i),
                       "rh" + std::to_string(i), i % 5});
  changes.push_back({"https://sqs.eu-west-1.amazonaws.com/1/b", "z", "rhz", 4});
  const auto requests = visibility_batch_requests(changes);
  ASSERT_EQ(requests.size(), 4u);  // a: 10 + 10 + 3; b: 1
  std::size_t entries = 0;
  orderly::testing::TempDir dir;
  const auto file = dir.file("sqs.jsonl");
  {
    std::ofstream out(file);
    for (const auto& r : requests) {
      const auto& e = r.at("Entries").as_array();
      ASSERT_LE(e.size(), 10u);
      std::set<std::string> ids;
      for (const auto& x : e) ids.insert(std::string(x.at("Id").as_string()));
      EXPECT_EQ(ids.size(), e.size()) << "entry ids are unique within a request";
      entries += e.size();
      out << boost::json::serialize(boost::json::object{
                 {"service", "sqs"}, {"op", "ChangeMessageVisibilityBatch"}, {"request", r}})
          << "\n";
    }
  }
  EXPECT_EQ(entries, changes.size());
  const std::string cmd = "/usr/bin/python3 " ORDERLY_SOURCE_DIR
                          "/tests/oracle/dynamodb_model_check.py " +
                          file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string report;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) report += buf;
  EXPECT_EQ(pclose(p), 0) << report;
  EXPECT_NE(report.find("ChangeMessageVisibilityBatch=4"), std::string::npos) << report;
  EXPECT_NE(report.find("0 problems"), std::string::npos) << report;
}

// The scheduled rule's invocation (infra: topology sweepInput) runs the
// service's sweep; anything else still goes to the SQS batch path, and a
// failed sweep fails the invocation so that EventBridge retries it.
TEST(LambdaSweep, TheScheduledInputRunsTheSweepAndNothingElseDoes) {
  int runs = 0;
  platform::Result<std::size_t> outcome = std::size_t{3};
  auto handler = events({}, [&]() -> platform::Result<std::size_t> {
    ++runs;
    return outcome;
  });
  adapters::aws::Invocation inv;
  inv.payload = R"({ "orderly" : "sweep" })";  // as EventBridge passes it: the same JSON
  auto out = handler(inv);
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, R"({"done":3})");
  EXPECT_EQ(runs, 1);

  for (const char* other : {R"({"orderly":"sweep","x":1})", R"({"orderly":"sweeps"})",
                            R"({"Records":[]})", R"("{\"orderly\":\"sweep\"}")"}) {
    inv.payload = other;
    (void)handler(inv);
    EXPECT_EQ(runs, 1) << other << " ran the sweep";
  }

  outcome = platform::fail(platform::ErrorKind::transient, "table unreachable");
  inv.payload = std::string(hosts::kSweepInput);
  auto failed_sweep = handler(inv);
  ASSERT_FALSE(failed_sweep);
  EXPECT_EQ(failed_sweep.error().message, "table unreachable");
  EXPECT_EQ(runs, 2);

  // A service without a sweep refuses the scheduled input as a bad SQS batch.
  auto no_sweep = events({});
  inv.payload = std::string(hosts::kSweepInput);
  EXPECT_FALSE(no_sweep(inv));
}

}  // namespace
}  // namespace orderly::apps::lambda
