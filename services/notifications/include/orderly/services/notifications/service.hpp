// The notifications service. Messages leave through a Channel port: locally
// the Mailbox channel writes them into the service's own store, in the same
// unit of work as the inbox marker; an SES channel would send them with the
// notification id as its idempotency key.
#pragma once

#include <string>
#include <vector>

#include "orderly/platform/bus.hpp"
#include "orderly/platform/item_store.hpp"
#include "orderly/platform/subscriptions.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "orderly/services/notifications/domain.hpp"

namespace orderly::services::notifications {

inline constexpr std::string_view kEventsRule = "notifications.events";

class Channel {
 public:
  virtual ~Channel() = default;
  virtual platform::Status deliver(const Notification& n, platform::UnitOfWork& uow) = 0;
};

// Writes to MAILBOX#<customer> in the notifications store.
class MailboxChannel final : public Channel {
 public:
  platform::Status deliver(const Notification& n, platform::UnitOfWork& uow) override;
};

class NotificationsService {
 public:
  NotificationsService(platform::ItemStore& store, const platform::Clock& clock, Channel& channel);
  // Every subscription of the service, in one place, and bound to this instance.
  static std::vector<platform::Subscription<NotificationsService>> subscriptions();
  std::vector<platform::Rule> rules();
  static std::vector<std::string> produces();
  // The local mailbox, newest first.
  Result<std::vector<Notification>> mailbox(const std::string& customer_id,
                                            std::size_t limit = 100);

 private:
  platform::Status erase(const contracts::CustomerErasureRequested& d,
                         const platform::CloudEvent& e, platform::UnitOfWork& uow);
  platform::Status send(Template t, const platform::CloudEvent& cause,
                        const std::string& customer_id, const std::string& order_id,
                        const Values& values, platform::UnitOfWork& uow);

  platform::ItemStore& store_;
  const platform::Clock& clock_;
  Channel& channel_;
};

}  // namespace orderly::services::notifications
