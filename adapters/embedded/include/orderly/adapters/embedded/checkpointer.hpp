// Checkpointer: WAL checkpoints in small steps, on a thread of their own,
// outside every commit (issue 15).
//
//   auto cp = Checkpointer::open({dir + "/bus.db", dir + "/orders.db"}, {});
//   (*bus)->hand_over_checkpoints(); store->hand_over_checkpoints();  // the writers stop
//   (*cp)->start();
//   ...
//   (*cp)->stop();
//
// SQLite's automatic checkpoint runs inside the commit that takes the WAL past
// 1000 pages: that commit copies the WAL into the database file and fsyncs it
// while the writer holds its store's lock, which is the tail of every queue
// behind that lock. Here each file has a second connection that does nothing
// but a PASSIVE checkpoint every `every`: it copies what no reader needs,
// never waits for a writer, and keeps the WAL short, so each step is small.
// A truncating checkpoint (an erasure's) waits for a step to finish
// (Db::checkpoint_truncate).
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "orderly/adapters/embedded/sqlite.hpp"
#include "orderly/platform/clock.hpp"

namespace orderly::adapters::embedded {

struct CheckpointerOptions {
  Durability durability = Durability::normal;
  // A page written many times between steps is copied once per step: every
  // 250 ms cost 0.92x the server CPU per order of every 20 ms, for 1.08x the
  // orders/s (bench/results/2026-12-03-checkpoint-every-250ms.md).
  platform::Millis every{250};
};

class Checkpointer {
 public:
  static Result<std::unique_ptr<Checkpointer>> open(const std::vector<std::string>& paths,
                                                    CheckpointerOptions options = {});
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // One step over every file, on the calling thread: the frames in the WALs
  // since each last started over (orderly_sqlite_wal_frames), all together.
  Result<std::size_t> run_once();
  void start();
  void stop();  // idempotent

 private:
  Checkpointer(std::vector<std::unique_ptr<Db>> dbs, CheckpointerOptions o)
      : dbs_(std::move(dbs)), options_(o) {}
  void loop();

  std::vector<std::unique_ptr<Db>> dbs_;
  CheckpointerOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace orderly::adapters::embedded
