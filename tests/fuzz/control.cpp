// Fuzz target: requests on the control socket (what `netflowctl` and netflowd-snmp send), one
// after another on one running daemon's control state, as a long-lived daemon sees them.
//
// Input: requests separated by newlines (the socket reads one line per connection). Flow
// dumps (`flows`) are left out: they wait for worker threads, which this target does not run.
//
// What must hold, beyond "no crash, no undefined behaviour":
// - every answer is "OK\n..." or "ERROR reason\n", and ends with a newline;
// - whatever the requests set, the configuration stays one that `get` shows as values `set`
//   takes back and shows unchanged (the control socket is how an operator saves and restores
//   it).
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <string_view>

#include "control/parameters.hpp"
#include "fuzz_check.hpp"
#include "pipeline/control_handler.hpp"
#include "pipeline/live_control.hpp"
#include "reads_back.hpp"

namespace {

using namespace netflowd;

void check_answer(const std::string& request, const std::string& answer) {
  const bool well_formed =
      (answer.rfind("OK\n", 0) == 0 || answer.rfind("ERROR ", 0) == 0) && !answer.empty() && answer.back() == '\n';
  if (!well_formed) std::fprintf(stderr, "request '%s' got '%s'\n", request.c_str(), answer.c_str());
  FUZZ_CHECK(well_formed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static LiveControl* control = new LiveControl(Config{}, 2, 1, 1);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t pos = 0;
  while (pos < input.size()) {
    std::size_t end = input.find('\n', pos);
    if (end == std::string_view::npos) end = input.size();
    const std::string request(input.substr(pos, end - pos));
    pos = end + 1;
    // A flow dump waits up to 3 s for the workers to answer; this target has none.
    std::istringstream words(request);
    std::string command;
    words >> command;
    if (command == "flows") continue;
    check_answer(request, handle_control_request(*control, request));
  }
  for (const ParameterSpec& spec : parameter_table()) {
    if (spec.get == nullptr) continue;
    const std::string get = "get " + std::string(spec.name);
    const std::string answer = handle_control_request(*control, get);
    check_answer(get, answer);
    FUZZ_CHECK(answer.rfind("OK\n", 0) == 0);
    if (spec.apply != nullptr) require_reads_back(spec, answer.substr(3, answer.size() - 4));  // "OK\n" value "\n"
  }
  return 0;
}
