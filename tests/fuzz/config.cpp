// Fuzz target: a configuration file (`--config FILE`, SIGHUP reloads it), and with it every
// parameter's value parser: destinations, aggregation and SNMP interface rules, numbers,
// booleans, protocol names.
//
// What must hold, beyond "no crash, no undefined behaviour":
// - a bad file is refused with ParameterError (which names the file, line and parameter) and
//   never with anything else;
// - what `netflowctl get` shows is a value netflowd takes back: for every parameter, applying
//   get_parameter()'s text to a fresh configuration gives the same text again, so that a
//   saved `get` output restores the running configuration.
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "control/parameters.hpp"
#include "fuzz_check.hpp"
#include "reads_back.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace netflowd;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Config config;
  try {
    apply_config_text(config, text, "fuzz.conf");
  } catch (const ParameterError&) {
    return 0;  // refused, with the reason: what a bad file must get
  }
  for (const ParameterSpec& spec : parameter_table()) {
    if (spec.get != nullptr && spec.apply != nullptr) require_reads_back(spec, spec.get(config));
  }
  return 0;
}
