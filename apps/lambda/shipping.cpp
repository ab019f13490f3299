// The shipping bootstrap: shipments and the carrier's progress timers (events).
#include "orderly/apps/lambda/host.hpp"

int main() {
  return orderly::apps::lambda::serve(orderly::hosts::shipping_service());
}
