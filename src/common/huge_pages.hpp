// Memory for large tables that are accessed at random (the flow slab and its index).
//
// Allocations of at least half a huge page are mapped 2 MiB-aligned and marked MADV_HUGEPAGE,
// so that transparent huge pages (the Debian default is "madvise") can back them: a random
// lookup in a table of hundreds of megabytes then costs a cache miss, not also a TLB miss and
// a page walk. Smaller ones come from the ordinary heap, and so do those the caller asks to
// keep small (Paging::heap): a mapping is rounded up to whole huge pages, each filled at once
// when first touched, which doubles the memory of a 1 MiB table. Contents start zeroed.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace netflowd {

inline constexpr std::size_t kHugePage = std::size_t{2} << 20;

struct HugeDeleter {
  std::size_t bytes = 0;  // 0: from the heap
  void operator()(void* p) const {
    if (bytes != 0) {
      ::munmap(p, bytes);
    } else {
      std::free(p);
    }
  }
};

// automatic: huge pages from half a huge page on; heap: never; huge: always (a table smaller
// than a huge page that is accessed at random on every packet, where one TLB entry for all of
// it is worth the unused rest of the page).
enum class Paging : std::uint8_t { automatic, heap, huge };

// Zeroed memory for `count` objects of an implicit-lifetime type T.
template <typename T>
std::unique_ptr<T[], HugeDeleter> allocate_table(std::size_t count, Paging paging = Paging::automatic) {
  static_assert(std::is_trivially_default_constructible_v<T> && std::is_trivially_destructible_v<T>);
  const std::size_t bytes = count * sizeof(T);
  if (paging == Paging::heap || (bytes < kHugePage / 2 && paging != Paging::huge)) {
    // Over-aligned types (flow entries are 64-byte aligned) get their alignment here too.
    constexpr std::size_t align = std::max(alignof(T), alignof(std::max_align_t));
    const std::size_t size = (std::max<std::size_t>(bytes, 1) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, size);
    if (p == nullptr) throw std::bad_alloc();
    std::memset(p, 0, size);
    return {static_cast<T*>(p), HugeDeleter{0}};
  }
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  // Map one huge page more than needed and trim, so that the table starts 2 MiB-aligned.
  void* raw = ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<std::uintptr_t>(raw);
  const std::uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned != start) ::munmap(raw, aligned - start);
  const std::uintptr_t end = start + rounded + kHugePage;
  if (end != aligned + rounded) ::munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
  ::madvise(reinterpret_cast<void*>(aligned), rounded, MADV_HUGEPAGE);  // a hint; fine if refused
  return {reinterpret_cast<T*>(aligned), HugeDeleter{rounded}};
}

}  // namespace netflowd
