// The WAL write-gathering VFS shim: see wal_write_buffer.hpp.
#include "wal_write_buffer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "page_scrub.hpp"

namespace orderly::adapters::embedded {

namespace {

// The unix VFS writes at most 128 KiB - 1 per call (it masks the length with
// 0x1ffff: a larger write would be cut, and reported as a full disk). A larger
// transaction flushes as it goes, about 31 frames per write.
constexpr std::size_t kCapacity = 0x1ffff;

enum class Role { other, main_db, wal };

struct ShimFile {
  sqlite3_file base;  // first: SQLite sees a sqlite3_file*
  sqlite3_file* real = nullptr;
  Role role = Role::other;
  const char* key = nullptr;  // main_db: the name pointer its WAL finds it by
  ShimFile* wal = nullptr;    // main_db: its connection's WAL, while open
  ShimFile* main = nullptr;   // wal: its database file, while open
  // wal only: the gathered writes, [offset, offset + pending.size()).
  std::mutex mu;
  std::vector<char> pending;
  sqlite3_int64 offset = 0;
  sqlite3_int64 size = -1;  // the file's size as last known (-1: not asked yet)
  bool gather = false;      // linked to its database file, whose barrier flushes
  // main_db only: bytes reserved at each page's end, as last read (-1: not yet)
  int reserved = -1;
};

sqlite3_vfs* underlying() {
  // Resolved per call, not captured: a test may register its own default VFS
  // (tests/crash/power_loss_test.cpp) after this one.
  return sqlite3_vfs_find(nullptr);
}

ShimFile* shim(sqlite3_file* p) {
  return reinterpret_cast<ShimFile*>(p);
}
sqlite3_file* real(sqlite3_file* p) {
  return shim(p)->real;
}

// Database files by the name pointer SQLite opened them with: the WAL's name
// leads back to that pointer (sqlite3_filename_database), one per connection.
std::mutex links_mu;
std::unordered_map<const char*, ShimFile*>& mains() {
  static std::unordered_map<const char*, ShimFile*> m;
  return m;
}

int flush_locked(ShimFile* f) {
  if (f->pending.empty()) return SQLITE_OK;
  const int rc = f->real->pMethods->xWrite(f->real, f->pending.data(),
                                           static_cast<int>(f->pending.size()), f->offset);
  // Written or not, the bytes go: frames beyond the published end are garbage
  // to SQLite, and a failure was reported (or stops the process).
  f->pending.clear();
  return rc;
}

int flush(ShimFile* f) {
  std::lock_guard lk(f->mu);
  return flush_locked(f);
}

void flush_wal_of(sqlite3_file* db, const char* when) {
  ShimFile* w = shim(db)->wal;
  if (!w) return;
  if (const int rc = flush(w); rc != SQLITE_OK) {
    std::fprintf(stderr,
                 "orderly: fatal: writing the WAL failed (%s, SQLite code %d) %s; stopping so "
                 "that recovery drops the unwritten transaction\n",
                 sqlite3_errstr(rc), rc, when);
    std::abort();
  }
}

// ---- file methods

int x_close(sqlite3_file* p) {
  ShimFile* f = shim(p);
  int rc = SQLITE_OK;
  if (f->role == Role::wal) rc = flush(f);
  {
    std::lock_guard lk(links_mu);
    if (f->role == Role::main_db) {
      mains().erase(f->key);
      if (f->wal) {
        std::lock_guard wl(f->wal->mu);
        if (const int w = flush_locked(f->wal); w != SQLITE_OK && rc == SQLITE_OK) rc = w;
        f->wal->gather = false;
        f->wal->main = nullptr;
      }
    } else if (f->role == Role::wal && f->main) {
      f->main->wal = nullptr;
    }
  }
  const int closed = f->real->pMethods ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  sqlite3_free(f->real);
  f->~ShimFile();
  return rc == SQLITE_OK ? closed : rc;
}

int x_read(sqlite3_file* p, void* buf, int n, sqlite3_int64 off) {
  ShimFile* f = shim(p);
  if (f->role == Role::wal)
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, buf, n, off);
}

// A whole page written into a database file (by a checkpoint, from the WAL):
// written with the bytes no cell owns zeroed (page_scrub.hpp), so that what a
// page rebuild left of erased or moved cells never reaches the file. Only for
// a file under 2^24 pages: there the first byte of an overflow or freelist
// trunk page (the high byte of a page number) is 0, so no page but a b-tree
// page starts with a b-tree page's type. Anything else is written as it is.
int write_db_page(ShimFile* f, const void* buf, int n, sqlite3_int64 off) {
  const auto size = static_cast<std::size_t>(n);
  const bool page = n >= 512 && n <= 65536 && (n & (n - 1)) == 0 && off % n == 0;
  const auto* in = static_cast<const unsigned char*>(buf);
  const std::size_t hdr = off == 0 ? 100 : 0;
  auto as_is = [&] { return f->real->pMethods->xWrite(f->real, buf, n, off); };
  if (!page) return as_is();
  // Bytes reserved at the end of each page (byte 20 of the file header).
  if (off == 0) f->reserved = in[20];
  if (f->reserved < 0) {
    unsigned char r = 0;
    if (f->real->pMethods->xRead(f->real, &r, 1, 20) != SQLITE_OK) return as_is();
    f->reserved = r;
  }
  const std::size_t usable = size - static_cast<std::size_t>(f->reserved);
  // A page with nothing to zero goes from SQLite's buffer: no copy, no system call.
  const auto found = has_unowned_bytes(in, hdr, usable);
  if (!found || !*found) return as_is();
  sqlite3_int64 file_size = 0;
  if (const int rc = f->real->pMethods->xFileSize(f->real, &file_size); rc != SQLITE_OK) return rc;
  if (std::max(file_size, off + n) / n >= (sqlite3_int64{1} << 24)) return as_is();
  thread_local std::vector<unsigned char> copy;
  copy.assign(in, in + size);
  (void)scrub_page(copy.data(), hdr, usable);
  return f->real->pMethods->xWrite(f->real, copy.data(), n, off);
}

int x_write(sqlite3_file* p, const void* buf, int n, sqlite3_int64 off) {
  ShimFile* f = shim(p);
  if (f->role == Role::main_db) return write_db_page(f, buf, n, off);
  if (f->role != Role::wal) return f->real->pMethods->xWrite(f->real, buf, n, off);
  std::lock_guard lk(f->mu);
  if (f->size < 0)
    if (const int rc = f->real->pMethods->xFileSize(f->real, &f->size); rc != SQLITE_OK) {
      f->size = -1;
      return rc;
    }
  const auto len = static_cast<std::size_t>(n);
  const bool contiguous = !f->pending.empty() &&
                          off == f->offset + static_cast<sqlite3_int64>(f->pending.size()) &&
                          f->pending.size() + len <= kCapacity;
  const bool inside = off + n <= f->size;
  if (f->gather && inside && contiguous) {
    const auto* b = static_cast<const char*>(buf);
    f->pending.insert(f->pending.end(), b, b + len);
    return SQLITE_OK;
  }
  if (const int rc = flush_locked(f); rc != SQLITE_OK) return rc;
  if (f->gather && inside && len < kCapacity) {
    if (f->pending.capacity() == 0) f->pending.reserve(kCapacity);
    const auto* b = static_cast<const char*>(buf);
    f->pending.assign(b, b + len);
    f->offset = off;
    return SQLITE_OK;
  }
  const int rc = f->real->pMethods->xWrite(f->real, buf, n, off);
  if (rc == SQLITE_OK) f->size = std::max(f->size, off + n);
  return rc;
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
  ShimFile* f = shim(p);
  if (f->role != Role::wal) return f->real->pMethods->xTruncate(f->real, size);
  std::lock_guard lk(f->mu);
  if (const int rc = flush_locked(f); rc != SQLITE_OK) return rc;
  const int rc = f->real->pMethods->xTruncate(f->real, size);
  f->size = rc == SQLITE_OK ? size : -1;
  return rc;
}

int x_sync(sqlite3_file* p, int flags) {
  ShimFile* f = shim(p);
  if (f->role == Role::wal) {
    // Db::sync_to calls this from another thread. The lock covers the gathered
    // bytes only: the fsync runs without it, so the connection's own writes go
    // on meanwhile, as without the shim.
    std::lock_guard lk(f->mu);
    if (const int rc = flush_locked(f); rc != SQLITE_OK) return rc;
  }
  return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* p, sqlite3_int64* size) {
  ShimFile* f = shim(p);
  if (f->role == Role::wal)
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}

int x_lock(sqlite3_file* p, int l) {
  return real(p)->pMethods->xLock(real(p), l);
}
int x_unlock(sqlite3_file* p, int l) {
  return real(p)->pMethods->xUnlock(real(p), l);
}
int x_check_reserved_lock(sqlite3_file* p, int* out) {
  return real(p)->pMethods->xCheckReservedLock(real(p), out);
}

int x_file_control(sqlite3_file* p, int op, void* arg) {
  ShimFile* f = shim(p);
  if (f->role == Role::wal) {
    std::lock_guard lk(f->mu);
    if (const int rc = flush_locked(f); rc != SQLITE_OK) return rc;
    f->size = -1;  // a size hint or a chunk may change it
  }
  return f->real->pMethods->xFileControl(f->real, op, arg);
}

int x_sector_size(sqlite3_file* p) {
  return real(p)->pMethods->xSectorSize(real(p));
}
int x_device_characteristics(sqlite3_file* p) {
  return real(p)->pMethods->xDeviceCharacteristics(real(p));
}

int x_shm_map(sqlite3_file* p, int page, int size, int extend, void volatile** out) {
  return real(p)->pMethods->xShmMap(real(p), page, size, extend, out);
}

int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  // Every lock change, and the write lock's release in particular: nothing a
  // connection gathered outlives its hold on the WAL.
  if (ShimFile* w = shim(p)->wal) {
    if (flags & SQLITE_SHM_UNLOCK) {
      (void)flush(w);  // failed: dropped, never published
    } else if ((flags & SQLITE_SHM_EXCLUSIVE) && offset == 0) {
      // The write lock: another connection may have truncated or grown the
      // file since this one last wrote, so its size is asked again.
      std::lock_guard lk(w->mu);
      w->size = -1;
    }
  }
  return real(p)->pMethods->xShmLock(real(p), offset, n, flags);
}

