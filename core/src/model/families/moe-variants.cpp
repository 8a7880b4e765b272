// Mixture-of-experts decoders of 2024-25:
//   granitemoe  Granite 3.x MoE: every layer's experts stored stacked in two 3-D tensors, input_linear
//               [experts, 2 x expert FFN, hidden] (gate and up fused) and output_linear [experts, hidden,
//               expert FFN], then the router (router.layer); head_dim = hidden / heads; multipliers as
//               Granite.
//   phimoe      Phi-3.5-MoE: Mixtral's block_sparse_moe names, LayerNorms with a bias, biased attention
//               (attention_bias) and output head (lm_head_bias).
//   olmoe       OLMoE: q/k RMSNorm over the whole projections, 64 experts with Qwen-MoE names (mlp.gate,
//               mlp.experts.{e}.gate_proj/up_proj/down_proj).
// Names are the published safetensors names (transformers 4.5x state_dict order: transformers 5 fuses the
// experts in memory and converts from these names on load). Sources: transformers models/granitemoe, phimoe,
// olmoe configuration and modeling files (4.5x); the class defaults below are those of the configuration
// classes.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
// GraniteMoeMoE: GraniteMoeParallelExperts input_linear and output_linear ([experts, out, in]), then the
// GraniteMoeTopKGating router's linear layer.
const tensor_template granitemoe_block[] = {
    per_layer(role::ffn_up_exp,   "layers.{layer}.block_sparse_moe.input_linear.weight",  dim::n_experts, dim::expert_ffn_x2, dim::hidden)    .when(moe).fused(fused_layout::concatenated),
    per_layer(role::ffn_down_exp, "layers.{layer}.block_sparse_moe.output_linear.weight", dim::n_experts, dim::hidden,        dim::expert_ffn).when(moe),
    per_layer(role::ffn_router,   "layers.{layer}.block_sparse_moe.router.layer.weight",  dim::n_experts, dim::hidden)                        .when(moe),
};
// nn.LayerNorm with a bias before attention and before the FFN, and after the last layer (Phi-3.5-MoE).
const tensor_template biased_layer_norms[] = {
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.bias",            dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.weight", dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.bias",   dim::hidden),
};
const tensor_template biased_final_norm[] = {
    once(role::output_norm, "norm.weight", dim::hidden),
    once(role::output_norm, "norm.bias",   dim::hidden),
};
const tensor_template phimoe_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embed_tokens.weight", sw_tied),
    once(role::lm_head, "lm_head.bias",   dim::vocab)             .when(sw_head_bias),
};
// OlmoeSparseMoeBlock: router, then per expert gate_proj, up_proj, down_proj.
const tensor_template olmoe_block[] = {
    per_layer(role::ffn_router,    "layers.{layer}.mlp.gate.weight",                       dim::n_experts,  dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp, "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,   "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp, "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden,     dim::expert_ffn).when(moe),
};
// clang-format on

const char* granitemoe_defaults = R"({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "embedding_multiplier": 1.0,
    "logits_scaling": 1.0, "residual_multiplier": 1.0, "attention_multiplier": 1.0, "num_local_experts": 8,
    "num_experts_per_tok": 2})";
const char* phimoe_defaults = R"({"vocab_size": 32064, "hidden_size": 4096, "intermediate_size": 6400,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "rope_theta": 1000000.0, "num_experts_per_tok": 2,
    "num_local_experts": 16, "attention_bias": false, "lm_head_bias": false})";
const char* olmoe_defaults = R"({"vocab_size": 50304, "hidden_size": 2048, "intermediate_size": 2048,
    "num_hidden_layers": 16, "num_attention_heads": 16, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "num_experts_per_tok": 8,
    "num_experts": 64})";

void all_layers_moe(model_spec& spec) {
    for (auto& l : spec.layers) set_moe_layer(l);
}

// GraniteMoeAttention sizes its heads as hidden_size / num_attention_heads; every layer is sparse.
std::optional<error> read_granitemoe(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.head_dim = nullptr;
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    for (const char* key :
         {"embedding_multiplier", "logits_scaling", "residual_multiplier", "attention_multiplier"}) {
        MP_TRY(scale, keys.optional_number(key, 1.0)); // scales activations, not parameters
        (void)scale;
    }
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    all_layers_moe(spec);
    return read_rope(keys, spec);
}

// PhimoeConfig names the LayerNorms' epsilon rms_norm_eps; sliding_window applies to every layer when set.
std::optional<error> read_phimoe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec, false));
    MP_CHECK(read_switch(keys, "lm_head_bias", spec, sw_head_bias));
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    all_layers_moe(spec);
    MP_CHECK(read_rope(keys, spec));
    return read_sliding(keys, spec, sliding_rule::window_key);
}

// OlmoeConfig: num_experts (alias num_local_experts), each expert intermediate_size wide; clip_qkv only
// clamps.
std::optional<error> read_olmoe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec, false));
    MP_TRY(clip, keys.optional_number("clip_qkv", 0.0));
    (void)clip;
    const char* experts_key =
        keys.has("num_experts") || !keys.has("num_local_experts") ? "num_experts" : "num_local_experts";
    MP_CHECK(read_experts(keys, spec, experts_key, "num_experts_per_tok", "intermediate_size"));
    all_layers_moe(spec);
    return read_rope(keys, spec);
}

} // namespace

void add_moe_variant_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> granitemoe = {lp::embed(), lp::attention(), rows(granitemoe_block),
                                                    lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> phimoe = {lp::embed(), lp::attention(), lp::mixtral_experts(),
                                                rows(biased_layer_norms), rows(biased_final_norm)};
    const std::vector<template_table> olmoe = {
        lp::embed(),       lp::attention(),   whole_projection_qk_norms(),
        rows(olmoe_block), lp::layer_norms(), lp::final_norm()};
    const auto heads = lp::heads();
    const std::vector<head_info> causal_and_model = {heads[0], heads[1]};
    out.push_back(family("granitemoe", "GraniteMoe", read_granitemoe, granitemoe, causal_and_model)
                      .defaults(granitemoe_defaults));
    out.push_back(family("phimoe", "Phimoe", read_phimoe, phimoe, decoder_heads(rows(phimoe_lm_head)))
                      .defaults(phimoe_defaults));
    out.push_back(family("olmoe", "Olmoe", read_olmoe, olmoe, causal_and_model).defaults(olmoe_defaults));
}

} // namespace modelplan::family_tables
