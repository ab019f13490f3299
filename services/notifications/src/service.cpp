// Notifications: one message per milestone event.
#include "orderly/services/notifications/service.hpp"

#include <set>

#include "orderly/platform/id.hpp"
#include "orderly/services/contracts/handlers.hpp"

namespace orderly::services::notifications {

namespace c = contracts;
using platform::CloudEvent;
using platform::Condition;
using platform::Item;
using platform::Status;
using platform::UnitOfWork;

namespace {
std::string mailbox_pk(std::string_view customer) {
  return "MAILBOX#" + std::string(customer);
}
// An erased order: ERASED#<customerId> / <orderId>. A milestone of that order
// arriving late (a retried OrderCancelled) sends nothing.
std::string erased_pk(std::string_view customer) {
  return "ERASED#" + std::string(customer);
}
}  // namespace

Status MailboxChannel::deliver(const Notification& n, UnitOfWork& uow) {
  // Sorted by time, then id: the sort key is the (time-sortable) notification time.
  const std::string sk = platform::format_rfc3339(uow.clock().now()) + "#" + n.notification_id;
  uow.put(Item{mailbox_pk(n.customer_id), sk, 0, to_json(n), std::nullopt},
          Condition::not_exists());
  return {};
}

NotificationsService::NotificationsService(platform::ItemStore& store, const platform::Clock& clock,
                                           Channel& channel)
    : store_(store), clock_(clock), channel_(channel) {}

std::vector<std::string> NotificationsService::produces() {
  return {std::string(c::NotificationSent::kType),
          std::string(c::NotificationsCustomerErased::kType)};
}

std::vector<platform::Subscription<NotificationsService>> NotificationsService::subscriptions() {
  using c::on;
  return {{std::string(kEventsRule),
           {
               on<c::OrderConfirmed>([](NotificationsService& s, const c::OrderConfirmed& d,
                                        const CloudEvent& e, UnitOfWork& uow) {
                 return s.send(Template::order_confirmed, e, d.customer_id, d.order_id,
                               {{"total", format_money(d.total)}}, uow);
               }),
               on<c::OrderCancelled>([](NotificationsService& s, const c::OrderCancelled& d,
                                        const CloudEvent& e, UnitOfWork& uow) {
                 std::string reason = d.reason;
                 for (auto& ch : reason)
                   if (ch == '_') ch = ' ';
                 return s.send(Template::order_cancelled, e, d.customer_id, d.order_id,
                               {{"total", format_money(d.total)}, {"reason", reason}}, uow);
               }),
               on<c::ShipmentDispatched>([](NotificationsService& s, const c::ShipmentDispatched& d,
                                            const CloudEvent& e, UnitOfWork& uow) {
                 return s.send(Template::shipment_dispatched, e, d.customer_id, d.order_id,
                               {{"carrier", d.carrier}, {"tracking", d.tracking_number}}, uow);
               }),
               on<c::ShipmentDelivered>([](NotificationsService& s, const c::ShipmentDelivered& d,
                                           const CloudEvent& e, UnitOfWork& uow) {
                 return s.send(Template::shipment_delivered, e, d.customer_id, d.order_id,
                               {{"carrier", std::string("ParcelSim")}}, uow);
               }),
               on<c::CustomerErasureRequested>(
                   [](NotificationsService& s, const c::CustomerErasureRequested& d,
                      const CloudEvent& e, UnitOfWork& uow) { return s.erase(d, e, uow); }),
           }}};
}

std::vector<platform::Rule> NotificationsService::rules() {
  return platform::bind(subscriptions(), *this, store_, clock_);
}

Status NotificationsService::send(Template t, const CloudEvent& cause,
                                  const std::string& customer_id, const std::string& order_id,
                                  const Values& values, UnitOfWork& uow) {
  // An order whose customer's data was erased gets no new message; the check
  // in the unit of work closes the race with an erasure committing meanwhile
  // (the conflict is retried, and the retry reads the marker).
  ORDERLY_TRY(erased, store_.get(erased_pk(customer_id), order_id));
  if (*erased) return {};
  uow.check(erased_pk(customer_id), order_id, Condition::not_exists());
  // One notification per milestone event: its id derives from the event's.
  const auto n = render(t, platform::derived_uuid("orderly.notifications", cause.id), customer_id,
                        order_id, values);
  if (auto s = channel_.deliver(n, uow); !s) return s;
  auto e = c::to_event(c::NotificationSent{n.notification_id, n.customer_id, n.order_id, n.channel,
                                           std::string(to_string(n.template_name)), n.subject},
                       clock_.now());
  platform::caused_by(e, cause);
  uow.emit(std::move(e));
  return {};
}

// The customer's mailbox messages about the erasure's orders are deleted (a
// message is its content: there is nothing to keep pseudonymised). Deletes go
// ahead of the answer, one by one: they are idempotent, and up to
// kMaxErasureOrders orders' messages do not fit one unit of work.
Status NotificationsService::erase(const c::CustomerErasureRequested& d, const CloudEvent& e,
                                   UnitOfWork& uow) {
  // The markers first: from here no new message of these orders is sent.
  for (const auto& order_id : d.order_ids)
    if (auto v = store_.put(Item{erased_pk(d.customer_id), order_id, 0,
                                 boost::json::object{{"erasureId", d.erasure_id}}, std::nullopt},
                            Condition::none());
        !v)
      return tl::unexpected(v.error());
  // Then the messages already sent (a send that committed before a marker is
  // among them: the query runs after every marker is in).
  const std::set<std::string, std::less<>> orders(d.order_ids.begin(), d.order_ids.end());
  std::vector<std::string> doomed;
  platform::QueryOptions q;
  q.limit = 100;
  for (;;) {
    ORDERLY_TRY(page, store_.query(mailbox_pk(d.customer_id), q));
    for (const auto& it : page->items) {
      const auto* o = it.attrs.if_contains("orderId");
      if (o && o->is_string() && orders.count(std::string_view(o->get_string())))
        doomed.push_back(it.sk);
    }
    if (!page->next_cursor) break;
    q.cursor = page->next_cursor;
  }
  for (const auto& sk : doomed)
    if (auto s = store_.remove(mailbox_pk(d.customer_id), sk, Condition::none()); !s) return s;
  return c::answer_erasure<c::NotificationsCustomerErased>(
      store_, d, static_cast<std::int64_t>(doomed.size()), e, uow);
}

Result<std::vector<Notification>> NotificationsService::mailbox(const std::string& customer_id,
                                                                std::size_t limit) {
  platform::QueryOptions q;
  q.limit = limit;
  q.forward = false;
  ORDERLY_TRY(page, store_.query(mailbox_pk(customer_id), q));
  std::vector<Notification> out;
  for (const auto& it : page->items) {
    platform::JsonReader r{it.attrs};
    Notification n;
    n.notification_id = r.string("notificationId", 1, 64);
    n.customer_id = r.string("customerId", 1, 128);
    n.order_id = r.string("orderId", 1, 64);
    n.channel = r.string("channel", 1, 16);
    const auto t = r.one_of("template", {"order_confirmed", "order_cancelled",
                                         "shipment_dispatched", "shipment_delivered"});
    for (auto x : {Template::order_confirmed, Template::order_cancelled,
                   Template::shipment_dispatched, Template::shipment_delivered})
      if (to_string(x) == t) n.template_name = x;
    n.subject = r.string("subject", 1, 200);
    n.body = r.string("body", 1, 2000);
    r.done();
    // Unreadable stored data is not the caller's bad input.
    if (auto s = r.status(); !s)
      return platform::fail(platform::ErrorKind::permanent, "stored notification is unreadable: {}",
                            s.error().message);
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace orderly::services::notifications
