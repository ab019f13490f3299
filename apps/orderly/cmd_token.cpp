// `orderly token`: prints a JWT signed with the data directory's key (the key
// `orderly up` verifies with), on its last line of output.
#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "orderly/adapters/http/jwt.hpp"
#include "orderly/platform/clock.hpp"

namespace orderly::app {

namespace {

struct TokenOptions {
  Common common;
  std::string customer;
  bool admin = false;
  std::vector<std::string> scopes;
  long ttl = 3600;
  std::string issuer = kDefaultIssuer;
  std::string audience = kDefaultAudience;
};

int cmd_token(const TokenOptions& o) {
  auto keys = adapters::http::KeyPair::load_or_create(o.common.data_dir);
  if (!keys) return fail(keys.error());
  std::set<std::string> s(o.scopes.begin(), o.scopes.end());
  if (s.empty()) s = {"orders:read", "orders:write"};
  if (o.admin) s.insert("admin");
  std::printf("%s\n", adapters::http::issue_token(
                          *keys, {.issuer = o.issuer, .audience = o.audience}, o.customer, s,
                          std::chrono::seconds(o.ttl), platform::SystemClock::instance().now())
                          .c_str());
  return 0;
}

}  // namespace

void add_token_command(CLI::App& app) {
  auto o = std::make_shared<TokenOptions>();
  auto* token =
      app.add_subcommand("token", "Print a JWT signed with the data directory's key (last line)");
  add_common(token, o->common);
  token->add_option("--customer", o->customer, "The subject (customer id)")->required();
  token->add_flag("--admin", o->admin, "Add the admin scope");
  token->add_option("--scope", o->scopes,
                    "A scope; repeat for more (default: orders:read orders:write)");
  token->add_option("--ttl", o->ttl, "Seconds until it expires")
      ->check(CLI::Range(1L, 31L * 24 * 3600))
      ->capture_default_str();
  token->add_option("--issuer", o->issuer, "Issuer claim")->capture_default_str();
  token->add_option("--audience", o->audience, "Audience claim")->capture_default_str();
  token->callback([o] { exit_with(cmd_token(*o)); });
}

}  // namespace orderly::app
