// Validation shared by every ItemStore adapter.
#include "orderly/platform/item_store.hpp"

#include <set>
#include <utility>

namespace orderly::platform {

const std::string& op_pk(const WriteOp& op) {
  return std::visit(
      [](const auto& o) -> const std::string& {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, Put>)
          return o.item.pk;
        else
          return o.pk;
      },
      op);
}

const std::string& op_sk(const WriteOp& op) {
  return std::visit(
      [](const auto& o) -> const std::string& {
        if constexpr (std::is_same_v<std::decay_t<decltype(o)>, Put>)
          return o.item.sk;
        else
          return o.sk;
      },
      op);
}

Status validate_transaction(const std::vector<WriteOp>& ops) {
  if (ops.empty()) return fail(ErrorKind::invalid_input, "transaction: no operations");
  if (ops.size() > kMaxTransactItems)
    return fail(ErrorKind::invalid_input, "transaction: {} operations; at most {}", ops.size(),
                kMaxTransactItems);
  std::set<std::pair<std::string_view, std::string_view>> seen;
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const auto& pk = op_pk(ops[i]);
    const auto& sk = op_sk(ops[i]);
    if (pk.empty() || sk.empty())
      return fail(ErrorKind::invalid_input, "transaction op {}: empty pk or sk", i);
    if (!seen.emplace(pk, sk).second)
      return fail(ErrorKind::invalid_input, "transaction op {}: ({}, {}) appears twice", i, pk, sk);
  }
  return {};
}

}  // namespace orderly::platform
