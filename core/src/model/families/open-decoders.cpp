// Llama-shaped decoders with their own twists: StableLM 2 (LayerNorms with bias, optional q/k/v biases,
// parallel residual without the second norm), StarCoder2 (biases, plain GELU MLP, tied head by default),
// OLMo (norms without parameters) and OLMo 2 (post-norms, q/k norms over whole projections).
// Sources: transformers models/stablelm, starcoder2, olmo, olmo2 (4.51) modeling and configuration files.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// Norms as nn.LayerNorm with a bias (StableLM, StarCoder2); the second norm is absent with a parallel residual.
const tensor_template ln_layer_norms[] = {
    {role::attn_norm,   scope::layer,  "layers.{layer}.input_layernorm.weight",          1, {dim::hidden}, 0, 0,                nullptr, 0},
    {role::attn_norm,   scope::layer,  "layers.{layer}.input_layernorm.bias",            1, {dim::hidden}, 0, 0,                nullptr, 0},
    {role::ffn_norm,    scope::layer,  "layers.{layer}.post_attention_layernorm.weight", 1, {dim::hidden}, 0, sw_parallel_attn, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "layers.{layer}.post_attention_layernorm.bias",   1, {dim::hidden}, 0, sw_parallel_attn, nullptr, 0},
};
const tensor_template ln_final_norm[] = {
    {role::output_norm, scope::global, "norm.weight", 1, {dim::hidden}, 0, 0, nullptr, 0},
    {role::output_norm, scope::global, "norm.bias",   1, {dim::hidden}, 0, 0, nullptr, 0},
};
// StableLM's optional per-head LayerNorms (no bias): one per query head and one per key/value head.
const tensor_template stablelm_qk_norms[] = {
    {role::attn_q_norm, scope::q_head,  "layers.{layer}.self_attn.q_layernorm.norms.{expert}.weight", 1, {dim::head_dim}, sw_qk_layernorm, 0, nullptr, 0},
    {role::attn_k_norm, scope::kv_head, "layers.{layer}.self_attn.k_layernorm.norms.{expert}.weight", 1, {dim::head_dim}, sw_qk_layernorm, 0, nullptr, 0},
};
const tensor_template starcoder2_mlp[] = {
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.c_fc.weight",   2, {dim::ffn,    dim::hidden}, 0,           0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.c_fc.bias",     1, {dim::ffn},                 sw_mlp_bias, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.c_proj.weight", 2, {dim::hidden, dim::ffn},    0,           0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.c_proj.bias",   1, {dim::hidden},              sw_mlp_bias, 0, nullptr, 0},
};
// OLMo 2: RMSNorm over the whole q and k projections, and norms after attention and FFN only.
const tensor_template olmo2_qk_norms[] = {
    {role::attn_q_norm, scope::layer,  "layers.{layer}.self_attn.q_norm.weight", 1, {dim::q_dim},  0, 0, nullptr, 0},
    {role::attn_k_norm, scope::layer,  "layers.{layer}.self_attn.k_norm.weight", 1, {dim::kv_dim}, 0, 0, nullptr, 0},
};
const tensor_template olmo2_post_norms[] = {
    {role::attn_post_norm, scope::layer, "layers.{layer}.post_attention_layernorm.weight",   1, {dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_post_norm,  scope::layer, "layers.{layer}.post_feedforward_layernorm.weight", 1, {dim::hidden}, 0, 0, nullptr, 0},
};
// clang-format on

std::optional<error> read_stablelm(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_core(keys, spec, k));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings)); // StableLmConfig default false
    MP_CHECK(read_bool(keys, "use_qkv_bias", spec.qkv_bias));
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
    MP_CHECK(read_core(keys, spec, k));
    spec.tie_embeddings = true; // Starcoder2Config does not pass it: PretrainedConfig's default applies
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    bool use_bias = true;
    MP_CHECK(read_bool(keys, "use_bias", use_bias));
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = use_bias;
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

std::optional<error> read_olmo(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings)); // OlmoConfig default false
    bool attention_bias = false;
    MP_CHECK(read_bool(keys, "attention_bias", attention_bias));
    spec.qkv_bias = spec.o_bias = attention_bias;
    spec.norm = norm_kind::layer; // OlmoLayerNorm: no weight, no bias
    return read_rope(keys, spec);
}

} // namespace

void add_open_decoder_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> stablelm = {lp::embed(),           lp::attention(),
                                                  rows(stablelm_qk_norms), lp::mlp(),
                                                  rows(ln_layer_norms),    rows(ln_final_norm)};
    const std::vector<template_table> starcoder2 = {lp::embed(), lp::attention(), rows(starcoder2_mlp),
                                                    rows(ln_layer_norms), rows(ln_final_norm)};
    const std::vector<template_table> olmo = {lp::embed(), lp::attention(), lp::mlp()};
    const std::vector<template_table> olmo2 = {lp::embed(), lp::attention(), rows(olmo2_qk_norms), lp::mlp(),
                                               rows(olmo2_post_norms), lp::final_norm()};
    // clang-format off
    out.push_back({"stablelm",   "StableLm",   "model.", nullptr, read_stablelm,   nullptr, stablelm,   lp::heads(), {}, nullptr});
    out.push_back({"starcoder2", "Starcoder2", "model.", nullptr, read_starcoder2, nullptr, starcoder2, lp::heads(), {}, nullptr});
    out.push_back({"olmo",       "Olmo",       "model.", nullptr, read_olmo,       nullptr, olmo,       lp::heads(), {}, nullptr});
    out.push_back({"olmo2",      "Olmo2",      "model.", nullptr, read_olmo,       nullptr, olmo2,      lp::heads(), {}, nullptr});
    // clang-format on
}

} // namespace modelplan::family_tables
