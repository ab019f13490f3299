// Zeroing what no cell owns on a SQLite b-tree page (private to
// adapters/embedded/src): Db::purge_erased() over a whole file, and the VFS
// shim over each page a checkpoint writes into a database file.
#pragma once

#include <cstddef>
#include <cstring>
#include <optional>

namespace orderly::adapters::embedded {

// SQLite's file format, section 1.6: a b-tree page is its header (at byte 100
// on page 1, after the file header; 8 bytes on a leaf, 12 on an interior
// page), the cell pointer array, unallocated space, and the cell content area
// in which deleted cells become freeblocks. SQLite zeroes a deleted cell with
// secure_delete on, but when it rebuilds a page (rebuildPage, as a rebalance
// does) it leaves the unallocated space below the new content area as it was:
// bytes of cells that were there before (docs/adr/0017).
//
// Calls `f(from, to)` for each byte range no cell owns: that unallocated
// space, and each freeblock's body (its 4-byte link and size are owned).
// Returns false, having called nothing, when the header does not describe a
// b-tree page that fits in `usable` bytes. Fragments (at most 3 bytes each,
// between cells) are not found.
template <class F>
bool for_each_unowned(const unsigned char* page, std::size_t hdr, std::size_t usable, F&& f) {
  auto get2 = [&](std::size_t at) {
    return (static_cast<std::size_t>(page[at]) << 8) | static_cast<std::size_t>(page[at + 1]);
  };
  if (hdr + 12 > usable) return false;
  const unsigned type = page[hdr];
  std::size_t header_size = 0;
  if (type == 2 || type == 5)
    header_size = 12;  // interior: the right-most child follows
  else if (type == 10 || type == 13)
    header_size = 8;
  else
    return false;
  const std::size_t cells = get2(hdr + 3);
  std::size_t content = get2(hdr + 5);
  if (content == 0) content = 65536;
  const std::size_t pointers_end = hdr + header_size + 2 * cells;
  if (pointers_end > content || content > usable) return false;
  // The freeblock chain (ascending, inside the content area), checked whole
  // before any range is reported.
  std::size_t floor = content;
  for (std::size_t at = get2(hdr + 1); at != 0; at = get2(at)) {
    if (at < floor || at + 4 > usable) return false;
    const std::size_t size = get2(at + 2);
    if (size < 4 || at + size > usable) return false;
    floor = at + size;
  }
  f(pointers_end, content);
  for (std::size_t at = get2(hdr + 1); at != 0; at = get2(at)) f(at + 4, at + get2(at + 2));
  return true;
}

// Whether a b-tree page holds a nonzero byte where no cell is (nullopt: not
// a b-tree page that fits, see for_each_unowned).
inline std::optional<bool> has_unowned_bytes(const unsigned char* page, std::size_t hdr,
                                             std::size_t usable) {
  bool found = false;
  const bool ok = for_each_unowned(page, hdr, usable, [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to && !found; ++i) found = page[i] != 0;
  });
  if (!ok) return std::nullopt;
  return found;
}

// Zeroes what no cell owns on a b-tree page. Returns whether a byte changed,
// or nullopt (and changes nothing) when it is not a b-tree page that fits.
inline std::optional<bool> scrub_page(unsigned char* page, std::size_t hdr, std::size_t usable) {
  auto found = has_unowned_bytes(page, hdr, usable);
  if (!found || !*found) return found;
  for_each_unowned(page, hdr, usable, [&](std::size_t from, std::size_t to) {
    std::memset(page + from, 0, to - from);
  });
  return true;
}

}  // namespace orderly::adapters::embedded
