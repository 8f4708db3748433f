#include "control/control_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/error.hpp"

namespace netflowd {
namespace {

// The longest request line: room for long lists (a `set aggregation=...` of a few thousand
// rules); a longer one is refused whole, never cut and applied in part.
constexpr std::size_t kMaxRequest = 64 * 1024;
constexpr int kIoTimeoutMs = 2000;

sockaddr_un address_of(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw SetupError("control socket path too long: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  return sa;
}

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

ControlServer::ControlServer(std::string path) : path_(std::move(path)) {
  const sockaddr_un sa = address_of(path_);
  // A socket file left by a netflowd that died is removed; one that answers is in use.
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0) {
      throw SetupError("control socket " + path_ + " is in use by another netflowd (use --control PATH)");
    }
  }
  ::unlink(path_.c_str());
  fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd_) throw SetupError(std::string("control socket: ") + std::strerror(errno));
  const mode_t old_mask = ::umask(077);  // 0600: root (the daemon's user) only
  const int rc = ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
  ::umask(old_mask);
  if (rc != 0) throw SetupError("control socket " + path_ + ": " + std::strerror(errno));
  if (::listen(fd_.get(), 16) != 0) throw SetupError("control socket " + path_ + ": " + std::strerror(errno));
}

ControlServer::~ControlServer() {
  if (fd_) ::unlink(path_.c_str());
}

void ControlServer::serve(const Handler& handler, std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    handle_connection(conn.get(), handler);
  }
}

void ControlServer::handle_connection(int fd, const Handler& handler) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || (cred.uid != 0 && cred.uid != ::geteuid())) {
    write_all(fd, "ERROR permission denied: netflowctl must run as root or as netflowd's user\n");
    return;
  }
  std::string request;
  char buf[1024];
  while (request.find('\n') == std::string::npos && request.size() < kMaxRequest) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, kIoTimeoutMs) <= 0) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<std::size_t>(n));
  }
  const std::size_t nl = request.find('\n');
  if (nl == std::string::npos && request.size() >= kMaxRequest) {
    write_all(fd, "ERROR request longer than " + std::to_string(kMaxRequest) + " bytes\n");
    return;
  }
  if (nl != std::string::npos) request.resize(nl);
  write_all(fd, handler(request));
}

std::string control_request(const std::string& path, const std::string& request) {
  const sockaddr_un sa = address_of(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SetupError(std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    throw SetupError("cannot reach netflowd at " + path + ": " + std::strerror(errno) +
                     " (is it running? is --control the same?)");
  }
  if (!write_all(fd.get(), request + "\n")) throw SetupError(std::string("send: ") + std::strerror(errno));
  ::shutdown(fd.get(), SHUT_WR);
  std::string response;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
  }
  return response;
}

}  // namespace netflowd
