// Data templates built from the reference's building blocks (section 2.5), in its order:
// address block, L4 block, base block, tcpOptions, igmpType, ipSecSPI, MAC, VLAN,
// ethernetType, MPLS, flowDirection.
//
// A record's *shape* is the set of optional blocks it needs; every distinct shape gets its own
// template id. Which optional groups may appear at all is configured (TemplateFeatures), so
// changing the configuration yields new shapes and therefore new template ids.
#pragma once

#include <cstdint>
#include <vector>

#include "common/byte_writer.hpp"
#include "export/template/dialect.hpp"
#include "flow/flow_record.hpp"

namespace netflowd {

struct TemplateFeatures {
  bool mac = false;             // destinationMacAddress, sourceMacAddress (+ ethernetType)
  bool vlan = false;            // v9 vlanId; IPFIX dot1q ids and priorities (+ ethernetType)
  bool direction = false;       // flowDirection
  bool physdev = false;         // ingress/egressPhysicalInterface (bridge ports)
  std::uint8_t mpls_depth = 0;  // mplsTopLabelTTL + this many label stack sections (0 = none)
  std::uint8_t sampler_id = 0;  // != 0: v9 samplerId / IPFIX selectorId with this value
};

// What a record's value for a field is computed from.
enum class FieldKind : std::uint8_t {
  src_v4,
  dst_v4,
  next_hop_v4,
  ip_version,
  ipv4_options,
  src_v6,
  dst_v6,
  next_hop_v6,
  flow_label,
  ipv6_ext,
  icmp_type_code,
  src_port,
  dst_port,
  tcp_flags,
  in_if,
  out_if,
  packets,
  bytes,
  first_uptime,
  last_uptime,
  first_ms,
  last_ms,
  protocol,
  tos,
  end_reason,
  tcp_options,
  igmp_type,
  ipsec_spi,
  dst_mac,
  src_mac,
  vlan_id,
  vlan_prio,
  inner_vlan_id,
  inner_vlan_prio,
  ethertype,
  mpls_ttl,
  mpls_label,
  direction,
  src_prefix,
  dst_prefix,
  sampler_id,
  phys_in,
  phys_out,
};

struct TemplateField {
  std::uint16_t id;
  std::uint16_t length;
  FieldKind kind;
  std::uint8_t index = 0;  // which MPLS label stack entry
};

// Bits of a template shape.
enum ShapeBit : std::uint32_t {
  kShapeIpv6 = 1u << 0,
  kShapeIpv4Options = 1u << 1,
  kShapeFlowLabel = 1u << 2,
  kShapeIpv6Ext = 1u << 3,
  kShapeIcmp = 1u << 4,
  kShapePorts = 1u << 5,
  kShapeTcpOptions = 1u << 6,
  kShapeIgmp = 1u << 7,
  kShapeIpsec = 1u << 8,
  kShapeMac = 1u << 9,
  kShapeVlan = 1u << 10,
  kShapeInnerVlan = 1u << 11,
  kShapeEthertype = 1u << 12,
  kShapeMpls = 1u << 13,
  kShapeDirection = 1u << 14,
  kShapePrefix = 1u << 15,
  kShapeSampler = 1u << 16,
  kShapePhysdev = 1u << 17,
};

std::uint32_t shape_of(const FlowRecord& r, const TemplateFeatures& features);

// Bit n of a "1 << n" set becomes bit n counted from the most significant bit, the numbering
// of RFC 5102's bit-field elements (option/header number X is bit X, bit 0 first on the wire):
// the bits reversed, in log2(width) swaps and a byte swap (a loop over the bits cost ~250
// instructions per record with TCP options).
inline std::uint32_t msb_first32(std::uint32_t v) {
  v = ((v >> 1) & 0x55555555u) | ((v & 0x55555555u) << 1);
  v = ((v >> 2) & 0x33333333u) | ((v & 0x33333333u) << 2);
  v = ((v >> 4) & 0x0f0f0f0fu) | ((v & 0x0f0f0f0fu) << 4);
  return __builtin_bswap32(v);
}
inline std::uint64_t msb_first64(std::uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
  return __builtin_bswap64(v);
}

std::vector<TemplateField> template_fields(std::uint32_t shape, Dialect dialect, const TemplateFeatures& features);

// Times a record needs besides its own: the zero of the v9 sysUptime clock.
struct RecordClock {
  TimeUs boot = 0;
};

// A template's record layout compiled for writing. Runs of fields that data templates carry
// together (the address block of either family, ports and TCP flags, the base block of each
// dialect) are written as one step each, with one bounds check and stores at fixed offsets;
// every other field is a step of its own. Writing field by field dispatched on every field's
// kind, and those indirect jumps, mispredicted, were most of the cost of a record. The
// records of the common shapes (TCP, UDP, SCTP, UDP-Lite without any optional group) are a
// single step, all three blocks, so a record of them takes one dispatch instead of three
// (BM_ExportEncode, v9 and IPFIX: 1.08-1.11x). Templates have fewer than 256 fields (at most
// about 40), so a field's number fits RecordOp::field.
enum class RecordStep : std::uint8_t {
  field,
  addresses_v4,
  addresses_v6,
  ports_flags,
  base_v9,
  base_ipfix,
  v4_ports_v9,  // addresses_v4, ports_flags, base_v9
  v4_ports_ipfix,
  v6_ports_v9,
  v6_ports_ipfix,
};
struct RecordOp {
  RecordStep step;
  std::uint8_t field;  // the first field of the step (the field of a RecordStep::field)
};
// `blocks` false: one step per field (the plain interpretation, for comparison).
std::vector<RecordOp> compile_record(const std::vector<TemplateField>& fields, bool blocks = true);

void write_data_record(ByteWriter& w, const std::vector<TemplateField>& fields, const std::vector<RecordOp>& program,
                       const FlowRecord& r, const RecordClock& clock);

std::size_t record_length(const std::vector<TemplateField>& fields);

}  // namespace netflowd
