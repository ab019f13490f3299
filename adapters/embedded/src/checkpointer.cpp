// Checkpointer: a PASSIVE checkpoint of each file every few milliseconds.
#include "orderly/adapters/embedded/checkpointer.hpp"

#include "orderly/platform/log.hpp"
#include "orderly/platform/metrics.hpp"
#include "orderly/platform/thread_name.hpp"

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
  // SQLite reports the WAL's frames and those copied since the WAL last started
  // over, not what one step copied: so a gauge of the length, which shows a
  // WAL that is not starting over (it climbs to the writers' backstop).
  static auto& wal_frames = platform::metrics::registry().gauge(
      "orderly_sqlite_wal_frames",
      "Frames in a file's WAL since it last started over, at the checkpointer's last step", {"db"});
  std::size_t total = 0;
  for (auto& db : dbs_) {
    auto step = db->checkpoint_passive();
    if (!step) return tl::unexpected(step.error());
    wal_frames.with({db->path().substr(db->path().find_last_of('/') + 1)}).set(step->wal_frames);
    total += static_cast<std::size_t>(step->wal_frames);
  }
  return total;
}

void Checkpointer::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    platform::name_this_thread("checkpointer");
    loop();
  });
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
