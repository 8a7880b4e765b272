// Resolving a MODEL argument: a config.json path, a folder holding one, or a bundled preset name.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "modelplan/error.h"

namespace modelplan::cli {

class hub_repository;

struct model_source {
    std::string label;       // what outputs call the model: the preset name or the path as given
    std::string config_json; // the text of config.json
};

// Largest config.json we read; real ones are a few kilobytes.
constexpr size_t max_config_bytes = 16u << 20;

result<model_source> resolve_model(const std::string& argument);

// A MODEL argument that may also name a checkpoint (docs/checkpoints.md, "Models without a family"): a folder
// (its config.json, its checkpoint files, or both), a config.json (its folder's checkpoint, when there is
// one), a checkpoint file (a .gguf file; a .safetensors file or an index, with the config.json beside it), or
// a preset name. The checkpoint's headers are read only when the config names no family (header-model.h).
struct model_input {
    std::string label;                      // the preset name or the path as given
    std::optional<std::string> config_json; // the text of config.json, when there is one
    std::optional<std::string>
        checkpoint; // a path load_checkpoint reads (a folder or a file), when there is one
    // A Hub id read from the Hub (--online): its checkpoint's headers come from there (`checkpoint` is then
    // the repository's label).
    std::shared_ptr<hub_repository> online;
};
result<model_input> resolve_model_input(const std::string& argument);

} // namespace modelplan::cli
