// The notifications bootstrap: customer messages (events), kept in the table's mailbox.
#include "orderly/apps/lambda/host.hpp"

int main() {
  return orderly::apps::lambda::serve(orderly::hosts::notifications_service());
}
