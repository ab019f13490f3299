// DynamoDbItemStore: the ItemStore port on one table, and the builder of its
// Condition/Update expressions (placeholders for names and values, the TTL
// check that makes an expired item absent, the version increment).
#include "orderly/adapters/aws/dynamodb_item_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>

#include "orderly/adapters/aws/attribute_value.hpp"
#include "orderly/platform/base64.hpp"
#include "orderly/platform/id.hpp"
#include "orderly/platform/unit_of_work.hpp"

namespace orderly::adapters::aws {

namespace json = boost::json;
using platform::Condition;
using platform::ErrorKind;
using platform::fail;
using platform::Item;
using platform::Result;
using platform::Status;

namespace {

constexpr std::string_view kPk = "pk";
constexpr std::string_view kSk = "sk";
constexpr std::string_view kVersion = "_version";
constexpr std::string_view kTtl = "_ttl";

json::object s(std::string_view v) {
  return {{"S", v}};
}
json::object n(std::int64_t v) {
  return {{"N", std::to_string(v)}};
}

json::object key_of(const std::string& pk, const std::string& sk) {
  return {{kPk, s(pk)}, {kSk, s(sk)}};
}

Status check_keys(std::string_view what, const std::string& pk, const std::string& sk) {
  if (pk.empty() || sk.empty()) return fail(ErrorKind::invalid_input, "{}: empty pk or sk", what);
  if (pk.size() > 2048 || sk.size() > 1024)
    return fail(ErrorKind::invalid_input, "{}: key longer than DynamoDB allows", what);
  return {};
}

Status check_name(std::string_view name) {
  if (name.empty() || name.front() == '_' || name == kPk || name == kSk)
    return fail(ErrorKind::invalid_input,
                "attribute name '{}' is reserved (pk, sk and names beginning with '_')", name);
  return {};
}

// Builds ConditionExpression / UpdateExpression placeholders.
class Expr {
 public:
  std::string name(std::string_view attr) {
    for (const auto& [k, v] : names_)
      if (v.as_string() == attr) return std::string(k);
    auto key = fmt::format("#n{}", names_.size());
    names_.emplace(key, attr);
    return key;
  }
  std::string value(json::object av) {
    auto key = fmt::format(":v{}", values_.size());
    values_.emplace(key, std::move(av));
    return key;
  }
  // The item exists and has not expired.
  std::string live(std::int64_t now) {
    if (!now_) now_ = value(n(now));
    return fmt::format("(attribute_not_exists({0}) OR {0} > {1})", name(kTtl), *now_);
  }
  std::string absent(std::int64_t now) {
    if (!now_) now_ = value(n(now));
    return fmt::format("(attribute_not_exists({}) OR {} <= {})", name(kPk), name(kTtl), *now_);
  }
  // The platform condition; empty for none.
  std::string condition(const Condition& c, std::int64_t now) {
    switch (c.kind) {
      case Condition::Kind::none:
        return {};
      case Condition::Kind::not_exists:
        return absent(now);
      case Condition::Kind::exists:
        return fmt::format("(attribute_exists({}) AND {})", name(kPk), live(now));
      case Condition::Kind::version_is:
        return fmt::format("({} = {} AND {})", name(kVersion), value(n(c.version)), live(now));
    }
    return {};
  }
  // Adds ConditionExpression (if any), names and values to a request.
  void apply(json::object& req, const std::string& condition) const {
    if (!condition.empty()) req["ConditionExpression"] = condition;
    if (!names_.empty()) req["ExpressionAttributeNames"] = names_;
    if (!values_.empty()) req["ExpressionAttributeValues"] = values_;
  }

