// DynamoDB client and DynamoDbItemStore.
//
// Against DynamoDB Local (AWS's own DynamoDB engine, on a free loopback port,
// over HTTP and over HTTPS with a certificate made for the run): the ItemStore
// conformance suite, the same as SQLite's, transactions included, with no
// skips. Every request the store built on the way is then validated against
// botocore's DynamoDB service model (ParamValidator). The error mapping and
// the retry policy are in dynamodb_client_test.cpp, the AttributeValue mapping
// in attribute_value_test.cpp.
#include "orderly/adapters/aws/dynamodb.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "conformance/item_store_conformance.hpp"
#include "orderly/platform/unit_of_work.hpp"
#include "support/temp_dir.hpp"

namespace orderly::adapters::aws {
namespace {

namespace json = boost::json;
using conformance::StoreFactory;
using conformance::StoreUnderTest;
using platform::Condition;
using platform::ErrorKind;
using platform::Item;

// DynamoDB Local (AWS's own DynamoDB engine, tests/support/dynamodb-local.mjs),
// plain HTTP on one port and TLS (a certificate made for the run) on another.
// Under ctest it is the run's shared server (the DynamoDBLocal fixture, whose
// state is in ORDERLY_DYNAMODB_LOCAL_DIR); a binary run by hand starts its own
// and stops it on exit.
class DynamoDbLocal {
 public:
  DynamoDbLocal() {
    dir_ = ORDERLY_DYNAMODB_LOCAL_DIR;
    if (!read_state()) {
      own_ = std::make_unique<orderly::testing::TempDir>();
      dir_ = own_->path().string();
      if (std::system(script("start").c_str()) != 0 || !read_state())
        throw std::runtime_error(
            "DynamoDB Local did not start (is node_modules installed, and Java 17? npm ci)");
    }
  }
  ~DynamoDbLocal() {
    if (own_) {
      const int rc = std::system(script("stop").c_str());
      (void)rc;  // nothing more to do at exit
    }
  }
  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] int tls_port() const { return tls_port_; }
  [[nodiscard]] std::string cert() const { return dir_ + "/cert.pem"; }

