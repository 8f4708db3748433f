// The control socket: a Unix stream socket on which netflowctl sends one request line and
// reads one response. Root-only by default: the socket file is mode 0600 and every peer's
// credentials (SO_PEERCRED) are checked.
//
// Response: first line "OK" or "ERROR <reason>", then the body.
#pragma once

#include <functional>
#include <stop_token>
#include <string>

#include "common/unique_fd.hpp"

namespace netflowd {

inline constexpr const char* kDefaultControlPath = "/run/netflowd.sock";

class ControlServer {
 public:
  // Handler: request line in, full response out.
  using Handler = std::function<std::string(const std::string& request)>;

  // Throws SetupError if the path is in use by a running netflowd or cannot be bound.
  explicit ControlServer(std::string path);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Serves requests until `stop` is requested. Call from one thread.
  void serve(const Handler& handler, std::stop_token stop);
  const std::string& path() const { return path_; }

 private:
  void handle_connection(int fd, const Handler& handler);

  std::string path_;
  UniqueFd fd_;
};

// Client side: sends `request`, returns the whole response. Throws SetupError.
std::string control_request(const std::string& path, const std::string& request);

}  // namespace netflowd
