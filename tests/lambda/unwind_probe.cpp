// Linked exactly like a bootstrap (static libstdc++/libgcc, glibc_floor.cpp):
// proves that exceptions still unwind through several frames, and that
// std::random_device works, with the GLIBC_2.34 replacements in place.
#include <cstdio>
#include <random>
#include <stdexcept>
#include <string>

namespace {
[[gnu::noinline]] int deep(int n) {
  if (n == 0) throw std::runtime_error("from the bottom");
  return deep(n - 1) + 1;
}
}  // namespace

int main() {
  int caught = 0;
  for (int i = 0; i < 100; ++i) {
    try {
      deep(20);
    } catch (const std::runtime_error& e) {
      if (std::string(e.what()) == "from the bottom") ++caught;
    }
  }
  std::random_device rd;
  unsigned a = rd(), b = rd(), c = rd();
  const bool random_ok = !(a == b && b == c);
  std::printf("caught %d/100, random_device %s\n", caught, random_ok ? "ok" : "constant");
  return caught == 100 && random_ok ? 0 : 1;
}
