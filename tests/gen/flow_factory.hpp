// Draws new synthetic flows: the protocol/family/VLAN/option mix lives here.
#pragma once

#include "model.hpp"
#include "rng.hpp"

namespace nfgen {

struct FlowFactoryOptions {
  bool allow_vlan = true;  // false for raw IP captures (no L2 header)
};

// heavy flows are long-lived and busy, so active_timeout cuts them into
// several records; ordinary flows are short and sparse (idle timeouts).
Flow make_flow(Rng& rng, const FlowFactoryOptions& opts, bool heavy);

}  // namespace nfgen
