// UnitOfWork: outbox and inbox items, and the handle-once loop.
#include "orderly/platform/unit_of_work.hpp"

#include <boost/json/serialize.hpp>

#include "orderly/platform/metrics.hpp"
#include "orderly/platform/retry.hpp"

namespace orderly::platform {
namespace json = boost::json;

std::string inbox_pk(std::string_view event_id) {
  std::string pk = "INBOX#";
  pk.append(event_id);
  return pk;
}

Item outbox_item(const OutboxEntry& e) {
  Item it;
  it.pk = std::string(kOutboxPk);
  it.sk = e.event.id;
  // The CloudEvent as its JSON text, with its type and source beside it: on
  // AWS a pipe forwards the text as is and routes on the two (ADR 0005).
  it.attrs.emplace("event", to_json(e.event));
  it.attrs.emplace("type", e.event.type);
  it.attrs.emplace("source", e.event.source);
  if (e.deliver_at) it.attrs.emplace("deliverAt", to_unix_ms(*e.deliver_at));
  if (e.target_rule) it.attrs.emplace("rule", *e.target_rule);
  return it;
}

Result<OutboxEntry> outbox_entry_from_item(const Item& item) {
  const auto* ev = item.attrs.if_contains("event");
  if (!ev) return fail(ErrorKind::permanent, "outbox item {}: no event", item.sk);
  auto e = ev->is_string() ? parse_event(ev->get_string()) : event_from_json(*ev);
  if (!e) return fail(ErrorKind::permanent, "outbox item {}: {}", item.sk, e.error().message);
  OutboxEntry out{std::move(*e), std::nullopt, std::nullopt};
  if (const auto* at = item.attrs.if_contains("deliverAt"); at && at->is_int64())
    out.deliver_at = from_unix_ms(at->get_int64());
  if (const auto* r = item.attrs.if_contains("rule"); r && r->is_string())
    out.target_rule = std::string(r->get_string());
  return out;
}

void UnitOfWork::put(Item item, Condition c) {
  ops_.emplace_back(Put{std::move(item), c});
}
void UnitOfWork::update(Update u) {
  ops_.emplace_back(std::move(u));
}
void UnitOfWork::remove(std::string pk, std::string sk, Condition c) {
  ops_.emplace_back(Delete{std::move(pk), std::move(sk), c});
}
void UnitOfWork::check(std::string pk, std::string sk, Condition c) {
  ops_.emplace_back(Check{std::move(pk), std::move(sk), c});
}

void UnitOfWork::emit(CloudEvent e) {
  ops_.emplace_back(Put{outbox_item({e, std::nullopt, std::nullopt}), Condition::not_exists()});
  emitted_.push_back(std::move(e));
}

void UnitOfWork::schedule(CloudEvent e, TimePoint at, std::string rule) {
  ops_.emplace_back(Put{outbox_item({e, at, std::move(rule)}), Condition::not_exists()});
  emitted_.push_back(std::move(e));
}

void UnitOfWork::mark_processed(const CloudEvent& event, std::string_view consumer) {
  Item marker;
  marker.pk = inbox_pk(event.id);
  marker.sk = std::string(consumer);
  marker.attrs.emplace("type", event.type);
  const auto now = clock_->now();
  marker.attrs.emplace("at", to_unix_ms(now));
  marker.ttl = to_unix_ms(now + kInboxRetention) / 1000;
  ops_.emplace_back(Put{std::move(marker), Condition::not_exists()});
}

Status UnitOfWork::commit(ItemStore& store) {
  for (const auto& e : emitted_) {
    // Checked as the outbox pipe on AWS will send it (escaped inside the
    // EventBridge entry), the larger of the two forms: an event that fits
    // here fits everywhere, and none passes the commit only to die in a DLQ.
    const auto size = pipe_entry_bytes(e);
    if (size > kMaxEventBytes)
      return fail(ErrorKind::invalid_input,
                  "event {} of type {} is {} bytes as the outbox pipe sends it to EventBridge; "
                  "the limit is {}",
                  e.id, e.type, size, kMaxEventBytes);
  }
  if (ops_.empty()) return {};
  if (auto s = store.transact_write(ops_); !s) return s;
  // Committed to the outbox: published, as far as this service is concerned.
  static auto& published = metrics::registry().counter(
      "orderly_events_published_total", "Events committed to an outbox, by type", {"type"});
  for (const auto& e : emitted_) published.with({e.type}).inc();
  for (auto& fn : after_commit_) fn();
  after_commit_.clear();
  return {};
}

Result<bool> already_processed(ItemStore& store, std::string_view event_id,
                               std::string_view consumer) {
  auto got = store.get(inbox_pk(event_id), std::string(consumer));
  if (!got) return tl::unexpected(got.error());
  return got->has_value();
}

Status handle_once(ItemStore& store, const Clock& clock, const CloudEvent& event,
                   std::string_view consumer, const std::function<Status(UnitOfWork&)>& decide,
                   int max_attempts) {
  return retry_on_conflict(max_attempts, [&]() -> Status {
    ORDERLY_TRY(seen, already_processed(store, event.id, consumer));
    if (*seen) return {};
    UnitOfWork uow{clock};
    uow.mark_processed(event, consumer);
    if (auto s = decide(uow); !s) return s;
    return uow.commit(store);
  });
}

}  // namespace orderly::platform