 private:
  std::string script(const char* verb) const {
    return fmt::format("{}/tests/support/dynamodb-local-fixture.sh {} '{}' >/dev/null",
                       ORDERLY_SOURCE_DIR, verb, dir_);
  }
  bool read_state() {
    std::ifstream in(dir_ + "/state");
    long pid = 0;
    return static_cast<bool>(in >> port_ >> pid >> tls_port_) && port_ > 0 && tls_port_ > 0;
  }
  std::unique_ptr<orderly::testing::TempDir> own_;
  std::string dir_;
  int port_ = 0;
  int tls_port_ = 0;
};

DynamoDbLocal& dynamodb_local() {
  static DynamoDbLocal d;
  return d;
}

// Every request the stores under test built, for the model check at the end.
struct Recorder {
  std::mutex mu;
  std::vector<std::pair<std::string, json::object>> requests;
  void add(std::string_view op, const json::object& r) {
    std::lock_guard lk(mu);
    requests.emplace_back(std::string(op), r);
  }
};
Recorder& recorder() {
  static Recorder r;
  return r;
}

DynamoDbOptions options_for(const std::string& endpoint, const std::string& ca = {}) {
  DynamoDbOptions o;
  o.endpoint = endpoint;
  o.region = "eu-west-1";
  o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", std::nullopt};
  o.http.ca_file = ca;
  o.on_request = [](std::string_view op, const json::object& r) { recorder().add(op, r); };
  return o;
}

StoreUnderTest make_store(bool tls) {
  static std::atomic<int> tables{0};
  auto& ddb = dynamodb_local();
  const std::string endpoint = tls ? fmt::format("https://localhost:{}", ddb.tls_port())
                                   : fmt::format("http://127.0.0.1:{}", ddb.port());
  const std::string ca = tls ? ddb.cert() : std::string();
  // One shared server for the whole run: every store gets a table of its own.
  const std::string table = fmt::format("conformance-{}-{}", getpid(), tables++);
  auto client = std::shared_ptr<DynamoDbClient>(*DynamoDbClient::create(options_for(endpoint, ca)));
  auto created = client->call("CreateTable", DynamoDbItemStore::create_table_request(table));
  if (!created) throw std::runtime_error(created.error().message);
  // A new table is CREATING for a moment, as on AWS: wait until it is ACTIVE.
  for (int i = 0;; ++i) {
    auto d = client->call("DescribeTable", {{"TableName", table}});
    if (d && d->at("Table").at("TableStatus") == "ACTIVE") break;
    if (i > 500) throw std::runtime_error("table never became ACTIVE");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  auto ttl = client->call("UpdateTimeToLive", DynamoDbItemStore::update_ttl_request(table));
  if (!ttl) throw std::runtime_error(ttl.error().message);
  // The manual clock starts at the real time: DynamoDB Local, like DynamoDB,
  // deletes items whose TTL is in the real past in the background, so a TTL
  // computed from a clock set in the past could vanish mid-test (it did:
  // EveryRequestShapeIsValidAgainstBotocore's put with exists() failed about
  // once in eight runs).
  auto clock = std::make_shared<platform::ManualClock>(
      std::chrono::time_point_cast<platform::Millis>(std::chrono::system_clock::now()));
  // The store keeps its client alive.
  auto make = [=](std::shared_ptr<DynamoDbClient> c) -> std::shared_ptr<platform::ItemStore> {
    auto* store = new DynamoDbItemStore(*c, DynamoDbStoreOptions{table, clock.get()});
    return {store, [c](platform::ItemStore* p) { delete p; }};
  };
  StoreUnderTest sut;
  sut.store = make(client);
  sut.clock = clock;
  // DynamoDB's TTL process deletes expired items (within days, on AWS; DynamoDB
  // Local does not run it): what it needs is TTL enabled on the attribute the
  // store writes, holding the expiry in epoch seconds, and no such attribute on
  // an item that never expires.
  sut.check_ttl_deletion = [client, table](const Item& expiring, const Item& forever) {
    auto d = client->call("DescribeTimeToLive", {{"TableName", table}});
    ASSERT_TRUE(d) << d.error().message;
    const auto& spec = d->at("TimeToLiveDescription").as_object();
    EXPECT_EQ(spec.at("TimeToLiveStatus"), "ENABLED");
    const std::string attr(spec.at("AttributeName").as_string());
    auto raw = [&](const Item& it) {
      auto r = client->call("GetItem", {{"TableName", table},
                                        {"ConsistentRead", true},
                                        {"Key", {{"pk", {{"S", it.pk}}}, {"sk", {{"S", it.sk}}}}}});
      EXPECT_TRUE(r) << r.error().message;
      return r && r->contains("Item") ? r->at("Item").as_object() : json::object{};
    };
    const auto expiring_raw = raw(expiring);
    ASSERT_TRUE(expiring_raw.contains(attr)) << "the item is gone or has no " << attr;
    EXPECT_EQ(expiring_raw.at(attr), (json::object{{"N", std::to_string(*expiring.ttl)}}));
    const auto forever_raw = raw(forever);
    ASSERT_FALSE(forever_raw.empty());
    EXPECT_FALSE(forever_raw.contains(attr));
  };
  sut.second_handle = [=] {
    return make(
        std::shared_ptr<DynamoDbClient>(*DynamoDbClient::create(options_for(endpoint, ca))));
  };
  return sut;
}

}  // namespace
}  // namespace orderly::adapters::aws

namespace orderly::conformance {
INSTANTIATE_TEST_SUITE_P(
    DynamoDBLocal, ItemStoreConformance,
    ::testing::Values(StoreFactory{"http", [] { return adapters::aws::make_store(false); }},
                      StoreFactory{"https", [] { return adapters::aws::make_store(true); }}),
    [](const auto& p) { return p.param.name; });
}  // namespace orderly::conformance

