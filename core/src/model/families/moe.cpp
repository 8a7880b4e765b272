// Mixture-of-experts families beyond Mixtral: qwen2_moe (shared expert with a gate), qwen3_moe, deepseek_v2
// and deepseek_v3 (multi-head latent attention, dense first layers, shared experts, router score-correction
// bias, multi-token-prediction layers stored after the last layer). Sources: transformers models/qwen2_moe,
// qwen3_moe, deepseek_v2, deepseek_v3 (4.57), deepseek-ai/DeepSeek-V3 README_WEIGHTS.md; module registration
// order (Qwen: gate, experts, shared expert; DeepSeek: experts, gate, shared experts).
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
const tensor_template qwen_moe_block[] = {
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.weight",                       dim::n_experts,  dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden,     dim::expert_ffn).when(moe),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_expert.gate_proj.weight",    dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_expert.up_proj.weight",      dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_expert.down_proj.weight",    dim::hidden,     dim::shared_ffn).when(moe | sw_shared_expert),
    per_layer(role::ffn_shexp_gate, "layers.{layer}.mlp.shared_expert_gate.weight",         dim::one,        dim::hidden)    .when(moe | sw_shexp_gate),
};
// Multi-head latent attention: q_proj without a query latent, else q_a_proj, q_a_layernorm, q_b_proj.
const tensor_template mla_attention[] = {
    per_layer(role::attn_q,         "layers.{layer}.self_attn.q_proj.weight",             dim::mla_q_out,    dim::hidden).unless(sw_q_lora),
    per_layer(role::attn_q_a,       "layers.{layer}.self_attn.q_a_proj.weight",           dim::q_lora,       dim::hidden).when(sw_q_lora),
    per_layer(role::attn_q_a,       "layers.{layer}.self_attn.q_a_proj.bias",             dim::q_lora)                   .when(sw_q_lora | sw_qkv_bias),
    per_layer(role::attn_q_a_norm,  "layers.{layer}.self_attn.q_a_layernorm.weight",      dim::q_lora)                   .when(sw_q_lora),
    per_layer(role::attn_q_b,       "layers.{layer}.self_attn.q_b_proj.weight",           dim::mla_q_out,    dim::q_lora).when(sw_q_lora),
    per_layer(role::attn_kv_a,      "layers.{layer}.self_attn.kv_a_proj_with_mqa.weight", dim::mla_kv_a_out, dim::hidden),
    per_layer(role::attn_kv_a,      "layers.{layer}.self_attn.kv_a_proj_with_mqa.bias",   dim::mla_kv_a_out)             .when(sw_qkv_bias),
    per_layer(role::attn_kv_a_norm, "layers.{layer}.self_attn.kv_a_layernorm.weight",     dim::kv_lora),
    per_layer(role::attn_kv_b,      "layers.{layer}.self_attn.kv_b_proj.weight",          dim::mla_kv_b_out, dim::kv_lora),
    per_layer(role::attn_o,         "layers.{layer}.self_attn.o_proj.weight",             dim::hidden,       dim::mla_o_in),
    per_layer(role::attn_o,         "layers.{layer}.self_attn.o_proj.bias",               dim::hidden)                   .when(sw_o_bias),
};
const tensor_template deepseek_moe_block[] = {
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden,     dim::expert_ffn).when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.weight",                       dim::n_experts,  dim::hidden)    .when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.e_score_correction_bias",      dim::n_experts)                  .when(moe | sw_router_bias).stored_as("F32"),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_experts.gate_proj.weight",   dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_experts.up_proj.weight",     dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_experts.down_proj.weight",   dim::hidden,     dim::shared_ffn).when(moe | sw_shared_expert),
};
// DeepSeek-V3's multi-token-prediction module, stored as layer num_hidden_layers + k in the checkpoint.
const tensor_template deepseek_mtp[] = {
    per_layer(role::mtp, "layers.{layer}.embed_tokens.weight",     dim::vocab,  dim::hidden)   .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.enorm.weight",            dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.hnorm.weight",            dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.eh_proj.weight",          dim::hidden, dim::hidden_x2).when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.shared_head.norm.weight", dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.shared_head.head.weight", dim::vocab,  dim::hidden)   .when(sw_mtp),
};
// clang-format on

// Qwen MoE layer rule: sparse unless listed in mlp_only_layers or (i + 1) % decoder_sparse_step != 0.
std::optional<error> qwen_sparse_layers(const key_reader& keys, model_spec& spec) {
    uint64_t step = 1;
    MP_CHECK(read_size(keys, "decoder_sparse_step", step));
    std::vector<bool> dense_only(spec.n_layers, false);
    if (const rapidjson::Value* list = keys.find("mlp_only_layers")) {
        if (!list->IsArray())
            return make_error(error_code::wrong_type,
                              keys.path("mlp_only_layers") + ": expected an array of layer indices, got " +
                                  describe_json(*list),
                              keys.path("mlp_only_layers"));
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            const auto& v = (*list)[i];
            std::string item = keys.path("mlp_only_layers") + "[" + num(i) + "]";
            if (!v.IsUint64() || v.GetUint64() >= spec.n_layers)
                return make_error(error_code::out_of_range,
                                  item + ": expected a layer index below " + num(spec.n_layers) + ", got " +
                                      describe_json(v),
                                  item);
            dense_only[v.GetUint64()] = true;
        }
    }
    for (uint64_t i = 0; i < spec.n_layers; ++i)
        if (!dense_only[i] && spec.n_experts > 0 && (i + 1) % step == 0) set_moe_layer(spec.layers[i]);
    return std::nullopt;
}

