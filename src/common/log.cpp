#include "common/log.hpp"

#include <cstdarg>
#include <cstdio>

namespace netflowd {
namespace {

bool use_syslog = false;
int verbosity = 0;

}  // namespace

void log_to_syslog(const char* ident) {
  ::openlog(ident, LOG_PID, LOG_DAEMON);
  use_syslog = true;
}

void set_log_verbosity(int debug) { verbosity = debug; }

void log_message(int priority, const char* format, ...) {
  if (priority == LOG_DEBUG && verbosity == 0) return;
  va_list args;
  va_start(args, format);
  if (use_syslog) {
    ::vsyslog(priority, format, args);
  } else {
    std::fputs("netflowd: ", stderr);
    std::vfprintf(stderr, format, args);
    std::fputc('\n', stderr);
  }
  va_end(args);
}

}  // namespace netflowd
