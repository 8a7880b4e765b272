// Phi (phi-2: biases everywhere, one LayerNorm per layer shared by attention and MLP, partial rotary, a
// biased output head) and Phi-3 (fused qkv_proj and gate_up_proj; Phi-3/3.5-mini, phi-4). Sources:
// transformers models/phi and models/phi3 (4.51) modeling and configuration files.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template phi_base[] = {
    once(role::embed,            "embed_tokens.weight",                         dim::vocab,    dim::hidden),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight",      dim::q_dim,    dim::hidden),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.bias",        dim::q_dim),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight",      dim::kv_dim,   dim::hidden),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.bias",        dim::kv_dim),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight",      dim::kv_dim,   dim::hidden),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.bias",        dim::kv_dim),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.dense.weight",       dim::hidden,   dim::q_dim),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.dense.bias",         dim::hidden),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_layernorm.weight", dim::head_dim).when(sw_qk_layernorm),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_layernorm.bias",   dim::head_dim).when(sw_qk_layernorm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_layernorm.weight", dim::head_dim).when(sw_qk_layernorm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_layernorm.bias",   dim::head_dim).when(sw_qk_layernorm),
    per_layer(role::ffn_up,      "layers.{layer}.mlp.fc1.weight",               dim::ffn,      dim::hidden),
    per_layer(role::ffn_up,      "layers.{layer}.mlp.fc1.bias",                 dim::ffn),
    per_layer(role::ffn_down,    "layers.{layer}.mlp.fc2.weight",               dim::hidden,   dim::ffn),
    per_layer(role::ffn_down,    "layers.{layer}.mlp.fc2.bias",                 dim::hidden),
    per_layer(role::attn_norm,   "layers.{layer}.input_layernorm.weight",       dim::hidden),
    per_layer(role::attn_norm,   "layers.{layer}.input_layernorm.bias",         dim::hidden),
    once(role::output_norm,      "final_layernorm.weight",                      dim::hidden),
    once(role::output_norm,      "final_layernorm.bias",                        dim::hidden),
};
const tensor_template phi_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embed_tokens.weight", sw_tied),
    once(role::lm_head, "lm_head.bias",   dim::vocab),
};
// Phi3Attention registers o_proj before the fused qkv_proj (rows q | k | v); Phi3MLP fuses gate | up.
const tensor_template phi3_layer[] = {
    per_layer(role::attn_o,   "layers.{layer}.self_attn.o_proj.weight",   dim::hidden,  dim::q_dim),
    per_layer(role::attn_qkv, "layers.{layer}.self_attn.qkv_proj.weight", dim::qkv_dim, dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ffn_up,   "layers.{layer}.mlp.gate_up_proj.weight",   dim::ffn_x2,  dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ffn_down, "layers.{layer}.mlp.down_proj.weight",      dim::hidden,  dim::ffn),
};
// clang-format on

std::optional<error> read_phi(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_decoder(keys, spec, false, k)); // PhiConfig: tie_word_embeddings false
    bool qk_layernorm = false;
    MP_CHECK(read_bool(keys, "qk_layernorm", qk_layernorm));
    if (qk_layernorm) spec.switches |= sw_qk_layernorm;
    spec.norm = norm_kind::layer;
    spec.set_switches(sw_all_biases | sw_norm_bias | sw_parallel_attn | sw_head_bias);
    return read_rope(keys, spec, "partial_rotary_factor");
}

std::optional<error> read_phi3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec)); // Phi3Config: tie_word_embeddings false
    MP_CHECK(read_rope(keys, spec, "partial_rotary_factor"));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

} // namespace

void add_phi_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> phi3 = {lp::embed(), rows(phi3_layer), lp::layer_norms(),
                                              lp::final_norm()};
    out.push_back(family("phi", "Phi", read_phi, {rows(phi_base)}, decoder_heads(rows(phi_lm_head))));
    out.push_back(family("phi3", "Phi3", read_phi3, phi3, lp::heads()));
}

} // namespace modelplan::family_tables
