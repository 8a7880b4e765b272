// Internal: what the vision-language families' config readers share (qwen-vl.cpp, vl-families.cpp).
#pragma once

#include <optional>
#include <vector>

#include "model/family-readers.h"

namespace modelplan::family_tables {

// A configuration class's defaults, parsed once per text (the text must be a static string).
const rapidjson::Value* parsed_defaults(const char* json);

// The keys of the config's vision_config with the vision configuration class's defaults; an absent or null
// vision_config is the class's defaults alone (the configuration classes build one from no arguments).
result<key_reader> vision_keys(const key_reader& keys, const char* defaults_json);

// A list of layer indices (`key`: an array of integers each below `limit`); absent or null: empty.
result<std::vector<uint64_t>> read_layer_list(const key_reader& keys, const char* key, uint64_t limit);

// Appends `count` merger layers to the vision stack (Qwen3-VL's deepstack mergers): stack vision, switches
// sw_vision and sw_vision_merger_layer, {layer} counting from 0.
void add_vision_mergers(model_spec& spec, uint64_t count);

// The vision tower's encoder layers (vision stack, not mergers).
uint64_t vision_encoder_layers(const model_spec& spec);

} // namespace modelplan::family_tables