void x_shm_barrier(sqlite3_file* p) {
  flush_wal_of(p, "before publishing a commit");
  real(p)->pMethods->xShmBarrier(real(p));
}

int x_shm_unmap(sqlite3_file* p, int del) {
  return real(p)->pMethods->xShmUnmap(real(p), del);
}

int x_fetch(sqlite3_file* p, sqlite3_int64 off, int n, void** out) {
  return real(p)->pMethods->xFetch(real(p), off, n, out);
}
int x_unfetch(sqlite3_file* p, sqlite3_int64 off, void* ptr) {
  return real(p)->pMethods->xUnfetch(real(p), off, ptr);
}

sqlite3_io_methods methods(int version) noexcept {
  sqlite3_io_methods m{};
  m.iVersion = version;
  m.xClose = x_close;
  m.xRead = x_read;
  m.xWrite = x_write;
  m.xTruncate = x_truncate;
  m.xSync = x_sync;
  m.xFileSize = x_file_size;
  m.xLock = x_lock;
  m.xUnlock = x_unlock;
  m.xCheckReservedLock = x_check_reserved_lock;
  m.xFileControl = x_file_control;
  m.xSectorSize = x_sector_size;
  m.xDeviceCharacteristics = x_device_characteristics;
  if (version >= 2) {
    m.xShmMap = x_shm_map;
    m.xShmLock = x_shm_lock;
    m.xShmBarrier = x_shm_barrier;
    m.xShmUnmap = x_shm_unmap;
  }
  if (version >= 3) {
    m.xFetch = x_fetch;
    m.xUnfetch = x_unfetch;
  }
  return m;
}