namespace orderly::adapters::aws {
namespace {

// ---- the model check: every request shape the store can build ----

TEST(DynamoDBLocalModel, EveryRequestShapeIsValidAgainstBotocore) {
  recorder().requests.clear();
  auto sut = make_store(false);
  auto& st = *sut.store;
  const auto now_s = platform::to_unix_ms(sut.clock->now()) / 1000;
  Item a{"M",
         "a",
         0,
         {{"s", "x"},
          {"n", 1},
          {"f", 2.5},
          {"l", json::array{1, "b"}},
          {"m", json::object{{"k", nullptr}}},
          {"b", false}},
         now_s + 60};
  ASSERT_TRUE(st.put(a, Condition::not_exists()));
  ASSERT_TRUE(st.put(a, Condition::version_is(1)));
  ASSERT_TRUE(st.put(a, Condition::none()));
  ASSERT_TRUE(st.put(a, Condition::exists()));
  ASSERT_TRUE(st.get("M", "a"));
  ASSERT_TRUE(
      st.update({"M", "a", {{"n", 2}}, {"s"}, Condition::version_is(4), false, now_s + 120}));
  ASSERT_TRUE(st.update({"M", "u", {{"n", 1}}, {}, Condition::none(), true, std::nullopt}));
  ASSERT_TRUE(st.remove("M", "u", Condition::exists()));
  ASSERT_TRUE(st.remove("M", "u", Condition::none()));
  ASSERT_TRUE(
      st.put(Item{std::string(platform::kOutboxPk), "e1", 0, {{"event", "{}"}}, std::nullopt},
             Condition::not_exists()));
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(st.put(Item{"Q", fmt::format("k{}", i), 0, {}, std::nullopt}, {}));
  auto page = st.query("Q", {platform::SkRange::prefix("k"), 2, std::nullopt, false});
  ASSERT_TRUE(page && page->next_cursor);
  ASSERT_TRUE(st.query("Q", {platform::SkRange::between("k1", "k3"), 2, page->next_cursor, false}));
  ASSERT_TRUE(st.query("Q", {}));
  auto tx = st.transact_write({
      platform::Put{Item{"T", "p1", 0, {{"x", 1}}, std::nullopt}, Condition::not_exists()},
      platform::Put{Item{"T", "p2", 0, {}, now_s + 5}, Condition::none()},
      platform::Update{"T", "u", {{"n", 1}}, {"old"}, Condition::version_is(3), false, now_s + 9},
      platform::Delete{"T", "d", Condition::exists()},
      platform::Check{"T", "c", Condition::not_exists()},
  });
  // DynamoDB Local checks the conditions: "u" is not at version 3, "d" does not exist.
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().kind, ErrorKind::conflict) << tx.error().message;

  orderly::testing::TempDir dir;
  const auto file = dir.file("requests.jsonl");
  std::set<std::string> ops;
  {
    std::ofstream out(file);
    for (const auto& [op, req] : recorder().requests) {
      ops.insert(op);
      out << json::serialize(json::object{{"op", op}, {"request", req}}) << "\n";
    }
  }
  for (const char* op : {"CreateTable", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query",
                         "TransactWriteItems"})
    EXPECT_TRUE(ops.count(op)) << op << " was never built";
  const std::string cmd = "/usr/bin/python3 " ORDERLY_SOURCE_DIR
                          "/tests/oracle/dynamodb_model_check.py " +
                          file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string report;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) report += buf;
  const int rc = pclose(p);
  EXPECT_EQ(rc, 0) << report;
  EXPECT_NE(report.find("0 problems"), std::string::npos) << report;
  std::printf("%s", report.c_str());
}