std::optional<error> read_qwen2_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    spec.set_switches(sw_qkv_bias); // Qwen2MoeConfig qkv_bias default; o_proj never has one
    MP_CHECK(read_switch(keys, "qkv_bias", spec, sw_qkv_bias));
    MP_CHECK(read_experts(keys, spec, "num_experts", "num_experts_per_tok", "moe_intermediate_size"));
    MP_CHECK(read_size(keys, "shared_expert_intermediate_size", spec.shared_intermediate));
    if (spec.shared_intermediate > 0) {
        spec.n_shared_experts = 1;
        spec.switches |= sw_shared_expert | sw_shexp_gate;
    }
    MP_CHECK(read_rope(keys, spec));
    MP_CHECK(read_sliding(keys, spec, sliding_rule::qwen));
    return qwen_sparse_layers(keys, spec);
}

std::optional<error> read_qwen3_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    spec.set_switches(sw_qk_norm);
    MP_CHECK(read_experts(keys, spec, "num_experts", "num_experts_per_tok", "moe_intermediate_size"));
    MP_CHECK(read_rope(keys, spec));
    MP_CHECK(read_sliding(keys, spec, sliding_rule::qwen));
    return qwen_sparse_layers(keys, spec);
}

std::optional<error> read_deepseek(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.head_dim = "qk_rope_head_dim"; // transformers sets head_dim = qk_rope_head_dim; no projection uses it
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));

    MP_TRY(q_lora, keys.optional_size("q_lora_rank"));
    MP_TRY(kv_lora, keys.size("kv_lora_rank"));
    MP_TRY(nope, keys.size("qk_nope_head_dim"));
    MP_TRY(rope, keys.size("qk_rope_head_dim"));
    MP_TRY(v_head, keys.size("v_head_dim"));
    spec.q_lora_rank = q_lora.value_or(0);
    if (q_lora) spec.switches |= sw_q_lora;
    spec.kv_lora_rank = kv_lora;
    spec.qk_nope_head_dim = nope;
    spec.qk_rope_head_dim = rope;
    spec.v_head_dim = v_head;
    for (auto& l : spec.layers) l.attn = attn_kind::mla;

    if (keys.has("n_routed_experts")) {
        MP_CHECK(deepseek_parts::read_experts(keys, spec));
        MP_TRY(topk_method, keys.optional_string("topk_method"));
        if (topk_method.value_or("") == "noaux_tc") spec.switches |= sw_router_bias;
    }
    MP_CHECK(deepseek_parts::read_mtp_layers(keys, spec));
    return read_rope(keys, spec);
}

} // namespace

template_table deepseek_parts::moe_block() {
    return rows(deepseek_moe_block);
}
template_table deepseek_parts::mtp() {
    return rows(deepseek_mtp);
}

std::optional<error> deepseek_parts::read_experts(const key_reader& keys, model_spec& spec) {
    MP_CHECK(readers::read_experts(keys, spec, "n_routed_experts", "num_experts_per_tok",
                                   "moe_intermediate_size"));
    MP_CHECK(read_size(keys, "n_shared_experts", spec.n_shared_experts));
    if (spec.n_shared_experts > 0) {
        if (__builtin_mul_overflow(spec.expert_intermediate, spec.n_shared_experts,
                                   &spec.shared_intermediate))
            return make_error(error_code::overflow,
                              keys.path("moe_intermediate_size") + " x " + keys.path("n_shared_experts") +
                                  " overflows 64 bits",
                              keys.path("n_shared_experts"));
        spec.switches |= sw_shared_expert;
    }
    MP_TRY(first_dense, keys.optional_count("first_k_dense_replace"));
    uint64_t freq = 1;
    MP_CHECK(read_size(keys, "moe_layer_freq", freq));
    for (uint64_t i = first_dense.value_or(0); i < spec.n_layers; ++i)
        if (i % freq == 0) set_moe_layer(spec.layers[i]);
    return std::nullopt;
}

std::optional<error> deepseek_parts::read_mtp_layers(const key_reader& keys, model_spec& spec) {
    // Multi-token-prediction layers: stored as layers n_layers .. n_layers + k - 1, counted apart.
    MP_TRY(mtp_layers, keys.optional_count("num_nextn_predict_layers"));
    if (mtp_layers.value_or(0) > max_layers)
        return too_large(keys, "num_nextn_predict_layers", *mtp_layers, max_layers);
    for (uint64_t k_mtp = 0; k_mtp < mtp_layers.value_or(0); ++k_mtp) {
        layer_spec l = spec.layers[spec.n_layers - 1];
        l.stack = layer_stack::mtp;
        l.index = static_cast<uint32_t>(spec.n_layers + k_mtp);
        l.switches = (l.switches & ~sw_first_in_stack) | sw_mtp;
        spec.layers.push_back(l);
    }
    return std::nullopt;
}

void add_moe_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> qwen_moe = {lp::embed(),          lp::attention(),   lp::mlp(),
                                                  rows(qwen_moe_block), lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> deepseek = {
        lp::embed(),       rows(mla_attention), lp::mlp(),       rows(deepseek_moe_block),
        lp::layer_norms(), rows(deepseek_mtp),  lp::final_norm()};
    out.push_back(family("qwen2_moe", "Qwen2Moe", read_qwen2_moe, qwen_moe, lp::heads()));
    out.push_back(family("qwen3_moe", "Qwen3Moe", read_qwen3_moe, qwen_moe, lp::heads()));
    out.push_back(family("deepseek_v2", "DeepseekV2", read_deepseek, deepseek, lp::heads()));
    out.push_back(family("deepseek_v3", "DeepseekV3", read_deepseek, deepseek, lp::heads()));
}

} // namespace modelplan::family_tables
