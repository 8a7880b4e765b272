// qwen3_next (Qwen3-Next-80B-A3B): gated DeltaNet linear-attention layers (linear_attn: conv1d over q, k and
// v, in_proj_qkvz, in_proj_ba, dt_bias, A_log, a gated RMSNorm over one value head, out_proj) interleaved
// with gated full attention (self_attn: q_proj twice as wide, queries and their output gate; per-head q/k
// norms; partial rotary), every full_attention_interval-th layer; a Qwen2-MoE block in every layer (router,
// 512 experts, a shared expert with its sigmoid gate). The published checkpoints also store one
// multi-token-prediction layer under a top-level mtp. prefix (mtp.fc, mtp.pre_fc_norm_*, mtp.layers.0.*,
// mtp.norm), which transformers drops on load; it is counted apart, as DeepSeek-V3's (layer_stack::mtp).
// Sources: transformers models/qwen3_next (configuration_qwen3_next.py, modeling_qwen3_next.py:
// Qwen3NextDecoderLayer, Qwen3NextGatedDeltaNet, Qwen3NextAttention, Qwen3NextSparseMoeBlock); the published
// checkpoint's header listing (tests/core/families-ssm.cpp).
#include <algorithm>
#include <vector>

#include "model/families/families.h"
#include "model/families/ssm-parts.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t linear = sw_linear_attn;
constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
const tensor_template next_linear_attn[] = {
    per_layer(role::ssm_conv,   "layers.{layer}.linear_attn.conv1d.weight",        dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel).when(linear),
    per_layer(role::ssm_in,     "layers.{layer}.linear_attn.in_proj_qkvz.weight",  dim::ssm_in_proj, dim::hidden)  .when(linear),
    per_layer(role::ssm_in,     "layers.{layer}.linear_attn.in_proj_ba.weight",    dim::ssm_heads_x2, dim::hidden) .when(linear),
    per_layer(role::ssm_dt,     "layers.{layer}.linear_attn.dt_bias",              dim::ssm_heads)                 .when(linear),
    per_layer(role::ssm_params, "layers.{layer}.linear_attn.A_log",                dim::ssm_heads)                 .when(linear),
    per_layer(role::ssm_norm,   "layers.{layer}.linear_attn.norm.weight",          dim::ssm_head_dim)              .when(linear),
    per_layer(role::ssm_out,    "layers.{layer}.linear_attn.out_proj.weight",      dim::hidden, dim::ssm_inner)    .when(linear),
};
const tensor_template next_attention[] = {
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight", dim::q_dim_x2, dim::hidden).unless(linear).fused(fused_layout::interleaved),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.bias",   dim::q_dim_x2)             .unless(linear).when(sw_qkv_bias).fused(fused_layout::interleaved),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight", dim::kv_dim, dim::hidden)  .unless(linear),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.bias",   dim::kv_dim)               .unless(linear).when(sw_qkv_bias),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight", dim::kv_dim, dim::hidden)  .unless(linear),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.bias",   dim::kv_dim)               .unless(linear).when(sw_qkv_bias),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.weight", dim::hidden, dim::q_dim)   .unless(linear),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.bias",   dim::hidden)               .unless(linear).when(sw_o_bias),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::head_dim)             .unless(linear),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::head_dim)             .unless(linear),
};
// Qwen3NextSparseMoeBlock (Qwen2-MoE's): router, experts, shared expert, its gate; Qwen3NextMLP elsewhere.
const tensor_template next_mlp[] = {
    per_layer(role::ffn_gate,       "layers.{layer}.mlp.gate_proj.weight",                  dim::ffn, dim::hidden)          .when(sw_dense_ffn),
    per_layer(role::ffn_up,         "layers.{layer}.mlp.up_proj.weight",                    dim::ffn, dim::hidden)          .when(sw_dense_ffn),
    per_layer(role::ffn_down,       "layers.{layer}.mlp.down_proj.weight",                  dim::hidden, dim::ffn)          .when(sw_dense_ffn),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.weight",                       dim::n_experts, dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)   .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)   .when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden, dim::expert_ffn)   .when(moe),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_expert.gate_proj.weight",    dim::shared_ffn, dim::hidden)   .when(moe),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_expert.up_proj.weight",      dim::shared_ffn, dim::hidden)   .when(moe),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_expert.down_proj.weight",    dim::hidden, dim::shared_ffn)   .when(moe),
    per_layer(role::ffn_shexp_gate, "layers.{layer}.mlp.shared_expert_gate.weight",         dim::one, dim::hidden)          .when(moe),
};
const tensor_template next_norms[] = {
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.weight", dim::hidden),
};
// The next-token module's own tensors (Qwen3NextMultiTokenPredictor in vLLM), in the checkpoint's order.
const tensor_template next_mtp_extras[] = {
    per_layer(role::mtp, "mtp.fc.weight",                     dim::hidden, dim::hidden_x2).when(sw_mtp),
    per_layer(role::mtp, "mtp.norm.weight",                   dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "mtp.pre_fc_norm_embedding.weight",  dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "mtp.pre_fc_norm_hidden.weight",     dim::hidden)                .when(sw_mtp),
};
const tensor_template next_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embed_tokens.weight", sw_tied),
};
// clang-format on