// The model check can fail: a request botocore would refuse is reported.
TEST(DynamoDBLocalModel, TheCheckRejectsABadShape) {
  orderly::testing::TempDir dir;
  const auto file = dir.file("bad.jsonl");
  std::ofstream(file) << R"({"op":"PutItem","request":{"TableName":"t","Item":{"pk":{"S":1}}}})"
                      << "\n";
  const std::string cmd = "/usr/bin/python3 " ORDERLY_SOURCE_DIR
                          "/tests/oracle/dynamodb_model_check.py " +
                          file + " >/dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

// ---- adapter behaviour against DynamoDB Local ----

TEST(DynamoDBLocalItemStore, NativeAttributesAndReservedNames) {
  auto sut = make_store(false);
  auto& st = *sut.store;
  EXPECT_EQ(st.put(Item{"R", "1", 0, {{"_secret", 1}}, std::nullopt}, {}).error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(st.put(Item{"R", "1", 0, {{"pk", 1}}, std::nullopt}, {}).error().kind,
            ErrorKind::invalid_input);
  EXPECT_EQ(st.update({"R", "1", {{"_version", 9}}, {}, {}, true, std::nullopt}).error().kind,
            ErrorKind::invalid_input);
  // Outbox items get the outbox TTL; others keep none.
  ASSERT_TRUE(
      st.put(Item{std::string(platform::kOutboxPk), "e", 0, {{"event", "{}"}}, std::nullopt},
             Condition::not_exists()));
  ASSERT_TRUE(st.put(Item{"R", "plain", 0, {}, std::nullopt}, Condition::not_exists()));
  const auto now_s = platform::to_unix_ms(sut.clock->now()) / 1000;
  EXPECT_EQ((*st.get(std::string(platform::kOutboxPk), "e"))->ttl, now_s + 7 * 24 * 3600);
  EXPECT_FALSE((*st.get("R", "plain"))->ttl);
}

TEST(DynamoDBLocalItemStore, UpsertOntoAnExpiredItemStartsAfresh) {
  auto sut = make_store(false);
  auto& st = *sut.store;
  const auto now_s = platform::to_unix_ms(sut.clock->now()) / 1000;
  {
    auto r0 = st.put(Item{"X", "1", 0, {{"stale", true}}, now_s + 10}, Condition::not_exists());
    ASSERT_TRUE(r0) << r0.error().message;
  }
  ASSERT_TRUE(st.put(Item{"X", "1", 0, {{"stale", true}}, now_s + 10}, Condition::none()));
  sut.clock->advance(platform::Millis{11'000});
  auto v = st.update({"X", "1", {{"fresh", 1}}, {}, Condition::none(), true, std::nullopt});
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(*v, 1);
  auto got = *st.get("X", "1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->attrs, (json::object{{"fresh", 1}}));
}

TEST(DynamoDBLocalClient, TlsRefusesACertificateItDoesNotTrust) {
  auto o = options_for(fmt::format("https://localhost:{}", dynamodb_local().tls_port()));  // no CA
  auto client = DynamoDbClient::create(o);
  ASSERT_TRUE(client);
  auto r = (*client)->call("ListTables", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition) << r.error().message;
  EXPECT_EQ((*client)->stats().attempts, 1u);  // not retried: it would not verify next time
}

// The fixture's certificate names DNS:localhost only. Reached by its address,
// the name check is the client's own (mbedTLS 2.28 skips iPAddress entries):
// a trusted certificate that does not name 127.0.0.1 is refused.
TEST(DynamoDBLocalClient, TlsRefusesATrustedCertificateForAnotherName) {
  auto& ddb = dynamodb_local();
  auto o = options_for(fmt::format("https://127.0.0.1:{}", ddb.tls_port()));
  o.http.ca_file = ddb.cert();
  auto client = DynamoDbClient::create(o);
  ASSERT_TRUE(client);
  auto r = (*client)->call("ListTables", {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::failed_precondition) << r.error().message;
  EXPECT_NE(r.error().message.find("certificate verify failed"), std::string::npos)
      << r.error().message;
  EXPECT_NE(r.error().message.find("CN"), std::string::npos) << r.error().message;
  // The same certificate, reached by the name it carries, is accepted.
  o.endpoint = fmt::format("https://localhost:{}", ddb.tls_port());
  auto named = DynamoDbClient::create(o);
  ASSERT_TRUE(named);
  auto ok = (*named)->call("ListTables", {});
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST(DynamoDBLocalClient, KeepsOneConnectionAlive) {
  auto client = *DynamoDbClient::create(
      options_for(fmt::format("http://127.0.0.1:{}", dynamodb_local().port())));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->call("ListTables", {}));
  EXPECT_EQ(client->stats().attempts, 20u);
}

}  // namespace
}  // namespace orderly::adapters::aws
