// EmbeddedHost: a SQLite store per service of the table, one durable bus,
// the simulated payment provider; it reads like the deployment diagram.
#include "orderly/hosts/embedded/embedded_host.hpp"

#include <filesystem>
#include <stdexcept>

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/thread_name.hpp"
#include "orderly/services/contracts/events.hpp"

namespace orderly::hosts::embedded {

using adapters::embedded::DurableBus;
using adapters::embedded::SqliteItemStore;
using platform::ErrorKind;

EmbeddedHost::EmbeddedHost(Options o)
    : options_(std::move(o)),
      settings_{.saga_timeout = options_.saga_timeout,
                .fulfilment_timeout = options_.fulfilment_timeout,
                .carrier_delay = options_.carrier_delay,
                .retention = options_.retention,
                .catalogue = options_.catalogue} {}

Result<std::unique_ptr<EmbeddedHost>> EmbeddedHost::open(Options options) {
  std::error_code ec;
  std::filesystem::create_directories(options.data_dir, ec);
  if (ec)
    return platform::fail(ErrorKind::invalid_input, "cannot create data directory {}: {}",
                          options.data_dir, ec.message());
  std::unique_ptr<EmbeddedHost> host(new EmbeddedHost(std::move(options)));
  auto& o = host->options_;
  const platform::Clock& clock = o.clock ? *o.clock : platform::SystemClock::instance();
  auto open_store = [&](const std::string& name) {
    return SqliteItemStore::open(o.data_dir + "/" + name + ".db",
                                 {.durability = o.durability, .clock = &clock});
  };

  auto bus = DurableBus::open({.path = o.data_dir + "/bus.db",
                               .durability = o.durability,
                               .clock = &clock,
                               .workers = o.workers,
                               .group_commit = o.group_commit,
                               .seed = o.seed,
                               .redaction_for = services::contracts::redaction_for});
  if (!bus) return tl::unexpected(bus.error());
  host->bus_ = std::move(*bus);

  // The payment provider is external on AWS; here a simulator with its own ledger file.
  auto ledger = open_store("provider-simulator");
  if (!ledger) return tl::unexpected(ledger.error());
  host->provider_store_ = std::move(*ledger);
  host->provider_ =
      std::make_unique<services::payments::SimulatedProvider>(host->provider_store_.get());

  // Each service of the table: its store, its outbox relayed, its subscriptions.
  for (const ServiceSpec* spec : service_table()) {
    auto store = open_store(spec->name);
    if (!store) return tl::unexpected(store.error());
    auto svc = spec->build({.store = **store,
                            .clock = clock,
                            .settings = host->settings_,
                            .payment_provider = host->provider_.get()});
    if (!svc) return tl::unexpected(svc.error());
    // Attached under the service's name, which prefixes its rules' names: that
    // is how the bus finds a rule's store, for the group commit of its batch
    // and the one fsync before its acknowledgements (DurableBus::owner_of).
    host->bus_->attach_outbox(spec->name, **store);
    for (auto& rule : (*svc)->rules()) {
      if (o.batch_size > 0) rule.options.batch_size = o.batch_size;
      if (o.wrap) rule.handler = o.wrap(rule.name, std::move(rule.handler));
      if (auto s = host->bus_->subscribe(std::move(rule)); !s) return tl::unexpected(s.error());
    }
    host->services_.push_back({spec, std::move(*store), std::move(*svc)});
  }
  // The writers hand their checkpoints to one thread (issue 15): a commit no
  // longer copies the WAL into its file and fsyncs it under its store's lock.
  std::vector<std::string> files{host->bus_->path(), host->provider_store_->path()};
  for (auto& h : host->services_) files.push_back(h.store->path());
  auto checkpointer = adapters::embedded::Checkpointer::open(files, {.durability = o.durability});
  if (!checkpointer) return tl::unexpected(checkpointer.error());
  host->checkpointer_ = std::move(*checkpointer);
  if (auto s = host->bus_->hand_over_checkpoints(); !s) return tl::unexpected(s.error());
  if (auto s = host->provider_store_->hand_over_checkpoints(); !s) return tl::unexpected(s.error());
  for (auto& h : host->services_)
    if (auto s = h.store->hand_over_checkpoints(); !s) return tl::unexpected(s.error());

  for (auto& h : host->services_)
    if (h.spec->start)
      if (auto s = h.spec->start(*h.service, host->settings_); !s) return tl::unexpected(s.error());
  return host;
}

EmbeddedHost::~EmbeddedHost() {
  if (collector_) platform::metrics::registry().remove_collector(collector_);
  stop();
}

platform::Status EmbeddedHost::start() {
  if (!collector_) {
    namespace m = platform::metrics;
    auto& depth = m::registry().gauge(
        "orderly_queue_depth", "Messages waiting in a rule's queue (ready, delayed, in flight)",
        {"rule"});
    auto& age =
        m::registry().gauge("orderly_queue_oldest_age_seconds",
                            "Age of the oldest visible or in-flight message, by rule", {"rule"});
    auto& dlq = m::registry().gauge("orderly_dlq_depth", "Dead letters, by rule", {"rule"});
    collector_ = m::registry().add_collector([this, &depth, &age, &dlq] {
      for (const auto& rule : bus_->rule_names()) {
        auto q = bus_->stats(rule);
        if (!q) continue;
        depth.with({rule}).set(static_cast<double>(q->ready + q->delayed + q->in_flight));
        age.with({rule}).set(static_cast<double>(q->oldest_age_ms) / 1000.0);
        dlq.with({rule}).set(static_cast<double>(q->dead));
      }
      // Outbox items the relay could not read have no rule of their own: they are
      // dead letters all the same, and the DLQ alert must see them.
      constexpr std::size_t kCountUpTo = 10'000;
      if (auto relay = bus_->dead_letters(std::string(adapters::embedded::kRelayDlq), kCountUpTo))
        dlq.with({std::string(adapters::embedded::kRelayDlq)})
            .set(static_cast<double>(relay->size()));
    });
  }
  checkpointer_->start();
  if (auto s = bus_->start(); !s) return s;
  if (options_.retention.count() > 0 && options_.retention_sweep_every.count() > 0 &&
      !retention_thread_.joinable()) {
    {
      std::lock_guard lk(retention_mu_);
      retention_stopping_ = false;
    }
    retention_thread_ = std::thread([this] {
      platform::name_this_thread("retention");
      retention_loop();
    });
  }
  return {};
}

void EmbeddedHost::stop() {
  {
    std::lock_guard lk(retention_mu_);
    retention_stopping_ = true;
  }
  retention_cv_.notify_all();
  if (retention_thread_.joinable()) retention_thread_.join();
  if (bus_) bus_->stop();
  if (checkpointer_) checkpointer_->stop();
}

// Runs every service's sweep (ServiceSpec::sweep: orders erases what passed
// its retention period), then waits for the next period: at start too, so a
// system restarted after a quiet spell catches up.
void EmbeddedHost::retention_loop() {
  for (;;) {
    for (auto& h : services_) {
      if (!h.spec->sweep) continue;
      {
        std::lock_guard lk(retention_mu_);
        if (retention_stopping_) return;
      }
      auto n = h.spec->sweep(*h.service, settings_);
      if (!n)
        platform::log::warn("sweep failed",
                            {{"service", h.spec->name}, {"error", n.error().describe()}});
      else if (*n > 0)
        platform::log::info("sweep", {{"service", h.spec->name}, {"done", std::to_string(*n)}});
    }
    std::unique_lock lk(retention_mu_);
    if (retention_cv_.wait_for(lk, options_.retention_sweep_every,
                               [&] { return retention_stopping_; }))
      return;
  }
}

Service& EmbeddedHost::service(std::string_view name) {
  for (auto& h : services_)
    if (h.spec->name == name) return *h.service;
  throw std::out_of_range("no service named " + std::string(name) + " in the table");
}

SqliteItemStore& EmbeddedHost::store(std::string_view name) {
  for (auto& h : services_)
    if (h.spec->name == name) return *h.store;
  throw std::out_of_range("no service named " + std::string(name) + " in the table");
}

}  // namespace orderly::hosts::embedded
