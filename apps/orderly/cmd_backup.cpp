// `orderly backup` (of a running `orderly up`, through POST /v1/admin/backup)
// and `orderly restore` (into a stopped data directory): backup.hpp says how
// the copy is made consistent.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "orderly/adapters/http/client.hpp"
#include "orderly/adapters/http/jwt.hpp"
#include "orderly/hosts/embedded/backup.hpp"

namespace orderly::app {

namespace {

struct BackupOptions {
  Common common;
  std::string url = "http://127.0.0.1:8080";
};

struct RestoreOptions {
  Common common;
  std::string from;
};

int cmd_backup(const BackupOptions& o) {
  const std::string url = o.url.find("://") == std::string::npos ? "http://" + o.url : o.url;
  // An admin token from the data directory's key, as `orderly token --admin` makes.
  auto keys = adapters::http::KeyPair::load_or_create(o.common.data_dir);
  if (!keys) return fail(keys.error());
  const auto token =
      adapters::http::issue_token(*keys, {}, "orderly-backup", {"admin"}, std::chrono::minutes(5),
                                  platform::SystemClock::instance().now());
  auto client =
      adapters::http::HttpClient::create(url, {.request_timeout = std::chrono::minutes(10)});
  if (!client) return fail(client.error());
  auto res =
      (*client)->send("POST", "/v1/admin/backup", {{"Authorization", "Bearer " + token}}, "");
  if (!res) return fail(res.error());
  if (res->status != 200) {
    std::fprintf(stderr, "orderly: backup: HTTP %u: %s\n", res->status, res->body.c_str());
    return 1;
  }
  std::printf("%s\n", res->body.c_str());
  return 0;
}

int cmd_restore(const RestoreOptions& o) {
  auto lock = DataDirLock::acquire(o.common.data_dir);
  if (!lock) return fail(lock.error());
  auto m = hosts::embedded::restore(o.from, o.common.data_dir);
  if (!m) return fail(m.error());
  std::printf(
      "restored %zu files taken at %s into %s; start orderly up: the outboxes are "
      "relayed again and what was in flight is delivered again\n",
      m->files.size(), m->taken_at.c_str(), o.common.data_dir.c_str());
  return 0;
}

}  // namespace

void add_backup_commands(CLI::App& app) {
  auto b = std::make_shared<BackupOptions>();
  auto* backup = app.add_subcommand(
      "backup",
      "Back up a running orderly up: every store and the bus at one point in the outbox order, "
      "into <data-dir>/backups/<time>/");
  add_common(backup, b->common);
  backup->add_option("--url", b->url, "The running gateway")->capture_default_str();
  backup->callback([b] { exit_with(cmd_backup(*b)); });

  auto r = std::make_shared<RestoreOptions>();
  auto* restore = app.add_subcommand(
      "restore", "Restore a backup into a data directory (orderly up must not be running on it)");
  add_common(restore, r->common);
  restore->add_option("--from", r->from, "The backup's directory (with manifest.json)")->required();
  restore->callback([r] { exit_with(cmd_restore(*r)); });
}

}  // namespace orderly::app
