// The inventory bootstrap: the catalogue routes (api) and reservations (events).
#include "orderly/apps/lambda/host.hpp"

int main() {
  return orderly::apps::lambda::serve(orderly::hosts::inventory_service());
}
