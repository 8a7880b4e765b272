// lfm2 (LiquidAI LFM2): gated short-convolution blocks (conv: a depthwise conv1d of conv_L_cache taps over
// hidden channels between in_proj, which gives B, C and x, and out_proj) and grouped-query attention with
// per-head q/k LayerNorms (q_layernorm, k_layernorm) and out_proj; a SwiGLU feed-forward (w1, w3, w2) whose
// width block_auto_adjust_ff_dim scales by 2/3, then by block_ffn_dim_multiplier, rounded up to
// block_multiple_of; operator_norm and ffn_norm per layer, embedding_norm after the last. Sources:
// transformers models/lfm2 (configuration_lfm2.py: layer_types from full_attn_idxs, block_ff_dim and
// tie_embedding aliases; modeling_lfm2.py: Lfm2ShortConv, Lfm2Attention, Lfm2MLP, Lfm2DecoderLayer,
// Lfm2Model). in_proj is [B; C; x], each hidden wide (Lfm2ShortConv chunks its output in three); out_proj's
// input is the convolution's channels (ssm_inner = hidden), which vLLM's ShortConv splits across ranks
// (in_proj MergedColumnParallelLinear over [hidden] x 3, conv ColumnParallelLinear, out_proj
// RowParallelLinear).
#include <algorithm>
#include <cmath>

#include "model/families/families.h"
#include "model/families/ssm-parts.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t conv = sw_short_conv;

// clang-format off
const tensor_template lfm2_layer[] = {
    per_layer(role::ssm_conv,    "layers.{layer}.conv.conv.weight",           dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel).when(conv),
    per_layer(role::ssm_conv,    "layers.{layer}.conv.conv.bias",             dim::ssm_conv_dim)          .when(conv | sw_conv_bias),
    per_layer(role::ssm_in,      "layers.{layer}.conv.in_proj.weight",        dim::hidden_x3, dim::hidden).when(conv).fused(fused_layout::concatenated),
    per_layer(role::ssm_in,      "layers.{layer}.conv.in_proj.bias",          dim::hidden_x3)             .when(conv | sw_conv_bias).fused(fused_layout::concatenated),
    per_layer(role::ssm_out,     "layers.{layer}.conv.out_proj.weight",       dim::hidden, dim::ssm_inner).when(conv),
    per_layer(role::ssm_out,     "layers.{layer}.conv.out_proj.bias",         dim::hidden)                .when(conv | sw_conv_bias),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight",    dim::q_dim, dim::hidden)    .unless(conv),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight",    dim::kv_dim, dim::hidden)   .unless(conv),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight",    dim::kv_dim, dim::hidden)   .unless(conv),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.out_proj.weight",  dim::hidden, dim::q_dim)    .unless(conv),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_layernorm.weight", dim::head_dim)            .unless(conv),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_layernorm.weight", dim::head_dim)            .unless(conv),
    per_layer(role::ffn_gate,    "layers.{layer}.feed_forward.w1.weight",     dim::ffn, dim::hidden),
    per_layer(role::ffn_down,    "layers.{layer}.feed_forward.w2.weight",     dim::hidden, dim::ffn),
    per_layer(role::ffn_up,      "layers.{layer}.feed_forward.w3.weight",     dim::ffn, dim::hidden),
    per_layer(role::attn_norm,   "layers.{layer}.operator_norm.weight",       dim::hidden),
    per_layer(role::ffn_norm,    "layers.{layer}.ffn_norm.weight",            dim::hidden),
};
const tensor_template lfm2_final_norm[] = {
    once(role::output_norm, "embedding_norm.weight", dim::hidden),
};
// clang-format on

// Lfm2Config's defaults (transformers configuration_lfm2.py).
const char* lfm2_defaults = R"({"vocab_size": 65536, "hidden_size": 2560, "intermediate_size": 12288,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 128000,
    "norm_eps": 1e-5, "tie_word_embeddings": true, "rope_theta": 1000000.0, "conv_bias": false, "conv_L_cache": 3,
    "block_multiple_of": 256, "block_ffn_dim_multiplier": 1.0, "block_auto_adjust_ff_dim": true})";

