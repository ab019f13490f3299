// A SQLite VFS shim that writes each WAL transaction with one pwrite instead
// of two per page (issue 15).
//
// SQLite appends a WAL frame as two writes, its 24-byte header and then its
// page, so a transaction of ten pages is twenty pwrite calls: 134 per order
// end to end, 60% of `orderly up`'s system calls. This shim, over whatever the
// default VFS is when a file opens, gathers the contiguous writes to a WAL
// file in memory and writes them as one, before anything can see them:
//
//   - before the commit is published. SQLite publishes a commit by writing the
//     WAL-index header in shared memory, with xShmBarrier on the database file
//     between its two copies; the barrier writes the connection's gathered
//     frames first, so a reader that sees the header finds the frames in the
//     file. A write that fails there cannot be reported (xShmBarrier returns
//     nothing) and the header is about to name frames that are not in the file:
//     the process stops (std::abort), as PostgreSQL does when a WAL write
//     fails. On restart SQLite's recovery checks the frames' checksums and
//     drops that transaction.
//   - before the write lock is released (xShmLock), so frames of a transaction
//     that rolled back never land later over another connection's;
//   - before the WAL is read, synced, sized, truncated or closed.
//
// Only writes inside the file's current size are gathered: one that extends
// the file is written at once, so a full disk is reported to the commit that
// hit it, as without the shim. An overwrite of allocated blocks cannot fail
// for space. The WAL's sync (Db::sync_to, from the relay's thread) takes the
// file's lock, writes what is gathered and syncs.
//
// It also writes each b-tree page that a checkpoint copies into a database
// file with the bytes no cell owns zeroed (page_scrub.hpp): SQLite leaves
// copies of old cells there when it rebuilds a page, and an erasure must not
// leave them in the file (docs/adr/0017). The WAL's frames are written as
// SQLite made them (their checksums cover those bytes).
#pragma once

namespace orderly::adapters::embedded {

// The VFS's name, registered on first use; pass it to sqlite3_open_v2.
const char* wal_write_buffer_vfs();

}  // namespace orderly::adapters::embedded
