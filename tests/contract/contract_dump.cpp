// contract_dump: what the running C++ code produces and consumes, for the
// contract tests in tests/contract/*.test.mjs.
//
//   contract_dump --out DIR
//     DIR/catalogue.json     {"services":[{"name","produces","consumes"}], "terminal":[...]}
//     DIR/samples/<type>.json one CloudEvent per produced type, really emitted
//
// The samples come from running the five services on the embedded runtime
// through enough sagas (delivered, declined, out of stock, timed out, a
// cancel stopped before dispatch, a cancel refused after it) that every event
// type is emitted at least once.
#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/platform/id.hpp"

namespace {

using namespace orderly;
using namespace orderly::services;
using namespace std::chrono_literals;
namespace json = boost::json;

int fail(const std::string& what) {
  std::fprintf(stderr, "contract_dump: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Dump the event catalogue and emitted samples of the C++ services"};
  std::string out, topology;
  app.add_option("--out", out, "Output directory")->required();
  app.add_option("--topology", topology,
                 "Also write the deployment topology (services, rules, timers) the CDK app reads");
  CLI11_PARSE(app, argc, argv);

  const auto work =
      std::filesystem::temp_directory_path() / ("orderly-contract-" + std::to_string(::getpid()));
  std::filesystem::remove_all(work);
  platform::ManualClock clock;
  std::map<std::string, std::string> samples;
  {
    auto sys = hosts::embedded::EmbeddedHost::open({.data_dir = work.string(),
                                                    .clock = &clock,
                                                    .saga_timeout = 30'000ms,
                                                    .carrier_delay = 5'000ms});
    if (!sys) return fail(sys.error().describe());
    auto& s = **sys;
    auto drain = [&] {
      for (int i = 0; i < 200; ++i) {
        if (!s.bus().run_until_idle()) return false;
        if (*s.bus().backlog() == 0) return true;
        clock.advance(1'000ms);
      }
      return false;
    };
    if (!drain()) return fail("catalogue did not settle");
    const contracts::Address addr{"Grace Hopper", "1 Compiler Way", std::string("Flat 2"),
                                  "Arlington",    "22201",          "US"};
    auto place = [&](std::vector<contracts::StockLine> lines, const char* token) {
      return s.orders().place_order({platform::new_uuid_v7(clock.now()),
                                     "sample-customer",
                                     std::move(lines),
                                     token,
                                     addr,
                                     {}});
    };
    for (const char* token : {"tok_ok", "tok_decline", "tok_timeout"})
      if (!place({{"KB-MECH-01", 1}, {"MS-WL-02", 2}}, token)) return fail("place failed");
    if (!place({{"LTD-ED-01", 50}}, "tok_ok")) return fail("place failed");
    auto cancelled = place({{"PAD-XL-01", 1}}, "tok_ok");
    if (!cancelled) return fail("place failed");
    if (!s.bus().run_until_idle()) return fail("bus failed");
    // CONFIRMED: the cancel is a request, and shipping stops the shipment (ShipmentCancelled).
    if (auto c = s.orders().cancel_order(cancelled->id); !c) return fail(c.error().describe());
    if (!s.bus().run_until_idle()) return fail("bus failed");
    // The carrier takes a parcel, then its customer asks to cancel before orders has heard of
    // the dispatch: shipping refuses (ShipmentCancellationRefused).
    auto late = place({{"PAD-XL-01", 1}}, "tok_ok");
    if (!late) return fail("place failed");
    if (!s.bus().run_until_idle()) return fail("bus failed");
    clock.advance(5'000ms);
    if (!s.bus().deliver_once(std::string(services::shipping::kCarrierRule)))
      return fail("carrier step failed");
    if (auto c = s.orders().cancel_order(late->id); !c) return fail(c.error().describe());
    if (!drain()) return fail("sagas did not settle");
    auto dead = s.bus().dead_letters();
    if (!dead || !dead->empty()) return fail("dead letters while producing samples");
    auto archived = s.bus().archive_since(0, 100'000);
    if (!archived) return fail(archived.error().describe());
    for (const auto& a : *archived) samples.emplace(a.type, a.body);  // the first of each type
    // Every order has ended: the customer's data may be erased (after the samples
    // above were taken: the bus redacts its copies of their events).
    auto erasure = s.orders().erase_customer("sample-customer");
    if (!erasure) return fail(erasure.error().describe());
    if (!drain()) return fail("erasure did not settle");
    auto done = s.orders().get_erasure(erasure->id);
    if (!done || !*done || (*done)->status != "COMPLETED") return fail("erasure did not complete");
    archived = s.bus().archive_since(0, 100'000);
    if (!archived) return fail(archived.error().describe());
    for (const auto& a : *archived) samples.emplace(a.type, a.body);
  }
  std::filesystem::remove_all(work);

  std::filesystem::create_directories(std::filesystem::path(out) / "samples");
  json::object catalogue;
  json::array services;
  auto strings = [](const std::vector<std::string>& v) {
    json::array a;
    for (const auto& t : v) a.emplace_back(t);
    return a;
  };
  for (const hosts::ServiceSpec* spec : hosts::service_table()) {
    services.push_back(json::object{{"name", spec->name},
                                    {"produces", strings(spec->produces)},
                                    {"consumes", strings(spec->consumes())}});
    for (const auto& t : spec->produces)
      if (!samples.count(t)) return fail("no sample was emitted for " + t);
  }
  catalogue["services"] = std::move(services);
  catalogue["terminal"] = strings(hosts::terminal_event_types());
  std::ofstream(std::filesystem::path(out) / "catalogue.json")
      << json::serialize(catalogue) << "\n";
  // The backoff between receives that the Lambda host sets on a failed SQS
  // message, and the longest all retries of one message take.
  auto retry_backoff = [] {
    const platform::RuleOptions o;
    return json::object{{"baseMs", o.backoff_base.count()},
                        {"capMs", o.backoff_cap.count()},
                        {"budgetSeconds", o.retry_budget().count() / 1000}};
  };
  if (!topology.empty()) {
    // The deployment's defaults: the settings the CDK app gives the functions.
    const hosts::Settings settings;
    json::array svcs;
    for (const hosts::ServiceSpec* spec : hosts::service_table()) {
      json::array rules;
      for (const auto& r : spec->rules) {
        json::object rule{{"name", r.name},
                          {"types", strings(r.types)},
                          {"maxReceiveCount", r.max_receive_count}};
        if (r.timer_delay)
          rule["timerDelaySeconds"] =
              std::chrono::duration_cast<std::chrono::seconds>(settings.*r.timer_delay).count();
        rules.push_back(std::move(rule));
      }
      svcs.push_back(json::object{{"name", spec->name},
                                  {"handlers", strings(spec->lambda_handlers())},
                                  {"produces", strings(spec->produces)},
                                  {"rules", std::move(rules)},
                                  // A scheduled rule invokes its events function
                                  // with hosts::kSweepInput (ServiceSpec::sweep).
                                  {"sweep", static_cast<bool>(spec->sweep)}});
    }
    std::ofstream(topology)
        << json::serialize(json::object{
               {"$comment",
                "Generated by contract_dump --topology from the service "
                "table (hosts/); do not edit (a test checks it)."},
               {"services", std::move(svcs)},
               {"fulfilmentTimeoutSeconds",
                std::chrono::duration_cast<std::chrono::seconds>(settings.fulfilment_timeout)
                    .count()},
               {"sagaTimeoutSeconds",
                std::chrono::duration_cast<std::chrono::seconds>(settings.saga_timeout).count()},
               {"retryBackoff", retry_backoff()},
               {"sweepInput", std::string(hosts::kSweepInput)}})
        << "\n";
  }
  for (const auto& [type, body] : samples)
    std::ofstream(std::filesystem::path(out) / "samples" / (type + ".json")) << body << "\n";
  std::printf("contract_dump: %zu event types, %zu samples in %s\n", samples.size(), samples.size(),
              out.c_str());
  return 0;
}
