// State-space language models without attention:
//   mamba   Mamba (state-spaces/mamba-*-hf): per layer an RMSNorm and a MambaMixer (selective scan over
//           d_inner = expand x hidden channels, each with a d_state state): conv1d, in_proj (x and the gate
//           z), x_proj (time step, B and C), dt_proj, A_log, D, out_proj.
//   falcon_mamba  Falcon Mamba: Mamba's tensors (its B/C/dt RMS norms have no weights), no projection biases
//           by default; a config's intermediate_size wins over expand x hidden (falcon-mamba-7b: 8192, expand
//           16).
//   mamba2  Mamba-2 (Mamba-Codestral): the mixer has heads x head_dim channels, n_groups shared B and C of
//           d_state, one A and dt per head, and a gated RMSNorm before out_proj; in_proj gives z, x, B, C and
//           dt at once.
// Names: backbone.embeddings, backbone.layers.{i}.norm / .mixer.*, backbone.norm_f, lm_head, in the order
// the modules register (state_dict order). Sources: transformers models/mamba (configuration_mamba.py,
// modeling_mamba.py: MambaMixer, MambaBlock, MambaModel) and models/mamba2 (configuration_mamba2.py,
// modeling_mamba2.py: Mamba2Mixer, MambaRMSNormGated); the class defaults below are the configuration
// classes'.
#include "model/families/families.h"
#include "model/families/ssm-parts.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t mamba = sw_mamba;

// clang-format off
const tensor_template mamba_embed[] = {
    once(role::embed, "embeddings.weight", dim::vocab, dim::hidden),
};
// MambaBlock: norm, then MambaMixer (conv1d, in_proj, x_proj, dt_proj, A_log, D, out_proj).
const tensor_template mamba_layer[] = {
    per_layer(role::attn_norm,  "layers.{layer}.norm.weight",           dim::hidden),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.weight",   dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.bias",     dim::ssm_conv_dim)                 .when(sw_conv_bias),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.weight",  dim::ssm_in_proj, dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.bias",    dim::ssm_in_proj)                  .when(sw_ssm_bias).fused(fused_layout::concatenated),
    per_layer(role::ssm_dt,     "layers.{layer}.mixer.x_proj.weight",   dim::ssm_x_proj, dim::ssm_inner),
    per_layer(role::ssm_dt,     "layers.{layer}.mixer.dt_proj.weight",  dim::ssm_inner, dim::ssm_dt_rank),
    per_layer(role::ssm_dt,     "layers.{layer}.mixer.dt_proj.bias",    dim::ssm_inner),
    per_layer(role::ssm_params, "layers.{layer}.mixer.A_log",           dim::ssm_inner, dim::ssm_state),
    per_layer(role::ssm_params, "layers.{layer}.mixer.D",               dim::ssm_inner),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.weight", dim::hidden, dim::ssm_inner),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.bias",   dim::hidden)                       .when(sw_ssm_bias),
};
// Mamba2Mixer: conv1d, in_proj, dt_bias, A_log, norm (gated RMSNorm), D, out_proj.
const tensor_template mamba2_layer[] = {
    per_layer(role::attn_norm,  "layers.{layer}.norm.weight",           dim::hidden),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.weight",   dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.bias",     dim::ssm_conv_dim)                 .when(sw_conv_bias),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.weight",  dim::ssm_in_proj, dim::hidden),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.bias",    dim::ssm_in_proj)                  .when(sw_ssm_bias),
    per_layer(role::ssm_dt,     "layers.{layer}.mixer.dt_bias",         dim::ssm_heads),
    per_layer(role::ssm_params, "layers.{layer}.mixer.A_log",           dim::ssm_heads),
    per_layer(role::ssm_norm,   "layers.{layer}.mixer.norm.weight",     dim::ssm_inner),
    per_layer(role::ssm_params, "layers.{layer}.mixer.D",               dim::ssm_heads),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.weight", dim::hidden, dim::ssm_inner),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.bias",   dim::hidden)                       .when(sw_ssm_bias),
};
const tensor_template mamba_final_norm[] = {
    once(role::output_norm, "norm_f.weight", dim::hidden),
};
const tensor_template mamba_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embeddings.weight", sw_tied),
};
// clang-format on

// MambaConfig's defaults (transformers configuration_mamba.py); tie_word_embeddings is PretrainedConfig's.
const char* mamba_defaults = R"({"vocab_size": 50280, "hidden_size": 768, "state_size": 16,
    "num_hidden_layers": 32, "layer_norm_epsilon": 1e-5, "expand": 2, "conv_kernel": 4, "use_bias": true,
    "use_conv_bias": true, "time_step_rank": "auto", "tie_word_embeddings": true})";
// FalconMambaConfig's defaults (transformers configuration_falcon_mamba.py): Mamba's, without projection
// biases. Its mixer normalizes B, C and dt without weights (mixer_rms_eps), so its tensors are Mamba's.
const char* falcon_mamba_defaults = R"({"vocab_size": 50280, "hidden_size": 768, "state_size": 16,
    "num_hidden_layers": 32, "layer_norm_epsilon": 1e-5, "expand": 2, "conv_kernel": 4, "use_bias": false,
    "use_conv_bias": true, "time_step_rank": "auto", "tie_word_embeddings": true})";
