// Idempotency records: their key, item and the same-key decision.
#include "orderly/platform/idempotency.hpp"

#include <fmt/format.h>
#include <mbedtls/md.h>

#include <cctype>

namespace orderly::platform {

std::string idempotency_pk(std::string_view owner, std::string_view key) {
  // The owner's length first: no two (owner, key) pairs give one partition key,
  // whatever characters either holds ("alice"+"k#1" and "alice#k"+"1" differ).
  return fmt::format("IDEMPOTENCY#{}:{}#{}", owner.size(), owner, key);
}

std::string request_digest(std::string_view request) {
  unsigned char d[32];
  mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256),
             reinterpret_cast<const unsigned char*>(request.data()), request.size(), d);
  std::string out = "sha256:";
  for (unsigned char c : d) out += fmt::format("{:02x}", c);
  return out;
}

Result<std::optional<IdempotencyRecord>> IdempotencyRecords::find(ItemStore& store,
                                                                  std::string_view owner,
                                                                  const std::string& key) const {
  ORDERLY_TRY(item, store.get(idempotency_pk(owner, key), std::string(kIdempotencySk)));
  if (!*item) return std::optional<IdempotencyRecord>{};
  const auto& a = (*item)->attrs;
  const auto* req = a.if_contains("request");
  const auto* id = a.if_contains(result_attr_);
  if (!req || !req->is_string() || !id || !id->is_string())
    return fail(ErrorKind::permanent, "idempotency record unreadable");
  return std::optional<IdempotencyRecord>{
      IdempotencyRecord{key, std::string(req->get_string()), std::string(id->get_string())}};
}

Item IdempotencyRecords::item(std::string_view owner, const IdempotencyRecord& r,
                              const Clock& clock) const {
  const auto expires = to_unix_ms(clock.now()) / 1000 + kIdempotencyTtlSeconds;
  return Item{
      idempotency_pk(owner, r.key), std::string(kIdempotencySk), 0,
      boost::json::object{{"request", request_digest(r.request)}, {result_attr_, r.result_id}},
      expires};
}

IdempotencyVerdict judge(const std::optional<IdempotencyRecord>& seen, std::string_view request) {
  if (!seen) return IdempotencyVerdict::first;
  // Records keep the body's digest (request_digest); one written before they
  // did (kept at most kIdempotencyTtlSeconds) holds the body itself.
  const bool same = seen->request.starts_with("sha256:") ? seen->request == request_digest(request)
                                                         : seen->request == request;
  return same ? IdempotencyVerdict::repeat : IdempotencyVerdict::reused;
}

namespace http {

bool idempotency_key_valid(std::string_view key) {
  if (key.empty() || key.size() > kIdempotencyKeyMax) return false;
  for (const unsigned char c : key)
    if (!std::isalnum(c) &&
        std::string_view("-_.:").find(static_cast<char>(c)) == std::string_view::npos)
      return false;
  return true;
}

tl::expected<std::optional<std::string>, Response> idempotency_key(const Request& req) {
  auto key = req.header("idempotency-key");
  if (key && !idempotency_key_valid(*key))
    return tl::unexpected(problem(
        400, "bad-idempotency-key", "Bad Idempotency-Key",
        fmt::format("an Idempotency-Key is 1 to {} characters of A-Z, a-z, 0-9, '-', '_', '.' "
                    "and ':' (a UUID is a good one)",
                    kIdempotencyKeyMax),
        req));
  return key;
}

Response idempotency_key_reused(const Request& req) {
  return problem(422, "idempotency-key-reused", "Idempotency key reused",
                 "this Idempotency-Key was used with a different request body", req);
}

}  // namespace http

}  // namespace orderly::platform
