// require_reads_back(spec, value): what `netflowctl get` (get_parameter) shows for a parameter
// must be a value `set` (apply_parameter) takes, on a fresh configuration, and shows again
// unchanged, so that a saved `get` output restores a configuration. Shared by the config and
// control targets.
#pragma once

#include <cstdio>
#include <string>

#include "common/error.hpp"
#include "control/parameters.hpp"
#include "fuzz_check.hpp"

namespace netflowd {

inline void require_reads_back(const ParameterSpec& spec, const std::string& value) {
  const std::string name(spec.name);
  Config fresh;
  try {
    apply_parameter(fresh, name + "=" + value);
  } catch (const ParameterError& e) {
    std::fprintf(stderr, "%s: get gave '%s', which set refuses: %s\n", name.c_str(), value.c_str(), e.what());
    FUZZ_CHECK(false && "a value get shows must be accepted back");
  }
  const std::string again = spec.get(fresh);
  if (again != value) std::fprintf(stderr, "%s: '%s' became '%s'\n", name.c_str(), value.c_str(), again.c_str());
  FUZZ_CHECK(again == value);
}

}  // namespace netflowd
