// The confidence weights the server uses when none are configured or
// calibrated: data/confidence_defaults.json, compiled into the binary so the
// server does not depend on where it is started from.
#pragma once

#include <string_view>

namespace tinyrag::server {

// The JSON text of data/confidence_defaults.json at build time.
std::string_view BuiltInConfidenceJson();

}  // namespace tinyrag::server
