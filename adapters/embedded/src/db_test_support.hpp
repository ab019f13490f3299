// Helpers shared by this adapter's tests over Db (private to adapters/embedded/src).
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "orderly/adapters/embedded/sqlite.hpp"

namespace orderly::adapters::embedded::test_support {

inline std::unique_ptr<Db> open_db(const std::string& path) {
  auto db = Db::open(path, Durability::normal);
  if (!db) throw std::runtime_error(db.error().message);
  return std::move(*db);
}

inline void must(Status s) {
  if (!s) throw std::runtime_error(s.error().message);
}

}  // namespace orderly::adapters::embedded::test_support
