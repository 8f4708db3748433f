// The flow cache when the system refuses it memory: real refusals, not simulated ones. Each
// test runs in a child process (a gtest death test) that puts an address-space limit
// (RLIMIT_AS) on itself a few MiB above what it uses, then offers the cache more new flows
// than fit. The slab and index come from mmap (common/huge_pages.hpp), which the limit
// refuses; small heap blocks are not touched while it holds.
//
// What must hold: every packet offered is metered or counted as refused for want of memory
// (alloc_dropped_*); a flow once admitted keeps all its packets; the refused ones leave no
// trace; when the limit goes, new flows are admitted again.
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "flow/flow_cache.hpp"

// Under AddressSanitizer (the test build), an allocation the limit refuses returns nothing, as
// it does without it, instead of ending the test.
extern "C" const char* __asan_default_options() { return "allocator_may_return_null=1"; }

namespace netflowd {
namespace {

std::size_t vm_size_bytes() {
  std::ifstream status("/proc/self/status");
  std::string word;
  while (status >> word) {
    if (word == "VmSize:") {
      std::size_t kb = 0;
      status >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

// Limits this process's address space to what it maps now plus `headroom`.
void limit_address_space(std::size_t headroom) {
  rlimit r{};
  ::getrlimit(RLIMIT_AS, &r);
  r.rlim_cur = vm_size_bytes() + headroom;
  if (::setrlimit(RLIMIT_AS, &r) != 0) std::perror("setrlimit");
}

void lift_address_space_limit() {
  rlimit r{};
  ::getrlimit(RLIMIT_AS, &r);
  r.rlim_cur = r.rlim_max;
  ::setrlimit(RLIMIT_AS, &r);
}

enum class Kind { ipv4, ipv6_with_output, ipv4_keyed_by_mac };

// Flow number `i`'s packet (all of a kind have different keys).
MeterInput flow_input(const FlowCache& cache, Kind kind, std::uint32_t i, TimeUs t) {
  ParsedPacket p;
  p.family = kind == Kind::ipv6_with_output ? IpFamily::v6 : IpFamily::v4;
  p.protocol = 17;
  const std::size_t o = kind == Kind::ipv6_with_output ? 12 : 0;
  p.src[0] = kind == Kind::ipv6_with_output ? 0x20 : 10;
  p.src[o + 1] = static_cast<std::uint8_t>(i >> 16);
  p.src[o + 2] = static_cast<std::uint8_t>(i >> 8);
  p.src[o + 3] = static_cast<std::uint8_t>(i);
  p.dst[0] = kind == Kind::ipv6_with_output ? 0x20 : 10;
  p.dst[o + 3] = 1;
  p.src_port = 1000;
  p.dst_port = 53;
  p.ip_length = 100 + i % 7;
  if (kind == Kind::ipv4_keyed_by_mac) {
    p.has_mac = true;
    p.src_mac = {2, 0, 0, 0, 0, static_cast<std::uint8_t>(i)};
  }
  PacketMeta m;
  m.timestamp = t;
  if (kind == Kind::ipv6_with_output) m.out_ifindex = 3;  // first-packet facts: a Rare chunk
  MeterInput in;
  cache.input_of(p, m, in);
  return in;
}

FlowCacheConfig big_config(Kind kind) {
  FlowCacheConfig c;
  c.active_timeout = seconds_to_us(1800);
  c.inactive_timeout = seconds_to_us(1800);
  c.maxflows = 0;
  c.hashsize = 256;
  c.key_options.mac = kind == Kind::ipv4_keyed_by_mac;
  return c;
}

// Runs in the child: offers `offered` new flows two packets each under a limit of `headroom`
// bytes more than mapped, checks the accounting, exits 0 when all of it held.
[[noreturn]] void refuse_and_account(Kind kind, std::uint32_t offered, std::size_t headroom) {
  FlowCache cache(big_config(kind));
  std::vector<FlowRecord> ended;
  ended.reserve(16);
  std::vector<char> admitted(offered, 0);  // allocated before the limit
  std::string failures;
  auto fail = [&failures](const std::string& what) { failures += what + "\n"; };
  std::uint64_t offered_bytes = 0;

  limit_address_space(headroom);
  for (int round = 0; round < 2; ++round) {
    for (std::uint32_t i = 0; i < offered; ++i) {
      const MeterInput in = flow_input(cache, kind, i, seconds_to_us(1) + round);
      offered_bytes += in.ip_length;
      const MeterResult r = cache.meter(in, ended);
      if (round == 0) {
        admitted[i] = r == MeterResult::metered;
      } else if ((r == MeterResult::metered) != (admitted[i] != 0)) {
        // A flow in the cache is always found; a refused one has no entry (and memory
        // stays short).
        fail("flow " + std::to_string(i) + ": second packet " + (admitted[i] ? "refused" : "metered"));
      }
      if (r == MeterResult::dropped_maxflows) fail("a maxflows drop with maxflows=0");
    }
  }
  const FlowCacheStats s = cache.stats();
  std::uint64_t n_admitted = 0;
  for (const char a : admitted) n_admitted += a != 0;
  if (n_admitted == offered) fail("every flow was admitted: the limit did not bite");
  if (n_admitted < 1000) fail("only " + std::to_string(n_admitted) + " flows admitted");
  if (s.packets + s.alloc_dropped_packets != 2ull * offered) fail("packets metered + refused != offered");
  if (s.bytes + s.alloc_dropped_bytes != offered_bytes) fail("bytes metered + refused != offered");
  if (s.packets != 2 * n_admitted) fail("metered packets != 2 x admitted flows");
  if (s.flows_created != n_admitted || cache.size() != n_admitted) fail("flows created/size != admitted flows");
  if (!ended.empty()) fail("flows ended");

  // Every admitted flow comes out whole; no refused one comes out at all.
  std::uint64_t records = 0, packets = 0, bytes = 0;
  cache.drain(FlowEndReason::forced_end, [&](const FlowRecord& r) {
    ++records;
    packets += r.packets;
    bytes += r.bytes;
    if (r.packets != 2) fail("a record of " + std::to_string(r.packets) + " packets");
    if (kind == Kind::ipv6_with_output && r.out_ifindex != 3) fail("output interface lost");
    if (kind == Kind::ipv4_keyed_by_mac && r.key.src_mac[0] != 2) fail("MAC address lost");
  });
  if (records != n_admitted || packets != s.packets || bytes != s.bytes) fail("drained records != metered");

  // Memory back: new flows are admitted again, the refused ones among them.
  lift_address_space_limit();
  for (std::uint32_t i = 0; i < offered; ++i) {
    if (cache.meter(flow_input(cache, kind, i, seconds_to_us(3)), ended) != MeterResult::metered) {
      fail("flow " + std::to_string(i) + " refused with the limit lifted");
      break;
    }
  }
  std::fprintf(stderr, "admitted %llu of %u flows\n%s", static_cast<unsigned long long>(n_admitted), offered,
               failures.c_str());
  std::_Exit(failures.empty() ? 0 : 1);
}

TEST(FlowCacheMemory, NewIpv4FlowsBeyondMemoryAreRefusedAndCounted) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(refuse_and_account(Kind::ipv4, 400'000, 16u << 20), testing::ExitedWithCode(0), "");
}

TEST(FlowCacheMemory, NewIpv6FlowsBeyondMemoryAreRefusedAndCounted) {
  // IPv6 flows also take an address record; these also have an output interface (a Rare
  // chunk): three allocations that can be refused.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(refuse_and_account(Kind::ipv6_with_output, 300'000, 16u << 20), testing::ExitedWithCode(0), "");
}

TEST(FlowCacheMemory, WideEntriesBeyondMemoryAreRefusedAndCounted) {
  // Keyed by MAC address: every chunk of entries has an extension chunk.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(refuse_and_account(Kind::ipv4_keyed_by_mac, 400'000, 16u << 20), testing::ExitedWithCode(0), "");
}

// An index that cannot double fills up to its emergency load (3/4) before new flows are
// refused: with a slab that can grow but an index that cannot, exactly 3/4 of its slots.
[[noreturn]] void index_at_emergency_load() {
  FlowCacheConfig c = big_config(Kind::ipv4);
  c.hashsize = 65536;  // 256 KiB, on a huge page of its own
  FlowCache cache(c);
  std::vector<FlowRecord> ended;
  ended.reserve(16);
  std::string failures;
  // One flow: the first chunk of entries (2 MiB) exists.
  if (cache.meter(flow_input(cache, Kind::ipv4, 0, 1), ended) != MeterResult::metered) failures += "first flow\n";
  // Room for the second chunk (mapped with a huge page to spare, then trimmed: 4 MiB for a
  // moment) but not also for a doubled index (another 4 MiB for a moment).
  limit_address_space(5u << 20);
  std::uint32_t i = 1;
  for (; i < 65536; ++i) {
    if (cache.meter(flow_input(cache, Kind::ipv4, i, 1), ended) != MeterResult::metered) break;
  }
  std::fprintf(stderr, "refused at flow %u; %zu flows, %zu slots, grows %llu\n", i, cache.size(),
               cache.index_capacity(), static_cast<unsigned long long>(cache.stats().index_grows));
  if (cache.index_capacity() != 65536) failures += "the index grew\n";
  if (cache.size() != 49152) failures += "not 3/4 of the slots in use when new flows were first refused\n";
  if (cache.stats().alloc_dropped_packets != 1) failures += "refusals miscounted\n";
  // Flows in the cache are still found at that load.
  for (std::uint32_t k = 0; k < 49152; ++k) {
    if (cache.meter(flow_input(cache, Kind::ipv4, k, 2), ended) != MeterResult::metered) {
      failures += "an admitted flow not found\n";
      break;
    }
  }
  if (cache.stats().flows_created != 49152) failures += "flows created != 49152\n";
  // With memory back, the next new flow doubles the index.
  lift_address_space_limit();
  if (cache.meter(flow_input(cache, Kind::ipv4, 60000, 3), ended) != MeterResult::metered ||
      cache.index_capacity() != 131072) {
    failures += "the index did not grow once memory was back\n";
  }
  std::fprintf(stderr, "%s", failures.c_str());
  std::_Exit(failures.empty() ? 0 : 1);
}

TEST(FlowCacheMemory, IndexThatCannotGrowFillsToItsEmergencyLoad) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(index_at_emergency_load(), testing::ExitedWithCode(0), "");
}

// Reconfiguration that needs memory the system refuses: a hashsize whose index cannot be had
// keeps the old index (everything else applied); key fields whose extensions cannot be had
// change nothing.
[[noreturn]] void reconfigure_without_memory() {
  FlowCacheConfig c = big_config(Kind::ipv4);
  c.hashsize = 65536;
  FlowCache cache(c);
  std::vector<FlowRecord> ended;
  std::string failures;
  for (std::uint32_t i = 0; i < 1000; ++i) (void)cache.meter(flow_input(cache, Kind::ipv4, i, 1), ended);
  limit_address_space(1u << 20);
  FlowCacheConfig bigger = c;
  bigger.hashsize = 1u << 24;  // 64 MiB
  bigger.inactive_timeout = seconds_to_us(99);
  if (cache.reconfigure(bigger) != FlowCache::Reconfigured::index_kept) failures += "hashsize: not index_kept\n";
  if (cache.index_capacity() != 65536 || cache.config().hashsize != 65536) failures += "the index changed\n";
  if (cache.config().inactive_timeout != seconds_to_us(99)) failures += "the timeout was not applied\n";
  FlowCacheConfig mac = c;
  mac.key_options.mac = true;
  mac.active_timeout = seconds_to_us(77);
  cache.flush(ended);
  for (std::uint32_t i = 0; i < 1000; ++i) (void)cache.meter(flow_input(cache, Kind::ipv4, i, 1), ended);
  // The slab has one chunk: its extension (1 MiB from the heap, mmapped) is refused too.
  limit_address_space(0);
  if (cache.reconfigure(mac) != FlowCache::Reconfigured::unchanged) failures += "mac: not unchanged\n";
  if (cache.config().key_options.mac || cache.config().active_timeout != c.active_timeout) {
    failures += "mac: something changed\n";
  }
  // The flows are still there, found by their keys.
  for (std::uint32_t i = 0; i < 1000; ++i) {
    if (cache.meter(flow_input(cache, Kind::ipv4, i, 2), ended) != MeterResult::metered) {
      failures += "a flow lost\n";
      break;
    }
  }
  if (cache.size() != 1000) failures += "size changed\n";
  lift_address_space_limit();
  if (cache.reconfigure(mac) != FlowCache::Reconfigured::applied) failures += "mac with memory: not applied\n";
  std::fprintf(stderr, "%s", failures.c_str());
  std::_Exit(failures.empty() ? 0 : 1);
}

TEST(FlowCacheMemory, ReconfigureWithoutMemoryKeepsWhatItCannotReplace) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(reconfigure_without_memory(), testing::ExitedWithCode(0), "");
}

TEST(FlowCacheMemory, IndexRefusedAtStartIsASetupErrorNamingHashsize) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        limit_address_space(1u << 20);
        FlowCacheConfig c = big_config(Kind::ipv4);
        c.hashsize = 1u << 28;
        try {
          FlowCache cache(c);
        } catch (const SetupError& e) {
          std::fprintf(stderr, "%s\n", e.what());
          std::_Exit(0);
        }
        std::_Exit(1);
      },
      testing::ExitedWithCode(0), "hashsize=268435456: not enough memory for a flow index of 1024 MiB");
}

}  // namespace
}  // namespace netflowd
