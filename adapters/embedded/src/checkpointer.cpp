// Checkpointer: a PASSIVE checkpoint of each file every few milliseconds.
#include "orderly/adapters/embedded/checkpointer.hpp"

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"

namespace orderly::adapters::embedded {

Result<std::unique_ptr<Checkpointer>> Checkpointer::open(const std::vector<std::string>& paths,
                                                         CheckpointerOptions options) {
  std::vector<std::unique_ptr<Db>> dbs;
  for (const auto& path : paths) {
    auto db = Db::open(path, options.durability);
    if (!db) return tl::unexpected(db.error());
    dbs.push_back(std::move(*db));
  }
  return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(dbs), options));
}

Checkpointer::~Checkpointer() {
  stop();
}

Result<std::size_t> Checkpointer::run_once() {
  static auto& frames = platform::metrics::registry().counter(
      "orderly_sqlite_checkpointed_frames_total",
      "WAL frames the checkpointer copied into the database file, by file", {"db"});
  std::size_t total = 0;
  for (auto& db : dbs_) {
    auto n = db->checkpoint_passive();
    if (!n) return tl::unexpected(n.error());
    if (*n > 0) {
      frames.with({db->path().substr(db->path().find_last_of('/') + 1)})
          .inc(static_cast<std::uint64_t>(*n));
      total += static_cast<std::size_t>(*n);
    }
  }
  return total;
}

void Checkpointer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Checkpointer::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Checkpointer::loop() {
  std::int64_t last_logged_ms = 0;
  for (;;) {
    {
      std::unique_lock lk(mu_);
      if (cv_.wait_for(lk, options_.every, [&] { return stopping_; })) return;
    }
    if (auto n = run_once(); !n) {
      // The writers' backstop checkpoint still bounds the WAL: log, and go on.
      const auto now = platform::to_unix_ms(platform::SystemClock::instance().now());
      if (now - last_logged_ms >= 5'000) {
        last_logged_ms = now;
        platform::log::warn("checkpoint failed", {{"error", n.error().describe()}});
      }
    }
  }
}

}  // namespace orderly::adapters::embedded
