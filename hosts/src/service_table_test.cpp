// The service table against what the services really do: every entry builds
// over a real (SQLite) store, its bound rules are exactly the rules and types
// the table says without building, every consumed type has a producer, rule
// names are unique, timers name a rule that receives the service's own
// events, and the Lambda handler kinds follow from routes and rules. (The
// node contract tests check the same table, dumped by contract_dump, against
// asyncapi.yaml and infra/topology.json.)
#include "orderly/hosts/service_table.hpp"

#include <fmt/core.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/services/payments/simulated_provider.hpp"

namespace orderly::hosts {
namespace {

class ServiceTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("orderly-table-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<adapters::embedded::SqliteItemStore> store(const std::string& name) {
    auto s = adapters::embedded::SqliteItemStore::open((dir_ / (name + ".db")).string(), {});
    EXPECT_TRUE(s) << s.error().message;
    return std::move(*s);
  }
  std::filesystem::path dir_;
};

TEST_F(ServiceTableTest, HasTheFiveServicesOnceEach) {
  std::set<std::string> names;
  for (const auto* spec : service_table()) {
    EXPECT_TRUE(names.insert(spec->name).second) << spec->name << " is listed twice";
    EXPECT_EQ(find_service(spec->name), spec);
  }
  EXPECT_EQ(names, (std::set<std::string>{"orders", "inventory", "payments", "shipping",
                                          "notifications"}));
  EXPECT_EQ(find_service("billing"), nullptr);
}

TEST_F(ServiceTableTest, BuiltRulesAreExactlyTheRulesTheTableDescribes) {
  const Settings settings;
  services::payments::SimulatedProvider provider;
  for (const auto* spec : service_table()) {
    SCOPED_TRACE(spec->name);
    auto s = store(spec->name);
    auto built = spec->build({.store = *s,
                              .clock = platform::SystemClock::instance(),
                              .settings = settings,
                              .payment_provider = &provider});
    ASSERT_TRUE(built) << built.error().message;
    auto rules = (*built)->rules();
    ASSERT_EQ(rules.size(), spec->rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) {
      EXPECT_EQ(rules[i].name, spec->rules[i].name);
      EXPECT_EQ(rules[i].pattern.literal_types(), spec->rules[i].types);
      EXPECT_EQ(rules[i].options.max_receive_count, spec->rules[i].max_receive_count);
      EXPECT_TRUE(platform::validate_rule(rules[i])) << rules[i].name;
    }
    // Routes exist exactly when the table says the service has an API.
    platform::http::Router router;
    if (spec->routes) spec->routes(router, **built);
    const auto kinds = spec->lambda_handlers();
    EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "api") != kinds.end(), bool(spec->routes));
    EXPECT_EQ(std::find(kinds.begin(), kinds.end(), "events") != kinds.end(), !spec->rules.empty());
  }
}

TEST_F(ServiceTableTest, APortTheEntryNeedsIsRequired) {
  const Settings settings;
  for (const auto* spec : service_table()) {
    if (!spec->needs_port(Port::payment_provider)) continue;
    auto s = store(spec->name);
    auto built = spec->build(
        {.store = *s, .clock = platform::SystemClock::instance(), .settings = settings});
    ASSERT_FALSE(built) << spec->name << " built without the payment provider it needs";
    EXPECT_EQ(built.error().kind, platform::ErrorKind::invalid_input);
  }
}

TEST_F(ServiceTableTest, RulesAreUniqueEveryConsumedTypeHasAProducerAndTimersAreOwnEvents) {
  std::set<std::string> rule_names, produced;
  for (const auto* spec : service_table())
    produced.insert(spec->produces.begin(), spec->produces.end());
  for (const auto* spec : service_table()) {
    for (const auto& r : spec->rules) {
      EXPECT_TRUE(rule_names.insert(r.name).second) << r.name << " is not unique";
      EXPECT_TRUE(r.name.starts_with(spec->name + ".")) << r.name << " outside " << spec->name;
      EXPECT_FALSE(r.types.empty()) << r.name;
      for (const auto& t : r.types) EXPECT_TRUE(produced.count(t)) << t << " has no producer";
      if (r.timer_delay) {
        // A timer rule receives only events its own service produces (it schedules them).
        for (const auto& t : r.types)
          EXPECT_NE(std::find(spec->produces.begin(), spec->produces.end(), t),
                    spec->produces.end())
              << r.name << " times " << t;
      }
    }
  }
}

