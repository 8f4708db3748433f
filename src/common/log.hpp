// Logging for the daemon: stderr in the foreground, syslog once daemonised. Never called on
// the packet path.
#pragma once

#include <syslog.h>

namespace netflowd {

void log_to_syslog(const char* ident);
void set_log_verbosity(int debug);  // the `debug` parameter: > 0 enables LOG_DEBUG messages

[[gnu::format(printf, 2, 3)]] void log_message(int priority, const char* format, ...);

}  // namespace netflowd
