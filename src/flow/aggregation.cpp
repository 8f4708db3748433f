#include "flow/aggregation.hpp"

#include <charconv>

#include "common/error.hpp"
#include "common/ip_address.hpp"

namespace netflowd {
namespace {

constexpr std::string_view kSeparators = " ,;\t\n";

[[noreturn]] void fail(std::string_view token, const std::string& why) {
  throw ParameterError("aggregation", "'" + std::string(token) + "': " + why);
}

std::uint32_t mask_of(unsigned length) { return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length); }

unsigned number(std::string_view token, std::string_view text, unsigned max, const char* what) {
  unsigned v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size())
    fail(token, std::string(what) + " is not a number");
  if (v > max) fail(token, std::string(what) + " " + std::to_string(v) + " is out of range 0.." + std::to_string(max));
  return v;
}

bool is_port_protocol(std::uint8_t p) { return p == 6 || p == 17 || p == 132 || p == 136; }

}  // namespace

AggregationRules AggregationRules::parse(std::string_view text) {
  AggregationRules rules;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = text.find_first_not_of(kSeparators, pos);
    if (start == std::string_view::npos) break;
    const std::size_t end = text.find_first_of(kSeparators, start);
    const std::string_view token = text.substr(start, end - start);
    pos = end == std::string_view::npos ? text.size() : end;

    const std::size_t eq = token.find('=');
    if (eq == std::string_view::npos) fail(token, "expected A.B.C.D/M=N, P1-P2=P or P=Q");
    const std::string_view left = token.substr(0, eq);
    const std::string_view right = token.substr(eq + 1);
    if (const std::size_t slash = left.find('/'); slash != std::string_view::npos) {
      const auto addr = IpAddress::parse(left.substr(0, slash));
      if (!addr || addr->family != IpFamily::v4)
        fail(token, "'" + std::string(left.substr(0, slash)) + "' is not an IPv4 address");
      NetworkRule r;
      r.match_length = static_cast<std::uint8_t>(number(token, left.substr(slash + 1), 32, "prefix length"));
      r.strip_length = static_cast<std::uint8_t>(number(token, right, 32, "prefix length"));
      r.network = addr->v4_host_order() & mask_of(r.match_length);
      rules.networks_.push_back(r);
    } else if (const std::size_t dash = left.find('-'); dash != std::string_view::npos) {
      PortRule r;
      r.low = static_cast<std::uint16_t>(number(token, left.substr(0, dash), 65535, "port"));
      r.high = static_cast<std::uint16_t>(number(token, left.substr(dash + 1), 65535, "port"));
      r.replacement = static_cast<std::uint16_t>(number(token, right, 65535, "port"));
      if (r.low > r.high) fail(token, "port range is empty");
      rules.ports_.push_back(r);
    } else {
      PortRule r;
      r.low = r.high = static_cast<std::uint16_t>(number(token, left, 65535, "port"));
      r.replacement = static_cast<std::uint16_t>(number(token, right, 65535, "port"));
      rules.ports_.push_back(r);
    }
  }
  return rules;
}

void AggregationRules::apply(ParsedPacket& p, std::vector<std::uint64_t>& usage) const {
  if (p.family == IpFamily::v4 && !networks_.empty()) {
    auto rewrite = [&](std::array<std::uint8_t, 16>& a, std::uint8_t& prefix) {
      const std::uint32_t v =
          (std::uint32_t{a[0]} << 24) | (std::uint32_t{a[1]} << 16) | (std::uint32_t{a[2]} << 8) | a[3];
      for (std::size_t i = 0; i < networks_.size(); ++i) {
        const NetworkRule& r = networks_[i];
        if ((v & mask_of(r.match_length)) != r.network) continue;
        const std::uint32_t cut = v & mask_of(r.strip_length);
        a[0] = static_cast<std::uint8_t>(cut >> 24);
        a[1] = static_cast<std::uint8_t>(cut >> 16);
        a[2] = static_cast<std::uint8_t>(cut >> 8);
        a[3] = static_cast<std::uint8_t>(cut);
        prefix = r.strip_length;
        ++usage[i];
        return;
      }
    };
    rewrite(p.src, p.src_prefix);
    rewrite(p.dst, p.dst_prefix);
  }
  if (!ports_.empty() && is_port_protocol(p.protocol) && !p.later_fragment) {
    auto rewrite = [&](std::uint16_t& port) {
      for (std::size_t i = 0; i < ports_.size(); ++i) {
        const PortRule& r = ports_[i];
        if (port < r.low || port > r.high) continue;
        port = r.replacement;
        ++usage[networks_.size() + i];
        return;
      }
    };
    rewrite(p.src_port);
    rewrite(p.dst_port);
  }
}

std::vector<std::string> AggregationRules::describe() const {
  std::vector<std::string> out;
  for (const NetworkRule& r : networks_) {
    out.push_back("net: match " + IpAddress::v4(r.network).to_string() + "/" + std::to_string(r.match_length) +
                  " strip " + std::to_string(r.strip_length));
  }
  for (const PortRule& r : ports_) {
    out.push_back("port: ports " + std::to_string(r.low) + "-" + std::to_string(r.high) + " replace " +
                  std::to_string(r.replacement));
  }
  return out;
}

}  // namespace netflowd