// Mamba2Config's defaults (transformers configuration_mamba2.py).
const char* mamba2_defaults = R"({"num_heads": 128, "head_dim": 64, "vocab_size": 32768, "hidden_size": 4096,
    "state_size": 128, "num_hidden_layers": 64, "layer_norm_epsilon": 1e-5, "expand": 2, "conv_kernel": 4,
    "n_groups": 8, "use_bias": false, "use_conv_bias": true, "time_step_rank": "auto", "rms_norm": true,
    "chunk_size": 256, "tie_word_embeddings": false})";

// hidden_size, num_hidden_layers, vocab_size, layer_norm_epsilon and tie_word_embeddings: what a model
// without attention shares with the decoders; every layer is a Mamba mixer.
std::optional<error> read_ssm_opening(const key_reader& keys, model_spec& spec) {
    MP_TRY(hidden, keys.size("hidden_size"));
    MP_TRY(n_layers, keys.size("num_hidden_layers"));
    MP_TRY(vocab, keys.size("vocab_size"));
    if (n_layers > max_layers) return too_large(keys, "num_hidden_layers", n_layers, max_layers);
    if (hidden > ssm::max_ssm_width) return too_large(keys, "hidden_size", hidden, ssm::max_ssm_width);
    spec.hidden = hidden;
    spec.n_layers = n_layers;
    spec.vocab = vocab;
    MP_TRY(eps, keys.optional_number("layer_norm_epsilon", spec.norm_eps));
    spec.norm_eps = eps;
    spec.set_switches(sw_tied, true);
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.layers.clear();
    add_stack(spec, layer_stack::decoder, n_layers, 0);
    for (auto& l : spec.layers) ssm::set_recurrent_layer(l, sw_mamba);
    return std::nullopt;
}

// d_inner: intermediate_size when the config stores it (MambaConfig writes expand x hidden there), else
// expand x hidden_size.
result<uint64_t> read_inner(const key_reader& keys, const model_spec& spec, const char* inner_key,
                            const char* expand_key) {
    if (inner_key && keys.object().HasMember(inner_key)) return keys.size(inner_key);
    return ssm::expanded_width(keys, spec, expand_key);
}

// time_step_rank: an integer, or "auto" for ceil(hidden_size / 16).
std::optional<error> read_dt_rank(const key_reader& keys, model_spec& spec) {
    const rapidjson::Value* v = keys.find("time_step_rank");
    if (v && v->IsString() && std::string(v->GetString()) == "auto") {
        spec.ssm_dt_rank = (spec.hidden + 15) / 16;
        return std::nullopt;
    }
    MP_TRY(rank, keys.size("time_step_rank"));
    if (rank > ssm::max_ssm_width) return too_large(keys, "time_step_rank", rank, ssm::max_ssm_width);
    spec.ssm_dt_rank = rank;
    return std::nullopt;
}

std::optional<error> read_mamba(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_ssm_opening(keys, spec));
    MP_TRY(inner, read_inner(keys, spec, "intermediate_size", "expand"));
    MP_TRY(state, keys.size("state_size"));
    MP_TRY(kernel, keys.size("conv_kernel"));
    for (auto [key, v] : {
             std::pair{"intermediate_size", inner },
             {"state_size",        state },
             {"conv_kernel",       kernel}
    })
        if (v > ssm::max_ssm_width) return too_large(keys, key, v, ssm::max_ssm_width);
    spec.ssm_inner = inner;
    spec.ssm_state = state;
    spec.ssm_conv_kernel = kernel;
    spec.ssm_conv_dim = inner;
    spec.ssm_in_proj = 2 * inner; // x and the gate z
    MP_CHECK(read_dt_rank(keys, spec));
    MP_CHECK(read_switch(keys, "use_bias", spec, sw_ssm_bias));
    return read_switch(keys, "use_conv_bias", spec, sw_conv_bias);
}

std::optional<error> read_mamba2(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_ssm_opening(keys, spec));
    MP_TRY(inner, read_inner(keys, spec, nullptr, "expand"));
    MP_CHECK(ssm::read_mamba2_mixer(keys, spec, {}, inner, "expand x hidden_size"));
    MP_CHECK(read_dt_rank(keys, spec)); // read as the class does; Mamba-2 has no dt_proj
    return std::nullopt;
}

std::vector<head_info> ssm_heads() {
    return {
        {head_kind::causal_lm, "ForCausalLM", {rows(mamba_lm_head)}},
        {head_kind::none,      "Model",       {}                   }
    };
}

} // namespace

void add_ssm_families(std::vector<family_info>& out) {
    const std::vector<template_table> mamba1 = {rows(mamba_embed), rows(mamba_layer), rows(mamba_final_norm)};
    const std::vector<template_table> mamba2 = {rows(mamba_embed), rows(mamba2_layer),
                                                rows(mamba_final_norm)};
    out.push_back(family("mamba", "Mamba", read_mamba, mamba1, ssm_heads())
                      .prefix("backbone.")
                      .defaults(mamba_defaults));
    out.push_back(family("falcon_mamba", "FalconMamba", read_mamba, mamba1, ssm_heads())
                      .prefix("backbone.")
                      .defaults(falcon_mamba_defaults));
    out.push_back(family("mamba2", "Mamba2", read_mamba2, mamba2, ssm_heads())
                      .prefix("backbone.")
                      .defaults(mamba2_defaults));
}

} // namespace modelplan::family_tables
