// libFuzzer target: the device-map reader, as `load --device-map FILE` reads a file (transformers'
// from_pretrained(device_map=) JSON: {"model.embed_tokens": 0, "model.layers.0": "cuda:1", "lm_head":
// "cpu"}). The input is read by parse_device_map; a map it accepts is written back with device_map_json (what
// `place --device-map-out` writes) and must read back to the same entries, and every parameter of two small
// skeletons (a dense llama, a Mixtral-style MoE) is given its device by assign_devices, as the loader does;
// placement_module runs on every key.
//
// Invariants: no sanitizer report; a refusal is an error value, not `internal`, with a message of at most
// 1 KiB whatever the input (keys and values are quoted with quote_value); an accepted map round-trips.
// Build and run: fuzz/build.sh (docs/reliability.md, "Fuzzing").
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "modelplan/config.h"
#include "modelplan/device-map.h"
#include "modelplan/report.h"

namespace {

// Two layers, four experts: small, so that each input costs little (the reader is what is fuzzed).
const char* const dense_config = R"({"model_type": "llama", "hidden_size": 8, "intermediate_size": 16,
  "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16,
  "max_position_embeddings": 64, "tie_word_embeddings": false})";
const char* const moe_config = R"({"model_type": "mixtral", "hidden_size": 8, "intermediate_size": 16,
  "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 16,
  "max_position_embeddings": 64, "num_local_experts": 4, "num_experts_per_tok": 2})";

const modelplan::skeleton& skeleton_of(const char* config) {
    auto a = modelplan::analyze("fuzz", config, modelplan::config_options{});
    if (!a) __builtin_trap();
    static std::vector<std::unique_ptr<modelplan::analysis>> kept;
    kept.push_back(std::make_unique<modelplan::analysis>(std::move(*a)));
    return kept.back()->sk;
}

void check(const modelplan::error& e) {
    if (e.code == modelplan::error_code::internal) __builtin_trap();
    if (e.message.empty() || e.message.size() > 1024) __builtin_trap();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const modelplan::skeleton& dense = skeleton_of(dense_config);
    static const modelplan::skeleton& moe = skeleton_of(moe_config);

    auto map = modelplan::parse_device_map(std::string(reinterpret_cast<const char*>(data), size));
    if (!map) {
        check(map.err());
        return 0;
    }
    if (map->entries.empty()) __builtin_trap();

    auto again = modelplan::parse_device_map(modelplan::device_map_json(*map));
    if (!again || again->entries.size() != map->entries.size()) __builtin_trap();
    for (size_t i = 0; i < map->entries.size(); ++i)
        if (again->entries[i].module != map->entries[i].module ||
            again->entries[i].device != map->entries[i].device)
            __builtin_trap();

    for (const modelplan::skeleton* sk : {&dense, &moe}) {
        auto devices = modelplan::assign_devices(*sk, *map);
        if (!devices)
            check(devices.err());
        else if (devices->size() != sk->tensors.size())
            __builtin_trap();
    }
    for (const auto& e : map->entries) {
        (void)modelplan::placement_module(e.module, false);
        (void)modelplan::placement_module(e.module, true);
    }
    return 0;
}
