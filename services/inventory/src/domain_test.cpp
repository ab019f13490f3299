// Inventory domain: all-or-nothing reservations, commit, release and restock.
#include "orderly/services/inventory/domain.hpp"

#include <gtest/gtest.h>

namespace orderly::services::inventory {
namespace {

namespace c = contracts;
using platform::ErrorKind;

Products stock(std::int64_t a_on_hand, std::int64_t b_on_hand, std::int64_t a_reserved = 0) {
  return {{"SKU-A", Product{"SKU-A", "Alpha", {100, "GBP"}, a_on_hand, a_reserved}},
          {"SKU-B", Product{"SKU-B", "Beta", {200, "GBP"}, b_on_hand, 0}}};
}

Products applied(Products p, const Outcome& o) {
  for (const auto& changed : o.changed) p[changed.sku] = changed;
  return p;
}

const std::vector<StockLine> kLines = {{"SKU-A", 2}, {"SKU-B", 3}};

TEST(Reserve, ReservesEveryLine) {
  auto o = reserve(std::nullopt, "o-1", kLines, stock(5, 5));
  ASSERT_TRUE(o);
  ASSERT_TRUE(o->reservation);
  EXPECT_EQ(o->reservation->status, ReservationStatus::reserved);
  auto after = applied(stock(5, 5), *o);
  EXPECT_EQ(after["SKU-A"].reserved, 2);
  EXPECT_EQ(after["SKU-A"].available(), 3);
  EXPECT_EQ(after["SKU-B"].reserved, 3);
  EXPECT_EQ(std::get<c::InventoryReserved>(o->events.at(0)).lines, kLines);
}

TEST(Reserve, OneShortLineReservesNothing) {
  auto o = reserve(std::nullopt, "o-1", kLines, stock(5, 2));
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->changed.empty());
  EXPECT_EQ(o->reservation->status, ReservationStatus::failed);
  const auto& f = std::get<c::InventoryReservationFailed>(o->events.at(0));
  EXPECT_EQ(f.reason, "out_of_stock");
  ASSERT_EQ(f.shortages.size(), 1u);
  EXPECT_EQ(f.shortages[0], (c::Shortage{"SKU-B", 3, 2}));
}

TEST(Reserve, ReservedStockIsNotAvailableAgain) {
  auto o = reserve(std::nullopt, "o-2", {{"SKU-A", 2}}, stock(5, 5, /*a_reserved=*/4));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reservation->status, ReservationStatus::failed);
}

TEST(Reserve, UnknownSkuFailsWithItsOwnReason) {
  auto o = reserve(std::nullopt, "o-1", {{"SKU-Z", 1}}, stock(5, 5));
  ASSERT_TRUE(o);
  EXPECT_EQ(std::get<c::InventoryReservationFailed>(o->events.at(0)).reason, "unknown_sku");
}

TEST(Reserve, AfterAnEarlyCancelOrASecondTimeNothingHappens) {
  Reservation tomb{"o-1", ReservationStatus::cancelled_early, {}};
  auto o = reserve(tomb, "o-1", kLines, stock(5, 5));
  ASSERT_TRUE(o);
  EXPECT_TRUE(o->events.empty());
  EXPECT_TRUE(o->changed.empty());
  EXPECT_FALSE(o->note.empty());
  Reservation done{"o-1", ReservationStatus::reserved, kLines};
  EXPECT_TRUE(reserve(done, "o-1", kLines, stock(5, 5))->events.empty());
}

TEST(Commit, DecrementsOnHandAndReserved) {
  Reservation r{"o-1", ReservationStatus::reserved, kLines};
  auto before = stock(5, 5, 2);
  before["SKU-B"].reserved = 3;
  auto o = commit(r, "o-1", before);
  ASSERT_TRUE(o);
  auto after = applied(before, *o);
  EXPECT_EQ(after["SKU-A"].on_hand, 3);
  EXPECT_EQ(after["SKU-A"].reserved, 0);
  EXPECT_EQ(after["SKU-B"].on_hand, 2);
  EXPECT_EQ(o->reservation->status, ReservationStatus::committed);
  EXPECT_TRUE(std::holds_alternative<c::InventoryCommitted>(o->events.at(0)));
}

TEST(Commit, InvalidWithoutAReservationOrAfterFailure) {
  EXPECT_EQ(commit(std::nullopt, "o-1", stock(5, 5)).error().kind, ErrorKind::failed_precondition);
  EXPECT_EQ(commit(Reservation{"o-1", ReservationStatus::failed, kLines}, "o-1", stock(5, 5))
                .error()
                .kind,
            ErrorKind::failed_precondition);
  // Released before the shipment arrived: a late fact, nothing to commit.
  auto late = commit(Reservation{"o-1", ReservationStatus::released, kLines}, "o-1", stock(5, 5));
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->events.empty());
}

