// measure: run one command and report what it cost, as one JSON object on stdout.
//
//   measure [--stdout FILE] [--stderr FILE] [--timeout SECONDS] -- COMMAND [ARGS...]
//
// wall        seconds from the start of COMMAND until it and every process it started have
//             exited (measure makes itself a child subreaper, so helpers that outlive their
//             parent are waited for and counted too)
// user, sys   CPU seconds of all those processes (getrusage(RUSAGE_CHILDREN) after reaping)
// maxrss_kb   largest peak resident set of any one of them (ru_maxrss); this launcher is small
//             (a Python one would put its own ~15 MB into every child's high-water mark)
// tree_rss_kb largest sum of VmRSS over the whole process tree, sampled every 20 ms (matters
//             for multi-process tools such as pmacctd: core process + plugin process)
// rc          exit code of COMMAND (128+N: killed by signal N; 124: killed after --timeout,
//             with its whole process group)
//
// Build: g++ -O2 -std=c++20 measure.cpp -pthread (run.sh does it).
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

long rss_kb_of(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  return 0;
}

// Sum of VmRSS over root and its descendants (via /proc/PID/task/TID/children).
long tree_rss_kb(pid_t root) {
  long total = 0;
  std::vector<pid_t> stack{root};
  std::vector<pid_t> seen;
  while (!stack.empty()) {
    const pid_t pid = stack.back();
    stack.pop_back();
    bool dup = false;
    for (pid_t s : seen) dup = dup || s == pid;
    if (dup) continue;
    seen.push_back(pid);
    total += rss_kb_of(pid);
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    DIR* d = ::opendir(tasks.c_str());
    if (d == nullptr) continue;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::ifstream c(tasks + "/" + e->d_name + "/children");
      long child = 0;
      while (c >> child) stack.push_back(static_cast<pid_t>(child));
    }
    ::closedir(d);
  }
  return total;
}

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: measure [--stdout FILE] [--stderr FILE] [--timeout SECONDS] -- COMMAND [ARGS...]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  const char* out_path = "/dev/null";
  const char* err_path = "/dev/null";
  double timeout_s = 0;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--stdout" && i + 1 < argc)
      out_path = argv[++i];
    else if (a == "--stderr" && i + 1 < argc)
      err_path = argv[++i];
    else if (a == "--timeout" && i + 1 < argc)
      timeout_s = std::strtod(argv[++i], nullptr);
    else if (a == "--") {
      ++i;
      break;
    } else
      usage();
  }
  if (i >= argc) usage();

  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  rusage before{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = ::fork();
  if (child < 0) {
    std::perror("measure: fork");
    return 1;
  }
  if (child == 0) {
    ::setpgid(0, 0);  // its own process group, so that a timeout can kill all of it
    const int in = ::open("/dev/null", O_RDONLY);
    const int out = ::open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execvp(argv[i], argv + i);
    _exit(127);
  }

  std::atomic<bool> done{false};
  std::atomic<long> peak{0};
  std::atomic<bool> timed_out{false};
  ::setpgid(child, child);
  std::thread sampler([&] {
    while (!done.load()) {
      const long now = tree_rss_kb(child);
      if (now > peak.load()) peak.store(now);
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (timeout_s > 0 && elapsed > timeout_s && !timed_out.exchange(true)) ::kill(-child, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  int rc = -1;
  for (;;) {  // reap COMMAND and every orphan handed to us
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;  // ECHILD: all gone
    }
    if (pid == child) rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  if (timed_out.load()) rc = 124;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  done.store(true);
  sampler.join();
  rusage after{};
  ::getrusage(RUSAGE_CHILDREN, &after);
  auto secs = [](const timeval& a, const timeval& b) {
    return static_cast<double>(a.tv_sec - b.tv_sec) + static_cast<double>(a.tv_usec - b.tv_usec) / 1e6;
  };
  std::printf("{\"wall\": %.4f, \"user\": %.4f, \"sys\": %.4f, \"maxrss_kb\": %ld, \"tree_rss_kb\": %ld, \"rc\": %d}\n",
              wall, secs(after.ru_utime, before.ru_utime), secs(after.ru_stime, before.ru_stime), after.ru_maxrss,
              peak.load(), rc);
  return 0;
}
