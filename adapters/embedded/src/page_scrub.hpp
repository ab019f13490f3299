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
// Zeroes that unallocated space and each freeblock's body (its 4-byte link and
// size stay). Returns whether a byte changed, or nullopt when the header does
// not describe a b-tree page that fits in `usable` bytes: then the caller must
// write nothing back. Fragments (at most 3 bytes each, between cells) are left.
inline std::optional<bool> scrub_page(unsigned char* page, std::size_t hdr, std::size_t usable) {
  auto get2 = [&](std::size_t at) {
    return (static_cast<std::size_t>(page[at]) << 8) | static_cast<std::size_t>(page[at + 1]);
  };
  if (hdr + 12 > usable) return std::nullopt;
  const unsigned type = page[hdr];
  std::size_t header_size = 0;
  if (type == 2 || type == 5)
    header_size = 12;  // interior: the right-most child follows
  else if (type == 10 || type == 13)
    header_size = 8;
  else
    return std::nullopt;
  const std::size_t cells = get2(hdr + 3);
  std::size_t content = get2(hdr + 5);
  if (content == 0) content = 65536;
  const std::size_t pointers_end = hdr + header_size + 2 * cells;
  if (pointers_end > content || content > usable) return std::nullopt;
  // Check the freeblock chain (ascending, inside the content area) before
  // changing anything.
  std::size_t at = get2(hdr + 1);
  std::size_t floor = content;
  for (; at != 0; at = get2(at)) {
    if (at < floor || at + 4 > usable) return std::nullopt;
    const std::size_t size = get2(at + 2);
    if (size < 4 || at + size > usable) return std::nullopt;
    floor = at + size;
  }
  bool changed = false;
  auto zero = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to && !changed; ++i) changed = page[i] != 0;
    std::memset(page + from, 0, to - from);
  };
  zero(pointers_end, content);
  for (at = get2(hdr + 1); at != 0; at = get2(at)) zero(at + 4, at + get2(at + 2));
  return changed;
}

}  // namespace orderly::adapters::embedded
