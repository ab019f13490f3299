// What the orderly subcommands share (cli_common.hpp).
#include "cli_common.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace orderly::app {

int fail(const platform::Error& e) {
  std::fprintf(stderr, "orderly: %s\n", e.describe().c_str());
  return 1;
}

void add_common(CLI::App* cmd, Common& c) {
  cmd->add_option("--data-dir", c.data_dir, "Directory of the SQLite files and keys")
      ->capture_default_str();
}

platform::Result<std::unique_ptr<adapters::embedded::DurableBus>> open_bus(const Common& c) {
  auto d = adapters::embedded::parse_durability(c.durability);
  if (!d) return tl::unexpected(d.error());
  if (!std::filesystem::exists(c.data_dir + "/bus.db"))
    return platform::fail(platform::ErrorKind::not_found, "no bus in {} (run orderly up first)",
                          c.data_dir);
  return adapters::embedded::DurableBus::open({.path = c.data_dir + "/bus.db", .durability = *d});
}

platform::Result<DataDirLock> DataDirLock::acquire(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return platform::fail(platform::ErrorKind::invalid_input, "cannot create data directory {}: {}",
                          dir, ec.message());
  const std::string path = dir + "/.lock";
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return platform::fail(platform::ErrorKind::invalid_input, "cannot open {}: {}", path,
                          std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK)
      return platform::fail(platform::ErrorKind::failed_precondition,
                            "{} is in use by another orderly up or restore (stop it first)", dir);
    return platform::fail(platform::ErrorKind::failed_precondition, "cannot lock {}: {}", dir,
                          std::strerror(err));
  }
  return DataDirLock(fd);
}

DataDirLock::~DataDirLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the flock
}

void exit_with(int code) {
  // CLI11 prints nothing for a RuntimeError; CLI11_PARSE returns its exit code.
  if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace orderly::app
