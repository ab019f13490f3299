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

// Adds --data-dir to a subcommand.
void add_common(CLI::App* cmd, Common& c);

// The bus of a data directory that `orderly up` created.
platform::Result<std::unique_ptr<adapters::embedded::DurableBus>> open_bus(const Common& c);

// Ends a subcommand's callback with its exit code: main() returns it (CLI11_PARSE).
void exit_with(int code);

}  // namespace orderly::app
