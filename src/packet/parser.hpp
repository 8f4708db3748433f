// The packet parser. Pure function of the bytes; never reads outside `frame`.
#pragma once

#include <cstdint>
#include <span>

#include "packet/link_type.hpp"
#include "packet/parse_status.hpp"
#include "packet/parsed_packet.hpp"

namespace netflowd {

// Parses one frame. `frame` holds the captured bytes; `wire_length` is the length the frame
// had on the wire (>= frame.size() when the capture was cut by a snap length). IP lengths
// are checked against the wire length, header fields against the captured bytes.
// On anything but ParseStatus::ok the contents of `out` are unspecified.
ParseStatus parse_packet(LinkType link, std::span<const std::uint8_t> frame, std::uint32_t wire_length,
                         ParsedPacket& out);

}  // namespace netflowd
