// gpt-oss (openai/gpt-oss-20b, -120b): Llama-named attention with biases and a learned sink logit per head,
// sliding (128 tokens) and full attention alternating by layer_types, and in every layer a biased top-k
// router with all routed experts stored as stacked tensors (GptOssExperts: gate_up_proj [experts, hidden, 2 x
// ffn], down_proj [experts, ffn, hidden], each with a bias). The published checkpoints hold those two weights
// as MXFP4 *_blocks/*_scales (quantization_config quant_method "mxfp4"), folded back by the checkpoint reader
// (core/src/checkpoint/quantized.cpp) and sized as stored by the memory plan
// (core/src/plan/quantization.cpp). Sources: transformers models/gpt_oss (configuration_gpt_oss.py,
// modular_gpt_oss.py: GptOssAttention adds `sinks` after the Qwen2/Llama projections, GptOssMLP registers
// router then experts, GptOssTopKRouter weight then bias), integrations/mxfp4.py (Mxfp4GptOssExperts),
// openai/gpt-oss-20b model.safetensors.index.json.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
const tensor_template gpt_oss_sinks[] = {
    per_layer(role::attn_sinks, "layers.{layer}.self_attn.sinks", dim::heads),
};
// GptOssMLP: GptOssTopKRouter (a biased linear), then GptOssExperts (every expert in one tensor per weight).
const tensor_template gpt_oss_moe[] = {
    per_layer(role::ffn_router,   "layers.{layer}.mlp.router.weight",             dim::n_experts, dim::hidden)                    .when(moe),
    per_layer(role::ffn_router,   "layers.{layer}.mlp.router.bias",               dim::n_experts)                                 .when(moe),
    per_layer(role::ffn_up_exp,   "layers.{layer}.mlp.experts.gate_up_proj",      dim::n_experts, dim::hidden,     dim::expert_ffn_x2).when(moe).fused(fused_layout::interleaved),
    per_layer(role::ffn_up_exp,   "layers.{layer}.mlp.experts.gate_up_proj_bias", dim::n_experts, dim::expert_ffn_x2)             .when(moe).fused(fused_layout::interleaved),
    per_layer(role::ffn_down_exp, "layers.{layer}.mlp.experts.down_proj",         dim::n_experts, dim::expert_ffn, dim::hidden)   .when(moe),
    per_layer(role::ffn_down_exp, "layers.{layer}.mlp.experts.down_proj_bias",    dim::n_experts, dim::hidden)                    .when(moe),
};
// clang-format on

// GptOssConfig's defaults for the keys a config may omit (transformers configuration_gpt_oss.py).
const char* gpt_oss_defaults = R"({"num_hidden_layers": 36, "num_local_experts": 128, "vocab_size": 201088,
    "hidden_size": 2880, "intermediate_size": 2880, "head_dim": 64, "num_attention_heads": 64,
    "num_key_value_heads": 8, "sliding_window": 128, "tie_word_embeddings": false,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "num_experts_per_tok": 4, "attention_bias": true,
    "rope_theta": 150000.0})";

std::optional<error> read_gpt_oss(const key_reader& keys, model_spec& spec) {
    spec.set_switches(sw_attention_biases); // GptOssConfig attention_bias defaults to true
    MP_CHECK(read_llama_opening(keys, spec));
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    for (auto& l : spec.layers) set_moe_layer(l);
    MP_CHECK(read_rope(keys, spec));
    if (keys.has("layer_types")) return read_sliding(keys, spec, sliding_rule::none);
    // No layer_types: GptOssConfig makes even layers sliding and odd layers full attention.
    MP_TRY(window, keys.optional_size("sliding_window"));
    if (!window) return std::nullopt;
    for (uint64_t i = 0; i < spec.n_layers; i += 2) {
        spec.layers[i].attn = attn_kind::sliding;
        spec.layers[i].window = *window;
    }
    return std::nullopt;
}

} // namespace

void add_gpt_oss_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> base = {lp::embed(),       lp::attention(),   rows(gpt_oss_sinks),
                                              rows(gpt_oss_moe), lp::layer_norms(), lp::final_norm()};
    out.push_back(family("gpt_oss", "GptOss", read_gpt_oss, base, lp::heads()).defaults(gpt_oss_defaults));
}

} // namespace modelplan::family_tables
