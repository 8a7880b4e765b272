// The Llama family and the families built from its parts: llama, mistral, mixtral, qwen2, qwen3.
// Names are the tensor names of the published safetensors checkpoints (transformers 4.x state_dict() names),
// in state_dict order (module registration order). Sources: transformers models/llama, mistral, mixtral, qwen2,
// qwen3 modeling and configuration files.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template llama_embed[] = {
    {role::embed,       scope::global, "embed_tokens.weight",                            2, {dim::vocab,  dim::hidden}, 0,                           0, nullptr, 0},
};
// LlamaAttention and its copies.
const tensor_template llama_attention[] = {
    {role::attn_q,      scope::layer,  "layers.{layer}.self_attn.q_proj.weight",         2, {dim::q_dim,  dim::hidden}, 0,                           0, nullptr, 0},
    {role::attn_q,      scope::layer,  "layers.{layer}.self_attn.q_proj.bias",           1, {dim::q_dim},               sw_qkv_bias,                 0, nullptr, 0},
    {role::attn_k,      scope::layer,  "layers.{layer}.self_attn.k_proj.weight",         2, {dim::kv_dim, dim::hidden}, 0,                           0, nullptr, 0},
    {role::attn_k,      scope::layer,  "layers.{layer}.self_attn.k_proj.bias",           1, {dim::kv_dim},              sw_qkv_bias,                 0, nullptr, 0},
    {role::attn_v,      scope::layer,  "layers.{layer}.self_attn.v_proj.weight",         2, {dim::kv_dim, dim::hidden}, 0,                           0, nullptr, 0},
    {role::attn_v,      scope::layer,  "layers.{layer}.self_attn.v_proj.bias",           1, {dim::kv_dim},              sw_qkv_bias,                 0, nullptr, 0},
    {role::attn_o,      scope::layer,  "layers.{layer}.self_attn.o_proj.weight",         2, {dim::hidden, dim::q_dim},  0,                           0, nullptr, 0},
    {role::attn_o,      scope::layer,  "layers.{layer}.self_attn.o_proj.bias",           1, {dim::hidden},              sw_o_bias,                   0, nullptr, 0},
    {role::attn_q_norm, scope::layer,  "layers.{layer}.self_attn.q_norm.weight",         1, {dim::head_dim},            sw_qk_norm,                  0, nullptr, 0},
    {role::attn_k_norm, scope::layer,  "layers.{layer}.self_attn.k_norm.weight",         1, {dim::head_dim},            sw_qk_norm,                  0, nullptr, 0},
};
// LlamaMLP: dense gated FFN.
const tensor_template llama_mlp[] = {
    {role::ffn_gate,    scope::layer,  "layers.{layer}.mlp.gate_proj.weight",            2, {dim::ffn,    dim::hidden}, sw_dense_ffn,                0, nullptr, 0},
    {role::ffn_gate,    scope::layer,  "layers.{layer}.mlp.gate_proj.bias",              1, {dim::ffn},                 sw_dense_ffn | sw_mlp_bias,  0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.up_proj.weight",              2, {dim::ffn,    dim::hidden}, sw_dense_ffn,                0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "layers.{layer}.mlp.up_proj.bias",                1, {dim::ffn},                 sw_dense_ffn | sw_mlp_bias,  0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.down_proj.weight",            2, {dim::hidden, dim::ffn},    sw_dense_ffn,                0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "layers.{layer}.mlp.down_proj.bias",              1, {dim::hidden},              sw_dense_ffn | sw_mlp_bias,  0, nullptr, 0},
};
// MixtralSparseMoeBlock: router, then per expert w1 (gate), w2 (down), w3 (up).
const tensor_template mixtral_moe[] = {
    {role::ffn_router,   scope::layer,  "layers.{layer}.block_sparse_moe.gate.weight",                 2, {dim::n_experts,  dim::hidden},     sw_moe_ffn, 0, nullptr, 0},
    {role::ffn_gate_exp, scope::expert, "layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight", 2, {dim::expert_ffn, dim::hidden},     sw_moe_ffn, 0, nullptr, 0},
    {role::ffn_down_exp, scope::expert, "layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight", 2, {dim::hidden,     dim::expert_ffn}, sw_moe_ffn, 0, nullptr, 0},
    {role::ffn_up_exp,   scope::expert, "layers.{layer}.block_sparse_moe.experts.{expert}.w3.weight", 2, {dim::expert_ffn, dim::hidden},     sw_moe_ffn, 0, nullptr, 0},
};
// Pre-norms of a Llama decoder layer, registered after attention and FFN.
const tensor_template llama_layer_norms[] = {
    {role::attn_norm,   scope::layer,  "layers.{layer}.input_layernorm.weight",          1, {dim::hidden},              0,                           0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "layers.{layer}.post_attention_layernorm.weight", 1, {dim::hidden},              0,                           0, nullptr, 0},
};
const tensor_template llama_final_norm[] = {
    {role::output_norm, scope::global, "norm.weight",                                    1, {dim::hidden},              0,                           0, nullptr, 0},
};
// Rotary inverse frequencies: a buffer that checkpoints converted with older transformers store per layer.
const tensor_template rotary_buffers[] = {
    {role::rope_freq,   scope::layer,  "layers.{layer}.self_attn.rotary_emb.inv_freq",  1, {dim::rope_half},           0,                           0, nullptr, 0},
};
// Heads (full names).
const tensor_template causal_lm_head[] = {
    {role::lm_head,     scope::global, "lm_head.weight",                                 2, {dim::vocab,  dim::hidden}, 0,                           0, "embed_tokens.weight", sw_tied},
};
const tensor_template score_head[] = {
    {role::classifier,  scope::global, "score.weight",                                   2, {dim::labels, dim::hidden}, 0,                           0, nullptr, 0},
};
// clang-format on

