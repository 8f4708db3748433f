// firsttouch: what the first write to fresh anonymous memory costs on this machine, in 4 KiB
// pages and in transparent huge pages, for the peer benchmark's report (bench/peers/run.sh).
//
// A meter that opens K flows writes K entries into memory the kernel has to hand over first
// (fault and zero). On bare metal that runs at memory speed; on a virtual machine the host may
// also have to back each page, and one that returns free guest memory to the host (free page
// reporting) makes memory freed by the previous process cost that again. netflowd maps its
// flow tables in huge pages (src/common/huge_pages.hpp); how much of a scaling run's system
// time this is shows here, measured with no flow code at all.
//
//   firsttouch [MB]   (default 96: about what 1M flows take)
//
// Output: one line of key=value pairs on stdout, in GB/s of memory touched for the first time:
//   small       a new mapping in 4 KiB pages (MADV_NOHUGEPAGE)
//   huge        a new mapping in huge pages (MADV_HUGEPAGE), the process's first
//   huge_again  the same size mapped again right after unmapping the first (memory the kernel
//               just got back, as within one long-running process)
// Build: g++ -O2 -std=c++20 firsttouch.cpp (run.sh does it).
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

constexpr std::size_t kHuge = std::size_t{2} << 20;

// GB/s of touching `bytes` of a fresh 2 MiB-aligned mapping once per 4 KiB page.
double touch(std::size_t bytes, int advice) {
  const std::size_t span = bytes + kHuge;
  void* raw = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    std::perror("firsttouch: mmap");
    std::exit(1);
  }
  const auto aligned = (reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1);
  auto* p = reinterpret_cast<volatile std::uint8_t*>(aligned);
  ::madvise(reinterpret_cast<void*>(aligned), bytes, advice);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < bytes; i += 4096) p[i] = 1;
  const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t0;
  ::munmap(raw, span);
  return static_cast<double>(bytes) / 1e9 / d.count();
}

}  // namespace

int main(int argc, char** argv) {
  const long mb = argc > 1 ? std::atol(argv[1]) : 96;
  if (mb <= 0) {
    std::fprintf(stderr, "usage: firsttouch [MB]\n");
    return 2;
  }
  const std::size_t bytes = static_cast<std::size_t>(mb) << 20;
  const double huge = touch(bytes, MADV_HUGEPAGE);
  const double huge_again = touch(bytes, MADV_HUGEPAGE);
  const double small = touch(bytes, MADV_NOHUGEPAGE);
  std::printf("mb=%ld small=%.2f huge=%.2f huge_again=%.2f\n", mb, small, huge, huge_again);
  return 0;
}
