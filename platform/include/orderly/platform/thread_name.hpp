// Names the calling thread, so that top -H, perf and /proc/<pid>/task/*/comm
// tell the relay from a worker. Linux keeps 15 characters; longer names are cut.
#pragma once

#include <string>

#if defined(__linux__)
#include <pthread.h>
#endif

namespace orderly::platform {

inline void name_this_thread(std::string name) {
#if defined(__linux__)
  if (name.size() > 15) name.resize(15);
  (void)pthread_setname_np(pthread_self(), name.c_str());
#else
  (void)name;
#endif
}

}  // namespace orderly::platform
