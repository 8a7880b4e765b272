// Internal: what the state-space and hybrid families share (ssm.cpp, ssm-hybrids.cpp, qwen3-next.cpp,
// lfm2.cpp): the readers of Mamba and Mamba-2 mixer widths and of per-layer block patterns.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "model/family-readers.h"

namespace modelplan::family_tables::ssm {

// The widest mixer dimension a config may give (heads, head_dim, d_state, groups, kernel, d_inner): 2^24, so
// that the widths built from them (d_inner + 2 x groups x d_state, ...) and the state of a layer stay far
// below 64 bits; published models use at most a few thousand.
constexpr uint64_t max_ssm_width = 1ull << 24;

// The config keys of a Mamba-2 mixer; a null key is not read (its width comes from elsewhere).
struct mamba2_keys {
    const char* heads = "num_heads";
    const char* head_dim = "head_dim"; // null: d_inner / heads
    const char* groups = "n_groups";
    const char* state = "state_size";
    const char* conv_kernel = "conv_kernel";
    const char* proj_bias = "use_bias";
    const char* conv_bias = "use_conv_bias";
};

// Reads a Mamba-2 mixer of width `inner` (d_inner): heads, head_dim (checked: heads x head_dim = d_inner),
// groups, state, convolution; sets the spec's ssm_* widths (conv channels d_inner + 2 x groups x d_state,
// in_proj d_inner + conv channels + heads) and the bias switches. `inner_key` names where d_inner came from,
// for messages.
std::optional<error> read_mamba2_mixer(const key_reader& keys, model_spec& spec, const mamba2_keys& k,
                                       uint64_t inner, const std::string& inner_key);

// `expand_key` x hidden_size (a Mamba mixer's d_inner), both within max_ssm_width; the error names the key.
result<uint64_t> expanded_width(const key_reader& keys, const model_spec& spec, const char* expand_key);

// mamba_ssm_dtype ("float32", ...): the dtype the model keeps its SSM state in, when the config names one.
std::optional<error> read_state_dtype(const key_reader& keys, model_spec& spec);

// Marks a layer as a recurrent mixer (`kind`: sw_mamba, sw_linear_attn or sw_short_conv) without attention,
// so without a KV cache.
void set_recurrent_layer(layer_spec& layer, uint64_t kind);

// A list config key of one string per layer (layer_types, layers_block_type): each entry must be one of
// `names`; returns their indices. The error names the key, the entry and the allowed names.
result<std::vector<size_t>> read_layer_kinds(const key_reader& keys, const char* key, uint64_t n_layers,
                                             const std::vector<const char*>& names);

} // namespace modelplan::family_tables::ssm