TEST(Release, ReleasesAReservationOrRestocksACommittedOne) {
  auto reserved = stock(5, 5, 2);
  reserved["SKU-B"].reserved = 3;
  auto rel = release(Reservation{"o-1", ReservationStatus::reserved, kLines}, "o-1", reserved);
  ASSERT_TRUE(rel);
  auto after = applied(reserved, *rel);
  EXPECT_EQ(after["SKU-A"].reserved, 0);
  EXPECT_EQ(after["SKU-A"].on_hand, 5);
  EXPECT_FALSE(std::get<c::InventoryReleased>(rel->events.at(0)).restocked);
  EXPECT_EQ(rel->reservation->status, ReservationStatus::released);

  auto committed = stock(3, 2);
  auto res = release(Reservation{"o-1", ReservationStatus::committed, kLines}, "o-1", committed);
  ASSERT_TRUE(res);
  after = applied(committed, *res);
  EXPECT_EQ(after["SKU-A"].on_hand, 5);
  EXPECT_EQ(after["SKU-B"].on_hand, 5);
  EXPECT_TRUE(std::get<c::InventoryReleased>(res->events.at(0)).restocked);
  EXPECT_EQ(res->reservation->status, ReservationStatus::restocked);
}

TEST(Release, BeforeTheOrderWasSeenLeavesATombstone) {
  auto o = release(std::nullopt, "o-1", {});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->reservation->status, ReservationStatus::cancelled_early);
  EXPECT_TRUE(o->events.empty());
}

TEST(Release, NothingToReleaseAfterAFailureOrTwice) {
  for (auto s : {ReservationStatus::failed, ReservationStatus::released,
                 ReservationStatus::restocked, ReservationStatus::cancelled_early}) {
    auto o = release(Reservation{"o-1", s, kLines}, "o-1", stock(5, 5));
    ASSERT_TRUE(o);
    EXPECT_TRUE(o->events.empty()) << to_string(s);
    EXPECT_FALSE(o->reservation) << to_string(s);
  }
}

TEST(UpsertProduct, SetsStockButNeverBelowWhatIsReserved) {
  auto o = upsert_product(std::nullopt, "SKU-N", "New", {500, "GBP"}, 10);
  ASSERT_TRUE(o);
  EXPECT_EQ(o->changed.at(0).on_hand, 10);
  EXPECT_EQ(std::get<c::ProductUpdated>(o->events.at(0)).available, 10);
  Product busy{"SKU-A", "Alpha", {100, "GBP"}, 10, 6};
  EXPECT_EQ(upsert_product(busy, "SKU-A", "Alpha", {100, "GBP"}, 5).error().kind,
            ErrorKind::failed_precondition);
  EXPECT_EQ(upsert_product(busy, "SKU-A", "Alpha", {100, "GBP"}, -1).error().kind,
            ErrorKind::invalid_input);
  auto ok = upsert_product(busy, "SKU-A", "Alpha 2", {150, "GBP"}, 6);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->changed.at(0).reserved, 6);
  EXPECT_EQ(std::get<c::ProductUpdated>(ok->events.at(0)).available, 0);
}

TEST(Catalogue, SeedsTwentyValidProducts) {
  auto cat = default_catalogue();
  EXPECT_GE(cat.size(), 20u);
  for (const auto& p : cat) {
    EXPECT_TRUE(platform::is_sku(p.sku)) << p.sku;
    EXPECT_GT(p.price.amount, 0);
    auto back = product_from_json(to_json(p));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
  }
}

}  // namespace
}  // namespace orderly::services::inventory

// Found by the simulator (seed 0): OrderCancelled before OrderPlaced stores a
// CANCELLED_EARLY reservation, which its own reader then refused ("$.lines:
// is not a known field"), so the late OrderPlaced dead-lettered.
TEST(Reservation, EveryStatusSurvivesItsOwnStoredForm) {
  using orderly::services::inventory::Reservation;
  using orderly::services::inventory::ReservationStatus;
  for (auto status :
       {ReservationStatus::reserved, ReservationStatus::committed, ReservationStatus::released,
        ReservationStatus::restocked, ReservationStatus::cancelled_early}) {
    Reservation r{"order-1", status, {}};
    if (status != ReservationStatus::cancelled_early) r.lines = {{"SKU-A", 2}};
    auto back = orderly::services::inventory::reservation_from_json(
        orderly::services::inventory::to_json(r));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->status, status);
    EXPECT_EQ(back->lines, r.lines);
  }
  // The form written before the fix ("lines": []) still reads.
  auto legacy = orderly::services::inventory::reservation_from_json(
      {{"orderId", "order-1"}, {"status", "CANCELLED_EARLY"}, {"lines", boost::json::array{}}});
  EXPECT_TRUE(legacy) << legacy.error().message;
}
