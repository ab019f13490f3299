// Small helpers over the Db wrapper for the bus's SQL (private to adapters/embedded/src).
#pragma once

#include <string>

#include "orderly/adapters/embedded/sqlite.hpp"

namespace orderly::adapters::embedded::sql {

// A cached statement, bound and run to completion under the caller's lock.
template <class... Args>
Status run(Db& db, const std::string& sql, const Args&... args) {
  auto st = db.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  int i = 0;
  (g->bind(++i, args), ...);
  return g->run();
}

template <class... Args>
Result<std::int64_t> scalar(Db& db, const std::string& sql, const Args&... args) {
  auto st = db.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  int i = 0;
  (g->bind(++i, args), ...);
  auto row = g->step();
  if (!row) return tl::unexpected(row.error());
  if (!*row || g->column_is_null(0)) return std::int64_t{0};
  return g->column_int64(0);
}

// Runs a cached query and calls on_row(stmt) for each row.
template <class F, class... Args>
Status for_each_row(Db& db, const std::string& sql, F&& on_row, const Args&... args) {
  auto st = db.prepare(sql);
  if (!st) return tl::unexpected(st.error());
  StmtGuard g(**st);
  int i = 0;
  (g->bind(++i, args), ...);
  for (;;) {
    auto row = g->step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) return {};
    on_row(*g);
  }
}

inline std::string bounded(std::string s) {
  constexpr std::size_t kMaxError = 2000;
  if (s.size() > kMaxError) {
    s.resize(kMaxError);
    s += "...";
  }
  return s;
}

}  // namespace orderly::adapters::embedded::sql
