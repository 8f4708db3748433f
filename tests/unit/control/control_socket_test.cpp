#include "control/control_socket.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace netflowd {
namespace {

// A server on a fresh path whose handler echoes the request's length.
class EchoServer {
 public:
  EchoServer()
      : path_("/tmp/netflowd-control-test-" + std::to_string(::getpid()) + ".sock"),
        server_(path_),
        thread_([this](std::stop_token stop) {
          server_.serve([](const std::string& request) { return "OK\n" + std::to_string(request.size()) + "\n"; },
                        stop);
        }) {}
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  ControlServer server_;
  std::jthread thread_;
};

// A long request (a `set aggregation=...` of thousands of rules) arrives whole; one longer than
// the limit is refused, never cut short and applied in part (8 KiB requests used to be cut).
TEST(ControlSocket, LongRequestsWholeOrRefused) {
  EchoServer server;
  const std::string long_request = "set aggregation=" + std::string(40000, '1');
  EXPECT_EQ(control_request(server.path(), long_request), "OK\n" + std::to_string(long_request.size()) + "\n");
  EXPECT_EQ(control_request(server.path(), std::string(70000, 'x')), "ERROR request longer than 65536 bytes\n");
  EXPECT_EQ(control_request(server.path(), "get"), "OK\n3\n");
}

}  // namespace
}  // namespace netflowd
