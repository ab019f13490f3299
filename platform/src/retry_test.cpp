// retry_on_conflict: retries conflicts only, stops on success, exhaustion is transient.
#include "orderly/platform/retry.hpp"

#include <gtest/gtest.h>

#include <map>

#include "orderly/platform/unit_of_work.hpp"

namespace orderly::platform {
namespace {

TEST(RetryOnConflict, RetriesConflictsUntilSuccessAndStopsThere) {
  int calls = 0;
  Result<int> r = retry_on_conflict(8, [&]() -> Result<int> {
    if (++calls < 3) return make_error(ErrorKind::conflict, "lost the race");
    return calls;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, 3);
  EXPECT_EQ(calls, 3);
}

TEST(RetryOnConflict, ReturnsOtherErrorsAtOnce) {
  for (auto k : {ErrorKind::transient, ErrorKind::invalid_input, ErrorKind::not_found,
                 ErrorKind::failed_precondition, ErrorKind::permanent}) {
    int calls = 0;
    Status s = retry_on_conflict(8, [&]() -> Status {
      ++calls;
      return make_error(k, "no");
    });
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error(), (Error{k, "no"})) << to_string(k);
    EXPECT_EQ(calls, 1) << to_string(k);
  }
}

TEST(RetryOnConflict, ExhaustionIsTransientAndSaysSo) {
  int calls = 0;
  auto always = [&]() -> Status {
    ++calls;
    return make_error(ErrorKind::conflict, "version 3 expected");
  };
  Status s = retry_on_conflict(4, always);
  ASSERT_FALSE(s);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(s.error().kind, ErrorKind::transient);
  EXPECT_EQ(s.error().message, "still conflicting after 4 attempts: version 3 expected");

  calls = 0;
  s = retry_on_conflict(2, always, "order 7 is changing too fast; try again");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(s.error(), (Error{ErrorKind::transient, "order 7 is changing too fast; try again"}));

  calls = 0;
  s = retry_on_conflict(0, always);  // always at least one attempt
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(s.error().kind, ErrorKind::transient);
}

Result<int> twice(Result<int> in) {
  ORDERLY_TRY(v, std::move(in));
  return *v * 2;
}

TEST(OrderlyTry, PropagatesTheErrorOrContinuesWithTheValue) {
  EXPECT_EQ(twice(21), 42);
  EXPECT_EQ(twice(make_error(ErrorKind::not_found, "x")).error(),
            (Error{ErrorKind::not_found, "x"}));
}

// A store whose transact_write conflicts the first `conflicts` times.
class ConflictingStore final : public ItemStore {
 public:
  explicit ConflictingStore(int conflicts) : conflicts_(conflicts) {}
  Result<std::optional<Item>> get(const std::string& pk, const std::string& sk) override {
    auto it = items_.find({pk, sk});
    if (it == items_.end()) return std::optional<Item>{};
    return std::optional<Item>{it->second};
  }
  Result<std::int64_t> put(const Item&, Condition) override { return unsupported(); }
  Result<std::int64_t> update(const Update&) override { return unsupported(); }
  Status remove(const std::string&, const std::string&, Condition) override {
    return unsupported();
  }
  Result<Page> query(const std::string&, const QueryOptions&) override { return unsupported(); }
  Status transact_write(const std::vector<WriteOp>& ops) override {
    ++writes;
    if (conflicts_-- > 0) return make_error(ErrorKind::conflict, "condition failed on op 0");
    for (const auto& op : ops)
      if (const auto* p = std::get_if<Put>(&op)) items_[{p->item.pk, p->item.sk}] = p->item;
    return {};
  }
  int writes = 0;

 private:
  static tl::unexpected<Error> unsupported() {
    return make_error(ErrorKind::permanent, "not in this fake");
  }
  int conflicts_;
  std::map<std::pair<std::string, std::string>, Item> items_;
};

TEST(HandleOnce, DecidesAgainOnConflictAndIsTransientWhenItKeepsConflicting) {
  ManualClock clock;
  const auto e = make_event("orderly.t", "orderly.t.Happened.v1", "s-1", {}, clock.now());
  int decisions = 0;
  auto decide = [&](UnitOfWork&) -> Status {
    ++decisions;
    return {};
  };
  ConflictingStore twice_then_ok(2);
  EXPECT_TRUE(handle_once(twice_then_ok, clock, e, "c", decide));
  EXPECT_EQ(decisions, 3);
  EXPECT_TRUE(handle_once(twice_then_ok, clock, e, "c", decide));  // a duplicate
  EXPECT_EQ(decisions, 3);

  decisions = 0;
  ConflictingStore forever(100);
  auto s = handle_once(forever, clock, e, "c", decide, 3);
  ASSERT_FALSE(s);
  EXPECT_EQ(decisions, 3);
  EXPECT_EQ(s.error().kind, ErrorKind::transient);
  EXPECT_TRUE(s.error().retryable());
}

}  // namespace
}  // namespace orderly::platform
