// `orderly customers erase ID`: erases a customer's personal data through the
// running gateway (POST /v1/admin/customers/{id}/erase, admin), then follows
// the erasure until every service has answered (docs/adr/0017).
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "cli_common.hpp"
#include "commands.hpp"
#include "orderly/adapters/http/client.hpp"
#include "orderly/adapters/http/jwt.hpp"

namespace orderly::app {

namespace {

struct EraseOptions {
  Common common;
  std::string url = "http://127.0.0.1:8080";
  std::string customer;
  int wait_seconds = 60;  // 0: do not wait for COMPLETED
};

std::string percent_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

int cmd_erase(const EraseOptions& o) {
  const std::string url = o.url.find("://") == std::string::npos ? "http://" + o.url : o.url;
  auto keys = adapters::http::KeyPair::load_or_create(o.common.data_dir);
  if (!keys) return fail(keys.error());
  const auto token =
      adapters::http::issue_token(*keys, {}, "orderly-erase", {"admin"}, std::chrono::minutes(5),
                                  platform::SystemClock::instance().now());
  auto client = adapters::http::HttpClient::create(url, {});
  if (!client) return fail(client.error());
  const adapters::http::Headers auth{{"Authorization", "Bearer " + token}};
  auto res = (*client)->send("POST", "/v1/admin/customers/" + percent_encode(o.customer) + "/erase",
                             auth, "");
  if (!res) return fail(res.error());
  if (res->status != 202) {
    std::fprintf(stderr, "orderly: customers erase: HTTP %u: %s\n", res->status, res->body.c_str());
    return 1;
  }
  std::string body = res->body;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(o.wait_seconds);
  for (;;) {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("erasureId")) {
      std::fprintf(stderr, "orderly: customers erase: unexpected answer: %s\n", body.c_str());
      return 1;
    }
    const auto& e = v.as_object();
    if (e.at("status") == "COMPLETED" || o.wait_seconds == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr,
                   "orderly: customers erase: not completed after %d s (still waiting for %s); "
                   "GET /v1/admin/erasures/%s follows it\n",
                   o.wait_seconds, boost::json::serialize(e.at("waitingFor")).c_str(),
                   std::string(e.at("erasureId").as_string()).c_str());
      std::printf("%s\n", body.c_str());
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto got = (*client)->send(
        "GET", "/v1/admin/erasures/" + std::string(e.at("erasureId").as_string()), auth, "");
    if (!got) return fail(got.error());
    if (got->status != 200) {
      std::fprintf(stderr, "orderly: customers erase: HTTP %u: %s\n", got->status,
                   got->body.c_str());
      return 1;
    }
    body = got->body;
  }
  std::printf("%s\n", body.c_str());
  return 0;
}

}  // namespace

void add_customers_command(CLI::App& app) {
  auto* customers = app.add_subcommand("customers", "Customers' personal data");
  customers->require_subcommand(1);
  auto o = std::make_shared<EraseOptions>();
  auto* erase = customers->add_subcommand(
      "erase",
      "Erase a customer's personal data in every service (and the bus's copies), through the "
      "running gateway; waits until every service has answered");
  add_common(erase, o->common);
  erase->add_option("customer", o->customer, "The customer's id (their token's sub)")->required();
  erase->add_option("--url", o->url, "The running gateway")->capture_default_str();
  erase->add_option("--wait", o->wait_seconds, "Seconds to wait for COMPLETED (0: do not wait)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  erase->callback([o] { exit_with(cmd_erase(*o)); });
}

}  // namespace orderly::app
