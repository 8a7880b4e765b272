// The Llama family and the families built from its parts: llama, mistral, mixtral, qwen2, qwen3.
// Names are the tensor names of the published safetensors checkpoints (transformers 4.x state_dict() names),
// in state_dict order (module registration order). Sources: transformers models/llama, mistral, mixtral,
// qwen2, qwen3 modeling and configuration files.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template llama_embed[] = {
    once(role::embed, "embed_tokens.weight", dim::vocab, dim::hidden),
};
// LlamaAttention and its copies.
const tensor_template llama_attention[] = {
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight", dim::q_dim,    dim::hidden),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.bias",   dim::q_dim)   .when(sw_qkv_bias),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight", dim::kv_dim,   dim::hidden),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.bias",   dim::kv_dim)  .when(sw_qkv_bias),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight", dim::kv_dim,   dim::hidden),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.bias",   dim::kv_dim)  .when(sw_qkv_bias),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.weight", dim::hidden,   dim::q_dim),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.bias",   dim::hidden)  .when(sw_o_bias),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::head_dim).when(sw_qk_norm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::head_dim).when(sw_qk_norm),
};
// LlamaMLP: dense gated FFN.
const tensor_template llama_mlp[] = {
    per_layer(role::ffn_gate, "layers.{layer}.mlp.gate_proj.weight", dim::ffn,    dim::hidden).when(sw_dense_ffn),
    per_layer(role::ffn_gate, "layers.{layer}.mlp.gate_proj.bias",   dim::ffn)                .when(sw_dense_ffn | sw_mlp_bias),
    per_layer(role::ffn_up,   "layers.{layer}.mlp.up_proj.weight",   dim::ffn,    dim::hidden).when(sw_dense_ffn),
    per_layer(role::ffn_up,   "layers.{layer}.mlp.up_proj.bias",     dim::ffn)                .when(sw_dense_ffn | sw_mlp_bias),
    per_layer(role::ffn_down, "layers.{layer}.mlp.down_proj.weight", dim::hidden, dim::ffn)   .when(sw_dense_ffn),
    per_layer(role::ffn_down, "layers.{layer}.mlp.down_proj.bias",   dim::hidden)             .when(sw_dense_ffn | sw_mlp_bias),
};
// MixtralSparseMoeBlock: router, then per expert w1 (gate), w2 (down), w3 (up).
const tensor_template mixtral_moe[] = {
    per_layer(role::ffn_router,    "layers.{layer}.block_sparse_moe.gate.weight",                dim::n_experts,  dim::hidden)    .when(sw_moe_ffn),
    per_expert(role::ffn_gate_exp, "layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight", dim::expert_ffn, dim::hidden)    .when(sw_moe_ffn),
    per_expert(role::ffn_down_exp, "layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight", dim::hidden,     dim::expert_ffn).when(sw_moe_ffn),
    per_expert(role::ffn_up_exp,   "layers.{layer}.block_sparse_moe.experts.{expert}.w3.weight", dim::expert_ffn, dim::hidden)    .when(sw_moe_ffn),
};
// Pre-norms of a Llama decoder layer, registered after attention and FFN.
const tensor_template llama_layer_norms[] = {
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.weight", dim::hidden),
};
const tensor_template llama_final_norm[] = {
    once(role::output_norm, "norm.weight", dim::hidden),
};
// Rotary inverse frequencies: a buffer that checkpoints converted with older transformers store per layer.
const tensor_template rotary_buffers[] = {
    per_layer(role::rope_freq, "layers.{layer}.self_attn.rotary_emb.inv_freq", dim::rope_half),
};
// Heads (full names).
const tensor_template causal_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embed_tokens.weight", sw_tied),
};
const tensor_template score_rows[] = {
    once(role::classifier, "score.weight", dim::labels, dim::hidden),
};
// clang-format on

// Ministral3Config's defaults (transformers 5, configuration_ministral3.py): a Mistral decoder with head_dim
// 128, YaRN rope (theta 1e6, factor 16 over 16,384 positions) and no sliding window.
const char* ministral3_defaults = R"({"vocab_size": 131072, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 34, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
    "max_position_embeddings": 262144, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
    "rope_parameters": {"type": "yarn", "rope_theta": 1000000.0, "factor": 16.0,
                        "original_max_position_embeddings": 16384}})";

std::optional<error> read_llama(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    return read_rope(keys, spec);
}

std::optional<error> read_mistral(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

std::optional<error> read_mixtral(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_mistral(keys, spec));
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    for (auto& l : spec.layers) set_moe_layer(l);
    return std::nullopt;
}

std::optional<error> read_qwen2(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    spec.set_switches(sw_qkv_bias); // Qwen2Attention: q/k/v with bias, o_proj without
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::qwen);
}

std::optional<error> read_qwen3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    spec.set_switches(sw_qk_norm); // Qwen3Attention: per-head RMSNorm on q and k
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::qwen);
}

} // namespace

template_table llama_parts::embed() {
    return rows(llama_embed);
}
template_table llama_parts::attention() {
    return rows(llama_attention);
}
template_table llama_parts::mlp() {
    return rows(llama_mlp);
}
template_table llama_parts::layer_norms() {
    return rows(llama_layer_norms);
}
template_table llama_parts::final_norm() {
    return rows(llama_final_norm);
}
template_table llama_parts::mixtral_experts() {
    return rows(mixtral_moe);
}
std::vector<head_info> llama_parts::heads() {
    return decoder_heads(rows(causal_lm_head));
}

template_table score_head() {
    return rows(score_rows);
}

std::vector<head_info> decoder_heads(template_table lm_head, template_table score,
                                     const char* causal_suffix) {
    return {
        {head_kind::causal_lm, causal_suffix,               {lm_head}},
        {head_kind::none,      "Model",                     {}       },
        {head_kind::seq_cls,   "ForSequenceClassification", {score}  }
    };
}

void add_llama_families(std::vector<family_info>& out) {
    const std::vector<template_table> dense = {rows(llama_embed), rows(llama_attention), rows(llama_mlp),
                                               rows(llama_layer_norms), rows(llama_final_norm)};
    const std::vector<template_table> moe = {rows(llama_embed), rows(llama_attention), rows(mixtral_moe),
                                             rows(llama_layer_norms), rows(llama_final_norm)};
    const std::vector<template_table> rotary = {rows(rotary_buffers)};
    const auto heads = llama_parts::heads();
    out.push_back(family("llama", "Llama", read_llama, dense, heads).stores_buffers(rotary));
    out.push_back(family("mistral", "Mistral", read_mistral, dense, heads).stores_buffers(rotary));
    out.push_back(family("mixtral", "Mixtral", read_mixtral, moe, heads).stores_buffers(rotary));
    out.push_back(family("qwen2", "Qwen2", read_qwen2, dense, heads).stores_buffers(rotary));
    out.push_back(family("qwen3", "Qwen3", read_qwen3, dense, heads).stores_buffers(rotary));
    // Ministral 3 (Ministral3ForCausalLM, transformers 5): Mistral's layers, names and heads; its own
    // defaults.
    out.push_back(family("ministral3", "Ministral3", read_mistral, dense, heads)
                      .defaults(ministral3_defaults)
                      .stores_buffers(rotary));
}

} // namespace modelplan::family_tables
