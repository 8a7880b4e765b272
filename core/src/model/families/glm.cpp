// GLM-4-0414 (glm4: Llama-shaped attention with q/k/v biases and partial rotary, a fused gate_up_proj, and
// four norms per layer: before and after attention, before and after the FFN) and GLM-4.5 / 4.6 (glm4_moe:
// the same attention with optional per-head q/k norms, first_k_dense_replace dense layers, then
// DeepSeek-V3-style MoE layers with a gate score-correction bias and shared experts, and
// next-token-prediction layers stored after the last layer, counted apart as DeepSeek's are). Sources:
// transformers models/glm4 and models/glm4_moe (4.57) modeling and configuration files;
// zai-org/GLM-4-9B-0414's index names.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// Glm4MLP (Phi3MLP): gate | up fused in one projection.
const tensor_template glm4_mlp[] = {
    per_layer(role::ffn_up,   "layers.{layer}.mlp.gate_up_proj.weight", dim::ffn_x2, dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ffn_down, "layers.{layer}.mlp.down_proj.weight",    dim::hidden, dim::ffn),
};
// Glm4DecoderLayer registers its norms after the MLP: input, post_attention (before the MLP), then the
// sandwich norms applied to the attention and MLP outputs.
const tensor_template glm4_norms[] = {
    per_layer(role::attn_norm,      "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::ffn_norm,       "layers.{layer}.post_attention_layernorm.weight", dim::hidden),
    per_layer(role::attn_post_norm, "layers.{layer}.post_self_attn_layernorm.weight", dim::hidden),
    per_layer(role::ffn_post_norm,  "layers.{layer}.post_mlp_layernorm.weight",       dim::hidden),
};
// clang-format on

// Glm4Config's defaults (transformers 4.57) for the keys the readers use.
const char* const glm4_defaults = R"({
    "vocab_size": 151552, "hidden_size": 4096, "intermediate_size": 13696, "num_hidden_layers": 40,
    "num_attention_heads": 32, "num_key_value_heads": 2, "head_dim": 128, "partial_rotary_factor": 0.5,
    "max_position_embeddings": 131072, "rms_norm_eps": 1.5625e-07, "tie_word_embeddings": false,
    "rope_theta": 10000.0, "attention_bias": true})";

// Glm4MoeConfig's defaults (transformers 4.57). head_dim has none: the attention falls back to
// hidden_size / num_attention_heads, which read_core does.
const char* const glm4_moe_defaults = R"({
    "vocab_size": 151552, "hidden_size": 4096, "intermediate_size": 10944, "num_hidden_layers": 46,
    "num_attention_heads": 96, "num_key_value_heads": 8, "partial_rotary_factor": 0.5,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-05, "tie_word_embeddings": false,
    "rope_theta": 10000.0, "attention_bias": false, "moe_intermediate_size": 1408, "num_experts_per_tok": 8,
    "n_shared_experts": 1, "n_routed_experts": 128, "first_k_dense_replace": 1, "use_qk_norm": false})";

// GLM attention: attention_bias puts biases on q/k/v only (o_proj has none).
std::optional<error> read_glm_attention(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_switch(keys, "attention_bias", spec, sw_qkv_bias));
    return read_rope(keys, spec, "partial_rotary_factor");
}

std::optional<error> read_glm4(const key_reader& keys, model_spec& spec) {
    return read_glm_attention(keys, spec);
}

std::optional<error> read_glm4_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_glm_attention(keys, spec));
    MP_CHECK(read_switch(keys, "use_qk_norm", spec, sw_qk_norm));
    MP_CHECK(deepseek_parts::read_experts(keys, spec));
    spec.switches |= sw_router_bias; // Glm4MoeTopkRouter always holds e_score_correction_bias
    return deepseek_parts::read_mtp_layers(keys, spec);
}

} // namespace

std::vector<head_info> causal_lm_and_model_heads() {
    auto heads = llama_parts::heads(); // ForCausalLM, Model, ForSequenceClassification
    heads.resize(2);
    return heads;
}

void add_glm_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> glm4 = {lp::embed(), lp::attention(), rows(glm4_mlp), rows(glm4_norms),
                                              lp::final_norm()};
    const std::vector<template_table> glm4_moe = {
        lp::embed(),       lp::attention(),       lp::mlp(),       deepseek_parts::moe_block(),
        lp::layer_norms(), deepseek_parts::mtp(), lp::final_norm()};
    out.push_back(family("glm4", "Glm4", read_glm4, glm4, lp::heads()).defaults(glm4_defaults));
    out.push_back(family("glm4_moe", "Glm4Moe", read_glm4_moe, glm4_moe, causal_lm_and_model_heads())
                      .defaults(glm4_moe_defaults));
}

} // namespace modelplan::family_tables
