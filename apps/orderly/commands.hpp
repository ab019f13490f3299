// The orderly subcommands, one file each (cmd_*.cpp): each adds its subcommand,
// the options it owns and the callback that runs it.
#pragma once

#include <CLI/CLI.hpp>

namespace orderly::app {

void add_up_command(CLI::App& app);         // cmd_up.cpp: the whole system and its HTTP gateway
void add_token_command(CLI::App& app);      // cmd_token.cpp: a JWT from the data dir's key
void add_orders_command(CLI::App& app);     // cmd_orders.cpp: orders show
void add_events_command(CLI::App& app);     // cmd_events.cpp: events tail
void add_demo_command(CLI::App& app);       // cmd_demo.cpp: demo.cpp's order mix
void add_dlq_command(CLI::App& app);        // cmd_dlq.cpp: dlq list, dlq redrive
void add_backup_commands(CLI::App& app);    // cmd_backup.cpp: backup, restore
void add_customers_command(CLI::App& app);  // cmd_customers.cpp: customers erase
// cmd_invoke.cpp: invoke.cpp's local Lambda runtime; argv0 locates the bootstraps.
void add_invoke_command(CLI::App& app, const char* argv0);

}  // namespace orderly::app
