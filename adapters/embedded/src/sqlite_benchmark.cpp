// The ceiling: raw SQLite commit rates on this machine, single-row and
// batched transactions, in both durability modes; then the same through
// SqliteItemStore, to show what the adapter costs on top.
//
//   build/bench/sqlite_benchmark --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "orderly/adapters/embedded/sqlite.hpp"
#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/platform/unit_of_work.hpp"

namespace {

using namespace orderly::adapters::embedded;
using namespace orderly::platform;

struct Dir {
  std::filesystem::path path;
  Dir() {
    path =
        std::filesystem::temp_directory_path() /
        ("orderly-sqlite-bench-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~Dir() { std::filesystem::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
};

const std::string kPayload(512, 'x');

// state.range(0): rows per transaction; state.range(1): 0 normal, 1 full.
void BM_RawSqliteCommit(benchmark::State& state) {
  Dir dir;
  const auto d = state.range(1) ? Durability::full : Durability::normal;
  auto db = Db::open((dir.path / "raw.db").string(), d);
  if (!db) state.SkipWithError(db.error().message.c_str());
  (void)(*db)->exec("CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  auto ins = (*db)->prepare("INSERT INTO t(v) VALUES (?1)");
  const auto rows = state.range(0);
  for (auto _ : state) {
    auto tx = Transaction::begin(**db);
    for (std::int64_t i = 0; i < rows; ++i) {
      StmtGuard g(**ins);
      g->bind(1, std::string_view(kPayload));
      if (!g->run()) state.SkipWithError("insert failed");
    }
    if (!tx->commit()) state.SkipWithError("commit failed");
  }
  state.counters["commits/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["rows/s"] = benchmark::Counter(static_cast<double>(state.iterations() * rows),
                                                benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawSqliteCommit)
    ->ArgNames({"rows_per_tx", "full"})
    ->Args({1, 0})
    ->Args({100, 0})
    ->Args({1, 1})
    ->Args({100, 1})
    ->UseRealTime();

// A unit of work as a service commits it: one state item, one outbox event, one inbox marker.
void BM_ItemStoreUnitOfWork(benchmark::State& state) {
  Dir dir;
  const auto d = state.range(0) ? Durability::full : Durability::normal;
  auto store = SqliteItemStore::open((dir.path / "svc.db").string(), {.durability = d});
  if (!store) state.SkipWithError(store.error().message.c_str());
  auto& clock = SystemClock::instance();
  std::int64_t i = 0;
  for (auto _ : state) {
    UnitOfWork uow{clock};
    auto cause = make_event("b", "orderly.bench.In.v1", "s", {}, clock.now());
    uow.mark_processed(cause, "bench");
    uow.put(Item{"ORDER#" + std::to_string(i++), "ORDER", 0, {{"payload", kPayload}}, std::nullopt},
            Condition::not_exists());
    uow.emit(make_event("b", "orderly.bench.Out.v1", "s", {{"payload", kPayload}}, clock.now()));
    if (!uow.commit(**store)) state.SkipWithError("commit failed");
  }
  state.counters["uow/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ItemStoreUnitOfWork)->ArgNames({"full"})->Arg(0)->Arg(1)->UseRealTime();

void BM_ItemStoreGet(benchmark::State& state) {
  Dir dir;
  auto store = SqliteItemStore::open((dir.path / "svc.db").string());
  for (int i = 0; i < 1000; ++i)
    (void)(*store)->put(
        Item{"P#" + std::to_string(i), "S", 0, {{"payload", kPayload}}, std::nullopt}, {});
  int i = 0;
  for (auto _ : state) {
    auto r = (*store)->get("P#" + std::to_string(i++ % 1000), "S");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ItemStoreGet)->UseRealTime();

// The whole-file scrub an erasure runs once per connection (Db::purge_erased):
// state.range(0) MiB of 1 KiB rows, a third of them then deleted. Each
// iteration scrubs the whole file again (the first finds bytes to zero; the
// rest read every b-tree page and find none).
void BM_ScrubWholeFile(benchmark::State& state) {
  Dir dir;
  auto db = Db::open((dir.path / "scrub.db").string(), Durability::normal);
  if (!db) state.SkipWithError(db.error().message.c_str());
  (void)(*db)->exec("CREATE TABLE t(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID");
  const std::int64_t rows = state.range(0) * 1024;
  const std::string value(1024, 'v');
  {
    auto tx = Transaction::begin(**db);
    auto ins = (*db)->prepare("INSERT INTO t(k, v) VALUES (?1, ?2)");
    for (std::int64_t i = 0; i < rows; ++i) {
      StmtGuard g(**ins);
      g->bind(1, "key" + std::to_string(i * 7919 % rows));
      g->bind(2, std::string_view(value));
      (void)g->run();
    }
    (void)tx->commit();
  }
  (void)(*db)->exec("DELETE FROM t WHERE substr(k, -1) IN ('3', '6', '9')");
  std::int64_t pages = 0;
  for (auto _ : state) {
    auto r = (*db)->scrub_all();
    if (!r)
      state.SkipWithError(r.error().message.c_str());
    else
      pages = r->pages;
  }
  state.counters["pages"] = static_cast<double>(pages);
  state.counters["MiB/s"] =
      benchmark::Counter(static_cast<double>(pages) * 4096.0 / (1024.0 * 1024.0) *
                             static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScrubWholeFile)
    ->ArgNames({"MiB"})
    ->Arg(16)
    ->Arg(128)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
