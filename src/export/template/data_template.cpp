#include "export/template/data_template.hpp"

#include <array>
#include <cstring>
#include <span>

#include "export/information_elements.hpp"

namespace netflowd {
namespace {

constexpr std::uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kUdpLite = 136, kIcmp = 1, kIcmpv6 = 58, kIgmp = 2, kEsp = 50,
                       kAh = 51;

bool is_zero(const std::array<std::uint8_t, 6>& mac) {
  for (auto b : mac) {
    if (b != 0) return false;
  }
  return true;
}

void add(std::vector<TemplateField>& out, const ie::InformationElement& e, FieldKind kind, std::uint8_t index = 0) {
  out.push_back(TemplateField{e.id, e.length, kind, index});
}

}  // namespace

std::uint32_t shape_of(const FlowRecord& r, const TemplateFeatures& features) {
  const FlowKey& k = r.key;
  const bool v6 = k.family == IpFamily::v6;
  std::uint32_t s = 0;
  if (v6) {
    s |= kShapeIpv6;
    if (r.flow_label != 0) s |= kShapeFlowLabel;
    if (r.ipv6_ext != 0) s |= kShapeIpv6Ext;
    if (k.protocol == kIcmpv6) s |= kShapeIcmp;
  } else {
    if (r.ipv4_options != 0) s |= kShapeIpv4Options;
    if (r.src_prefix != 0 || r.dst_prefix != 0) s |= kShapePrefix;
    if (k.protocol == kIcmp) s |= kShapeIcmp;
    if (k.protocol == kIgmp) s |= kShapeIgmp;
  }
  if (k.protocol == kTcp || k.protocol == kUdp || k.protocol == kSctp || k.protocol == kUdpLite) s |= kShapePorts;
  if (r.tcp_options != 0) s |= kShapeTcpOptions;
  if (k.protocol == kEsp || k.protocol == kAh || r.ipsec_spi != 0) s |= kShapeIpsec;
  if (features.mac && !(is_zero(k.src_mac) && is_zero(k.dst_mac))) s |= kShapeMac;
  if (features.vlan && k.vlan[0] != 0) {
    s |= kShapeVlan;
    if (k.vlan[1] != 0) s |= kShapeInnerVlan;
  }
  if ((features.mac || features.vlan) && r.ethertype != 0) s |= kShapeEthertype;
  if (features.mpls_depth > 0 && k.mpls[0] != 0) s |= kShapeMpls;
  if (features.direction) s |= kShapeDirection;
  if (features.physdev) s |= kShapePhysdev;
  if (features.sampler_id != 0) s |= kShapeSampler;
  return s;
}

std::vector<TemplateField> template_fields(std::uint32_t shape, Dialect dialect, const TemplateFeatures& features) {
  using F = FieldKind;
  const bool ipfix = dialect == Dialect::ipfix;
  std::vector<TemplateField> f;
  // 1. address block
  if (shape & kShapeIpv6) {
    add(f, ie::kSourceIPv6Address, F::src_v6);
    add(f, ie::kDestinationIPv6Address, F::dst_v6);
    add(f, ie::kIpNextHopIPv6Address, F::next_hop_v6);
    add(f, ie::kIpVersion, F::ip_version);
    if (shape & kShapeFlowLabel) add(f, ie::kFlowLabelIPv6, F::flow_label);
    if (shape & kShapeIpv6Ext) add(f, ie::kIpv6ExtensionHeaders, F::ipv6_ext);
    // v9 defines one ICMP_TYPE element (32) for both families, and nfdump reads only that one.
    if (shape & kShapeIcmp) add(f, ipfix ? ie::kIcmpTypeCodeIPv6 : ie::kIcmpTypeCodeIPv4, F::icmp_type_code);
  } else {
    add(f, ie::kSourceIPv4Address, F::src_v4);
    add(f, ie::kDestinationIPv4Address, F::dst_v4);
    add(f, ie::kIpNextHopIPv4Address, F::next_hop_v4);
    add(f, ie::kIpVersion, F::ip_version);
    if (shape & kShapeIpv4Options) add(f, ie::kIpv4Options, F::ipv4_options);
    if (shape & kShapePrefix) {
      add(f, ie::kSourceIPv4PrefixLength, F::src_prefix);
      add(f, ie::kDestinationIPv4PrefixLength, F::dst_prefix);
    }
    // In v9 too (upstream: IPFIX only): nfdump reads ICMP type/code only from this element.
    if (shape & kShapeIcmp) add(f, ie::kIcmpTypeCodeIPv4, F::icmp_type_code);
  }
  // 2. L4 block; v9 has no ICMP type/code element, so ICMP travels in the port fields there.
  if (shape & kShapePorts) {
    add(f, ie::kSourceTransportPort, F::src_port);
    add(f, ie::kDestinationTransportPort, F::dst_port);
    add(f, ie::kTcpControlBits, F::tcp_flags);
  } else if (!ipfix && (shape & kShapeIcmp)) {
    add(f, ie::kSourceTransportPort, F::src_port);
    add(f, ie::kDestinationTransportPort, F::dst_port);
  }
  // 3. base block
  add(f, ie::kIngressInterface, F::in_if);
  add(f, ie::kEgressInterface, F::out_if);
  if (shape & kShapePhysdev) {
    add(f, ie::kIngressPhysicalInterface, F::phys_in);
    add(f, ie::kEgressPhysicalInterface, F::phys_out);
  }
  add(f, ie::kPacketDeltaCount, F::packets);
  add(f, ie::kOctetDeltaCount, F::bytes);
  if (ipfix) {
    add(f, ie::kFlowStartMilliseconds, F::first_ms);
    add(f, ie::kFlowEndMilliseconds, F::last_ms);
  } else {
    add(f, ie::kFlowStartSysUpTime, F::first_uptime);
    add(f, ie::kFlowEndSysUpTime, F::last_uptime);
  }
  add(f, ie::kProtocolIdentifier, F::protocol);
  add(f, ie::kIpClassOfService, F::tos);
  if (ipfix) add(f, ie::kFlowEndReason, F::end_reason);
  // 4..11: optional groups
  if (shape & kShapeTcpOptions) add(f, ie::kTcpOptions, F::tcp_options);
  if (shape & kShapeIgmp) add(f, ie::kIgmpType, F::igmp_type);
  if (shape & kShapeIpsec) add(f, ie::kIpSecSPI, F::ipsec_spi);
  if (shape & kShapeMac) {
    add(f, ie::kDestinationMacAddress, F::dst_mac);
    add(f, ie::kSourceMacAddress, F::src_mac);
  }
  if (shape & kShapeVlan) {
    if (ipfix) {
      add(f, ie::kDot1qVlanId, F::vlan_id);
      add(f, ie::kDot1qPriority, F::vlan_prio);
      if (shape & kShapeInnerVlan) {
        add(f, ie::kDot1qCustomerVlanId, F::inner_vlan_id);
        add(f, ie::kDot1qCustomerPriority, F::inner_vlan_prio);
      }
    } else {
      add(f, ie::kVlanId, F::vlan_id);
    }
  }
  if (shape & kShapeEthertype) add(f, ie::kEthernetType, F::ethertype);
  if (shape & kShapeMpls) {
    add(f, ie::kMplsTopLabelTtl, F::mpls_ttl);
    for (std::uint8_t i = 0; i < features.mpls_depth; ++i) {
      f.push_back(TemplateField{static_cast<std::uint16_t>(ie::kMplsLabelStackSection1 + i), 3, F::mpls_label, i});
    }
  }
  if (shape & kShapeDirection) add(f, ie::kFlowDirection, F::direction);
  // 12. the sampler (selector) that selected this flow
  if (shape & kShapeSampler) {
    f.push_back(TemplateField{ipfix ? ie::kSelectorId.id : ie::kSamplerId.id, 1, F::sampler_id, features.sampler_id});
  }
  return f;
}

std::size_t record_length(const std::vector<TemplateField>& fields) {
  std::size_t n = 0;
  for (const auto& f : fields) n += f.length;
  return n;
}

namespace {

// The runs of fields that compile_record() turns into one step, as template_fields() lists them.
struct BlockField {
  FieldKind kind;
  std::uint16_t length;
};
using F = FieldKind;
constexpr BlockField kAddressesV4[] = {{F::src_v4, 4}, {F::dst_v4, 4}, {F::next_hop_v4, 4}, {F::ip_version, 1}};
constexpr BlockField kAddressesV6[] = {{F::src_v6, 16}, {F::dst_v6, 16}, {F::next_hop_v6, 16}, {F::ip_version, 1}};
constexpr BlockField kPortsFlags[] = {{F::src_port, 2}, {F::dst_port, 2}, {F::tcp_flags, 1}};
constexpr BlockField kBaseV9[] = {{F::in_if, 4},        {F::out_if, 4},      {F::packets, 8},  {F::bytes, 8},
                                  {F::first_uptime, 4}, {F::last_uptime, 4}, {F::protocol, 1}, {F::tos, 1}};
constexpr BlockField kBaseIpfix[] = {{F::in_if, 4},    {F::out_if, 4},   {F::packets, 8},
                                     {F::bytes, 8},    {F::first_ms, 8}, {F::last_ms, 8},
                                     {F::protocol, 1}, {F::tos, 1},      {F::end_reason, 1}};

// Whole records of the common shapes (no optional group): address block, ports and flags,
// base block.
template <std::size_t A, std::size_t B, std::size_t C>
constexpr std::array<BlockField, A + B + C> joined(const BlockField (&a)[A], const BlockField (&b)[B],
                                                   const BlockField (&c)[C]) {
  std::array<BlockField, A + B + C> out{};
  std::size_t n = 0;
  for (const BlockField& f : a) out[n++] = f;
  for (const BlockField& f : b) out[n++] = f;
  for (const BlockField& f : c) out[n++] = f;
  return out;
}
constexpr auto kV4PortsV9 = joined(kAddressesV4, kPortsFlags, kBaseV9);
constexpr auto kV4PortsIpfix = joined(kAddressesV4, kPortsFlags, kBaseIpfix);
constexpr auto kV6PortsV9 = joined(kAddressesV6, kPortsFlags, kBaseV9);
constexpr auto kV6PortsIpfix = joined(kAddressesV6, kPortsFlags, kBaseIpfix);

template <std::size_t N>
constexpr std::size_t block_length(const BlockField (&block)[N]) {
  std::size_t n = 0;
  for (const BlockField& b : block) n += b.length;
  return n;
}

bool block_at(const std::vector<TemplateField>& fields, std::size_t at, std::span<const BlockField> block) {
  if (fields.size() - at < block.size()) return false;
  for (std::size_t i = 0; i < block.size(); ++i) {
    if (fields[at + i].kind != block[i].kind || fields[at + i].length != block[i].length) return false;
  }
  return true;
}

std::uint32_t uptime_ms(TimeUs t, const RecordClock& clock) {
  return static_cast<std::uint32_t>(static_cast<std::uint64_t>(us_to_ms(t - clock.boot)));
}

// The blocks' bytes, stored at `p` (claimed by the caller).
using W = ByteWriter;
void store_addresses_v4(std::uint8_t* p, const FlowRecord& r) {
  std::memcpy(p, r.key.src.data(), 4);
  std::memcpy(p + 4, r.key.dst.data(), 4);
  W::store_be(p + 8, std::uint32_t{0});  // next hop: no routing table behind a capture
  p[12] = r.key.family == IpFamily::v6 ? 6 : 4;
}
void store_addresses_v6(std::uint8_t* p, const FlowRecord& r) {
  std::memcpy(p, r.key.src.data(), 16);
  std::memcpy(p + 16, r.key.dst.data(), 16);
  std::memset(p + 32, 0, 16);  // next hop
  p[48] = r.key.family == IpFamily::v6 ? 6 : 4;
}
void store_ports_flags(std::uint8_t* p, const FlowRecord& r) {
  W::store_be(p, r.key.src_port);
  W::store_be(p + 2, r.key.dst_port);
  p[4] = r.tcp_flags;
}
// The first 24 bytes of the base block, the same in both dialects: interfaces and counters.
void store_base_start(std::uint8_t* p, const FlowRecord& r) {
  W::store_be(p, r.key.in_ifindex);
  W::store_be(p + 4, r.out_ifindex);
  W::store_be(p + 8, r.packets);
  W::store_be(p + 16, r.bytes);
}
void store_base_v9(std::uint8_t* p, const FlowRecord& r, const RecordClock& clock) {
  store_base_start(p, r);
  W::store_be(p + 24, uptime_ms(r.first, clock));
  W::store_be(p + 28, uptime_ms(r.last, clock));
  p[32] = r.key.protocol;
  p[33] = r.key.tos;
}
void store_base_ipfix(std::uint8_t* p, const FlowRecord& r) {
  store_base_start(p, r);
  W::store_be(p + 24, static_cast<std::uint64_t>(us_to_ms(r.first)));
  W::store_be(p + 32, static_cast<std::uint64_t>(us_to_ms(r.last)));
  p[40] = r.key.protocol;
  p[41] = r.key.tos;
  p[42] = static_cast<std::uint8_t>(r.end_reason);
}

void write_field(ByteWriter& w, const TemplateField& f, const FlowRecord& r, const RecordClock& clock) {
  const FlowKey& k = r.key;
  switch (f.kind) {
    case FieldKind::src_v4: w.put_bytes(std::span(k.src).first(4)); break;
    case FieldKind::dst_v4: w.put_bytes(std::span(k.dst).first(4)); break;
    case FieldKind::next_hop_v4: w.put_u32(0); break;  // no routing table behind a capture
    case FieldKind::ip_version: w.put_u8(k.family == IpFamily::v6 ? 6 : 4); break;
    case FieldKind::ipv4_options: w.put_u32(msb_first32(r.ipv4_options)); break;
    case FieldKind::src_v6: w.put_bytes(k.src); break;
    case FieldKind::dst_v6: w.put_bytes(k.dst); break;
    case FieldKind::next_hop_v6: w.put_zeros(16); break;
    case FieldKind::flow_label: w.put_u32(r.flow_label); break;
    case FieldKind::ipv6_ext: w.put_u32(msb_first32(r.ipv6_ext)); break;
    case FieldKind::icmp_type_code: w.put_u16(k.dst_port); break;
    case FieldKind::src_port: w.put_u16(k.src_port); break;
    case FieldKind::dst_port: w.put_u16(k.dst_port); break;
    case FieldKind::tcp_flags: w.put_u8(r.tcp_flags); break;
    case FieldKind::in_if: w.put_u32(k.in_ifindex); break;
    case FieldKind::out_if: w.put_u32(r.out_ifindex); break;
    case FieldKind::packets: w.put_u64(r.packets); break;
    case FieldKind::bytes: w.put_u64(r.bytes); break;
    case FieldKind::first_uptime: w.put_u32(uptime_ms(r.first, clock)); break;
    case FieldKind::last_uptime: w.put_u32(uptime_ms(r.last, clock)); break;
    case FieldKind::first_ms: w.put_u64(static_cast<std::uint64_t>(us_to_ms(r.first))); break;
    case FieldKind::last_ms: w.put_u64(static_cast<std::uint64_t>(us_to_ms(r.last))); break;
    case FieldKind::protocol: w.put_u8(k.protocol); break;
    case FieldKind::tos: w.put_u8(k.tos); break;
    case FieldKind::end_reason: w.put_u8(static_cast<std::uint8_t>(r.end_reason)); break;
    case FieldKind::tcp_options: w.put_u64(msb_first64(r.tcp_options)); break;
    case FieldKind::igmp_type: w.put_u8(static_cast<std::uint8_t>(k.dst_port)); break;
    case FieldKind::ipsec_spi: w.put_u32(r.ipsec_spi); break;
    case FieldKind::dst_mac: w.put_bytes(k.dst_mac); break;
    case FieldKind::src_mac: w.put_bytes(k.src_mac); break;
    case FieldKind::vlan_id: w.put_u16(k.vlan[0] & 0x0fff); break;
    case FieldKind::vlan_prio: w.put_u8(static_cast<std::uint8_t>(k.vlan[0] >> 13)); break;
    case FieldKind::inner_vlan_id: w.put_u16(k.vlan[1] & 0x0fff); break;
    case FieldKind::inner_vlan_prio: w.put_u8(static_cast<std::uint8_t>(k.vlan[1] >> 13)); break;
    case FieldKind::ethertype: w.put_u16(r.ethertype); break;
    case FieldKind::mpls_ttl: w.put_u8(static_cast<std::uint8_t>(k.mpls[0])); break;
    case FieldKind::mpls_label: {
      // label (20 bits), traffic class (3), bottom-of-stack (1): the entry without its TTL
      const std::uint32_t entry = f.index < k.mpls.size() ? k.mpls[f.index] : 0;
      w.put_u8(static_cast<std::uint8_t>(entry >> 24));
      w.put_u8(static_cast<std::uint8_t>(entry >> 16));
      w.put_u8(static_cast<std::uint8_t>(entry >> 8));
      break;
    }
    case FieldKind::direction: w.put_u8(static_cast<std::uint8_t>(r.direction)); break;
    case FieldKind::src_prefix: w.put_u8(r.src_prefix); break;
    case FieldKind::sampler_id: w.put_u8(f.index); break;
    // The bridge port if the packet was bridged, else the ordinary interface (upstream).
    case FieldKind::phys_in: w.put_u32(r.phys_in_ifindex != 0 ? r.phys_in_ifindex : k.in_ifindex); break;
    case FieldKind::phys_out: w.put_u32(r.phys_out_ifindex != 0 ? r.phys_out_ifindex : r.out_ifindex); break;
    case FieldKind::dst_prefix: w.put_u8(r.dst_prefix); break;
  }
}

}  // namespace

std::vector<RecordOp> compile_record(const std::vector<TemplateField>& fields, bool blocks) {
  struct Block {
    RecordStep step;
    std::span<const BlockField> fields;
  };
  // Whole common records first: one step, one dispatch per record.
  static constexpr Block kBlocks[] = {
      {RecordStep::v4_ports_v9, kV4PortsV9},    {RecordStep::v4_ports_ipfix, kV4PortsIpfix},
      {RecordStep::v6_ports_v9, kV6PortsV9},    {RecordStep::v6_ports_ipfix, kV6PortsIpfix},
      {RecordStep::addresses_v4, kAddressesV4}, {RecordStep::addresses_v6, kAddressesV6},
      {RecordStep::ports_flags, kPortsFlags},   {RecordStep::base_v9, kBaseV9},
      {RecordStep::base_ipfix, kBaseIpfix}};
  std::vector<RecordOp> program;
  for (std::size_t i = 0; i < fields.size();) {
    const auto at = static_cast<std::uint8_t>(i);
    const Block* found = nullptr;
    for (const Block& b : kBlocks) {
      if (blocks && block_at(fields, i, b.fields)) {
        found = &b;
        break;
      }
    }
    program.push_back({found != nullptr ? found->step : RecordStep::field, at});
    i += found != nullptr ? found->fields.size() : 1;
  }
  return program;
}

void write_data_record(ByteWriter& w, const std::vector<TemplateField>& fields, const std::vector<RecordOp>& program,
                       const FlowRecord& r, const RecordClock& clock) {
  // Claims the step's bytes, then stores them at fixed offsets.
  auto put = [&w](std::size_t length, auto&& store) {
    std::uint8_t* p = w.claim(length);
    if (p == nullptr) return false;
    store(p);
    return true;
  };
  constexpr std::size_t v4 = block_length(kAddressesV4), v6 = block_length(kAddressesV6),
                        ports = block_length(kPortsFlags), v9 = block_length(kBaseV9), ipfix = block_length(kBaseIpfix);
  for (const RecordOp op : program) {
    bool ok = true;
    switch (op.step) {
      case RecordStep::field: write_field(w, fields[op.field], r, clock); break;
      case RecordStep::addresses_v4: ok = put(v4, [&](std::uint8_t* p) { store_addresses_v4(p, r); }); break;
      case RecordStep::addresses_v6: ok = put(v6, [&](std::uint8_t* p) { store_addresses_v6(p, r); }); break;
      case RecordStep::ports_flags: ok = put(ports, [&](std::uint8_t* p) { store_ports_flags(p, r); }); break;
      case RecordStep::base_v9: ok = put(v9, [&](std::uint8_t* p) { store_base_v9(p, r, clock); }); break;
      case RecordStep::base_ipfix: ok = put(ipfix, [&](std::uint8_t* p) { store_base_ipfix(p, r); }); break;
      case RecordStep::v4_ports_v9:
        ok = put(v4 + ports + v9, [&](std::uint8_t* p) {
          store_addresses_v4(p, r);
          store_ports_flags(p + v4, r);
          store_base_v9(p + v4 + ports, r, clock);
        });
        break;
      case RecordStep::v4_ports_ipfix:
        ok = put(v4 + ports + ipfix, [&](std::uint8_t* p) {
          store_addresses_v4(p, r);
          store_ports_flags(p + v4, r);
          store_base_ipfix(p + v4 + ports, r);
        });
        break;
      case RecordStep::v6_ports_v9:
        ok = put(v6 + ports + v9, [&](std::uint8_t* p) {
          store_addresses_v6(p, r);
          store_ports_flags(p + v6, r);
          store_base_v9(p + v6 + ports, r, clock);
        });
        break;
      case RecordStep::v6_ports_ipfix:
        ok = put(v6 + ports + ipfix, [&](std::uint8_t* p) {
          store_addresses_v6(p, r);
          store_ports_flags(p + v6, r);
          store_base_ipfix(p + v6 + ports, r);
        });
        break;
    }
    if (!ok) return;
  }
}

}  // namespace netflowd
