// config.json -> model_spec: parsing, key mapping per family, and validation.
#pragma once

#include <optional>
#include <string>

#include "modelplan/architectures.h"
#include "modelplan/error.h"
#include "modelplan/model-spec.h"

namespace modelplan {

struct config_options {
    std::optional<dtype> weight_dtype; // overrides torch_dtype / dtype from the config
    std::optional<head_kind> head;     // overrides the head named by "architectures"
};

// Upper bounds that keep a hostile config from asking for billions of tensors. Real models are far below
// them (Llama-3.1-405B: 126 layers; DeepSeek-V3: 256 routed experts).
constexpr uint64_t max_layers = 10000;
constexpr uint64_t max_experts = 65536;

// Parses the text of a Hugging Face config.json and returns the validated spec, or the first error found.
// (The core itself also parses an already parsed JSON value: core/src/model/config-json.h.)
result<model_spec> parse_config(const std::string& json_text, const config_options& options = {});

} // namespace modelplan
