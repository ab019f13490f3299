// orderly demo: places a realistic mix of orders, shows progress, then a
// summary (throughput, place-to-terminal latency, outcomes) and an invariant
// check of terminal states, stock and money. Exits non-zero if one fails.
#pragma once

#include <string>

namespace orderly::app {

struct DemoOptions {
  std::string url;  // empty: run an embedded system in a temporary directory
  int orders = 200;
  int concurrency = 16;
  // Orders per second, open loop, each latency measured from the order's
  // intended send time (as wrk2 does), so that a slow server cannot hide its
  // queueing by slowing the senders down. 0: as fast as the clients can.
  double rate = 0;
  std::string data_dir;  // for --url: where `orderly token` keys live (the server's data dir)
  double carrier_delay_s = 0.05;
  double saga_timeout_s = 2;
  bool progress = true;
};

int run_demo(const DemoOptions& options);

}  // namespace orderly::app
