// Internal: parse_config from a JSON value already parsed (a config embedded in a request, the config that
// GGUF metadata is read as). Public code passes the text (modelplan/config.h): its header needs no
// RapidJSON.
#pragma once

#include <rapidjson/document.h>

#include "modelplan/config.h"

namespace modelplan {

result<model_spec> parse_config(const rapidjson::Value& root, const config_options& options = {});

} // namespace modelplan
