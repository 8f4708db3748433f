#include "export/flow_encoder.hpp"

#include <string>

#include "common/error.hpp"
#include "export/netflow5/netflow5_encoder.hpp"
#include "export/template/template_encoder.hpp"

namespace netflowd {

std::unique_ptr<FlowEncoder> make_flow_encoder(const ExportConfig& config, DatagramSink& sink) {
  switch (config.protocol) {
    case 5: return std::make_unique<Netflow5Encoder>(config, sink);
    case 9: return std::make_unique<TemplateEncoder>(Dialect::netflow9, config, sink);
    case 10: return std::make_unique<TemplateEncoder>(Dialect::ipfix, config, sink);
    default: throw ParameterError("protocol", "must be 5, 9 or 10, not " + std::to_string(config.protocol));
  }
}

}  // namespace netflowd
