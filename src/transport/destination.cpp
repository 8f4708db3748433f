#include "transport/destination.hpp"

#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/error.hpp"

namespace netflowd {
namespace {

constexpr std::string_view kSeparators = " ,;\t\n";

[[noreturn]] void fail(std::string_view entry, const std::string& why) {
  throw ParameterError("destination", "'" + std::string(entry) + "': " + why);
}

// C-style unsigned number with base auto-detection, as upstream parses ports.
std::uint16_t parse_port(std::string_view entry, std::string_view text) {
  if (text.empty()) fail(entry, "port number missing");
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == 'x' || c == 'X'; })) {
    fail(entry, "port '" + std::string(text) + "' is not a number");
  }
  const std::string s(text);
  errno = 0;
  char* end = nullptr;
  const unsigned long v = std::strtoul(s.c_str(), &end, 0);
  if (errno != 0 || end != s.c_str() + s.size()) fail(entry, "port '" + s + "' is not a number");
  if (v == 0 || v > 65535) fail(entry, "port " + s + " is out of range 1..65535");
  return static_cast<std::uint16_t>(v);
}

// Handles the "[@bind][%ifname]" tail that both families share.
void parse_suffix(std::string_view entry, std::string_view rest, IpFamily family, Destination& d) {
  const std::size_t pct = rest.find('%');
  std::string_view bind = rest.substr(0, pct);
  if (pct != std::string_view::npos) {
    d.interface = std::string(rest.substr(pct + 1));
    if (d.interface.empty()) fail(entry, "interface name after '%' is empty");
    if (d.interface.size() >= IFNAMSIZ) fail(entry, "interface name '" + d.interface + "' is too long");
    // What the kernel takes for a device name (dev_valid_name()): also what keeps the entry
    // one that `netflowctl get` can show and `set` read back.
    if (d.interface == "." || d.interface == ".." || std::any_of(d.interface.begin(), d.interface.end(), [](char c) {
          return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c));
        })) {
      fail(entry, "'" + d.interface + "' is not a valid interface name");
    }
  }
  if (bind.empty()) return;
  if (bind.front() != '@') fail(entry, "unexpected '" + std::string(bind) + "' after the address");
  bind.remove_prefix(1);
  if (!bind.empty() && bind.front() == '[' && bind.back() == ']') bind = bind.substr(1, bind.size() - 2);
  const auto addr = IpAddress::parse(bind);
  if (!addr || addr->family != family) {
    fail(entry, "bind address '" + std::string(bind) + "' is not an " + (family == IpFamily::v4 ? "IPv4" : "IPv6") +
                    " address");
  }
  d.bind_address = addr;
}

std::size_t find_any(std::string_view s, std::string_view chars, std::size_t from = 0) {
  return s.find_first_of(chars, from);
}

Destination parse_ipv6_entry(std::string_view entry) {
  Destination d;
  std::string_view addr_text;
  std::string_view rest;
  if (entry.front() == '[') {
    const std::size_t close = entry.find(']');
    if (close == std::string_view::npos) fail(entry, "missing ']' after the IPv6 address");
    addr_text = entry.substr(1, close - 1);
    rest = entry.substr(close + 1);
    if (!rest.empty() && std::string_view(":.p#").find(rest.front()) != std::string_view::npos) {
      const std::size_t end = find_any(rest, "@%", 1);
      d.port = parse_port(entry, rest.substr(1, end - 1));
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
  } else {
    // Without brackets the address ends at '@', '%', 'p', '#', or a '.' that starts a port
    // (an embedded dotted IPv4 part such as ::ffff:1.2.3.4 is tried first).
    const std::size_t tail = find_any(entry, "@%p#");
    std::string_view head = entry.substr(0, tail);
    rest = tail == std::string_view::npos ? std::string_view{} : entry.substr(tail);
    addr_text = head;
    if (!IpAddress::parse(head)) {
      const std::size_t dot = head.find('.');
      if (dot != std::string_view::npos) {
        addr_text = head.substr(0, dot);
        d.port = parse_port(entry, head.substr(dot + 1));
      }
    }
    if (!rest.empty() && (rest.front() == 'p' || rest.front() == '#')) {
      const std::size_t end = find_any(rest, "@%", 1);
      d.port = parse_port(entry, rest.substr(1, end - 1));
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
  }
  const auto addr = IpAddress::parse(addr_text);
  if (!addr || addr->family != IpFamily::v6) fail(entry, "'" + std::string(addr_text) + "' is not an IPv6 address");
  d.address = *addr;
  parse_suffix(entry, rest, IpFamily::v6, d);
  return d;
}

Destination parse_ipv4_entry(std::string_view entry) {
  Destination d;
  const std::size_t end = find_any(entry, ":@%");
  const std::string_view addr_text = entry.substr(0, end);
  const auto addr = IpAddress::parse(addr_text);
  if (!addr || addr->family != IpFamily::v4) fail(entry, "'" + std::string(addr_text) + "' is not an IPv4 address");
  d.address = *addr;
  std::string_view rest = end == std::string_view::npos ? std::string_view{} : entry.substr(end);
  if (!rest.empty() && rest.front() == ':') {
    const std::size_t port_end = find_any(rest, "@%", 1);
    d.port = parse_port(entry, rest.substr(1, port_end - 1));
    rest = port_end == std::string_view::npos ? std::string_view{} : rest.substr(port_end);
  }
  parse_suffix(entry, rest, IpFamily::v4, d);
  return d;
}

}  // namespace

std::vector<Destination> parse_destinations(std::string_view value) {
  std::vector<Destination> list;
  std::size_t pos = 0;
  while (pos < value.size()) {
    const std::size_t start = value.find_first_not_of(kSeparators, pos);
    if (start == std::string_view::npos) break;
    const std::size_t end = value.find_first_of(kSeparators, start);
    const std::string_view entry = value.substr(start, end - start);
    pos = end == std::string_view::npos ? value.size() : end;

    const bool v6 = std::count(entry.begin(), entry.end(), ':') >= 2 || entry.front() == '[';
    Destination d = v6 ? parse_ipv6_entry(entry) : parse_ipv4_entry(entry);
    const bool duplicate = std::any_of(
        list.begin(), list.end(), [&](const Destination& o) { return o.address == d.address && o.port == d.port; });
    if (!duplicate) list.push_back(std::move(d));
  }
  if (list.empty()) throw ParameterError("destination", "no collector address given");
  return list;
}

std::string Destination::to_string() const {
  std::string s = address.family == IpFamily::v6 ? "[" + address.to_string() + "]" : address.to_string();
  s += ":" + std::to_string(port);
  if (bind_address) s += "@" + bind_address->to_string();
  if (!interface.empty()) s += "%" + interface;
  return s;
}

std::string format_destinations(const std::vector<Destination>& list) {
  std::string s;
  for (const auto& d : list) {
    if (!s.empty()) s += ",";
    s += d.to_string();
  }
  return s;
}

socklen_t Destination::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (address.family == IpFamily::v6) {
    auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
    sa->sin6_family = AF_INET6;
    sa->sin6_port = htons(port);
    std::memcpy(&sa->sin6_addr, address.bytes.data(), 16);
    return sizeof(sockaddr_in6);
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(port);
  std::memcpy(&sa->sin_addr, address.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

}  // namespace netflowd
