#include "expected_flows.hpp"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <vector>

namespace nfgen {

namespace {

std::string address_text(std::uint8_t family, const Addr& a) {
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == 4 ? AF_INET : AF_INET6, a.data(), text, sizeof text);
  return text;
}

}  // namespace

std::size_t FlowKeyHash::operator()(const FlowKey& k) const noexcept {
  // FNV-1a over the fields; quality is ample for an in-memory map.
  std::uint64_t h = 0xCBF29CE484222325ULL;
  auto mix = [&h](std::uint8_t byte) { h = (h ^ byte) * 0x100000001B3ULL; };
  mix(k.family);
  for (auto b : k.src) mix(b);
  for (auto b : k.dst) mix(b);
  mix(static_cast<std::uint8_t>(k.sport >> 8));
  mix(static_cast<std::uint8_t>(k.sport));
  mix(static_cast<std::uint8_t>(k.dport >> 8));
  mix(static_cast<std::uint8_t>(k.dport));
  mix(k.proto);
  mix(k.tos);
  return static_cast<std::size_t>(h);
}

void ExpectedFlows::write_csv(const std::string& path) const {
  std::vector<const std::pair<const FlowKey, Counters>*> rows;
  rows.reserve(totals_.size());
  for (const auto& entry : totals_) rows.push_back(&entry);
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) { return a->first < b->first; });

  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot create " + path);
  bool ok = std::fputs("family,src,dst,sport,dport,proto,tos,packets,bytes\n", f) >= 0;
  for (const auto* row : rows) {
    const FlowKey& k = row->first;
    ok &= std::fprintf(f, "%u,%s,%s,%u,%u,%u,%u,%llu,%llu\n", unsigned{k.family}, address_text(k.family, k.src).c_str(),
                       address_text(k.family, k.dst).c_str(), unsigned{k.sport}, unsigned{k.dport}, unsigned{k.proto},
                       unsigned{k.tos}, static_cast<unsigned long long>(row->second.packets),
                       static_cast<unsigned long long>(row->second.bytes)) > 0;
  }
  ok &= std::fclose(f) == 0;
  if (!ok) throw std::runtime_error("write error on " + path);
}

}  // namespace nfgen