// The same version as the file below: no shared memory there, none here.
const sqlite3_io_methods kMethods[] = {methods(1), methods(2), methods(3)};

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* p, int flags, int* out) {
  sqlite3_vfs* u = underlying();
  auto* f = new (p) ShimFile{};
  f->base.pMethods = nullptr;
  f->real = static_cast<sqlite3_file*>(sqlite3_malloc(u->szOsFile));
  if (!f->real) {
    f->~ShimFile();
    return SQLITE_NOMEM;
  }
  std::memset(f->real, 0, static_cast<std::size_t>(u->szOsFile));
  const int rc = u->xOpen(u, name, f->real, flags, out);
  if (!f->real->pMethods) {
    sqlite3_free(f->real);
    f->~ShimFile();
    p->pMethods = nullptr;
    return rc == SQLITE_OK ? SQLITE_CANTOPEN : rc;
  }
  const int version = std::clamp(f->real->pMethods->iVersion, 1, 3);
  f->base.pMethods = &kMethods[version - 1];
  if (rc != SQLITE_OK || !name) return rc;
  std::lock_guard lk(links_mu);
  if (flags & SQLITE_OPEN_MAIN_DB) {
    f->role = Role::main_db;
    f->key = name;
    mains()[name] = f;
  } else if (flags & SQLITE_OPEN_WAL) {
    f->role = Role::wal;
    auto it = mains().find(sqlite3_filename_database(name));
    // Without its database file, nothing would flush it before a commit is
    // published: then it writes through.
    if (it != mains().end() && !it->second->wal && version >= 2) {
      f->main = it->second;
      it->second->wal = f;
      f->gather = true;
    }
  }
  return rc;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
  auto* u = underlying();
  return u->xDelete(u, name, sync_dir);
}
int x_access(sqlite3_vfs*, const char* name, int flags, int* out) {
  auto* u = underlying();
  return u->xAccess(u, name, flags, out);
}
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
  auto* u = underlying();
  return u->xFullPathname(u, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) {
  auto* u = underlying();
  return u->xDlOpen(u, name);
}
void x_dl_error(sqlite3_vfs*, int n, char* out) {
  auto* u = underlying();
  u->xDlError(u, n, out);
}
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))() {
  auto* u = underlying();
  return u->xDlSym(u, h, sym);
}
void x_dl_close(sqlite3_vfs*, void* h) {
  auto* u = underlying();
  u->xDlClose(u, h);
}
int x_randomness(sqlite3_vfs*, int n, char* out) {
  auto* u = underlying();
  return u->xRandomness(u, n, out);
}
int x_sleep(sqlite3_vfs*, int us) {
  auto* u = underlying();
  return u->xSleep(u, us);
}
int x_current_time(sqlite3_vfs*, double* out) {
  auto* u = underlying();
  return u->xCurrentTime(u, out);
}
int x_get_last_error(sqlite3_vfs*, int n, char* out) {
  auto* u = underlying();
  return u->xGetLastError(u, n, out);
}
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) {
  auto* u = underlying();
  if (u->iVersion >= 2 && u->xCurrentTimeInt64) return u->xCurrentTimeInt64(u, out);
  double now = 0;
  const int rc = u->xCurrentTime(u, &now);
  *out = static_cast<sqlite3_int64>(now * 86'400'000.0);
  return rc;
}

}  // namespace

const char* wal_write_buffer_vfs() {
  static const char* const name = [] {
    static sqlite3_vfs vfs{};
    sqlite3_vfs* u = underlying();
    vfs.iVersion = 2;
    vfs.szOsFile = static_cast<int>(sizeof(ShimFile));
    vfs.mxPathname = u->mxPathname;
    vfs.zName = "orderly-wal-gather";
    vfs.xOpen = x_open;
    vfs.xDelete = x_delete;
    vfs.xAccess = x_access;
    vfs.xFullPathname = x_full_pathname;
    vfs.xDlOpen = x_dl_open;
    vfs.xDlError = x_dl_error;
    vfs.xDlSym = x_dl_sym;
    vfs.xDlClose = x_dl_close;
    vfs.xRandomness = x_randomness;
    vfs.xSleep = x_sleep;
    vfs.xCurrentTime = x_current_time;
    vfs.xGetLastError = x_get_last_error;
    vfs.xCurrentTimeInt64 = x_current_time_int64;
    if (sqlite3_vfs_register(&vfs, /*makeDflt=*/0) != SQLITE_OK)
      return static_cast<const char*>(nullptr);
    return vfs.zName;
  }();
  return name;
}

}  // namespace orderly::adapters::embedded
