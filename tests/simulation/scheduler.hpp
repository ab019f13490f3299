// A deterministic scheduler for the simulator: tasks are threads, but exactly
// one runs at a time and only the scheduler decides which. A task hands
// control back at every port call (Scheduler::yield), so the interleaving of
// two handlers, a cancel and a relay is chosen by the simulator's seed, never
// by the operating system, and the same seed replays the same run.
//
//   Scheduler s;
//   auto id = s.spawn("deliver orders.saga", [&] { handler(batch); });
//   while (!s.live().empty()) s.resume(pick(s.live()));   // each runs to its next yield
//   s.kill_all();   // a crash: every live task unwinds from its yield point
//
// Inside a task, Scheduler::yield("store.get") returns when the scheduler
// resumes it, or throws Scheduler::Crashed if its process crashed meanwhile;
// outside any task it does nothing.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <semaphore>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace orderly::simulation {

class Scheduler {
 public:
  struct Crashed {};  // not a std::exception: only a catch (...) stops it
  using TaskId = std::uint64_t;

  Scheduler() = default;
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  TaskId spawn(std::string name, std::function<void()> body);
  // Runs the task until it yields or finishes; true when it finished.
  bool resume(TaskId id);
  // Live tasks (spawned, not finished), in spawn order.
  [[nodiscard]] std::vector<TaskId> live() const;
  [[nodiscard]] std::string describe(TaskId id) const;  // name @ last yield point
  // Every live task unwinds: Crashed is thrown at its yield point (a task
  // that never started does not run at all). Returns how many were killed.
  std::size_t kill_all();

  // Inside a task: give control back. Outside one: nothing.
  static void yield(std::string_view point);
  // True inside a task whose process crashed (its port calls must do nothing).
  static bool in_task();

 private:
  struct Task {
    TaskId id = 0;
    std::string name;
    std::string point;
    std::function<void()> body;
    std::binary_semaphore go{0};
    bool done = false;
    bool killed = false;
    std::thread thread;
  };
  Task* find(TaskId id) const;
  void finish(Task& t);

  std::vector<std::unique_ptr<Task>> tasks_;
  std::binary_semaphore back_{0};  // a task hands control back to the scheduler
  TaskId next_ = 1;
};

}  // namespace orderly::simulation
