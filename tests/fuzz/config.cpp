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
    if (spec.get == nullptr || spec.apply == nullptr) continue;
    const std::string value = spec.get(config);
    Config again;
    try {
      apply_parameter(again, std::string(spec.name) + "=" + value);
    } catch (const ParameterError& e) {
      std::fprintf(stderr, "%s: get gave '%s', which set refuses: %s\n", std::string(spec.name).c_str(), value.c_str(),
                   e.what());
      FUZZ_CHECK(false && "a value get_parameter() shows must be accepted back");
    }
    const std::string round_trip = spec.get(again);
    if (round_trip != value) {
      std::fprintf(stderr, "%s: '%s' became '%s'\n", std::string(spec.name).c_str(), value.c_str(), round_trip.c_str());
      FUZZ_CHECK(round_trip == value);
    }
  }
  return 0;
}
