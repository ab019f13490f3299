// What the orderly subcommands share (cli_common.hpp).
#include "cli_common.hpp"

#include <cstdio>
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

void exit_with(int code) {
  // CLI11 prints nothing for a RuntimeError; CLI11_PARSE returns its exit code.
  if (code != 0) throw CLI::RuntimeError(code);
}

}  // namespace orderly::app
