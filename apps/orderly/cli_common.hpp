// What the orderly subcommands share: the data-directory options, error
// reporting, exit codes, and opening the bus of a data directory.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "orderly/adapters/embedded/durable_bus.hpp"
#include "orderly/platform/error.hpp"

namespace orderly::app {

// The JWT issuer and audience that `up` expects and `token` signs, by default.
inline constexpr const char* kDefaultIssuer = "orderly-local";
inline constexpr const char* kDefaultAudience = "orderly-api";

struct Common {
  std::string data_dir = ".orderly";
  std::string durability = "normal";  // only `up` has the option
};

// Prints "orderly: <error>" on stderr and returns the exit code 1.
int fail(const platform::Error& e);

// An exclusive lock on a data directory (flock on <dir>/.lock), held by
// `orderly up` while it runs and by `orderly restore`: a restore cannot
// replace files under a running server, nor two servers share a directory.
// Released when the process ends, however it ends.
class DataDirLock {
 public:
  static platform::Result<DataDirLock> acquire(const std::string& dir);
  DataDirLock(DataDirLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DataDirLock& operator=(DataDirLock&&) = delete;
  DataDirLock(const DataDirLock&) = delete;
  ~DataDirLock();

 private:
  explicit DataDirLock(int fd) : fd_(fd) {}
  int fd_;
};

// Adds --data-dir to a subcommand.
void add_common(CLI::App* cmd, Common& c);

// The bus of a data directory that `orderly up` created.
platform::Result<std::unique_ptr<adapters::embedded::DurableBus>> open_bus(const Common& c);

// Ends a subcommand's callback with its exit code: main() returns it (CLI11_PARSE).
void exit_with(int code);

}  // namespace orderly::app
