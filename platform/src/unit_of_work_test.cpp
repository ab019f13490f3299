// UnitOfWork and handle_once: state, outbox and inbox in one commit; exactly-once effects.
#include "orderly/platform/unit_of_work.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include "orderly/platform/bus.hpp"

namespace orderly::platform {
namespace {

TEST(UnitOfWork, EmitWritesAnOutboxItemThatRoundTrips) {
  ManualClock clock;
  UnitOfWork uow{clock};
  auto e = make_event("orderly.t", "orderly.t.Happened.v1", "s-1", {{"k", 1}}, clock.now());
  uow.emit(e);
  ASSERT_EQ(uow.ops().size(), 1u);
  const auto& put = std::get<Put>(uow.ops()[0]);
  EXPECT_EQ(put.item.pk, kOutboxPk);
  EXPECT_EQ(put.item.sk, e.id);
  EXPECT_EQ(put.condition.kind, Condition::Kind::not_exists);
  auto back = outbox_entry_from_item(put.item);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back->event, e);
  EXPECT_FALSE(back->deliver_at);
  EXPECT_FALSE(back->target_rule);
}

TEST(UnitOfWork, ScheduleKeepsTimeAndRule) {
  ManualClock clock;
  UnitOfWork uow{clock};
  auto e = make_event("orderly.t", "orderly.t.Timer.v1", "s-1", {}, clock.now());
  uow.schedule(e, clock.now() + Millis{30'000}, "orders.saga-timeout");
  auto back = outbox_entry_from_item(std::get<Put>(uow.ops()[0]).item);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->deliver_at, clock.now() + Millis{30'000});
  EXPECT_EQ(back->target_rule, "orders.saga-timeout");
}

TEST(UnitOfWork, InboxMarkerIsConditionalAndExpires) {
  ManualClock clock;
  UnitOfWork uow{clock};
  auto e = make_event("orderly.t", "orderly.t.Happened.v1", "s-1", {}, clock.now());
  uow.mark_processed(e, "consumer-a");
  const auto& put = std::get<Put>(uow.ops()[0]);
  EXPECT_EQ(put.item.pk, "INBOX#" + e.id);
  EXPECT_EQ(put.item.sk, "consumer-a");
  EXPECT_EQ(put.condition.kind, Condition::Kind::not_exists);
  ASSERT_TRUE(put.item.ttl);
  EXPECT_EQ(*put.item.ttl, to_unix_ms(clock.now() + kInboxRetention) / 1000);
}

TEST(UnitOfWork, MalformedOutboxItemIsAPermanentError) {
  Item it;
  it.pk = "OUTBOX";
  it.sk = "x";
  EXPECT_EQ(outbox_entry_from_item(it).error().kind, ErrorKind::permanent);
  it.attrs["event"] = "not an event";
  EXPECT_EQ(outbox_entry_from_item(it).error().kind, ErrorKind::permanent);
}

// The size that counts is the EventBridge entry the outbox pipe makes, where
// the event is an escaped string: an event whose own JSON fits (the old check)
// can be over the limit there, and would have died in the pipe's DLQ.
TEST(UnitOfWork, AnEventIsMeasuredAsThePipeSendsIt) {
  ManualClock clock;
  auto e = make_event("orderly.test", "orderly.test.Big.v1", "s", {}, clock.now());
  // A quote is 2 bytes in the event's JSON (\") and 4 in the entry (\\\").
  const std::size_t base = to_json(e).size();
  e.data["blob"] = std::string(kMaxEventBytes - base - 32, 'x');
  EXPECT_LE(to_json(e).size(), kMaxEventBytes);
  EXPECT_LE(pipe_entry_bytes(e), kMaxEventBytes + 200) << "plain text barely grows";
  e.data["blob"] = std::string(100 * 1024, '"');  // 200 KiB as JSON, 400 KiB in the entry
  ASSERT_LE(to_json(e).size(), kMaxEventBytes) << "fits as its own JSON";
  ASSERT_GT(pipe_entry_bytes(e), kMaxEventBytes) << "but not escaped in the entry";
  // Refused before the store commits it.
  struct NoStore final : ItemStore {
    Result<std::optional<Item>> get(const std::string&, const std::string&) override {
      return fail(ErrorKind::permanent, "touched");
    }
    Result<std::int64_t> put(const Item&, Condition) override {
      return fail(ErrorKind::permanent, "touched");
    }
    Result<std::int64_t> update(const Update&) override {
      return fail(ErrorKind::permanent, "touched");
    }
    Status remove(const std::string&, const std::string&, Condition) override {
      return fail(ErrorKind::permanent, "touched");
    }
    Result<Page> query(const std::string&, const QueryOptions&) override {
      return fail(ErrorKind::permanent, "touched");
    }
    Status transact_write(const std::vector<WriteOp>&) override {
      return {};  // a commit that got this far would succeed here, and die in the pipe
    }
  } store;
  UnitOfWork uow{clock};
  uow.emit(e);
  auto s = uow.commit(store);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(s.error().message.find("as the outbox pipe sends it"), std::string::npos)
      << s.error().message;
  // The entry's size, computed by hand for a small event.
  auto small =
      make_event("orderly.test", "orderly.test.Small.v1", "s", {{"q", "a\"b"}}, clock.now());
  const std::string escaped = boost::json::serialize(boost::json::value(to_json(small)));
  EXPECT_EQ(pipe_entry_bytes(small), 14 + small.source.size() + small.type.size() +
                                         std::string_view(R"({"event": {"S": }})").size() +
                                         escaped.size());
}

TEST(ItemStoreValidation, TransactionLimitsAndDuplicateKeys) {
  std::vector<WriteOp> ops;
  EXPECT_EQ(validate_transaction(ops).error().kind, ErrorKind::invalid_input);
  for (int i = 0; i < 101; ++i) ops.emplace_back(Check{"p", std::to_string(i), {}});
  EXPECT_NE(validate_transaction(ops).error().message.find("at most 100"), std::string::npos);
  ops.resize(100);
  EXPECT_TRUE(validate_transaction(ops));
  ops.emplace_back(Delete{"p", "5", {}});
  ops.erase(ops.begin());
  EXPECT_NE(validate_transaction(ops).error().message.find("twice"), std::string::npos);
  EXPECT_FALSE(validate_transaction({Put{Item{"", "s", 0, {}, {}}, {}}}));
}

TEST(ErrorKinds, CarryRetryMeaning) {
  EXPECT_EQ(retry_action(ErrorKind::transient), RetryAction::retry_call);
  EXPECT_EQ(retry_action(ErrorKind::conflict), RetryAction::retry_unit_of_work);
  for (auto k : {ErrorKind::invalid_input, ErrorKind::not_found, ErrorKind::unauthorized,
                 ErrorKind::forbidden, ErrorKind::failed_precondition, ErrorKind::permanent})
    EXPECT_EQ(retry_action(k), RetryAction::none) << to_string(k);
  EXPECT_EQ(DeliveryResult::from(make_error(ErrorKind::transient, "x")).outcome, Outcome::retry);
}

}  // namespace
}  // namespace orderly::platform