// A copy of `group` whose rows exist only in multi-token-prediction layers (the base model's rows exist only
// outside them): the mtp.layers.{i} decoder layer repeats the main layer's tensors under another prefix.
template <size_t N>
template_table mtp_copy(const tensor_template (&group)[N], std::vector<tensor_template>& store) {
    store.assign(group, group + N);
    for (auto& t : store) {
        t.needs |= sw_mtp;
        t.excludes &= ~sw_mtp;
    }
    return template_table{store.data(), store.size(), "mtp."};
}
template <size_t N>
template_table outside_mtp(const tensor_template (&group)[N], std::vector<tensor_template>& store) {
    store.assign(group, group + N);
    for (auto& t : store) t.excludes |= sw_mtp;
    return template_table{store.data(), store.size()};
}

// Qwen3NextConfig's defaults (transformers configuration_qwen3_next.py).
const char* qwen3_next_defaults = R"({"vocab_size": 151936, "hidden_size": 2048, "intermediate_size": 5632,
    "num_hidden_layers": 48, "num_attention_heads": 16, "num_key_value_heads": 2, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6, "tie_word_embeddings": false, "rope_theta": 10000.0, "partial_rotary_factor": 0.25,
    "attention_bias": false, "head_dim": 256, "linear_conv_kernel_dim": 4, "linear_key_head_dim": 128,
    "linear_value_head_dim": 128, "linear_num_key_heads": 16, "linear_num_value_heads": 32,
    "decoder_sparse_step": 1, "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
    "num_experts_per_tok": 10, "num_experts": 512, "full_attention_interval": 4})";

// layer_types ("linear_attention" / "full_attention"), else every full_attention_interval-th layer is full
// attention (Qwen3NextConfig).
std::optional<error> read_next_layers(const key_reader& keys, model_spec& spec) {
    std::vector<size_t> kinds;
    if (keys.object().HasMember("layer_types")) {
        MP_TRY(named, ssm::read_layer_kinds(keys, "layer_types", spec.n_layers,
                                            {"linear_attention", "full_attention"}));
        kinds = named;
    } else {
        MP_TRY(interval, keys.size("full_attention_interval"));
        for (uint64_t il = 0; il < spec.n_layers; ++il) kinds.push_back((il + 1) % interval == 0 ? 1 : 0);
    }
    for (size_t il = 0; il < kinds.size(); ++il)
        if (kinds[il] == 0) ssm::set_recurrent_layer(spec.layers[il], sw_linear_attn);
    return std::nullopt;
}

// The gated DeltaNet's widths: key heads x key head_dim for q and k, value heads x value head_dim for v.
std::optional<error> read_delta_net(const key_reader& keys, model_spec& spec) {
    MP_TRY(k_heads, keys.size("linear_num_key_heads"));
    MP_TRY(v_heads, keys.size("linear_num_value_heads"));
    MP_TRY(k_dim, keys.size("linear_key_head_dim"));
    MP_TRY(v_dim, keys.size("linear_value_head_dim"));
    MP_TRY(kernel, keys.size("linear_conv_kernel_dim"));
    for (auto [key, v] : {
             std::pair{"linear_num_key_heads",   k_heads},
             {"linear_num_value_heads", v_heads},
             {"linear_key_head_dim",    k_dim  },
             {"linear_value_head_dim",  v_dim  },
             {"linear_conv_kernel_dim", kernel }
    })
        if (v > ssm::max_ssm_width) return too_large(keys, key, v, ssm::max_ssm_width);
    if (v_heads % k_heads != 0)
        return make_error(error_code::not_divisible,
                          keys.path("linear_num_value_heads") + " (" + num(v_heads) +
                              ") must be divisible by " + keys.path("linear_num_key_heads") + " (" +
                              num(k_heads) + ")",
                          keys.path("linear_num_value_heads"));
    const uint64_t key_dim = k_heads * k_dim, value_dim = v_heads * v_dim;
    spec.ssm_inner = value_dim;
    spec.ssm_heads = v_heads;
    spec.ssm_head_dim = v_dim;
    spec.ssm_state = k_dim; // the delta-rule state: value heads x key head_dim x value head_dim
    spec.ssm_groups = k_heads;
    spec.ssm_conv_kernel = kernel;
    spec.ssm_conv_dim = 2 * key_dim + value_dim;
    spec.ssm_in_proj = 2 * key_dim + 2 * value_dim;
    return std::nullopt;
}

