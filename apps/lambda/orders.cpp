// The orders bootstrap: the REST routes (api) and the saga's subscriptions (events).
#include "orderly/apps/lambda/host.hpp"

int main() {
  return orderly::apps::lambda::serve(orderly::hosts::orders_service());
}
