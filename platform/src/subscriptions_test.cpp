// make_rule's logging: a retry the bus will make is expected (INFO), the last
// receive before the DLQ is a WARN, a permanent failure an ERROR (issue 13:
// expected retries are not warnings).
#include "orderly/platform/subscriptions.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <vector>

#include "orderly/platform/log.hpp"

namespace orderly::platform {
namespace {

// Never processed before; the failing decisions below never commit.
struct EmptyStore final : ItemStore {
  Result<std::optional<Item>> get(const std::string&, const std::string&) override {
    return std::optional<Item>{};
  }
  Result<std::int64_t> put(const Item&, Condition) override { return 1; }
  Result<std::int64_t> update(const Update&) override { return 1; }
  Status remove(const std::string&, const std::string&, Condition) override { return {}; }
  Result<Page> query(const std::string&, const QueryOptions&) override { return Page{}; }
  Status transact_write(const std::vector<WriteOp>&) override { return {}; }
};

TEST(MakeRule, ExpectedRetriesAreInfoTheLastReceiveWarnsAndPermanentFailuresAreErrors) {
  std::vector<std::string> lines;
  log::configure({.service = "t",
                  .level = log::Level::info,
                  .spans = false,
                  .sink = [&](std::string_view l) { lines.emplace_back(l); }},
                 false);
  EmptyStore store;
  ManualClock clock;
  RuleOptions options;
  options.max_receive_count = 3;
  auto rule = make_rule("svc.rule",
                        {{"t.Transient.v1",
                          [](const CloudEvent&, UnitOfWork&) -> Status {
                            return fail(ErrorKind::transient, "provider busy");
                          }},
                         {"t.Permanent.v1",
                          [](const CloudEvent&, UnitOfWork&) -> Status {
                            return fail(ErrorKind::permanent, "no such order");
                          }}},
                        store, clock, options);
  auto deliver = [&](const std::string& type, int receive_count) {
    lines.clear();
    rule.handler({Delivery{make_event("t", type, "s", {}, clock.now()), "1", receive_count}});
    std::string level;
    for (const auto& l : lines) {
      auto o = boost::json::parse(l).as_object();
      if (o.at("message") == "delivery failed") level = std::string(o.at("level").as_string());
    }
    return level;
  };
  EXPECT_EQ(deliver("t.Transient.v1", 1), "INFO");
  EXPECT_EQ(deliver("t.Transient.v1", 2), "INFO");
  EXPECT_EQ(deliver("t.Transient.v1", 3), "WARN");  // the last: next stop, the DLQ
  EXPECT_EQ(deliver("t.Permanent.v1", 1), "ERROR");
  log::configure({}, false);
}

}  // namespace
}  // namespace orderly::platform
