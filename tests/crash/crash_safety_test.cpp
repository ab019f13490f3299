// Crash safety: a real child process running the threaded runtime is killed
// with SIGKILL, at named points (between commit and relay, after relay before
// the outbox is cleared, mid-handler, before ack) and at random moments, then
// restarted on the same files until it finishes. Afterwards every committed
// event's effect is present exactly once for each consumer.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "orderly/adapters/embedded/sqlite_item_store.hpp"
#include "support/temp_dir.hpp"

namespace orderly {
namespace {

using namespace orderly::adapters::embedded;
using namespace std::chrono_literals;

constexpr int kTotal = 200;

struct Exit {
  bool killed = false;
  int code = -1;
};

// Runs the child; if kill_after is set, the parent SIGKILLs it then.
Exit run_child(const std::string& dir, const std::vector<std::string>& extra,
               std::optional<std::chrono::milliseconds> kill_after) {
  std::vector<std::string> args = {CRASH_CHILD_PATH, dir, std::to_string(kTotal)};
  args.insert(args.end(), extra.begin(), extra.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    execv(argv[0], argv.data());
    _exit(127);
  }
  if (kill_after) {
    std::this_thread::sleep_for(*kill_after);
    kill(pid, SIGKILL);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  Exit e;
  if (WIFSIGNALED(status)) e.killed = WTERMSIG(status) == SIGKILL;
  if (WIFEXITED(status)) e.code = WEXITSTATUS(status);
  return e;
}

void expect_exactly_once(const std::string& dir) {
  auto store = SqliteItemStore::open(dir + "/svc.db");
  ASSERT_TRUE(store);
  for (const char* pk : {"EFFECT#alpha", "EFFECT#beta"}) {
    platform::QueryOptions q;
    q.limit = 10'000;
    auto page = (*store)->query(pk, q);
    ASSERT_TRUE(page);
    ASSERT_EQ(page->items.size(), static_cast<std::size_t>(kTotal)) << pk;
    for (const auto& it : page->items) EXPECT_EQ(it.attrs.at("n"), 1) << pk << " " << it.sk;
  }
  platform::QueryOptions q;
  q.limit = 10'000;
  EXPECT_EQ((*store)->query("PRODUCED", q)->items.size(), static_cast<std::size_t>(kTotal));
  EXPECT_TRUE((*store)->query("OUTBOX", q)->items.empty());
}

// Kill at a named point, then restart until done.
void run_scenario(const std::string& point, int nth, int random_kills, std::mt19937& rng) {
  orderly::testing::TempDir dir;
  int kills = 0;
  auto first = run_child(dir.path().string(), {point, std::to_string(nth)}, std::nullopt);
  ASSERT_TRUE(first.killed) << point << " #" << nth << " was never reached (exit " << first.code
                            << ")";
  ++kills;
  // Then some kills at random moments.
  std::uniform_int_distribution<int> ms(5, 80);
  for (int i = 0; i < random_kills; ++i) {
    auto e = run_child(dir.path().string(), {}, std::chrono::milliseconds(ms(rng)));
    ASSERT_NE(e.code, 3) << "a duplicate effect was observed";
    if (!e.killed) break;  // it finished before the kill
    ++kills;
  }
  auto last = run_child(dir.path().string(), {}, std::nullopt);
  ASSERT_FALSE(last.killed);
  ASSERT_EQ(last.code, 0) << "after " << kills << " kills at " << point;
  expect_exactly_once(dir.path().string());
}

class CrashSafety : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashSafety, EveryCommittedEventTakesEffectExactlyOnceAfterSigkill) {
  std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(GetParam())));
  // The relay moves many events per pass, so it passes its points fewer times.
  const bool relay = GetParam().starts_with("relay.");
  std::uniform_int_distribution<int> nth(1, relay ? 3 : 60);
  for (int round = 0; round < 4; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    run_scenario(GetParam(), nth(rng), 2, rng);
  }
}

INSTANTIATE_TEST_SUITE_P(KillPoints, CrashSafety,
                         ::testing::Values("produce.after_commit", "relay.before_publish",
                                           "relay.after_publish", "consume.before_handler",
                                           "handler.before_commit", "consume.before_ack"),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (auto& c : s)
                             if (c == '.') c = '_';
                           return s;
                         });

TEST(CrashSafetyRandom, RepeatedRandomKillsLoseNothing) {
  orderly::testing::TempDir dir;
  std::mt19937 rng(20261125);
  std::uniform_int_distribution<int> ms(3, 60);
  int kills = 0;
  for (int i = 0; i < 25; ++i) {
    auto e = run_child(dir.path().string(), {}, std::chrono::milliseconds(ms(rng)));
    ASSERT_NE(e.code, 3);
    if (!e.killed) break;
    ++kills;
  }
  auto last = run_child(dir.path().string(), {}, std::nullopt);
  ASSERT_EQ(last.code, 0);
  expect_exactly_once(dir.path().string());
  RecordProperty("kills", kills);
}

}  // namespace
}  // namespace orderly