// Lfm2MLP's width: int(2 x ff / 3) when block_auto_adjust_ff_dim, then int(multiplier x ff), then rounded up
// to block_multiple_of.
std::optional<error> read_ff_width(const key_reader& keys, model_spec& spec) {
    const char* ff_key = keys.object().HasMember("block_ff_dim") ? "block_ff_dim" : "intermediate_size";
    MP_TRY(ff, keys.size(ff_key));
    if (ff > ssm::max_ssm_width * 16) return too_large(keys, ff_key, ff, ssm::max_ssm_width * 16);
    bool adjust = true;
    MP_CHECK(read_bool(keys, "block_auto_adjust_ff_dim", adjust));
    MP_TRY(multiple, keys.size("block_multiple_of"));
    if (multiple > ssm::max_ssm_width)
        return too_large(keys, "block_multiple_of", multiple, ssm::max_ssm_width);
    uint64_t width = ff;
    if (adjust) {
        width = 2 * width / 3;
        if (keys.find("block_ffn_dim_multiplier")) {
            MP_TRY(multiplier, keys.optional_number("block_ffn_dim_multiplier", 1.0));
            if (!(multiplier > 0.0 && multiplier <= 64.0))
                return make_error(error_code::out_of_range,
                                  keys.path("block_ffn_dim_multiplier") + " must be in (0, 64], got " +
                                      std::to_string(multiplier),
                                  keys.path("block_ffn_dim_multiplier"));
            width = static_cast<uint64_t>(std::floor(multiplier * static_cast<double>(width)));
        }
        width = multiple * ((width + multiple - 1) / multiple);
    }
    spec.intermediate = width;
    return std::nullopt;
}

// layer_types ("conv" / "full_attention"), else full_attn_idxs (absent: every layer attention).
std::optional<error> read_lfm2_layers(const key_reader& keys, model_spec& spec) {
    if (keys.object().HasMember("layer_types")) {
        MP_TRY(kinds, ssm::read_layer_kinds(keys, "layer_types", spec.n_layers, {"conv", "full_attention"}));
        for (size_t il = 0; il < kinds.size(); ++il)
            if (kinds[il] == 0) ssm::set_recurrent_layer(spec.layers[il], sw_short_conv);
        return std::nullopt;
    }
    const rapidjson::Value* idxs = keys.find("full_attn_idxs");
    if (!idxs) return std::nullopt;
    std::string path = keys.path("full_attn_idxs");
    if (!idxs->IsArray())
        return make_error(error_code::wrong_type,
                          path + ": expected an array of layer indices, got " + describe_json(*idxs), path);
    std::vector<bool> attention(spec.n_layers, false);
    for (rapidjson::SizeType i = 0; i < idxs->Size(); ++i) {
        const auto& v = (*idxs)[i];
        if (!v.IsUint64() || v.GetUint64() >= spec.n_layers)
            return make_error(error_code::out_of_range,
                              path + "[" + num(i) + "]: expected a layer index below num_hidden_layers (" +
                                  num(spec.n_layers) + "), got " + describe_json(v),
                              path + "[" + num(i) + "]");
        attention[v.GetUint64()] = true;
    }
    for (uint64_t il = 0; il < spec.n_layers; ++il)
        if (!attention[il]) ssm::set_recurrent_layer(spec.layers[il], sw_short_conv);
    return std::nullopt;
}

std::optional<error> read_lfm2(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.head_dim = nullptr; // Lfm2Attention: hidden_size / num_attention_heads
    k.intermediate = nullptr;
    k.eps = "norm_eps";
    MP_CHECK(read_decoder(keys, spec, true, k));
    if (keys.object().HasMember("tie_embedding")) MP_CHECK(read_switch(keys, "tie_embedding", spec, sw_tied));
    if (spec.hidden > ssm::max_ssm_width)
        return too_large(keys, "hidden_size", spec.hidden, ssm::max_ssm_width);
    MP_CHECK(read_ff_width(keys, spec));
    MP_TRY(kernel, keys.size("conv_L_cache"));
    if (kernel > ssm::max_ssm_width) return too_large(keys, "conv_L_cache", kernel, ssm::max_ssm_width);
    spec.ssm_conv_kernel = kernel;
    spec.ssm_conv_dim = spec.hidden;
    spec.ssm_inner = spec.hidden;
    spec.ssm_in_proj = 3 * spec.hidden;
    MP_CHECK(read_switch(keys, "conv_bias", spec, sw_conv_bias));
    MP_CHECK(read_lfm2_layers(keys, spec));
    return read_rope(keys, spec);
}

} // namespace

void add_lfm2_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> base = {lp::embed(), rows(lfm2_layer), rows(lfm2_final_norm)};
    auto heads = lp::heads();
    out.push_back(family("lfm2", "Lfm2", read_lfm2, base, {heads[0], heads[1]}).defaults(lfm2_defaults));
}

} // namespace modelplan::family_tables
