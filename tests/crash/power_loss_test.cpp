// Power loss, simulated. A kill -9 keeps everything the process wrote; a power
// loss keeps only what was fsynced. Under durability normal SQLite fsyncs a WAL
// only at checkpoints, so after a power loss each file may have lost the
// unsynced tail of its WAL. Files are synced independently: the danger is a
// later commit in one file surviving an earlier one in another (the relay's
// outbox delete without the bus's insert; an acknowledgement without the
// handler's commit).
//
// The stand-in for the disk is a VFS over SQLite's default that keeps, for
// every file, its content at its last xSync. A power loss at step k with victim
// file f is: every file as it is now (the OS happened to flush it), except f,
// which is as it was at its last sync (the OS flushed none of its tail; absent
// if it was never synced). This is exactly "dropping the unsynced WAL tail of
// one file". The system then restarts on that copy, runs to quiescence, and
// must hold:
//   - the order either never happened anywhere (a power loss may lose the
//     last acknowledged writes: durability normal) or reached DELIVERED with
//     its money captured once, its stock committed, and its shipment delivered;
//   - stock: on hand = seeded - committed, nothing reserved;
//   - no dead letters, nothing queued.
// Every step of a whole saga is a crash point, every service's and the bus's
// WAL a victim. The payment provider's ledger is the bank's, not ours: it never
// loses anything.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <new>
#include <string>

#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "orderly/hosts/embedded/embedded_host.hpp"
#include "orderly/platform/id.hpp"
#include "support/temp_dir.hpp"

