// The information elements netflowd exports: one table, shared by NetFlow v9 and IPFIX.
//
// Ids are the IANA IPFIX registry's (NetFlow v9 field types 1..127 use the same numbers, and
// v9 collectors decode the IPFIX ids above that the same way). Lengths are what netflowd puts
// on the wire; where upstream used reduced sizes that lose information (32-bit counters,
// 16-bit ifIndex) netflowd uses the full size (reference: deliberate differences).
#pragma once

#include <cstdint>
#include <string_view>

namespace netflowd::ie {

struct InformationElement {
  std::uint16_t id;
  std::uint16_t length;
  std::string_view name;
};

// Flow keys and addresses (RFC 7012 / IANA registry)
inline constexpr InformationElement kOctetDeltaCount{1, 8, "octetDeltaCount"};
inline constexpr InformationElement kPacketDeltaCount{2, 8, "packetDeltaCount"};
inline constexpr InformationElement kProtocolIdentifier{4, 1, "protocolIdentifier"};
inline constexpr InformationElement kIpClassOfService{5, 1, "ipClassOfService"};
inline constexpr InformationElement kTcpControlBits{6, 1, "tcpControlBits"};  // reduced size: 8 flag bits
inline constexpr InformationElement kSourceTransportPort{7, 2, "sourceTransportPort"};
inline constexpr InformationElement kSourceIPv4Address{8, 4, "sourceIPv4Address"};
inline constexpr InformationElement kSourceIPv4PrefixLength{9, 1, "sourceIPv4PrefixLength"};
inline constexpr InformationElement kIngressInterface{10, 4, "ingressInterface"};
inline constexpr InformationElement kDestinationTransportPort{11, 2, "destinationTransportPort"};
inline constexpr InformationElement kDestinationIPv4Address{12, 4, "destinationIPv4Address"};
inline constexpr InformationElement kDestinationIPv4PrefixLength{13, 1, "destinationIPv4PrefixLength"};
inline constexpr InformationElement kEgressInterface{14, 4, "egressInterface"};
inline constexpr InformationElement kIpNextHopIPv4Address{15, 4, "ipNextHopIPv4Address"};
inline constexpr InformationElement kFlowEndSysUpTime{21, 4, "flowEndSysUpTime"};      // v9 LAST_SWITCHED
inline constexpr InformationElement kFlowStartSysUpTime{22, 4, "flowStartSysUpTime"};  // v9 FIRST_SWITCHED
inline constexpr InformationElement kSourceIPv6Address{27, 16, "sourceIPv6Address"};
inline constexpr InformationElement kDestinationIPv6Address{28, 16, "destinationIPv6Address"};
inline constexpr InformationElement kFlowLabelIPv6{31, 4, "flowLabelIPv6"};
inline constexpr InformationElement kIcmpTypeCodeIPv4{32, 2, "icmpTypeCodeIPv4"};
inline constexpr InformationElement kIgmpType{33, 1, "igmpType"};
inline constexpr InformationElement kSamplingInterval{34, 4, "samplingInterval"};
inline constexpr InformationElement kSamplingAlgorithm{35, 1, "samplingAlgorithm"};
inline constexpr InformationElement kExportedOctetTotalCount{40, 8, "exportedOctetTotalCount"};
inline constexpr InformationElement kExportedMessageTotalCount{41, 8, "exportedMessageTotalCount"};
inline constexpr InformationElement kExportedFlowRecordTotalCount{42, 8, "exportedFlowRecordTotalCount"};
inline constexpr InformationElement kSamplerId{48, 1, "samplerId"};
inline constexpr InformationElement kSamplerMode{49, 1, "samplerMode"};
inline constexpr InformationElement kSamplerRandomInterval{50, 2, "samplerRandomInterval"};
inline constexpr InformationElement kSourceMacAddress{56, 6, "sourceMacAddress"};
inline constexpr InformationElement kVlanId{58, 2, "vlanId"};
inline constexpr InformationElement kIpVersion{60, 1, "ipVersion"};
inline constexpr InformationElement kFlowDirection{61, 1, "flowDirection"};
inline constexpr InformationElement kIpNextHopIPv6Address{62, 16, "ipNextHopIPv6Address"};
inline constexpr InformationElement kIpv6ExtensionHeaders{64, 4, "ipv6ExtensionHeaders"};
inline constexpr std::uint16_t kMplsLabelStackSection1 = 70;  // 70..79: sections 1..10, 3 bytes each
inline constexpr InformationElement kDestinationMacAddress{80, 6, "destinationMacAddress"};
inline constexpr InformationElement kInterfaceName{82, 16, "interfaceName"};
inline constexpr InformationElement kInterfaceDescription{83, 32, "interfaceDescription"};
inline constexpr InformationElement kFlowEndReason{136, 1, "flowEndReason"};
inline constexpr InformationElement kIcmpTypeCodeIPv6{139, 2, "icmpTypeCodeIPv6"};
inline constexpr InformationElement kExportingProcessId{144, 4, "exportingProcessId"};
inline constexpr InformationElement kObservationDomainId{149, 4, "observationDomainId"};
inline constexpr InformationElement kFlowStartMilliseconds{152, 8, "flowStartMilliseconds"};
inline constexpr InformationElement kFlowEndMilliseconds{153, 8, "flowEndMilliseconds"};
inline constexpr InformationElement kSystemInitTimeMilliseconds{160, 8, "systemInitTimeMilliseconds"};
inline constexpr InformationElement kObservedFlowTotalCount{163, 8, "observedFlowTotalCount"};
inline constexpr InformationElement kIgnoredPacketTotalCount{164, 8, "ignoredPacketTotalCount"};
inline constexpr InformationElement kIgnoredOctetTotalCount{165, 8, "ignoredOctetTotalCount"};
inline constexpr InformationElement kNotSentFlowTotalCount{166, 8, "notSentFlowTotalCount"};
inline constexpr InformationElement kNotSentPacketTotalCount{167, 8, "notSentPacketTotalCount"};
inline constexpr InformationElement kNotSentOctetTotalCount{168, 8, "notSentOctetTotalCount"};
inline constexpr InformationElement kMplsTopLabelTtl{200, 1, "mplsTopLabelTTL"};
inline constexpr InformationElement kIpv4Options{208, 4, "ipv4Options"};
inline constexpr InformationElement kTcpOptions{209, 8, "tcpOptions"};
inline constexpr InformationElement kDot1qVlanId{243, 2, "dot1qVlanId"};
inline constexpr InformationElement kDot1qPriority{244, 1, "dot1qPriority"};
inline constexpr InformationElement kDot1qCustomerVlanId{245, 2, "dot1qCustomerVlanId"};
inline constexpr InformationElement kDot1qCustomerPriority{246, 1, "dot1qCustomerPriority"};
inline constexpr InformationElement kIngressPhysicalInterface{252, 4, "ingressPhysicalInterface"};
inline constexpr InformationElement kEgressPhysicalInterface{253, 4, "egressPhysicalInterface"};
inline constexpr InformationElement kEthernetType{256, 2, "ethernetType"};
inline constexpr InformationElement kIpSecSPI{295, 4, "ipSecSPI"};
// NAT events (reference §4.1)
inline constexpr InformationElement kPostNatSourceIPv4Address{225, 4, "postNATSourceIPv4Address"};
inline constexpr InformationElement kPostNatDestinationIPv4Address{226, 4, "postNATDestinationIPv4Address"};
inline constexpr InformationElement kPostNaptSourceTransportPort{227, 2, "postNAPTSourceTransportPort"};
inline constexpr InformationElement kPostNaptDestinationTransportPort{228, 2, "postNAPTDestinationTransportPort"};
inline constexpr InformationElement kNatEvent{230, 1, "natEvent"};
inline constexpr InformationElement kObservationTimeMilliseconds{323, 8, "observationTimeMilliseconds"};
inline constexpr InformationElement kObservationDomainName{300, 32, "observationDomainName"};
inline constexpr InformationElement kSelectorIdTotalPktsObserved{318, 8, "selectorIdTotalPktsObserved"};
inline constexpr InformationElement kSelectorIdTotalPktsSelected{319, 8, "selectorIdTotalPktsSelected"};
inline constexpr InformationElement kSelectorIdTotalFlowsObserved{394, 8, "selectorIDTotalFlowsObserved"};
inline constexpr InformationElement kSelectorIdTotalFlowsSelected{395, 8, "selectorIDTotalFlowsSelected"};
inline constexpr InformationElement kSamplingSize{309, 4, "samplingSize"};
inline constexpr InformationElement kSamplingPopulation{310, 4, "samplingPopulation"};
inline constexpr InformationElement kSelectorId{302, 1, "selectorId"};  // reduced size: ids 1..3
inline constexpr InformationElement kFlowSelectorAlgorithm{390, 2, "flowSelectorAlgorithm"};
inline constexpr InformationElement kSamplingFlowInterval{396, 8, "samplingFlowInterval"};
inline constexpr InformationElement kSamplingFlowSpacing{397, 8, "samplingFlowSpacing"};

}  // namespace netflowd::ie
