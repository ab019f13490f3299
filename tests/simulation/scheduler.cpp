// The deterministic scheduler: threads as coroutines, one baton.
#include "scheduler.hpp"

#include <algorithm>
#include <stdexcept>

namespace orderly::simulation {

namespace {
struct Current {
  void* task = nullptr;
  std::binary_semaphore* back = nullptr;
};
thread_local Current t_current;
}  // namespace

Scheduler::~Scheduler() {
  kill_all();
}

Scheduler::TaskId Scheduler::spawn(std::string name, std::function<void()> body) {
  auto task = std::make_unique<Task>();
  task->id = next_++;
  task->name = std::move(name);
  task->body = std::move(body);
  Task* t = task.get();
  std::binary_semaphore* back = &back_;
  t->thread = std::thread([t, back] {
    t->go.acquire();
    t_current = {t, back};
    if (!t->killed) {
      try {
        t->body();
      } catch (const Crashed&) {
        // the process died here: nothing after this point happened
      }
    }
    t->done = true;
    back->release();
  });
  tasks_.push_back(std::move(task));
  return t->id;
}

Scheduler::Task* Scheduler::find(TaskId id) const {
  for (const auto& t : tasks_)
    if (t->id == id) return t.get();
  return nullptr;
}

void Scheduler::finish(Task& t) {
  if (t.thread.joinable()) t.thread.join();
}

bool Scheduler::resume(TaskId id) {
  Task* t = find(id);
  if (!t) throw std::logic_error("resume: no such task");
  if (t->done) return true;
  t->go.release();
  back_.acquire();
  if (t->done) {
    finish(*t);
    tasks_.erase(
        std::remove_if(tasks_.begin(), tasks_.end(), [id](const auto& x) { return x->id == id; }),
        tasks_.end());
    return true;
  }
  return false;
}

std::vector<Scheduler::TaskId> Scheduler::live() const {
  std::vector<TaskId> out;
  for (const auto& t : tasks_)
    if (!t->done) out.push_back(t->id);
  return out;
}

std::string Scheduler::describe(TaskId id) const {
  const Task* t = find(id);
  if (!t) return "?";
  return t->name + (t->point.empty() ? std::string() : " @ " + t->point);
}

std::size_t Scheduler::kill_all() {
  std::size_t n = 0;
  for (TaskId id : live()) {
    if (Task* t = find(id)) t->killed = true;
    ++n;
    // A killed task may catch Crashed (a catch (...) in library code) and
    // reach another yield point, which throws again: resume it to its end.
    while (!resume(id)) {
    }
  }
  return n;
}

void Scheduler::yield(std::string_view point) {
  auto* t = static_cast<Task*>(t_current.task);
  if (!t) return;
  if (t->killed) throw Crashed{};
  t->point = std::string(point);
  t_current.back->release();
  t->go.acquire();
  if (t->killed) throw Crashed{};
}

bool Scheduler::in_task() {
  return t_current.task != nullptr;
}

}  // namespace orderly::simulation
