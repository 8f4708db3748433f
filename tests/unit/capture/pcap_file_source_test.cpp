// The capture file reader against libpcap: every frame, length and timestamp of files written
// in each byte order and precision must be what libpcap itself reads from them.
#include "capture/pcap/pcap_file_source.hpp"

#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"

namespace netflowd {
namespace {

struct Frame {
  std::vector<std::uint8_t> bytes;
  std::uint32_t wire_length = 0;
  TimeUs timestamp = 0;
  bool operator==(const Frame&) const = default;
};

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/pcap_source_" + std::to_string(::getpid()) + "_" + name;
}

// Frames of varying sizes (up to a jumbo frame, so records straddle the reader's blocks).
std::vector<Frame> sample_frames(std::size_t count) {
  std::vector<Frame> frames;
  for (std::size_t i = 0; i < count; ++i) {
    Frame f;
    f.bytes.resize(14 + (i * 7919) % 9000);
    for (std::size_t b = 0; b < f.bytes.size(); ++b) f.bytes[b] = static_cast<std::uint8_t>(b * 31 + i);
    f.wire_length = static_cast<std::uint32_t>(f.bytes.size() + (i % 3 == 0 ? 100 : 0));  // some truncated
    f.timestamp = static_cast<TimeUs>(1'700'000'000) * kUsPerSecond + static_cast<TimeUs>(i) * 1234567;
    frames.push_back(std::move(f));
  }
  return frames;
}

void put32(std::string& out, std::uint32_t v, bool swapped) {
  if (swapped) v = __builtin_bswap32(v);
  out.append(reinterpret_cast<const char*>(&v), 4);
}

// A classic pcap file written by hand: either byte order, micro- or nanosecond timestamps.
std::string classic_file(const std::vector<Frame>& frames, bool swapped, bool nano, std::uint32_t linktype = 1) {
  std::string out;
  put32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4, swapped);
  const std::uint16_t version[2] = {2, 4};
  for (std::uint16_t v : version) {
    const std::uint16_t w = swapped ? static_cast<std::uint16_t>(__builtin_bswap16(v)) : v;
    out.append(reinterpret_cast<const char*>(&w), 2);
  }
  put32(out, 0, swapped);
  put32(out, 0, swapped);
  put32(out, 65535, swapped);
  put32(out, linktype, swapped);
  for (const Frame& f : frames) {
    put32(out, static_cast<std::uint32_t>(f.timestamp / kUsPerSecond), swapped);
    const auto us = static_cast<std::uint32_t>(f.timestamp % kUsPerSecond);
    put32(out, nano ? us * 1000 + 999 : us, swapped);  // sub-microsecond digits are dropped
    put32(out, static_cast<std::uint32_t>(f.bytes.size()), swapped);
    put32(out, f.wire_length, swapped);
    out.append(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
  }
  return out;
}

void write_file(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::vector<Frame> read_with_netflowd(const std::string& path, std::string* error = nullptr) {
  PcapFileSource source(path);
  std::vector<Frame> frames;
  CapturedFrame frame;
  for (;;) {
    const NextResult rc = source.next(frame);
    if (rc == NextResult::error && error != nullptr) *error = source.error();
    if (rc != NextResult::frame) break;
    frames.push_back({{frame.bytes.begin(), frame.bytes.end()}, frame.wire_length, frame.meta.timestamp});
  }
  EXPECT_EQ(source.stats().frames, frames.size());
  return frames;
}

std::vector<Frame> read_with_libpcap(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p = pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  EXPECT_NE(p, nullptr) << errbuf;
  std::vector<Frame> frames;
  if (p == nullptr) return frames;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(p, &h, &data) == 1) {
    frames.push_back({{data, data + h->caplen},
                      h->len,
                      static_cast<TimeUs>(h->ts.tv_sec) * kUsPerSecond + static_cast<TimeUs>(h->ts.tv_usec)});
  }
  pcap_close(p);
  return frames;
}

class ClassicFormats : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

TEST_P(ClassicFormats, SameFramesAsLibpcap) {
  const auto [swapped, nano] = GetParam();
  const std::vector<Frame> frames = sample_frames(2000);  // ~9 MB: several read blocks
  const std::string path = temp_path(std::string(swapped ? "be" : "le") + (nano ? "_ns" : "_us"));
  write_file(path, classic_file(frames, swapped, nano));
  const std::vector<Frame> ours = read_with_netflowd(path);
  EXPECT_EQ(ours, read_with_libpcap(path));
  EXPECT_EQ(ours, frames);
  PcapFileSource source(path);
  EXPECT_STREQ(source.reader(), "pcap");
  EXPECT_EQ(source.link_type(), LinkType::ethernet);
  ::unlink(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(ByteOrderAndPrecision, ClassicFormats,
                         ::testing::Combine(::testing::Bool(), ::testing::Bool()));

TEST(PcapFileSource, FileWrittenByLibpcap) {
  const std::vector<Frame> frames = sample_frames(300);
  const std::string path = temp_path("libpcap_written");
  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  ASSERT_NE(dumper, nullptr);
  for (const Frame& f : frames) {
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(f.timestamp / kUsPerSecond);
    h.ts.tv_usec = static_cast<suseconds_t>(f.timestamp % kUsPerSecond);
    h.caplen = static_cast<bpf_u_int32>(f.bytes.size());
    h.len = f.wire_length;
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, f.bytes.data());
  }
  pcap_dump_close(dumper);
  pcap_close(dead);
  EXPECT_EQ(read_with_netflowd(path), frames);
  ::unlink(path.c_str());
}

TEST(PcapFileSource, LinkTypesOfFiles) {
  const std::vector<Frame> frames = sample_frames(3);
  const std::pair<std::uint32_t, LinkType> cases[] = {{1, LinkType::ethernet},     {113, LinkType::linux_sll},
                                                      {276, LinkType::linux_sll2}, {101, LinkType::raw_ip},
                                                      {228, LinkType::ipv4},       {229, LinkType::ipv6}};
  const std::string path = temp_path("linktype");
  for (const auto& [linktype, expected] : cases) {
    write_file(path, classic_file(frames, false, false, linktype));
    PcapFileSource source(path);
    EXPECT_EQ(source.link_type(), expected) << linktype;
  }
  write_file(path, classic_file(frames, false, false, 105));  // 802.11
  try {
    PcapFileSource source(path);
    ADD_FAILURE() << "802.11 accepted";
  } catch (const SetupError& e) {
    EXPECT_NE(std::string(e.what()).find("link type 105 is not supported"), std::string::npos) << e.what();
  }
  ::unlink(path.c_str());
}

// Minimal pcapng: section header, one Ethernet interface with microsecond resolution, and an
// enhanced packet block per frame.
std::string pcapng_file(const std::vector<Frame>& frames) {
  std::string out;
  auto block = [&](std::uint32_t type, const std::string& body) {
    const auto total = static_cast<std::uint32_t>(12 + body.size());
    put32(out, type, false);
    put32(out, total, false);
    out += body;
    put32(out, total, false);
  };
  std::string shb;
  put32(shb, 0x1a2b3c4d, false);
  shb.append("\x01\x00\x00\x00", 4);  // version 1.0
  shb.append(8, '\xff');              // section length unknown
  block(0x0a0d0d0a, shb);
  std::string idb;
  idb.append("\x01\x00\x00\x00", 4);  // link type 1, reserved
  put32(idb, 65535, false);
  block(0x00000001, idb);
  for (const Frame& f : frames) {
    std::string epb;
    put32(epb, 0, false);
    const auto ts = static_cast<std::uint64_t>(f.timestamp);
    put32(epb, static_cast<std::uint32_t>(ts >> 32), false);
    put32(epb, static_cast<std::uint32_t>(ts), false);
    put32(epb, static_cast<std::uint32_t>(f.bytes.size()), false);
    put32(epb, f.wire_length, false);
    epb.append(reinterpret_cast<const char*>(f.bytes.data()), f.bytes.size());
    epb.append((4 - f.bytes.size() % 4) % 4, '\0');
    block(0x00000006, epb);
  }
  return out;
}

// Read through libpcap.
TEST(PcapFileSource, PcapngGoesThroughLibpcap) {
  const std::vector<Frame> frames = sample_frames(50);
  const std::string path = temp_path("ng");
  write_file(path, pcapng_file(frames));
  PcapFileSource source(path);
  EXPECT_STREQ(source.reader(), "libpcap");
  EXPECT_EQ(read_with_netflowd(path), frames);
  ::unlink(path.c_str());
}

// pcapng timestamps are 64-bit: one past the year 9999 ends the capture with an error after
// the frames before it, instead of overflowing the microsecond clock. Found by
// tests/fuzz/pcap_file.cpp (seconds * 1,000,000 overflowed a signed 64-bit integer).
TEST(PcapFileSource, PcapngTimestampBeyondRangeIsAnError) {
  for (const std::uint64_t far : {std::uint64_t{253402300800} * 1000000, UINT64_MAX - 15}) {
    std::vector<Frame> frames = sample_frames(3);
    frames[2].timestamp = static_cast<TimeUs>(far);
    const std::string path = temp_path("ng-far");
    write_file(path, pcapng_file(frames));
    std::string error;
    EXPECT_EQ(read_with_netflowd(path, &error), std::vector<Frame>(frames.begin(), frames.begin() + 2));
    EXPECT_NE(error.find("frame 3 has a timestamp beyond the year 9999"), std::string::npos) << error;
    ::unlink(path.c_str());
  }
  // The last second of 9999 is still a time.
  std::vector<Frame> frames = sample_frames(1);
  frames[0].timestamp = TimeUs{253402300799} * 1000000;
  const std::string path = temp_path("ng-9999");
  write_file(path, pcapng_file(frames));
  EXPECT_EQ(read_with_netflowd(path), frames);
  ::unlink(path.c_str());
}

TEST(PcapFileSource, ReadsFromAFifo) {
  const std::vector<Frame> frames = sample_frames(500);
  const std::string data = classic_file(frames, false, false);
  const std::string path = temp_path("fifo");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  std::thread writer([&] { write_file(path, data); });
  const std::vector<Frame> ours = read_with_netflowd(path);
  writer.join();
  EXPECT_EQ(ours, frames);
  ::unlink(path.c_str());
}

TEST(PcapFileSource, TruncatedAndCorruptFilesAreErrorsAfterTheGoodFrames) {
  const std::vector<Frame> frames = sample_frames(10);
  const std::string data = classic_file(frames, false, false);
  const std::string path = temp_path("truncated");
  write_file(path, data.substr(0, data.size() - 5));  // last record cut short
  std::string error;
  std::vector<Frame> ours = read_with_netflowd(path, &error);
  EXPECT_EQ(ours, std::vector<Frame>(frames.begin(), frames.end() - 1));
  EXPECT_NE(error.find("truncated record"), std::string::npos) << error;

  std::string corrupt = data;
  const std::uint32_t huge = 0x7fffffff;
  std::memcpy(corrupt.data() + 24 + 8, &huge, 4);  // first record's caplen
  write_file(path, corrupt);
  error.clear();
  ours = read_with_netflowd(path, &error);
  EXPECT_TRUE(ours.empty());
  EXPECT_NE(error.find("corrupt"), std::string::npos) << error;

  write_file(path, "not a capture at all, just text");
  EXPECT_THROW(PcapFileSource source(path), SetupError);
  ::unlink(path.c_str());
  EXPECT_THROW(PcapFileSource source(path), SetupError);  // missing file
}

}  // namespace
}  // namespace netflowd