namespace orderly {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace orderly::services;
namespace c = contracts;

// ---------------------------------------------------------------- the VFS

struct Disk {
  std::mutex mu;
  std::map<std::string, std::string> at_last_sync;  // path -> content
};
Disk& disk() {
  static Disk d;
  return d;
}

struct File {
  sqlite3_file base;  // must be first: SQLite sees a sqlite3_file*
  sqlite3_file* real;
  std::string path;
};

sqlite3_vfs* real_vfs = nullptr;

sqlite3_file* real_of(sqlite3_file* p) {
  return reinterpret_cast<File*>(p)->real;
}

int snapshot(File* f) {
  sqlite3_int64 size = 0;
  if (int rc = f->real->pMethods->xFileSize(f->real, &size); rc != SQLITE_OK) return rc;
  std::string content(static_cast<std::size_t>(size), '\0');
  if (size > 0)
    if (int rc = f->real->pMethods->xRead(f->real, content.data(), static_cast<int>(size), 0);
        rc != SQLITE_OK)
      return rc;
  std::lock_guard lk(disk().mu);
  disk().at_last_sync[f->path] = std::move(content);
  return SQLITE_OK;
}

const sqlite3_io_methods io = {
    2,  // no xFetch/xUnfetch: no memory-mapped I/O behind the VFS's back
    [](sqlite3_file* p) {
      auto* f = reinterpret_cast<File*>(p);
      const int rc = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
      f->~File();
      return rc;
    },
    [](sqlite3_file* p, void* buf, int n, sqlite3_int64 off) {
      return real_of(p)->pMethods->xRead(real_of(p), buf, n, off);
    },
    [](sqlite3_file* p, const void* buf, int n, sqlite3_int64 off) {
      return real_of(p)->pMethods->xWrite(real_of(p), buf, n, off);
    },
    [](sqlite3_file* p, sqlite3_int64 size) {
      return real_of(p)->pMethods->xTruncate(real_of(p), size);
    },
    [](sqlite3_file* p, int flags) {
      const int rc = real_of(p)->pMethods->xSync(real_of(p), flags);
      return rc == SQLITE_OK ? snapshot(reinterpret_cast<File*>(p)) : rc;
    },
    [](sqlite3_file* p, sqlite3_int64* size) {
      return real_of(p)->pMethods->xFileSize(real_of(p), size);
    },
    [](sqlite3_file* p, int l) { return real_of(p)->pMethods->xLock(real_of(p), l); },
    [](sqlite3_file* p, int l) { return real_of(p)->pMethods->xUnlock(real_of(p), l); },
    [](sqlite3_file* p, int* out) {
      return real_of(p)->pMethods->xCheckReservedLock(real_of(p), out);
    },
    [](sqlite3_file* p, int op, void* arg) {
      return real_of(p)->pMethods->xFileControl(real_of(p), op, arg);
    },
    [](sqlite3_file* p) { return real_of(p)->pMethods->xSectorSize(real_of(p)); },
    [](sqlite3_file* p) { return real_of(p)->pMethods->xDeviceCharacteristics(real_of(p)); },
    [](sqlite3_file* p, int page, int size, int extend, void volatile** out) {
      return real_of(p)->pMethods->xShmMap(real_of(p), page, size, extend, out);
    },
    [](sqlite3_file* p, int offset, int n, int flags) {
      return real_of(p)->pMethods->xShmLock(real_of(p), offset, n, flags);
    },
    [](sqlite3_file* p) { real_of(p)->pMethods->xShmBarrier(real_of(p)); },
    [](sqlite3_file* p, int del) { return real_of(p)->pMethods->xShmUnmap(real_of(p), del); },
    nullptr,
    nullptr,
};

// The same file methods without shared memory: SQLite cannot run a WAL then.
const sqlite3_io_methods io_without_shm = [] {
  sqlite3_io_methods m = io;
  m.iVersion = 1;
  return m;
}();
std::atomic<bool> without_shm{false};

sqlite3_vfs make_vfs() {
  real_vfs = sqlite3_vfs_find(nullptr);
  sqlite3_vfs v{};
  v.iVersion = 2;
  v.szOsFile = static_cast<int>(sizeof(File)) + real_vfs->szOsFile;
  v.mxPathname = real_vfs->mxPathname;
  v.zName = "orderly-power-loss";
  v.xOpen = [](sqlite3_vfs*, const char* name, sqlite3_file* p, int flags, int* out) {
    auto* f = new (p) File{};
    f->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(p) + sizeof(File));
    const int rc = real_vfs->xOpen(real_vfs, name, f->real, flags, out);
    if (rc != SQLITE_OK) {
      f->~File();
      p->pMethods = nullptr;
      return rc;
    }
    f->path = name ? name : "";
    p->pMethods = without_shm ? &io_without_shm : &io;
    return SQLITE_OK;
  };
  v.xDelete = [](sqlite3_vfs*, const char* name, int sync_dir) {
    return real_vfs->xDelete(real_vfs, name, sync_dir);
  };
  v.xAccess = [](sqlite3_vfs*, const char* name, int flags, int* out) {
    return real_vfs->xAccess(real_vfs, name, flags, out);
  };
  v.xFullPathname = [](sqlite3_vfs*, const char* name, int n, char* out) {
    return real_vfs->xFullPathname(real_vfs, name, n, out);
  };
  v.xDlOpen = [](sqlite3_vfs*, const char* name) { return real_vfs->xDlOpen(real_vfs, name); };
  v.xDlError = [](sqlite3_vfs*, int n, char* out) { real_vfs->xDlError(real_vfs, n, out); };
  v.xDlSym = [](sqlite3_vfs*, void* h, const char* sym) {
    return real_vfs->xDlSym(real_vfs, h, sym);
  };
  v.xDlClose = [](sqlite3_vfs*, void* h) { real_vfs->xDlClose(real_vfs, h); };
  v.xRandomness = [](sqlite3_vfs*, int n, char* out) {
    return real_vfs->xRandomness(real_vfs, n, out);
  };
  v.xSleep = [](sqlite3_vfs*, int us) { return real_vfs->xSleep(real_vfs, us); };
  v.xCurrentTime = [](sqlite3_vfs*, double* out) { return real_vfs->xCurrentTime(real_vfs, out); };
  v.xGetLastError = [](sqlite3_vfs*, int n, char* out) {
    return real_vfs->xGetLastError(real_vfs, n, out);
  };
  v.xCurrentTimeInt64 = [](sqlite3_vfs*, sqlite3_int64* out) {
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
  };
  return v;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// ---------------------------------------------------------------- the test

const c::Address kAddress{
    "Ada Lovelace", "12 Analytical Row", std::nullopt, "London", "N1 9GU", "GB"};
const std::vector<inventory::Product> kCatalogue = {{"SKU-A", "Alpha", {1'000, "GBP"}, 10, 0}};
const std::vector<std::string> kWals = {"orders.db-wal",        "inventory.db-wal",
                                        "payments.db-wal",      "shipping.db-wal",
                                        "notifications.db-wal", "bus.db-wal"};

class PowerLoss : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static sqlite3_vfs vfs = make_vfs();
    ASSERT_EQ(sqlite3_vfs_register(&vfs, /*makeDflt=*/1), SQLITE_OK);
  }

  static std::unique_ptr<hosts::embedded::EmbeddedHost> open(const fs::path& dir,
                                                             platform::ManualClock& clock) {
    auto h = hosts::embedded::EmbeddedHost::open({.data_dir = dir.string(),
                                                  .clock = &clock,
                                                  .saga_timeout = 30'000ms,
                                                  .carrier_delay = 5'000ms,
                                                  .catalogue = kCatalogue,
                                                  .seed = 1});
    EXPECT_TRUE(h) << h.error().message;
    return h ? std::move(*h) : nullptr;
  }

  // Runs to quiescence, timers included.
  static void settle(hosts::embedded::EmbeddedHost& h, platform::ManualClock& clock) {
    for (int i = 0; i < 900; ++i) {
      ASSERT_TRUE(h.bus().run_until_idle());
      if (*h.bus().backlog() == 0) return;
      clock.advance(1'000ms);
    }
    FAIL() << "still busy after 15 simulated minutes";
  }

  // The data directory as a power loss at this moment leaves it, with `victim`
  // back at its last sync.
  static void power_loss_copy(const fs::path& live, const fs::path& out,
                              const std::string& victim) {
    fs::create_directories(out);
    std::lock_guard lk(disk().mu);
    for (const auto& e : fs::directory_iterator(live)) {
      const std::string name = e.path().filename().string();
      if (name.ends_with("-shm")) continue;  // rebuilt from the WAL at open
      std::string content;
      if (name == victim) {
        auto it = disk().at_last_sync.find(e.path().string());
        if (it == disk().at_last_sync.end()) continue;  // never synced: gone
        content = it->second;
      } else {
        content = read_file(e.path());
      }
      std::ofstream(out / name, std::ios::binary) << content;
    }
  }

  // What must hold after the restart on a power-loss copy.
  static void check(const fs::path& dir, platform::TimePoint now, const std::string& order_id,
                    const std::string& where) {
    SCOPED_TRACE(where);
    platform::ManualClock clock(now);
    auto h = open(dir, clock);
    ASSERT_TRUE(h);
    settle(*h, clock);
    const auto dead = h->bus().dead_letters();
    ASSERT_TRUE(dead);
    for (const auto& d : *dead)
      ADD_FAILURE() << "dead letter in " << d.rule << ": " << d.last_error;
    auto order = h->orders().get_order(order_id);
    ASSERT_TRUE(order);
    auto pay = h->payments().get_payment(order_id);
    ASSERT_TRUE(pay);
    auto ship = h->shipping().get_shipment(order_id);
    ASSERT_TRUE(ship);
    auto product = h->inventory().get_product("SKU-A");
    ASSERT_TRUE(product && *product);
    EXPECT_EQ((*product)->reserved, 0);
    if (!*order) {
      // Lost with the last acknowledged writes: then nothing else happened.
      EXPECT_FALSE(*pay) << "a payment for an order that does not exist";
      EXPECT_FALSE(*ship) << "a shipment for an order that does not exist";
      EXPECT_EQ((*product)->on_hand, 10);
      return;
    }
    EXPECT_EQ((*order)->status, orders::Status::delivered)
        << "order is " << orders::to_string((*order)->status);
    ASSERT_TRUE(*pay);
    EXPECT_EQ((*pay)->status, payments::PaymentStatus::captured);
    ASSERT_TRUE(*ship);
    EXPECT_EQ((*ship)->status, shipping::ShipmentStatus::delivered);
    EXPECT_EQ((*product)->on_hand, 8);
    const auto acct = h->provider().accounts().at(payments::payment_id_for(order_id));
    EXPECT_TRUE(acct.captured);
    EXPECT_EQ(acct.captured_amount.amount, 2'000);
  }
};

TEST_F(PowerLoss, NoStepOfASagaLosesAnEventOrAnEffectWhicheverWalLosesItsTail) {
  orderly::testing::TempDir dir;
  const fs::path live = dir.path() / "live";
  platform::ManualClock clock;
  auto h = open(live, clock);
  ASSERT_TRUE(h);
  settle(*h, clock);  // the catalogue reaches orders
  orders::PlaceOrder cmd{
      platform::new_uuid_v7(clock.now()), "customer-1", {{"SKU-A", 2}}, "tok_ok", kAddress, {}};
  auto placed = h->orders().place_order(cmd);
  ASSERT_TRUE(placed) << placed.error().message;

  // One bus step at a time; after each, a power loss for each WAL.
  const auto rules = h->bus().rule_names();
  int step = 0, crash_points = 0;
  auto crash_here = [&](const std::string& what) {
    for (const auto& victim : kWals) {
      const fs::path copy = dir.path() / fmt::format("step{}-{}", step, victim);
      power_loss_copy(live, copy, victim);
      check(copy, clock.now(), placed->id,
            fmt::format("after {} (step {}), {} lost its unsynced tail", what, step, victim));
      ++crash_points;
      fs::remove_all(copy);
      if (::testing::Test::HasFatalFailure()) return;
    }
  };
  crash_here("placing the order");
  for (int round = 0; round < 600; ++round) {
    bool moved = false;
    auto relayed = h->bus().relay_once();
    ASSERT_TRUE(relayed);
    if (*relayed > 0) {
      ++step;
      moved = true;
      crash_here("a relay pass");
    }
    for (const auto& r : rules) {
      auto n = h->bus().deliver_once(r);
      ASSERT_TRUE(n);
      if (*n == 0) continue;
      ++step;
      moved = true;
      crash_here("a delivery to " + r);
      if (HasFatalFailure()) return;
    }
    if (!moved) {
      if (*h->bus().backlog() == 0) break;
      clock.advance(1'000ms);
    }
  }
  auto o = h->orders().get_order(placed->id);
  ASSERT_TRUE(o && *o);
  EXPECT_EQ((*o)->status, orders::Status::delivered);
  EXPECT_GT(step, 15) << "the saga took fewer steps than it has";
  EXPECT_EQ(crash_points, (step + 1) * static_cast<int>(kWals.size()));
}

// Every claim above rests on the WAL. SQLite keeps the old journal mode
// silently when it cannot use one (here: a VFS without shared memory, as on
// some network file systems); the store refuses to open instead.
TEST_F(PowerLoss, AStoreWhereTheWalCannotBeUsedRefusesToOpen) {
  orderly::testing::TempDir dir;
  without_shm = true;
  auto store = adapters::embedded::SqliteItemStore::open(dir.file("orders.db"));
  without_shm = false;
  ASSERT_FALSE(store) << "opened without a write-ahead log";
  EXPECT_EQ(store.error().kind, platform::ErrorKind::failed_precondition);
  EXPECT_NE(store.error().message.find("journal_mode is \"delete\", not \"wal\""),
            std::string::npos)
      << store.error().message;
  // And with shared memory it opens.
  EXPECT_TRUE(adapters::embedded::SqliteItemStore::open(dir.file("other.db")));
}

}  // namespace
}  // namespace orderly
