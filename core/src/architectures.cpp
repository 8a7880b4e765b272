// The family table and the tensor templates of the Llama family. Names are the tensor names of the published
// safetensors checkpoints (transformers 4.x state_dict() names); order is state_dict order. Sources:
// transformers models/llama, mistral, qwen2, qwen3, mixtral modeling files (module registration order).
#include "modelplan/architectures.h"

namespace modelplan {

namespace {

constexpr const char* embed_name = "model.embed_tokens.weight";

// A group of templates as a table.
template <size_t N>
template_table rows(const tensor_template (&group)[N]) {
    return template_table{group, N};
}

// clang-format off
// Groups of templates, in state_dict order. A family lists the groups its model is made of.
const tensor_template llama_embed[] = {
    {role::embed,       scope::global, "model.embed_tokens.weight",                            2, {dim::vocab,  dim::hidden}, need_none,                      nullptr},
};
// Llama attention (LlamaAttention and its copies in mistral, qwen2, qwen3, mixtral).
const tensor_template llama_attention[] = {
    {role::attn_q,      scope::layer,  "model.layers.{layer}.self_attn.q_proj.weight",         2, {dim::q_dim,  dim::hidden}, need_none,                      nullptr},
    {role::attn_q,      scope::layer,  "model.layers.{layer}.self_attn.q_proj.bias",           1, {dim::q_dim},               need_qkv_bias,                  nullptr},
    {role::attn_k,      scope::layer,  "model.layers.{layer}.self_attn.k_proj.weight",         2, {dim::kv_dim, dim::hidden}, need_none,                      nullptr},
    {role::attn_k,      scope::layer,  "model.layers.{layer}.self_attn.k_proj.bias",           1, {dim::kv_dim},              need_qkv_bias,                  nullptr},
    {role::attn_v,      scope::layer,  "model.layers.{layer}.self_attn.v_proj.weight",         2, {dim::kv_dim, dim::hidden}, need_none,                      nullptr},
    {role::attn_v,      scope::layer,  "model.layers.{layer}.self_attn.v_proj.bias",           1, {dim::kv_dim},              need_qkv_bias,                  nullptr},
    {role::attn_o,      scope::layer,  "model.layers.{layer}.self_attn.o_proj.weight",         2, {dim::hidden, dim::q_dim},  need_none,                      nullptr},
    {role::attn_o,      scope::layer,  "model.layers.{layer}.self_attn.o_proj.bias",           1, {dim::hidden},              need_o_bias,                    nullptr},
    {role::attn_q_norm, scope::layer,  "model.layers.{layer}.self_attn.q_norm.weight",         1, {dim::head_dim},            need_qk_norm,                   nullptr},
    {role::attn_k_norm, scope::layer,  "model.layers.{layer}.self_attn.k_norm.weight",         1, {dim::head_dim},            need_qk_norm,                   nullptr},
};
// Dense gated FFN (LlamaMLP).
const tensor_template llama_mlp[] = {
    {role::ffn_gate,    scope::layer,  "model.layers.{layer}.mlp.gate_proj.weight",            2, {dim::ffn,    dim::hidden}, need_dense_ffn,                 nullptr},
    {role::ffn_gate,    scope::layer,  "model.layers.{layer}.mlp.gate_proj.bias",              1, {dim::ffn},                 need_dense_ffn | need_mlp_bias, nullptr},
    {role::ffn_up,      scope::layer,  "model.layers.{layer}.mlp.up_proj.weight",              2, {dim::ffn,    dim::hidden}, need_dense_ffn,                 nullptr},
    {role::ffn_up,      scope::layer,  "model.layers.{layer}.mlp.up_proj.bias",                1, {dim::ffn},                 need_dense_ffn | need_mlp_bias, nullptr},
    {role::ffn_down,    scope::layer,  "model.layers.{layer}.mlp.down_proj.weight",            2, {dim::hidden, dim::ffn},    need_dense_ffn,                 nullptr},
    {role::ffn_down,    scope::layer,  "model.layers.{layer}.mlp.down_proj.bias",              1, {dim::hidden},              need_dense_ffn | need_mlp_bias, nullptr},
};
// Mixtral sparse MoE block: router, then per expert w1 (gate), w2 (down), w3 (up).
const tensor_template mixtral_moe[] = {
    {role::ffn_router,   scope::layer,  "model.layers.{layer}.block_sparse_moe.gate.weight",                 2, {dim::n_experts,  dim::hidden},     need_moe_ffn, nullptr},
    {role::ffn_gate_exp, scope::expert, "model.layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight", 2, {dim::expert_ffn, dim::hidden},     need_moe_ffn, nullptr},
    {role::ffn_down_exp, scope::expert, "model.layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight", 2, {dim::hidden,     dim::expert_ffn}, need_moe_ffn, nullptr},
    {role::ffn_up_exp,   scope::expert, "model.layers.{layer}.block_sparse_moe.experts.{expert}.w3.weight", 2, {dim::expert_ffn, dim::hidden},     need_moe_ffn, nullptr},
};
// Pre-norms of a Llama decoder layer, registered after attention and FFN.
const tensor_template llama_layer_norms[] = {
    {role::attn_norm,   scope::layer,  "model.layers.{layer}.input_layernorm.weight",          1, {dim::hidden},              need_none,                      nullptr},
    {role::ffn_norm,    scope::layer,  "model.layers.{layer}.post_attention_layernorm.weight", 1, {dim::hidden},              need_none,                      nullptr},
};
const tensor_template llama_output[] = {
    {role::output_norm, scope::global, "model.norm.weight",                                    1, {dim::hidden},              need_none,                      nullptr},
    {role::lm_head,     scope::global, "lm_head.weight",                                       2, {dim::vocab,  dim::hidden}, need_none,                      embed_name},
};
// Rotary inverse frequencies: a buffer that checkpoints converted with older transformers store per layer.
const tensor_template rotary_buffers[] = {
    {role::rope_freq,   scope::layer,  "model.layers.{layer}.self_attn.rotary_emb.inv_freq",  1, {dim::rope_half},           need_none,                      nullptr},
};

const std::vector<template_table> llama_dense = {rows(llama_embed), rows(llama_attention), rows(llama_mlp),   rows(llama_layer_norms), rows(llama_output)};
const std::vector<template_table> llama_moe   = {rows(llama_embed), rows(llama_attention), rows(mixtral_moe), rows(llama_layer_norms), rows(llama_output)};
const std::vector<template_table> rotary      = {rows(rotary_buffers)};

//                model_type  causal LM class       tie    biases                         qk_norm sliding                   experts key          expert ffn key       tensors      buffers
const std::vector<family_info> family_table = {
    {"llama",   "LlamaForCausalLM",   false, bias_rule::attention_bias_key, false, sliding_rule::none,       nullptr,             nullptr,             llama_dense, rotary},
    {"mistral", "MistralForCausalLM", false, bias_rule::none,               false, sliding_rule::window_key, nullptr,             nullptr,             llama_dense, rotary},
    {"mixtral", "MixtralForCausalLM", false, bias_rule::none,               false, sliding_rule::window_key, "num_local_experts", "intermediate_size", llama_moe,   rotary},
    {"qwen2",   "Qwen2ForCausalLM",   false, bias_rule::qkv_always,         false, sliding_rule::qwen,       nullptr,             nullptr,             llama_dense, rotary},
    {"qwen3",   "Qwen3ForCausalLM",   false, bias_rule::attention_bias_key, true,  sliding_rule::qwen,       nullptr,             nullptr,             llama_dense, rotary},
};
// clang-format on

} // namespace

const char* role_name(role r) {
    switch (r) {
    case role::embed: return "embed";
    case role::attn_norm: return "attn_norm";
    case role::attn_q: return "attn_q";
    case role::attn_k: return "attn_k";
    case role::attn_v: return "attn_v";
    case role::attn_o: return "attn_o";
    case role::attn_q_norm: return "attn_q_norm";
    case role::attn_k_norm: return "attn_k_norm";
    case role::ffn_norm: return "ffn_norm";
    case role::ffn_gate: return "ffn_gate";
    case role::ffn_up: return "ffn_up";
    case role::ffn_down: return "ffn_down";
    case role::ffn_router: return "ffn_router";
    case role::ffn_gate_exp: return "ffn_gate_exp";
    case role::ffn_up_exp: return "ffn_up_exp";
    case role::ffn_down_exp: return "ffn_down_exp";
    case role::output_norm: return "output_norm";
    case role::lm_head: return "lm_head";
    case role::rope_freq: return "rope_freq";
    }
    return "unknown";
}

const std::vector<family_info>& families() {
    return family_table;
}

int find_family(const std::string& model_type) {
    for (size_t i = 0; i < family_table.size(); ++i)
        if (model_type == family_table[i].model_type) return static_cast<int>(i);
    return -1;
}

std::string supported_model_types() {
    std::string out;
    for (const auto& f : family_table) {
        if (!out.empty()) out += ", ";
        out += f.model_type;
    }
    return out;
}

} // namespace modelplan
