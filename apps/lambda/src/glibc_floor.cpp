// Keeps the bootstraps within GLIBC_2.34, the glibc of Amazon Linux 2023,
// when they are built on a newer one (Debian 12 has 2.36).
//
// Two symbols would otherwise be imported from the build machine's glibc:
// - _dl_find_object (2.35): the unwinder of the statically linked libgcc
//   uses it to find a PC's unwind tables when it was built against glibc
//   2.35+. Here it is answered from dl_iterate_phdr (2.2.5), as older
//   unwinders did.
// - arc4random (2.36): libstdc++'s std::random_device prefers it. Here it is
//   answered from getrandom (2.25).
// Both are defined in the executable, so the static link binds to them and
// imports nothing newer; tests/lambda/check_packages.sh verifies the floor
// with objdump on every bootstrap.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include <dlfcn.h>
#include <link.h>
#include <sys/random.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace {

struct Search {
  std::uintptr_t pc;
  dl_find_object* out;
  bool found;
};

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  std::uintptr_t lo = UINTPTR_MAX, hi = 0;
  const void* eh = nullptr;
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD) {
      if (start < lo) lo = start;
      if (start + ph.p_memsz > hi) hi = start + ph.p_memsz;
      if (s->pc >= start && s->pc < start + ph.p_memsz) contains = true;
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh = reinterpret_cast<const void*>(start);
    }
  }
  if (!contains) return 0;
  std::memset(s->out, 0, sizeof *s->out);
  s->out->dlfo_map_start = reinterpret_cast<void*>(lo);
  s->out->dlfo_map_end = reinterpret_cast<void*>(hi);
  s->out->dlfo_eh_frame = const_cast<void*>(eh);
  s->found = true;
  return 1;
}

}  // namespace

extern "C" {

int _dl_find_object(void* pc, dl_find_object* result) noexcept {
  Search s{reinterpret_cast<std::uintptr_t>(pc), result, false};
  dl_iterate_phdr(visit, &s);
  return s.found && result->dlfo_eh_frame ? 0 : -1;
}

std::uint32_t arc4random() noexcept {
  std::uint32_t v = 0;
  auto* p = reinterpret_cast<unsigned char*>(&v);
  std::size_t got = 0;
  while (got < sizeof v) {
    const auto n = getrandom(p + got, sizeof v - got, 0);
    if (n > 0)
      got += static_cast<std::size_t>(n);
    else if (errno != EINTR)
      break;
  }
  return v;
}

}  // extern "C"
