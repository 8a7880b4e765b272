// Llama-shaped decoders with their own twists: StableLM 2 (LayerNorms with bias, optional q/k/v biases,
// parallel residual without the second norm), StarCoder2 (biases, plain GELU MLP, tied head by default),
// OLMo (norms without parameters) and OLMo 2 (post-norms, q/k norms over whole projections).
// Sources: transformers models/stablelm, starcoder2, olmo, olmo2 (4.51) modeling and configuration files.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// Norms as nn.LayerNorm with a bias (StableLM, StarCoder2); the second norm is absent with a parallel residual.
const tensor_template ln_layer_norms[] = {
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.bias",            dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.weight", dim::hidden).unless(sw_parallel_attn),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.bias",   dim::hidden).unless(sw_parallel_attn),
};
const tensor_template ln_final_norm[] = {
    once(role::output_norm, "norm.weight", dim::hidden),
    once(role::output_norm, "norm.bias",   dim::hidden),
};
// StableLM's optional per-head LayerNorms (no bias): one per query head and one per key/value head.
const tensor_template stablelm_qk_norms[] = {
    per_q_head(role::attn_q_norm,  "layers.{layer}.self_attn.q_layernorm.norms.{expert}.weight", dim::head_dim).when(sw_qk_layernorm),
    per_kv_head(role::attn_k_norm, "layers.{layer}.self_attn.k_layernorm.norms.{expert}.weight", dim::head_dim).when(sw_qk_layernorm),
};
const tensor_template starcoder2_mlp[] = {
    per_layer(role::ffn_up,   "layers.{layer}.mlp.c_fc.weight",   dim::ffn,    dim::hidden),
    per_layer(role::ffn_up,   "layers.{layer}.mlp.c_fc.bias",     dim::ffn)   .when(sw_mlp_bias),
    per_layer(role::ffn_down, "layers.{layer}.mlp.c_proj.weight", dim::hidden, dim::ffn),
    per_layer(role::ffn_down, "layers.{layer}.mlp.c_proj.bias",   dim::hidden).when(sw_mlp_bias),
};
// OLMo 2: RMSNorm over the whole q and k projections, and norms after attention and FFN only.
const tensor_template olmo2_qk_norms[] = {
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::q_dim),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::kv_dim),
};
const tensor_template olmo2_post_norms[] = {
    per_layer(role::attn_post_norm, "layers.{layer}.post_attention_layernorm.weight",   dim::hidden),
    per_layer(role::ffn_post_norm,  "layers.{layer}.post_feedforward_layernorm.weight", dim::hidden),
};
// clang-format on

std::optional<error> read_stablelm(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_decoder(keys, spec, false, k)); // StableLmConfig: tie_word_embeddings false
    MP_CHECK(read_switch(keys, "use_qkv_bias", spec, sw_qkv_bias));
    bool qk_layernorm = false, parallel = false;
    MP_CHECK(read_bool(keys, "qk_layernorm", qk_layernorm));
    if (qk_layernorm) spec.switches |= sw_qk_layernorm;
    MP_CHECK(read_bool(keys, "use_parallel_residual", parallel));
    if (parallel) spec.switches |= sw_parallel_attn;
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    return read_rope(keys, spec, "partial_rotary_factor");
}

std::optional<error> read_starcoder2(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "norm_epsilon";
    MP_CHECK(
        read_decoder(keys, spec, true, k)); // Starcoder2Config leaves tie_word_embeddings to PretrainedConfig
    spec.set_switches(sw_all_biases);       // Starcoder2Config: use_bias true
    MP_CHECK(read_switch(keys, "use_bias", spec, sw_all_biases));
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

std::optional<error> read_olmo(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec)); // OlmoConfig: tie_word_embeddings false
    spec.norm = norm_kind::layer;             // OlmoLayerNorm: no weight, no bias
    return read_rope(keys, spec);
}

} // namespace

void add_open_decoder_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> stablelm = {lp::embed(), lp::attention(),      rows(stablelm_qk_norms),
                                                  lp::mlp(),   rows(ln_layer_norms), rows(ln_final_norm)};
    const std::vector<template_table> starcoder2 = {lp::embed(), lp::attention(), rows(starcoder2_mlp),
                                                    rows(ln_layer_norms), rows(ln_final_norm)};
    const std::vector<template_table> olmo = {lp::embed(), lp::attention(), lp::mlp()};
    const std::vector<template_table> olmo2 = {lp::embed(), lp::attention(),        rows(olmo2_qk_norms),
                                               lp::mlp(),   rows(olmo2_post_norms), lp::final_norm()};
    out.push_back(family("stablelm", "StableLm", read_stablelm, stablelm, lp::heads()));
    out.push_back(family("starcoder2", "Starcoder2", read_starcoder2, starcoder2, lp::heads()));
    out.push_back(family("olmo", "Olmo", read_olmo, olmo, lp::heads()));
    out.push_back(family("olmo2", "Olmo2", read_olmo, olmo2, lp::heads()));
}

} // namespace modelplan::family_tables
