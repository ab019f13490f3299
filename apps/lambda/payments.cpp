// The payments bootstrap: authorisations, captures, voids and refunds (events).
#include "orderly/apps/lambda/host.hpp"

int main() {
  return orderly::apps::lambda::serve(orderly::hosts::payments_service());
}
