// Internal: the pieces of a model built from checkpoint headers (modelplan/header-model.h): what a tensor
// name says (its block, its expert, its role) and the generic keys of a config.json or of GGUF metadata.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "modelplan/architectures.h"
#include "modelplan/checkpoint.h"
#include "modelplan/dtype.h"
#include "modelplan/error.h"
#include "modelplan/report.h"

namespace modelplan::header_read {

// What a tensor's name says about where it sits. A block is the part of the name up to its first number
// ("model.layers.3" of "model.layers.3.mlp.up_proj.weight"); blocks of one stack share the part before the
// number ("model.layers"). An expert is the number right after an "experts" component.
struct name_parts {
    std::string stack;              // "model.layers"; "" outside blocks
    std::optional<uint64_t> block;  // 3
    std::optional<uint64_t> expert; // the routed expert, when the name has one
    std::string pattern;            // the name with the block and expert numbers as {layer} and {expert}
};
name_parts split_name(const std::string& name);

// How a role was guessed: from a family's tensor names, from the usual last component of a name, or not.
enum class role_match : uint8_t { family_name, name_ending, gguf_name, none };

struct guessed_role {
    role what = role::unclassified;
    role_match how = role_match::none;
};
// The role of a tensor by its name: a name pattern of a family we model ("model.layers.{layer}.self_attn.
// q_proj.weight" is attn_q whatever the model_type), else the usual meaning of its last components (q_proj,
// c_attn, fc1, ...), else GGUF's own names (llama.cpp's table) for a GGUF file; role::unclassified otherwise.
guessed_role guess_role(const std::string& name, bool gguf);

// The generic keys: the few keys that mean the same in every transformers config (PretrainedConfig's
// attribute names), read from config.json (its text_config first when it has one) or from GGUF metadata
// ({arch}.block_count, ...). Absent keys stay nullopt.
struct generic_keys {
    std::string source;       // "config.json", "GGUF metadata", or "" when there is neither
    std::string model_type;   // config model_type or GGUF general.architecture
    std::string architecture; // config architectures[0]
    std::optional<uint64_t> layers, heads, kv_heads, head_dim, hidden, intermediate, expert_intermediate,
        vocab, max_positions, sliding_window, experts, experts_per_tok;
    // Recurrent mixers (Mamba, Mamba-2, gated DeltaNet): the keys hybrid configs commonly use for the widths
    // of their state (header-model.cpp, set_recurrent).
    std::optional<uint64_t> ssm_state, ssm_heads, ssm_head_dim, conv_kernel, linear_value_heads,
        linear_key_head_dim, linear_value_head_dim, linear_conv_kernel;
    std::optional<uint64_t> ssm_inner; // GGUF {arch}.ssm.inner_size: d_inner (Mamba-2: heads x head_dim)
    std::optional<std::vector<std::string>> layer_types; // one per layer
    bool sliding_disabled = false;                       // use_sliding_window false
    std::optional<bool> tie_embeddings;
    std::optional<dtype> torch_dtype;
    std::optional<dtype> ssm_state_dtype; // mamba_ssm_dtype: the recurrent state's SSM part
    std::vector<std::string> read; // "num_hidden_layers (32)", ... in reading order: the notes name them
    std::vector<std::string> mixer_read; // the recurrent mixers' keys read ("mamba_d_state 128", ...)
    std::vector<std::string> notes;      // keys present but not used, and why
};

// From a parsed config.json (already known to have no family). Errors name the key, as the family readers'
// do.
result<generic_keys> read_config_keys(const rapidjson::Value& config);
// From a GGUF file's metadata.
result<generic_keys> read_gguf_keys(const checkpoint& ck);

// analyze_checkpoint (header-model.h) for a config already parsed (a request's "config"), or none.
result<analysis> analyze_checkpoint(const std::string& model, const checkpoint& ck,
                                    const rapidjson::Value* config, const config_options& options,
                                    const std::string& checkpoint_label);

} // namespace modelplan::header_read
