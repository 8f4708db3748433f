// Compiled record programs (compile_record): the steps that write runs of fields at once give
// exactly the bytes of writing the same template field by field, for every shape and dialect.
#include "export/template/data_template.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace netflowd {
namespace {

// A record with every field set to something, so that a field written from the wrong member,
// or at the wrong offset, shows.
FlowRecord random_record(std::mt19937_64& rng, bool v6) {
  auto byte = [&rng] { return static_cast<std::uint8_t>(rng()); };
  FlowRecord r;
  FlowKey& k = r.key;
  k.family = v6 ? IpFamily::v6 : IpFamily::v4;
  for (std::size_t i = 0; i < (v6 ? 16u : 4u); ++i) {
    k.src[i] = byte();
    k.dst[i] = byte();
  }
  k.src_port = static_cast<std::uint16_t>(rng());
  k.dst_port = static_cast<std::uint16_t>(rng());
  k.in_ifindex = static_cast<std::uint32_t>(rng());
  k.vlan = {static_cast<std::uint16_t>(rng()), static_cast<std::uint16_t>(rng())};
  k.protocol = byte();
  k.tos = byte();
  for (auto& m : k.mpls) m = static_cast<std::uint32_t>(rng());
  for (auto& b : k.src_mac) b = byte();
  for (auto& b : k.dst_mac) b = byte();
  r.packets = rng();
  r.bytes = rng();
  r.first = static_cast<TimeUs>(rng() >> 20);
  r.last = r.first + static_cast<TimeUs>(rng() >> 40);
  r.out_ifindex = static_cast<std::uint32_t>(rng());
  r.phys_in_ifindex = static_cast<std::uint32_t>(rng());
  r.phys_out_ifindex = static_cast<std::uint32_t>(rng());
  r.ipv4_options = static_cast<std::uint32_t>(rng());
  r.tcp_options = rng();
  r.ipv6_ext = static_cast<std::uint32_t>(rng());
  r.flow_label = static_cast<std::uint32_t>(rng() & 0xfffff);
  r.ipsec_spi = static_cast<std::uint32_t>(rng());
  r.ethertype = static_cast<std::uint16_t>(rng());
  r.tcp_flags = byte();
  r.src_prefix = byte();
  r.dst_prefix = byte();
  r.end_reason = static_cast<FlowEndReason>(1 + rng() % 5);
  r.direction = static_cast<FlowDirection>(rng() % 2);
  return r;
}

std::vector<std::uint8_t> write(const std::vector<TemplateField>& fields, const std::vector<RecordOp>& program,
                                const FlowRecord& r, const RecordClock& clock) {
  std::vector<std::uint8_t> buf(record_length(fields));
  ByteWriter w{buf};
  write_data_record(w, fields, program, r, clock);
  EXPECT_FALSE(w.failed());
  EXPECT_EQ(w.size(), buf.size()) << "a record fills exactly its template's length";
  return buf;
}

TEST(CompiledRecord, SameBytesAsFieldByField) {
  std::mt19937_64 rng(7);
  const RecordClock clock{static_cast<TimeUs>(rng() >> 24)};
  TemplateFeatures all;
  all.mac = all.vlan = all.direction = all.physdev = true;
  all.mpls_depth = 3;
  all.sampler_id = 2;
  int shapes = 0;
  for (const Dialect dialect : {Dialect::netflow9, Dialect::ipfix}) {
    for (const TemplateFeatures& features : {TemplateFeatures{}, all}) {
      // Every combination of the shape bits that change the field list's beginning and middle,
      // with a random choice of the rest.
      for (std::uint32_t low = 0; low < (1u << 9); ++low) {
        const std::uint32_t shape = low | (static_cast<std::uint32_t>(rng()) & ~((1u << 9) - 1) & ((1u << 18) - 1));
        const std::vector<TemplateField> fields = template_fields(shape, dialect, features);
        const std::vector<RecordOp> compiled = compile_record(fields);
        const std::vector<RecordOp> plain = compile_record(fields, false);
        ASSERT_EQ(plain.size(), fields.size());
        EXPECT_LE(compiled.size(), plain.size());
        const FlowRecord r = random_record(rng, (shape & kShapeIpv6) != 0);
        ASSERT_EQ(write(fields, compiled, r, clock), write(fields, plain, r, clock))
            << "shape " << std::hex << shape << " dialect " << static_cast<int>(dialect);
        ++shapes;
      }
    }
  }
  EXPECT_EQ(shapes, 4 * 512);
}

// The common records are one step: v9 IPv4 TCP/UDP is address block, ports and flags, base
// block at once; IPFIX and IPv6 likewise. Optional groups follow as steps of their own.
TEST(CompiledRecord, CommonShapesAreBlocks) {
  const TemplateFeatures none;
  auto steps = [&](std::uint32_t shape, Dialect d) {
    std::vector<RecordStep> out;
    for (const RecordOp& op : compile_record(template_fields(shape, d, none))) out.push_back(op.step);
    return out;
  };
  using S = RecordStep;
  EXPECT_EQ(steps(kShapePorts, Dialect::netflow9), (std::vector<S>{S::v4_ports_v9}));
  EXPECT_EQ(steps(kShapePorts, Dialect::ipfix), (std::vector<S>{S::v4_ports_ipfix}));
  EXPECT_EQ(steps(kShapeIpv6 | kShapePorts, Dialect::netflow9), (std::vector<S>{S::v6_ports_v9}));
  EXPECT_EQ(steps(kShapeIpv6 | kShapePorts, Dialect::ipfix), (std::vector<S>{S::v6_ports_ipfix}));
  EXPECT_EQ(steps(kShapePorts | kShapeTcpOptions, Dialect::netflow9), (std::vector<S>{S::v4_ports_v9, S::field}));
  // ICMP has no ports block: the address block, its type/code field, the base block.
  EXPECT_EQ(steps(kShapeIcmp, Dialect::ipfix), (std::vector<S>{S::addresses_v4, S::field, S::base_ipfix}));
  EXPECT_EQ(steps(kShapeIpv6 | kShapeFlowLabel | kShapePorts, Dialect::netflow9),
            (std::vector<S>{S::addresses_v6, S::field, S::ports_flags, S::base_v9}));
}

// RFC 5102 bit numbering: bit n of the set becomes bit n from the most significant end.
TEST(MsbFirst, ReversesTheBits) {
  EXPECT_EQ(msb_first32(1u), 0x80000000u);
  EXPECT_EQ(msb_first32(0x80000000u), 1u);
  EXPECT_EQ(msb_first64(1u), 0x8000000000000000ull);
  EXPECT_EQ(msb_first64(0x6u), 0x6000000000000000ull);  // options 1 and 2
  std::mt19937_64 rng(11);
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rng();
    std::uint64_t want64 = 0;
    std::uint32_t want32 = 0;
    for (unsigned n = 0; n < 64; ++n) {
      if ((v >> n) & 1u) want64 |= std::uint64_t{1} << (63 - n);
      if (n < 32 && ((v >> n) & 1u)) want32 |= 1u << (31 - n);
    }
    ASSERT_EQ(msb_first64(v), want64) << std::hex << v;
    ASSERT_EQ(msb_first32(static_cast<std::uint32_t>(v)), want32) << std::hex << v;
  }
}

// A record that does not fit its buffer writes what fits and reports it, as field by field.
TEST(CompiledRecord, ShortBufferFails) {
  std::mt19937_64 rng(3);
  const std::vector<TemplateField> fields = template_fields(kShapePorts, Dialect::netflow9, {});
  const FlowRecord r = random_record(rng, false);
  std::vector<std::uint8_t> buf(record_length(fields) - 1);
  ByteWriter w{buf};
  write_data_record(w, fields, compile_record(fields), r, RecordClock{});
  EXPECT_TRUE(w.failed());
}

}  // namespace
}  // namespace netflowd
