// Phi (phi-2: biases everywhere, one LayerNorm per layer shared by attention and MLP, partial rotary, a biased
// output head) and Phi-3 (fused qkv_proj and gate_up_proj; Phi-3/3.5-mini, phi-4). Sources: transformers
// models/phi and models/phi3 (4.51) modeling and configuration files.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template phi_base[] = {
    {role::embed,       scope::global, "embed_tokens.weight",                       2, {dim::vocab,  dim::hidden}, 0,               0, nullptr, 0},
    {role::attn_q,      scope::layer,  "layers.{layer}.self_attn.q_proj.weight",    2, {dim::q_dim,  dim::hidden}, 0,               0, nullptr, 0},
    {role::attn_q,      scope::layer,  "layers.{layer}.self_attn.q_proj.bias",      1, {dim::q_dim},               0,               0, nullptr, 0},
    {role::attn_k,      scope::layer,  "layers.{layer}.self_attn.k_proj.weight",    2, {dim::kv_dim, dim::hidden}, 0,               0, nullptr, 0},
    {role::attn_k,      scope::layer,  "layers.{layer}.self_attn.k_proj.bias",      1, {dim::kv_dim},              0,               0, nullptr, 0},
    {role::attn_v,      scope::layer,  "layers.{layer}.self_attn.v_proj.weight",    2, {dim::kv_dim, dim::hidden}, 0,               0, nullptr, 0},
    {role::attn_v,      scope::layer,  "layers.{layer}.self_attn.v_proj.bias",      1, {dim::kv_dim},              0,               0, nullptr, 0},
    {role::attn_o,      scope::layer,  "layers.{layer}.self_attn.dense.weight",     2, {dim::hidden, dim::q_dim},  0,               0, nullptr, 0},
    {role::attn_o,      scope::layer,  "layers.{layer}.self_attn.dense.bias",       1, {dim::hidden},              0,               0, nullptr, 0},
    {role::attn_q_norm, scope::layer,  "layers.{layer}.self_attn.q_layernorm.weight", 1, {dim::head_dim},          sw_qk_layernorm, 0, nullptr, 0},
    {role::attn_q_norm, scope::layer,  "layers.{layer}.self_attn.q_layernorm.bias", 1, {dim::head_dim},            sw_qk_layernorm, 0, nullptr, 0},
    {role::attn_k_norm, scope::layer,  "layers.{layer}.self_attn.k_layernorm.weight", 1, {dim::head_dim},          sw_qk_layernorm, 0, nullptr, 0},
    {role::attn_k_norm, scope::layer,  "layers.{layer}.self_attn.k_layernorm.bias", 1, {dim::head_dim},            sw_qk_layernorm, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.fc1.weight",             2, {dim::ffn,    dim::hidden}, 0,               0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.fc1.bias",               1, {dim::ffn},                 0,               0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.fc2.weight",             2, {dim::hidden, dim::ffn},    0,               0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.fc2.bias",               1, {dim::hidden},              0,               0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "layers.{layer}.input_layernorm.weight",     1, {dim::hidden},              0,               0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "layers.{layer}.input_layernorm.bias",       1, {dim::hidden},              0,               0, nullptr, 0},
    {role::output_norm, scope::global, "final_layernorm.weight",                    1, {dim::hidden},              0,               0, nullptr, 0},
    {role::output_norm, scope::global, "final_layernorm.bias",                      1, {dim::hidden},              0,               0, nullptr, 0},
};
const tensor_template phi_lm_head[] = {
    {role::lm_head,     scope::global, "lm_head.weight", 2, {dim::vocab, dim::hidden}, 0, 0, "embed_tokens.weight", sw_tied},
    {role::lm_head,     scope::global, "lm_head.bias",   1, {dim::vocab},              0, 0, nullptr, 0},
};
const tensor_template score_head[] = {
    {role::classifier,  scope::global, "score.weight",   2, {dim::labels, dim::hidden}, 0, 0, nullptr, 0},
};
// Phi3Attention registers o_proj before the fused qkv_proj (rows q | k | v); Phi3MLP fuses gate | up.
const tensor_template phi3_layer[] = {
    {role::attn_o,      scope::layer,  "layers.{layer}.self_attn.o_proj.weight",    2, {dim::hidden,  dim::q_dim},  0, 0, nullptr, 0},
    {role::attn_qkv,    scope::layer,  "layers.{layer}.self_attn.qkv_proj.weight",  2, {dim::qkv_dim, dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.gate_up_proj.weight",    2, {dim::ffn2,    dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.down_proj.weight",       2, {dim::hidden,  dim::ffn},    0, 0, nullptr, 0},
};
// clang-format on

std::optional<error> read_phi(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_core(keys, spec, k));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings)); // PhiConfig default false
    bool qk_layernorm = false;
    MP_CHECK(read_bool(keys, "qk_layernorm", qk_layernorm));
    if (qk_layernorm) spec.switches |= sw_qk_layernorm;
    spec.norm = norm_kind::layer;
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = true;
    spec.switches |= sw_norm_bias | sw_parallel_attn | sw_head_bias;
    return read_rope(keys, spec, "partial_rotary_factor");
}

std::optional<error> read_phi3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings)); // Phi3Config default false
    MP_CHECK(read_rope(keys, spec, "partial_rotary_factor"));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

} // namespace

void add_phi_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    std::vector<head_info> phi_heads = {{head_kind::causal_lm, "ForCausalLM", {rows(phi_lm_head)}},
                                        {head_kind::none, "Model", {}},
                                        {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}};
    const std::vector<template_table> phi3 = {lp::embed(), rows(phi3_layer), lp::layer_norms(), lp::final_norm()};
    out.push_back({"phi", "Phi", "model.", nullptr, read_phi, nullptr, {rows(phi_base)}, phi_heads, {}, nullptr});
    out.push_back({"phi3", "Phi3", "model.", nullptr, read_phi3, nullptr, phi3, lp::heads(), {}, nullptr});
}

} // namespace modelplan::family_tables