// Heads of every Llama-style family: ForCausalLM (default), the bare Model, ForSequenceClassification.
std::vector<head_info> llama_heads() {
    return {{head_kind::causal_lm, "ForCausalLM", {rows(causal_lm_head)}},
            {head_kind::none, "Model", {}},
            {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}};
}

std::optional<error> read_llama(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    bool attention_bias = false;
    MP_CHECK(read_bool(keys, "attention_bias", attention_bias));
    spec.qkv_bias = spec.o_bias = attention_bias;
    MP_CHECK(read_bool(keys, "mlp_bias", spec.mlp_bias));
    return read_rope(keys, spec);
}

std::optional<error> read_mistral(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

std::optional<error> read_mixtral(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_mistral(keys, spec));
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    for (auto& l : spec.layers) {
        l.ffn = ffn_kind::moe;
        l.switches = (l.switches & ~sw_dense_ffn) | sw_moe_ffn;
    }
    return std::nullopt;
}

std::optional<error> read_qwen2(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    spec.qkv_bias = true; // Qwen2Attention: q/k/v with bias, o_proj without
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::qwen);
}

std::optional<error> read_qwen3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_core(keys, spec));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    bool attention_bias = false;
    MP_CHECK(read_bool(keys, "attention_bias", attention_bias));
    spec.qkv_bias = spec.o_bias = attention_bias;
    spec.qk_norm = true; // Qwen3Attention: per-head RMSNorm on q and k
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::qwen);
}

} // namespace

template_table llama_parts::embed() { return rows(llama_embed); }
template_table llama_parts::attention() { return rows(llama_attention); }
template_table llama_parts::mlp() { return rows(llama_mlp); }
template_table llama_parts::layer_norms() { return rows(llama_layer_norms); }
template_table llama_parts::final_norm() { return rows(llama_final_norm); }
std::vector<head_info> llama_parts::heads() { return llama_heads(); }

void add_llama_families(std::vector<family_info>& out) {
    const std::vector<template_table> dense = {rows(llama_embed), rows(llama_attention), rows(llama_mlp),
                                               rows(llama_layer_norms), rows(llama_final_norm)};
    const std::vector<template_table> moe = {rows(llama_embed), rows(llama_attention), rows(mixtral_moe),
                                             rows(llama_layer_norms), rows(llama_final_norm)};
    const std::vector<template_table> rotary = {rows(rotary_buffers)};
    // clang-format off
    //  model_type  class prefix base    nested   reader        base   heads          buffers not modelled
    out.push_back({"llama",   "Llama",   "model.", nullptr, read_llama, nullptr,   dense, llama_heads(), rotary, nullptr});
    out.push_back({"mistral", "Mistral", "model.", nullptr, read_mistral, nullptr, dense, llama_heads(), rotary, nullptr});
    out.push_back({"mixtral", "Mixtral", "model.", nullptr, read_mixtral, nullptr, moe,   llama_heads(), rotary, nullptr});
    out.push_back({"qwen2",   "Qwen2",   "model.", nullptr, read_qwen2, nullptr,   dense, llama_heads(), rotary, nullptr});
    out.push_back({"qwen3",   "Qwen3",   "model.", nullptr, read_qwen3, nullptr,   dense, llama_heads(), rotary, nullptr});
    // clang-format on
}

} // namespace modelplan::family_tables