std::optional<error> read_qwen3_next(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    MP_CHECK(read_experts(keys, spec, "num_experts", "num_experts_per_tok", "moe_intermediate_size"));
    MP_TRY(shared, keys.size("shared_expert_intermediate_size"));
    spec.shared_intermediate = shared;
    spec.n_shared_experts = 1;
    spec.set_switches(sw_shared_expert | sw_shexp_gate);
    MP_TRY(step, keys.size("decoder_sparse_step"));
    std::vector<uint64_t> mlp_only;
    if (const rapidjson::Value* list = keys.find("mlp_only_layers")) {
        if (!list->IsArray())
            return make_error(error_code::wrong_type,
                              keys.path("mlp_only_layers") + ": expected an array of layer indices, got " +
                                  describe_json(*list),
                              keys.path("mlp_only_layers"));
        for (const auto& v : list->GetArray())
            if (v.IsUint64()) mlp_only.push_back(v.GetUint64());
    }
    for (uint64_t il = 0; il < spec.n_layers; ++il) {
        bool dense = std::find(mlp_only.begin(), mlp_only.end(), il) != mlp_only.end();
        if (!dense && spec.n_experts > 0 && (il + 1) % step == 0) set_moe_layer(spec.layers[il]);
    }
    MP_CHECK(read_delta_net(keys, spec));
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    MP_CHECK(read_next_layers(keys, spec));
    MP_CHECK(read_rope(keys, spec, "partial_rotary_factor"));
    // The next-token layer the published checkpoints store (mtp.layers.0): mtp_num_hidden_layers or
    // num_nextn_predict_layers when the config names it, else 1.
    std::string mtp_key = pick(keys, "mtp_num_hidden_layers|num_nextn_predict_layers");
    MP_TRY(mtp, keys.optional_count(mtp_key.c_str()));
    const uint64_t mtp_layers = keys.has(mtp_key.c_str()) ? mtp.value_or(0) : 1;
    if (mtp_layers > max_layers) return too_large(keys, mtp_key.c_str(), mtp_layers, max_layers);
    for (uint64_t i = 0; i < mtp_layers; ++i) {
        layer_spec l;
        l.stack = layer_stack::mtp;
        l.index = static_cast<uint32_t>(i);
        l.switches = sw_mtp | sw_moe_ffn;
        l.ffn = ffn_kind::moe;
        spec.layers.push_back(l);
    }
    return std::nullopt;
}

} // namespace

void add_qwen3_next_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    static std::vector<tensor_template> base_store[4], mtp_store[4];
    const std::vector<template_table> base = {lp::embed(),
                                              outside_mtp(next_linear_attn, base_store[0]),
                                              outside_mtp(next_attention, base_store[1]),
                                              outside_mtp(next_mlp, base_store[2]),
                                              outside_mtp(next_norms, base_store[3]),
                                              lp::final_norm()};
    // mtp.layers.{i}: attention (the next-token layer is a full-attention layer), the MoE block, the norms;
    // then the module's own tensors. In the causal-LM head, whose names take no base prefix.
    const std::vector<template_table> causal = {rows(next_lm_head), mtp_copy(next_attention, mtp_store[0]),
                                                mtp_copy(next_mlp, mtp_store[1]),
                                                mtp_copy(next_norms, mtp_store[2]), rows(next_mtp_extras)};
    std::vector<head_info> heads = {
        {head_kind::causal_lm, "ForCausalLM",               causal        },
        {head_kind::none,      "Model",                     {}            },
        {head_kind::seq_cls,   "ForSequenceClassification", {score_head()}}
    };
    out.push_back(
        family("qwen3_next", "Qwen3Next", read_qwen3_next, base, heads).defaults(qwen3_next_defaults));
}

} // namespace modelplan::family_tables