TEST_F(ServiceTableTest, TerminalTypesAreProducedAndNeverConsumed) {
  std::set<std::string> consumed;
  for (const auto* spec : service_table())
    for (const auto& t : spec->consumes()) consumed.insert(t);
  const auto terminal = terminal_event_types();
  EXPECT_FALSE(terminal.empty());
  for (const auto& t : terminal) EXPECT_FALSE(consumed.count(t)) << t;
  EXPECT_NE(std::find(terminal.begin(), terminal.end(), "orderly.orders.OrderDelivered.v1"),
            terminal.end());
}

}  // namespace
}  // namespace orderly::hosts

namespace orderly::hosts {
namespace {

// The saga's deadlines outlast every retry (issue 10): a message that fails
// transiently is retried, with the bus's backoff, here and on AWS, and all its
// retries end before the PENDING timeout could cancel the order it carries.
// The timed retention sweep goes through every due entry, in pages of 100,
// however few of them still have personal data to erase: entries whose order
// is gone (or erased already) are dropped without an erasure. It used to stop
// after a page that erased fewer than 100.
TEST_F(ServiceTableTest, TheRetentionSweepGoesThroughEveryDueEntry) {
  const Settings settings;
  auto s = store("orders");
  const auto* spec = find_service("orders");
  ASSERT_NE(spec, nullptr);
  ASSERT_TRUE(spec->sweep);
  services::payments::SimulatedProvider provider;
  auto built = spec->build({.store = *s,
                            .clock = platform::SystemClock::instance(),
                            .settings = settings,
                            .payment_provider = &provider});
  ASSERT_TRUE(built) << built.error().message;
  for (int i = 0; i < 250; ++i) {
    const auto id = fmt::format("ord-gone-{:03}", i);
    ASSERT_TRUE(s->put(platform::Item{"RETENTION",
                                      "2020-01-01T00:00:00.000Z#" + id,
                                      0,
                                      {{"orderId", id}, {"customerId", "cust-1"}},
                                      std::nullopt},
                       platform::Condition::not_exists()));
  }
  auto erased = spec->sweep(**built, settings);
  ASSERT_TRUE(erased) << erased.error().message;
  EXPECT_EQ(*erased, 0u);  // no order left to erase
  platform::QueryOptions q;
  q.limit = 1000;
  auto left = s->query("RETENTION", q);
  ASSERT_TRUE(left);
  EXPECT_EQ(left->items.size(), 0u);
}

TEST(ServiceTableDeadlines, EveryRuleRetriesEndBeforeTheSagaTimeout) {
  const Settings settings;
  for (const ServiceSpec* spec : service_table())
    for (const auto& rule : spec->rules) {
      platform::RuleOptions o;
      o.max_receive_count = rule.max_receive_count;
      const auto budget = o.retry_budget();
      EXPECT_GT(budget.count(), 0) << rule.name;
      // 10 s left for the handlers themselves and the queues' polling.
      EXPECT_LE(budget + platform::Millis{10'000}, settings.saga_timeout)
          << rule.name << ": " << budget.count() << " ms of retries";
      EXPECT_LT(budget, settings.fulfilment_timeout) << rule.name;
    }
}

TEST(ServiceTableDeadlines, TheBudgetCountsWholeSecondsAsSqsDoes) {
  platform::RuleOptions o;
  o.backoff_base = platform::Millis{200};
  o.backoff_cap = platform::Millis{3'000};
  o.max_receive_count = 10;
  // Ceilings 0.2, 0.4, 0.8, 1.6, 3, 3, 3, 3, 3 s -> 1+1+1+2+3+3+3+3+3.
  EXPECT_EQ(o.retry_budget(), platform::Millis{20'000});
  o.max_receive_count = 1;
  EXPECT_EQ(o.retry_budget(), platform::Millis{0});
  // The old cap (60 s) would not fit inside a 30 s saga timeout.
  o.backoff_cap = platform::Millis{60'000};
  o.max_receive_count = 10;
  EXPECT_EQ(o.retry_budget(), platform::Millis{(1 + 1 + 1 + 2 + 4 + 7 + 13 + 26 + 52) * 1000});
}

}  // namespace
}  // namespace orderly::hosts
