// Online backup and offline restore of an embedded data directory (backup.hpp).
#include "orderly/hosts/embedded/backup.hpp"

#include <openssl/evp.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "orderly/adapters/embedded/sqlite.hpp"
#include "orderly/platform/log.hpp"

namespace orderly::hosts::embedded {

namespace fs = std::filesystem;
namespace json = boost::json;
using platform::ErrorKind;

namespace {

constexpr const char* kManifest = "manifest.json";
// Not databases, copied as they are: the token signing key pair.
constexpr const char* kKeyFiles[] = {"jwt-private.pem", "jwt-public.pem"};

Result<std::string> sha256_of(const fs::path& p, std::int64_t& bytes) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return platform::fail(ErrorKind::not_found, "cannot read {}", p.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr);
  char buf[1 << 16];
  bytes = 0;
  while (in) {
    in.read(buf, sizeof buf);
    const auto n = in.gcount();
    if (n > 0) EVP_DigestUpdate(ctx.get(), buf, static_cast<std::size_t>(n));
    bytes += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

// One consistent copy of a SQLite file, on a connection of its own.
platform::Status vacuum_into(const std::string& src, const std::string& dst) {
  auto db = adapters::embedded::Db::open(src, adapters::embedded::Durability::normal);
  if (!db) return tl::unexpected(db.error());
  auto st = (*db)->prepare("VACUUM INTO ?1");
  if (!st) return tl::unexpected(st.error());
  adapters::embedded::StmtGuard g(**st);
  g->bind(1, dst);
  return g->run();
}

Result<BackupFile> add_file(const fs::path& dir, const std::string& name) {
  BackupFile f{name, 0, {}};
  auto sum = sha256_of(dir / name, f.bytes);
  if (!sum) return tl::unexpected(sum.error());
  f.sha256 = std::move(*sum);
  return f;
}

}  // namespace

json::object to_json(const BackupManifest& m) {
  json::array files;
  for (const auto& f : m.files)
    files.push_back(json::object{{"name", f.name}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return {{"dir", m.dir},
          {"takenAt", m.taken_at},
          {"pauseMs", m.pause_ms},
          {"files", std::move(files)},
          {"order",
           "relay paused; bus.db, then each service store, then the simulated provider's "
           "ledger; then the signing keys"}};
}

Result<BackupManifest> backup(EmbeddedHost& host, const std::string& dir) {
  std::error_code ec;
  const fs::path out(dir);
  if (fs::exists(out, ec) && !fs::is_empty(out, ec))
    return platform::fail(ErrorKind::failed_precondition, "backup: {} exists and is not empty",
                          dir);
  fs::create_directories(out, ec);
  if (ec)
    return platform::fail(ErrorKind::invalid_input, "backup: cannot create {}: {}", dir,
                          ec.message());
  const fs::path data(host.options().data_dir);
  BackupManifest m;
  m.dir = fs::absolute(out, ec).string();
  std::vector<std::string> dbs{"bus.db"};
  for (const ServiceSpec* spec : service_table()) dbs.push_back(spec->name + ".db");
  dbs.emplace_back("provider-simulator.db");
  {
    const auto start = std::chrono::steady_clock::now();
    auto paused = host.bus().pause_relay();
    m.taken_at = platform::format_rfc3339(platform::SystemClock::instance().now());
    for (const auto& name : dbs)
      if (auto s = vacuum_into((data / name).string(), (out / name).string()); !s)
        return tl::unexpected(s.error());
    m.pause_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
  }
  for (const char* key : kKeyFiles) {
    if (!fs::exists(data / key)) continue;
    fs::copy_file(data / key, out / key, fs::copy_options::overwrite_existing, ec);
    if (ec) return platform::fail(ErrorKind::transient, "backup: {}: {}", key, ec.message());
    dbs.emplace_back(key);
  }
  for (const auto& name : dbs) {
    auto f = add_file(out, name);
    if (!f) return tl::unexpected(f.error());
    m.files.push_back(std::move(*f));
  }
  std::ofstream(out / kManifest) << json::serialize(to_json(m)) << '\n';
  platform::log::info("backup taken", {{"dir", m.dir}, {"pauseMs", m.pause_ms}});
  return m;
}

Result<BackupManifest> restore(const std::string& from, const std::string& data_dir) {
  const fs::path in(from);
  std::ifstream mf(in / kManifest);
  if (!mf) return platform::fail(ErrorKind::not_found, "restore: no {} in {}", kManifest, from);
  std::stringstream ss;
  ss << mf.rdbuf();
  boost::system::error_code jec;
  auto doc = json::parse(ss.str(), jec);
  if (jec || !doc.is_object() || !doc.as_object().if_contains("files"))
    return platform::fail(ErrorKind::invalid_input, "restore: {} is not a backup manifest",
                          (in / kManifest).string());
  BackupManifest m;
  m.dir = from;
  if (const auto* t = doc.as_object().if_contains("takenAt"); t && t->is_string())
    m.taken_at = std::string(t->get_string());
  // Every file is checked before anything is replaced.
  for (const auto& v : doc.at("files").as_array()) {
    const auto& o = v.as_object();
    BackupFile want{std::string(o.at("name").as_string()), o.at("bytes").to_number<std::int64_t>(),
                    std::string(o.at("sha256").as_string())};
    if (want.name.find('/') != std::string::npos || want.name.starts_with("."))
      return platform::fail(ErrorKind::invalid_input, "restore: bad file name {}", want.name);
    auto got = add_file(in, want.name);
    if (!got) return tl::unexpected(got.error());
    if (got->bytes != want.bytes || got->sha256 != want.sha256)
      return platform::fail(ErrorKind::invalid_input,
                            "restore: {} does not match the manifest (damaged or changed)",
                            want.name);
    m.files.push_back(std::move(want));
  }
  std::error_code ec;
  const fs::path out(data_dir);
  fs::create_directories(out, ec);
  if (ec)
    return platform::fail(ErrorKind::invalid_input, "restore: cannot create {}: {}", data_dir,
                          ec.message());
  for (const auto& f : m.files) {
    // A stale WAL beside a replaced database would be replayed into it.
    for (const char* suffix : {"-wal", "-shm"}) fs::remove(out / (f.name + suffix), ec);
    fs::copy_file(in / f.name, out / f.name, fs::copy_options::overwrite_existing, ec);
    if (ec) return platform::fail(ErrorKind::transient, "restore: {}: {}", f.name, ec.message());
    if (f.name == "jwt-private.pem")
      fs::permissions(out / f.name, fs::perms::owner_read | fs::perms::owner_write,
                      fs::perm_options::replace, ec);
  }
  return m;
}

}  // namespace orderly::hosts::embedded
