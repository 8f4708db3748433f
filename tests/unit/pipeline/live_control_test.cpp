#include "pipeline/live_control.hpp"

#include <gtest/gtest.h>

#include "pipeline/control_handler.hpp"

namespace netflowd {
namespace {

TEST(LiveControl, SetValidatesAndVersions) {
  LiveControl control(Config{}, 2, 1, 1);
  const auto v0 = control.config_version();
  EXPECT_EQ(control.set("active_timeout=60"), "");
  EXPECT_EQ(control.config().active_timeout, 60u);
  EXPECT_GT(control.config_version(), v0);
  EXPECT_NE(control.set("protocol=7").find("protocol"), std::string::npos);
  EXPECT_EQ(control.config().protocol, 5) << "a refused value changes nothing";
  EXPECT_NE(control.set("workers=4").find("only be set at start"), std::string::npos);
  EXPECT_NE(control.set("sampler=random:1").find("sampler"), std::string::npos);
  EXPECT_EQ(control.set("sampler=random:10"), "");
  EXPECT_EQ(control.config().sampler.to_string(), "random:10");
}

TEST(LiveControl, FlushRequestsAndZeroing) {
  LiveControl control(Config{}, 1, 0, 1);
  WorkerSnapshot w;
  w.cache.packets = 100;
  w.active_flows = 3;
  control.publish_worker(0, w);
  const auto g0 = control.flush_generation();
  EXPECT_EQ(control.set("flush=1"), "");
  EXPECT_EQ(control.flush_generation(), g0 + 1);
  EXPECT_EQ(control.snapshot().workers[0].cache.packets, 100u);
  EXPECT_EQ(control.set("flush=2"), "");
  EXPECT_EQ(control.snapshot().workers[0].cache.packets, 0u) << "counters zeroed";
  EXPECT_EQ(control.snapshot().workers[0].active_flows, 3u) << "gauges are not counters";
  w.cache.packets = 130;
  control.publish_worker(0, w);
  EXPECT_EQ(control.snapshot().workers[0].cache.packets, 30u);
  EXPECT_EQ(control.config().flush, 0) << "flush always reads back 0";
}

TEST(LiveControl, ReloadReportsWhatChanged) {
  Config start;
  LiveControl control(start, 1, 0, 1);
  Config fresh = start;
  fresh.active_timeout = 99;
  fresh.workers = 8;  // start-only: ignored by a reload
  fresh.destinations = parse_destinations("127.0.0.1:9999");
  const auto changed = control.reload(fresh);
  EXPECT_EQ(changed, (std::vector<std::string>{"destination", "active_timeout"}));
  EXPECT_EQ(control.config().active_timeout, 99u);
  EXPECT_EQ(control.config().workers, 0u);
  EXPECT_TRUE(control.reload(fresh).empty()) << "nothing changes the second time";
}

TEST(ControlHandler, GetSetAndErrors) {
  LiveControl control(Config{}, 1, 0, 1);
  EXPECT_EQ(handle_control_request(control, "get inactive_timeout"), "OK\n15\n");
  EXPECT_EQ(handle_control_request(control, "set inactive-timeout=5"), "OK\n");
  EXPECT_EQ(handle_control_request(control, "get inactive_timeout"), "OK\n5\n");
  EXPECT_EQ(handle_control_request(control, "set maxflows=x").rfind("ERROR maxflows", 0), 0u);
  EXPECT_EQ(handle_control_request(control, "frobnicate").rfind("ERROR unknown request", 0), 0u);
  const std::string all = handle_control_request(control, "get");
  EXPECT_NE(all.find("destination=127.0.0.1:2055\n"), std::string::npos);
  EXPECT_NE(all.find("protocol=5\n"), std::string::npos);
}

TEST(ControlHandler, StatAddsUp) {
  LiveControl control(Config{}, 1, 1, 1);
  WorkerSnapshot w;
  w.cache.packets = 85;
  w.cache.flows_created = 7;
  w.cache.maxflows_dropped_packets = 2;
  w.cache.maxflows_dropped_bytes = 2048;
  w.cache.alloc_dropped_packets = 3;
  w.cache.alloc_dropped_bytes = 3072;
  control.publish_worker(0, w);
  CaptureSnapshot c;
  c.name = "nflog group 5";
  c.frames = 100;
  c.parse.by_status[static_cast<std::size_t>(ParseStatus::non_ip)] = 4;
  c.parse.by_status[static_cast<std::size_t>(ParseStatus::truncated_l4)] = 1;
  c.own_export = 5;
  control.publish_capture(0, c);
  const std::string text = handle_control_request(control, "stat");
  EXPECT_NE(text.find("Accounting: observed 100 = metered 85 + dropped 10 (not IP 4, malformed 1, maxflows 2, alloc 3, "
                      "queue 0) + own export 5 + sampled out 0"),
            std::string::npos)
      << text;
  // Upstream's columns: "malformed alloc maxflows", and drops of both kinds.
  EXPECT_NE(text.find("worker0  0 0 7 [1.00], 0 3 2, traffic: 85, 0 MB, drop: 5, 5 K\n"), std::string::npos) << text;
  const std::string json = handle_control_request(control, "stat --json");
  EXPECT_NE(json.find("\"observed\":100,\"metered_packets\":85"), std::string::npos) << json;
  EXPECT_NE(json.find("\"maxflows_dropped\":2,\"alloc_dropped\":3,"), std::string::npos) << json;
  const std::string snmp = handle_control_request(control, "stat --snmp");
  EXPECT_NE(snmp.find("inPackets        85\n"), std::string::npos) << snmp;
  EXPECT_NE(snmp.find("dropPackets      10\ndropBytes        5120\n"), std::string::npos) << snmp;
  EXPECT_NE(snmp.find("worker0 7 85 0 1.00 5 5120 2 3\n"), std::string::npos) << snmp;
}

}  // namespace
}  // namespace netflowd