 private:
  json::object names_, values_;
  std::optional<std::string> now_;
};

std::string and_all(std::initializer_list<std::string> parts) {
  std::string out;
  for (const auto& p : parts) {
    if (p.empty()) continue;
    if (!out.empty()) out += " AND ";
    out += p;
  }
  return out;
}

// The UpdateItem body of a platform Update (Key, UpdateExpression, condition,
// names, values): the attributes set and removed, the version incremented,
// the TTL if given; the item must be live unless upserting. Names are checked.
Result<json::object> update_body(const platform::Update& u, std::int64_t now) {
  for (const auto& [name, v] : u.set)
    if (auto c = check_name(name); !c) return tl::unexpected(c.error());
  for (const auto& name : u.remove)
    if (auto c = check_name(name); !c) return tl::unexpected(c.error());
  Expr e;
  std::string expr;
  for (const auto& [name, v] : u.set) {
    expr += expr.empty() ? "SET " : ", ";
    expr += fmt::format("{} = {}", e.name(name), e.value(to_attribute_value(v)));
  }
  expr += expr.empty() ? "SET " : ", ";
  expr += fmt::format("{0} = if_not_exists({0}, {1}) + {2}", e.name(kVersion), e.value(n(0)),
                      e.value(n(1)));
  if (u.ttl) expr += fmt::format(", {} = {}", e.name(kTtl), e.value(n(*u.ttl)));
  for (std::size_t r = 0; r < u.remove.size(); ++r)
    expr += fmt::format("{}{}", r == 0 ? " REMOVE " : ", ", e.name(u.remove[r]));
  const std::string base =
      u.upsert ? fmt::format("(attribute_not_exists({}) OR {})", e.name(kPk), e.live(now))
               : fmt::format("(attribute_exists({}) AND {})", e.name(kPk), e.live(now));
  json::object body{{"Key", key_of(u.pk, u.sk)}, {"UpdateExpression", std::move(expr)}};
  e.apply(body, and_all({base, e.condition(u.condition, now)}));
  return body;
}

Result<Item> decode_item(const json::object& av_item) {
  Item it;
  for (const auto& [k, v] : av_item) {
    if (k == kPk || k == kSk) {
      const auto* sv = v.is_object() ? v.as_object().if_contains("S") : nullptr;
      if (!sv || !sv->is_string())
        return fail(ErrorKind::permanent, "dynamodb: bad key {}", std::string_view(k));
      (k == kPk ? it.pk : it.sk) = std::string(sv->get_string());
      continue;
    }
    auto plain = from_attribute_value(v);
    if (!plain) return tl::unexpected(plain.error());
    if (k == kVersion || k == kTtl) {
      if (!plain->is_int64())
        return fail(ErrorKind::permanent, "dynamodb: {} is not an integer", std::string_view(k));
      if (k == kVersion)
        it.version = plain->get_int64();
      else
        it.ttl = plain->get_int64();
      continue;
    }
    it.attrs.emplace(k, std::move(*plain));
  }
  return it;
}

bool expired(const Item& it, std::int64_t now) {
  return it.ttl && *it.ttl <= now;
}

}  // namespace

DynamoDbItemStore::DynamoDbItemStore(DynamoDbClient& client, DynamoDbStoreOptions options)
    : client_(client), options_(std::move(options)) {}

std::int64_t DynamoDbItemStore::now_s() const {
  const platform::Clock& c = options_.clock ? *options_.clock : platform::SystemClock::instance();
  return platform::to_unix_ms(c.now()) / 1000;
}

json::object DynamoDbItemStore::create_table_request(const std::string& table) {
  return {{"TableName", table},
          {"AttributeDefinitions",
           json::array{json::object{{"AttributeName", kPk}, {"AttributeType", "S"}},
                       json::object{{"AttributeName", kSk}, {"AttributeType", "S"}}}},
          {"KeySchema", json::array{json::object{{"AttributeName", kPk}, {"KeyType", "HASH"}},
                                    json::object{{"AttributeName", kSk}, {"KeyType", "RANGE"}}}},
          {"BillingMode", "PAY_PER_REQUEST"},
          {"StreamSpecification",
           json::object{{"StreamEnabled", true}, {"StreamViewType", "NEW_IMAGE"}}}};
}

json::object DynamoDbItemStore::update_ttl_request(const std::string& table) {
  return {{"TableName", table},
          {"TimeToLiveSpecification", json::object{{"Enabled", true}, {"AttributeName", kTtl}}}};
}

namespace {

// The full item as DynamoDB attribute values, with the given version.
Result<json::object> encode_item(const Item& item, std::int64_t version,
                                 std::optional<std::int64_t> ttl) {
  json::object out{{kPk, s(item.pk)}, {kSk, s(item.sk)}, {kVersion, n(version)}};
  if (ttl) out.emplace(kTtl, n(*ttl));
  for (const auto& [k, v] : item.attrs) {
    if (auto c = check_name(k); !c) return tl::unexpected(c.error());
    out.emplace(k, to_attribute_value(v));
  }
  return out;
}

}  // namespace

Result<std::optional<Item>> DynamoDbItemStore::get(const std::string& pk, const std::string& sk) {
  if (auto c = check_keys("get", pk, sk); !c) return tl::unexpected(c.error());
  auto r = client_.call(
      "GetItem",
      {{"TableName", options_.table}, {"Key", key_of(pk, sk)}, {"ConsistentRead", true}});
  if (!r) return tl::unexpected(r.error());
  const auto* av = r->if_contains("Item");
  if (!av || !av->is_object()) return std::optional<Item>{};
  auto it = decode_item(av->get_object());
  if (!it) return tl::unexpected(it.error());
  if (expired(*it, now_s())) return std::optional<Item>{};
  return std::optional<Item>(std::move(*it));
}

// The stored version, live or expired; empty when there is no item.
Result<std::optional<std::int64_t>> DynamoDbItemStore::raw_version(const std::string& pk,
                                                                   const std::string& sk) {
  auto r = client_.call(
      "GetItem", {{"TableName", options_.table},
                  {"Key", key_of(pk, sk)},
                  {"ConsistentRead", true},
                  {"ProjectionExpression", "#v, #t"},
                  {"ExpressionAttributeNames", json::object{{"#v", kVersion}, {"#t", kTtl}}}});
  if (!r) return tl::unexpected(r.error());
  const auto* av = r->if_contains("Item");
  if (!av || !av->is_object()) return std::optional<std::int64_t>{};
  auto it = decode_item(av->get_object());
  if (!it) return tl::unexpected(it.error());
  if (expired(*it, now_s())) return std::optional<std::int64_t>{-it->version};  // negative: expired
  return std::optional<std::int64_t>{it->version};
}

Result<std::int64_t> DynamoDbItemStore::put(const Item& item, Condition c) {
  if (auto k = check_keys("put", item.pk, item.sk); !k) return tl::unexpected(k.error());
  const std::int64_t now = now_s();
  std::optional<std::int64_t> ttl = item.ttl;
  if (!ttl && options_.outbox_ttl && item.pk == platform::kOutboxPk)
    ttl = now + options_.outbox_ttl->count() / 1000;
  for (int attempt = 0;; ++attempt) {
    Expr e;
    std::string cond;
    std::int64_t version = 1;
    if (c.kind == Condition::Kind::not_exists || c.kind == Condition::Kind::version_is) {
      cond = e.condition(c, now);
      if (c.kind == Condition::Kind::version_is) version = c.version + 1;
    } else {
      // The new version depends on the stored one: read it, then write only if it is unchanged.
      auto cur = raw_version(item.pk, item.sk);
      if (!cur) return tl::unexpected(cur.error());
      const bool live = *cur && **cur > 0;
      if (c.kind == Condition::Kind::exists && !live)
        return fail(ErrorKind::conflict, "put ({}, {}): condition exists failed", item.pk, item.sk);
      if (*cur)
        cond = fmt::format("{} = {}", e.name(kVersion), e.value(n(std::llabs(**cur))));
      else
        cond = fmt::format("attribute_not_exists({})", e.name(kPk));
      version = live ? **cur + 1 : 1;
    }
    auto encoded = encode_item(item, version, ttl);
    if (!encoded) return tl::unexpected(encoded.error());
    json::object req{{"TableName", options_.table}, {"Item", std::move(*encoded)}};
    e.apply(req, cond);
    auto r = client_.call("PutItem", req);
    if (r) return version;
    if (r.error().kind != ErrorKind::conflict) return tl::unexpected(r.error());
    const bool guarded = c.kind == Condition::Kind::none || c.kind == Condition::Kind::exists;
    if (!guarded || attempt + 1 >= options_.put_retries)
      return fail(ErrorKind::conflict, "put ({}, {}): {}", item.pk, item.sk, r.error().message);
  }
}

Result<std::int64_t> DynamoDbItemStore::update(const platform::Update& u) {
  if (auto k = check_keys("update", u.pk, u.sk); !k) return tl::unexpected(k.error());
  const std::int64_t now = now_s();
  for (int attempt = 0;; ++attempt) {
    auto body = update_body(u, now);
    if (!body) return tl::unexpected(body.error());
    json::object req = std::move(*body);
    req["TableName"] = options_.table;
    req["ReturnValues"] = "UPDATED_NEW";
    auto r = client_.call("UpdateItem", req);
    if (r) {
      const auto* attrs = r->if_contains("Attributes");
      const auto* v =
          attrs && attrs->is_object() ? attrs->as_object().if_contains(kVersion) : nullptr;
      if (!v) return fail(ErrorKind::permanent, "update: no version in the answer");
      auto plain = from_attribute_value(*v);
      if (!plain || !plain->is_int64()) return fail(ErrorKind::permanent, "update: bad version");
      return plain->get_int64();
    }
    if (r.error().kind != ErrorKind::conflict) return tl::unexpected(r.error());
    // An upsert onto an expired item starts afresh: delete the husk, then try again.
    if (u.upsert && attempt == 0) {
      Expr d;
      json::object del{{"TableName", options_.table}, {"Key", key_of(u.pk, u.sk)}};
      d.apply(del, fmt::format("{} <= {}", d.name(kTtl), d.value(n(now))));
      auto gone = client_.call("DeleteItem", del);
      if (gone) continue;
      if (gone.error().kind != ErrorKind::conflict) return tl::unexpected(gone.error());
    }
    return fail(ErrorKind::conflict, "update ({}, {}): {}", u.pk, u.sk, r.error().message);
  }
}

Status DynamoDbItemStore::remove(const std::string& pk, const std::string& sk, Condition c) {
  if (auto k = check_keys("remove", pk, sk); !k) return k;
  Expr e;
  const auto cond = e.condition(c, now_s());
  json::object req{{"TableName", options_.table}, {"Key", key_of(pk, sk)}};
  e.apply(req, cond);
  auto r = client_.call("DeleteItem", req);
  if (!r) {
    if (r.error().kind == ErrorKind::conflict)
      return fail(ErrorKind::conflict, "remove ({}, {}): {}", pk, sk, r.error().message);
    return tl::unexpected(r.error());
  }
  return {};
}

Result<platform::Page> DynamoDbItemStore::query(const std::string& pk,
                                                const platform::QueryOptions& q) {
  if (pk.empty()) return fail(ErrorKind::invalid_input, "query: empty pk");
  if (q.limit == 0 || q.limit > 10'000)
    return fail(ErrorKind::invalid_input, "query: limit must be 1..10000");
  std::optional<std::string> start_sk;
  if (q.cursor) {
    auto raw = platform::base64_decode(*q.cursor, platform::Base64::url);
    boost::system::error_code ec;
    auto v = raw ? json::parse(*raw, ec) : json::value();
    const auto* o = !ec && v.is_object() ? &v.as_object() : nullptr;
    const auto* cpk = o ? o->if_contains("pk") : nullptr;
    const auto* csk = o ? o->if_contains("sk") : nullptr;
    if (!cpk || !csk || !cpk->is_string() || !csk->is_string())
      return fail(ErrorKind::invalid_input, "query: malformed cursor");
    if (cpk->get_string() != pk)
      return fail(ErrorKind::invalid_input, "query: cursor does not belong to pk {}", pk);
    start_sk = std::string(csk->get_string());
  }
  const std::int64_t now = now_s();
  platform::Page page;
  const std::size_t want = q.limit + 1;  // one more tells whether there is a next page
  for (;;) {
    Expr e;
    std::string key_cond = fmt::format("{} = {}", e.name(kPk), e.value(s(pk)));
    switch (q.sk.kind) {
      case platform::SkRange::Kind::all:
        break;
      case platform::SkRange::Kind::prefix:
        key_cond += fmt::format(" AND begins_with({}, {})", e.name(kSk), e.value(s(q.sk.a)));
        break;
      case platform::SkRange::Kind::between:
        key_cond += fmt::format(" AND {} BETWEEN {} AND {}", e.name(kSk), e.value(s(q.sk.a)),
                                e.value(s(q.sk.b)));
        break;
    }
    json::object req{{"TableName", options_.table},
                     {"KeyConditionExpression", key_cond},
                     {"FilterExpression", e.live(now)},
                     {"ConsistentRead", true},
                     {"ScanIndexForward", q.forward},
                     {"Limit", static_cast<std::int64_t>(
                                   std::min<std::size_t>(want - page.items.size(), 1000))}};
    if (start_sk) req["ExclusiveStartKey"] = key_of(pk, *start_sk);
    e.apply(req, {});
    auto r = client_.call("Query", req);
    if (!r) return tl::unexpected(r.error());
    if (const auto* items = r->if_contains("Items"); items && items->is_array())
      for (const auto& av : items->get_array()) {
        if (!av.is_object()) continue;
        auto it = decode_item(av.get_object());
        if (!it) return tl::unexpected(it.error());
        page.items.push_back(std::move(*it));
      }
    const auto* last = r->if_contains("LastEvaluatedKey");
    if (page.items.size() >= want || !last || !last->is_object()) break;
    const auto* lsk = last->as_object().if_contains(kSk);
    auto sk_value = lsk ? from_attribute_value(*lsk) : Result<json::value>(json::value());
    if (!sk_value || !sk_value->is_string())
      return fail(ErrorKind::permanent, "query: bad LastEvaluatedKey");
    start_sk = std::string(sk_value->get_string());
  }
  if (page.items.size() > q.limit) {
    page.items.resize(q.limit);
    page.next_cursor = platform::base64_encode(
        json::serialize(json::object{{"pk", pk}, {"sk", page.items.back().sk}}),
        platform::Base64::url);
  }
  return page;
}

Status DynamoDbItemStore::transact_write(const std::vector<platform::WriteOp>& ops) {
  if (auto v = platform::validate_transaction(ops); !v) return v;
  const std::int64_t now = now_s();
  const platform::Clock& clock =
      options_.clock ? *options_.clock : platform::SystemClock::instance();
  for (int attempt = 0;; ++attempt) {
    json::array items;
    std::vector<std::size_t> index_of;  // request position -> caller's op index
    std::vector<bool> guarded;          // the condition is ours (a version read), not the caller's
    for (std::size_t i = 0; i < ops.size(); ++i) {
      Expr e;
      json::object body{{"TableName", options_.table}};
      std::string kind;
      bool ours = false;
      if (const auto* p = std::get_if<platform::Put>(&ops[i])) {
        std::string cond;
        std::int64_t version = 1;
        if (p->condition.kind == Condition::Kind::none ||
            p->condition.kind == Condition::Kind::exists) {
          auto cur = raw_version(p->item.pk, p->item.sk);
          if (!cur) return tl::unexpected(cur.error());
          const bool live = *cur && **cur > 0;
          if (p->condition.kind == Condition::Kind::exists && !live)
            return fail(ErrorKind::conflict,
                        "transaction cancelled: op {}: condition exists failed", i);
          cond = *cur ? fmt::format("{} = {}", e.name(kVersion), e.value(n(std::llabs(**cur))))
                      : fmt::format("attribute_not_exists({})", e.name(kPk));
          version = live ? **cur + 1 : 1;
          ours = true;
        } else {
          cond = e.condition(p->condition, now);
          if (p->condition.kind == Condition::Kind::version_is) version = p->condition.version + 1;
        }
        std::optional<std::int64_t> ttl = p->item.ttl;
        if (!ttl && options_.outbox_ttl && p->item.pk == platform::kOutboxPk)
          ttl = now + options_.outbox_ttl->count() / 1000;
        auto encoded = encode_item(p->item, version, ttl);
        if (!encoded) return tl::unexpected(encoded.error());
        body["Item"] = std::move(*encoded);
        e.apply(body, cond);
        kind = "Put";
      } else if (const auto* u = std::get_if<platform::Update>(&ops[i])) {
        auto update = update_body(*u, now);
        if (!update) return tl::unexpected(update.error());
        for (auto& [k, v] : *update) body[k] = std::move(v);
        kind = "Update";
      } else if (const auto* d = std::get_if<platform::Delete>(&ops[i])) {
        body["Key"] = key_of(d->pk, d->sk);
        e.apply(body, e.condition(d->condition, now));
        kind = "Delete";
      } else if (const auto* c = std::get_if<platform::Check>(&ops[i])) {
        if (c->condition.kind == Condition::Kind::none) continue;  // checks nothing
        body["Key"] = key_of(c->pk, c->sk);
        e.apply(body, e.condition(c->condition, now));
        kind = "ConditionCheck";
      }
      items.push_back(json::object{{kind, std::move(body)}});
      index_of.push_back(i);
      guarded.push_back(ours);
    }
    if (items.empty()) return {};
    auto r = client_.call("TransactWriteItems",
                          {{"TransactItems", std::move(items)},
                           {"ClientRequestToken", platform::new_uuid_v7(clock.now())}});
    if (r) return {};
    auto err = r.error();
    // Name the caller's operation, not the request position.
    const auto op = err.message.find("op ");
    if (op != std::string::npos) {
      const std::size_t pos = std::strtoul(err.message.c_str() + op + 3, nullptr, 10);
      if (pos < index_of.size()) {
        if (err.kind == ErrorKind::conflict && guarded[pos] && attempt + 1 < options_.put_retries)
          continue;  // our version guard lost a race: read again
        const auto digits = std::to_string(pos).size();
        err.message.replace(op + 3, digits, std::to_string(index_of[pos]));
      }
    }
    return tl::unexpected(std::move(err));
  }
}

}  // namespace orderly::adapters::aws
