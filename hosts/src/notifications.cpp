// The notifications entry: milestone messages through a channel (the local
// mailbox in the service's own store unless the host supplies another).
#include "orderly/hosts/service_table.hpp"
#include "orderly/services/notifications/service.hpp"

namespace orderly::hosts {

using services::notifications::NotificationsService;

const ServiceSpec& notifications_service() {
  static const ServiceSpec spec = [] {
    auto s = describe<NotificationsService>("notifications");
    s.build = [](const Ports& p) -> Result<std::unique_ptr<Service>> {
      std::vector<std::shared_ptr<void>> owned;
      auto* channel = p.notification_channel;
      if (!channel) {
        auto mailbox = std::make_shared<services::notifications::MailboxChannel>();
        channel = mailbox.get();
        owned.push_back(std::move(mailbox));
      }
      return std::make_unique<Hosted<NotificationsService>>(
          std::make_unique<NotificationsService>(p.store, p.clock, *channel), std::move(owned));
    };
    return s;
  }();
  return spec;
}

}  // namespace orderly::hosts
