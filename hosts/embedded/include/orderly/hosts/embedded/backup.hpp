// Online backup and offline restore of an embedded data directory.
//
//   auto b = backup(host, "/var/backups/orderly/2026-12-02T09-00-00Z");  // while it runs
//   auto r = restore("/var/backups/orderly/2026-12-02T09-00-00Z", ".orderly");  // stopped
//
// One point in the outbox order: the relay is paused (DurableBus::pause_relay)
// while the bus is copied first and then every store, so each event is either
// in the bus copy or still in its producer's outbox in the store copy. Handlers
// go on meanwhile; what they did after the bus copy is delivered again after a
// restore and dropped by their inboxes. Each file is copied with VACUUM INTO on
// a connection of its own: one read transaction, a consistent and compact
// file, writers not blocked (WAL), and no restart under writes (the online
// backup API's incremental copy restarts whenever another connection writes).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "orderly/hosts/embedded/embedded_host.hpp"

namespace orderly::hosts::embedded {

struct BackupFile {
  std::string name;  // file name in the data directory and in the backup
  std::int64_t bytes = 0;
  std::string sha256;  // hex
};

struct BackupManifest {
  std::string dir;
  std::string taken_at;  // RFC 3339: when the relay was paused
  std::int64_t pause_ms = 0;
  std::vector<BackupFile> files;  // in copy order: bus.db first
};

// Copies `host`'s bus, stores, the simulated provider's ledger and the token
// signing keys into `dir` (created; must not exist or be empty), with
// manifest.json. The host may be running.
Result<BackupManifest> backup(EmbeddedHost& host, const std::string& dir);

// Checks a backup's manifest (every file present with its size and SHA-256),
// then copies it into `data_dir`, replacing what is there. Nothing may have
// `data_dir` open: `orderly restore` holds the data directory's lock.
Result<BackupManifest> restore(const std::string& from, const std::string& data_dir);

// The manifest as JSON (what manifest.json holds and POST /v1/admin/backup answers).
boost::json::object to_json(const BackupManifest& m);

}  // namespace orderly::hosts::embedded
