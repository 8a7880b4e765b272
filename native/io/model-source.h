// Resolving a MODEL argument: a config.json path, a folder holding one, or a bundled preset name.
#pragma once

#include <string>

#include "modelplan/error.h"

namespace modelplan::cli {

struct model_source {
    std::string label;       // what outputs call the model: the preset name or the path as given
    std::string config_json; // the text of config.json
};

// Largest config.json we read; real ones are a few kilobytes.
constexpr size_t max_config_bytes = 16u << 20;

result<model_source> resolve_model(const std::string& argument);

} // namespace modelplan::cli
