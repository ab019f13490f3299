// The notifications bootstrap: customer messages (events), kept in the table's mailbox.
#include "orderly/apps/lambda/host.hpp"
#include "orderly/services/notifications/service.hpp"

using namespace orderly;
using services::notifications::MailboxChannel;
using services::notifications::NotificationsService;

int main() {
  return apps::lambda::serve(
      "notifications",
      {{"events",
        [](apps::lambda::Context& c) -> platform::Result<adapters::aws::InvocationHandler> {
          auto channel = c.keep(std::make_shared<MailboxChannel>());
          auto svc = c.keep(std::make_shared<NotificationsService>(c.store, c.clock, *channel));
          return apps::lambda::events(svc->rules());
        }}});
}
