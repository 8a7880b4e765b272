// Open-weight decoders released in 2025, each a Llama-shaped decoder with its own attention or MoE block:
// - minimax_m2 (MiniMax-M2): q/k RMSNorms over the whole projections, partial rotary (rotary_dim), every
// layer a
//   Mixtral-named MoE (block_sparse_moe, w1/w2/w3) with a sigmoid router and its score-correction bias.
// - ernie4_5 (ERNIE-4.5-0.3B) and ernie4_5_moe (ERNIE-4.5-21B-A3B, -300B-A47B): use_bias on every projection
//   and the head; MoE layers from moe_layer_start_index to moe_layer_end_index every moe_layer_interval, with
//   an F32 gate, a [1, experts] F32 score-correction bias (moe_statics) and optional shared experts.
// - bailing_moe (Ling 2.0, remote code BailingMoeV2ForCausalLM): word_embeddings, a fused query_key_value,
//   per-head query/key norms, attention.dense, first_k_dense_replace dense layers then MoE layers with an F32
//   expert_bias and shared experts; num_hidden_layers counts the next-token-prediction layers, which are the
//   last ones.
// - hunyuan_v1_dense (Hunyuan-7B) and hunyuan_v1_moe (Hunyuan-A13B): Llama attention with per-head
//   query_layernorm/key_layernorm; the MoE layer holds a shared MLP, an F32 gate (gate.wg) and experts, all
//   of intermediate_size.
// - seed_oss (Seed-OSS-36B): Llama with separate biases for q/k/v (attention_bias) and o
// (attention_out_bias). Sources: transformers models/minimax_m2, ernie4_5, ernie4_5_moe, hunyuan_v1_dense,
// hunyuan_v1_moe, seed_oss (4.57 / 5.x) modeling and configuration files; inclusionAI's
// modeling_bailing_moe_v2.py and configuration_bailing_moe_v2.py (remote code shipped with the Ling 2.0
// checkpoints).
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
// MiniMaxM2Attention: RMSNorm over all query heads together and over all key heads together.
const tensor_template minimax_attention[] = {
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight", dim::q_dim,  dim::hidden),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight", dim::kv_dim, dim::hidden),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight", dim::kv_dim, dim::hidden),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.weight", dim::hidden, dim::q_dim),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::q_dim) .when(sw_qk_norm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::kv_dim).when(sw_qk_norm),
};
// The published checkpoint's MoE block (remote-code names, which transformers converts on load): router,
// experts w1 (gate), w2 (down), w3 (up), then the routing bias buffer.
const tensor_template minimax_moe[] = {
    per_layer(role::ffn_router,    "layers.{layer}.block_sparse_moe.gate.weight",                dim::n_experts,  dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp, "layers.{layer}.block_sparse_moe.experts.{expert}.w1.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp, "layers.{layer}.block_sparse_moe.experts.{expert}.w2.weight", dim::hidden,     dim::expert_ffn).when(moe),
    per_expert(role::ffn_up_exp,   "layers.{layer}.block_sparse_moe.experts.{expert}.w3.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_layer(role::ffn_router,    "layers.{layer}.block_sparse_moe.e_score_correction_bias",    dim::n_experts)                  .when(moe | sw_router_bias).stored_as("F32"),
};
// Ernie4_5_MoeSparseMoeBlock: correction bias, F32 gate, experts, shared experts (biases with use_bias).
const tensor_template ernie_moe[] = {
    per_layer(role::ffn_router,     "layers.{layer}.mlp.moe_statics.e_score_correction_bias", dim::one,        dim::n_experts) .when(moe).stored_as("F32"),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.weight",                         dim::n_experts,  dim::hidden)    .when(moe).stored_as("F32"),
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.bias",     dim::expert_ffn)                 .when(moe | sw_mlp_bias),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",     dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.bias",       dim::expert_ffn)                 .when(moe | sw_mlp_bias),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight",   dim::hidden,     dim::expert_ffn).when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.bias",     dim::hidden)                     .when(moe | sw_mlp_bias),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_experts.gate_proj.weight",     dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_experts.gate_proj.bias",       dim::shared_ffn)                 .when(moe | sw_shared_expert | sw_mlp_bias),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_experts.up_proj.weight",       dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_experts.up_proj.bias",         dim::shared_ffn)                 .when(moe | sw_shared_expert | sw_mlp_bias),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_experts.down_proj.weight",     dim::hidden,     dim::shared_ffn).when(moe | sw_shared_expert),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_experts.down_proj.bias",       dim::hidden)                     .when(moe | sw_shared_expert | sw_mlp_bias),
};
// Ernie's head carries a bias when use_bias is set.
const tensor_template ernie_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embed_tokens.weight", sw_tied),
    once(role::lm_head, "lm_head.bias",   dim::vocab)                                                 .when(sw_head_bias),
};
// BailingMoeV2 (remote code): its own names for the embedding, the fused attention and the router bias.
const tensor_template bailing_embed[] = {
    once(role::embed, "word_embeddings.weight", dim::vocab, dim::hidden),
};
const tensor_template bailing_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("word_embeddings.weight", sw_tied),
};
const tensor_template bailing_attention[] = {
    per_layer(role::attn_qkv,    "layers.{layer}.attention.query_key_value.weight", dim::qkv_dim,  dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::attn_qkv,    "layers.{layer}.attention.query_key_value.bias",   dim::qkv_dim)             .when(sw_qkv_bias).fused(fused_layout::concatenated),
    per_layer(role::attn_q_norm, "layers.{layer}.attention.query_layernorm.weight", dim::head_dim)            .when(sw_qk_norm),
    per_layer(role::attn_k_norm, "layers.{layer}.attention.key_layernorm.weight",   dim::head_dim)            .when(sw_qk_norm),
    per_layer(role::attn_o,      "layers.{layer}.attention.dense.weight",           dim::hidden,   dim::q_dim),
    per_layer(role::attn_o,      "layers.{layer}.attention.dense.bias",             dim::hidden)              .when(sw_o_bias),
};
const tensor_template bailing_moe[] = {
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden,     dim::expert_ffn).when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.weight",                       dim::n_experts,  dim::hidden)    .when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.expert_bias",                  dim::n_experts)                  .when(moe).stored_as("F32"),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_experts.gate_proj.weight",   dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_experts.up_proj.weight",     dim::shared_ffn, dim::hidden)    .when(moe | sw_shared_expert),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_experts.down_proj.weight",   dim::hidden,     dim::shared_ffn).when(moe | sw_shared_expert),
};
// BailingMoeV2MTPLayer's own tensors (its attention, MoE block and two norms are a decoder layer's).
const tensor_template bailing_mtp[] = {
    per_layer(role::mtp, "layers.{layer}.enorm.weight",           dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.eh_proj.weight",         dim::hidden, dim::hidden_x2).when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.hnorm.weight",           dim::hidden)                .when(sw_mtp),
    per_layer(role::mtp, "layers.{layer}.final_layernorm.weight", dim::hidden)                .when(sw_mtp),
};
// HunYuan attention: LlamaAttention's projections (biases with attention_bias), then per-head norms applied
// after the rotary embedding.
const tensor_template hunyuan_attention[] = {
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight",          dim::q_dim,    dim::hidden),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.bias",            dim::q_dim)   .when(sw_qkv_bias),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight",          dim::kv_dim,   dim::hidden),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.bias",            dim::kv_dim)  .when(sw_qkv_bias),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight",          dim::kv_dim,   dim::hidden),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.bias",            dim::kv_dim)  .when(sw_qkv_bias),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.weight",          dim::hidden,   dim::q_dim),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.bias",            dim::hidden)  .when(sw_o_bias),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.query_layernorm.weight", dim::head_dim).when(sw_qk_norm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.key_layernorm.weight",   dim::head_dim).when(sw_qk_norm),
};
// HunYuanMoE: shared MLP, F32 gate (gate.wg), experts; every MLP of the layer has intermediate_size.
const tensor_template hunyuan_moe[] = {
    per_layer(role::ffn_gate_shexp, "layers.{layer}.mlp.shared_mlp.gate_proj.weight",       dim::shared_ffn, dim::hidden)    .when(moe),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.mlp.shared_mlp.up_proj.weight",         dim::shared_ffn, dim::hidden)    .when(moe),
    per_layer(role::ffn_down_shexp, "layers.{layer}.mlp.shared_mlp.down_proj.weight",       dim::hidden,     dim::shared_ffn).when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.mlp.gate.wg.weight",                    dim::n_experts,  dim::hidden)    .when(moe).stored_as("F32"),
    per_expert(role::ffn_gate_exp,  "layers.{layer}.mlp.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_up_exp,    "layers.{layer}.mlp.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden)    .when(moe),
    per_expert(role::ffn_down_exp,  "layers.{layer}.mlp.experts.{expert}.down_proj.weight", dim::hidden,     dim::expert_ffn).when(moe),
};
// clang-format on

// Configuration-class defaults for the keys the readers use (sparse configs rely on them).
// MiniMaxM2Config (transformers 5.x); rotary_dim and use_qk_norm/use_routing_bias are the remote-code
// configuration's keys that the published configs carry.
const char* const minimax_m2_defaults = R"({
    "vocab_size": 200064, "hidden_size": 3072, "intermediate_size": 1536, "num_hidden_layers": 62,
    "num_attention_heads": 48, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 196608,
    "rms_norm_eps": 1e-06, "tie_word_embeddings": false, "num_experts_per_tok": 8, "num_local_experts": 256,
    "rope_theta": 5000000.0, "rotary_dim": 64, "use_qk_norm": true, "use_routing_bias": true})";
// Ernie4_5Config.
const char* const ernie4_5_defaults = R"({
    "vocab_size": 103424, "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 18,
    "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 128, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05, "tie_word_embeddings": true, "rope_theta": 500000.0, "use_bias": false})";
// Ernie4_5_MoeConfig (moe_layer_end_index -1: the last layer).
const char* const ernie4_5_moe_defaults = R"({
    "vocab_size": 103424, "hidden_size": 2560, "intermediate_size": 12288, "num_hidden_layers": 28,
    "num_attention_heads": 20, "num_key_value_heads": 4, "max_position_embeddings": 131072,
    "rms_norm_eps": 1e-05, "tie_word_embeddings": true, "rope_theta": 500000.0, "use_bias": false,
    "moe_intermediate_size": 1536, "moe_k": 6, "moe_num_experts": 64, "moe_num_shared_experts": 2,
    "moe_layer_start_index": 1, "moe_layer_end_index": -1, "moe_layer_interval": 1})";
// BailingMoeV2Config (configuration_bailing_moe_v2.py).
const char* const bailing_moe_defaults = R"({
    "vocab_size": 157184, "hidden_size": 2048, "intermediate_size": 5120, "num_hidden_layers": 20,
    "num_attention_heads": 16, "num_key_value_heads": 4, "head_dim": 128, "use_qkv_bias": false,
    "use_bias": false, "rms_norm_eps": 1e-06, "tie_word_embeddings": false, "max_position_embeddings": 32768,
    "rope_theta": 600000.0, "num_experts": 256, "num_shared_experts": 1, "num_experts_per_tok": 8,
    "moe_intermediate_size": 512, "first_k_dense_replace": 1, "use_qk_norm": true,
    "num_nextn_predict_layers": 0})";
// HunYuanDenseV1Config / HunYuanMoEV1Config (no head_dim default: hidden_size / num_attention_heads).
const char* const hunyuan_defaults = R"({
    "vocab_size": 290943, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
    "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-05,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "num_experts": 1,
    "moe_topk": 1})";
// SeedOssConfig.
const char* const seed_oss_defaults = R"({
    "vocab_size": 155136, "hidden_size": 4096, "intermediate_size": 27648, "num_hidden_layers": 64,
    "num_attention_heads": 80, "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 524288,
    "rms_norm_eps": 1e-06, "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": true,
    "attention_out_bias": false, "mlp_bias": false})";

// A key that holds one positive integer, or a per-layer list of them (remote-code Hunyuan configs write
// num_experts and moe_topk per layer); a list must hold the same value for every layer.
result<uint64_t> read_uniform_size(const key_reader& keys, const char* key) {
    const rapidjson::Value* v = keys.find(key);
    if (!v || !v->IsArray()) return keys.size(key);
    std::string path = keys.path(key);
    if (v->Empty())
        return make_error(error_code::wrong_type, path + ": expected a positive integer or a non-empty list",
                          path);
    for (rapidjson::SizeType i = 0; i < v->Size(); ++i) {
        const auto& item = (*v)[i];
        if (!item.IsUint64() || item.GetUint64() == 0 || item.GetUint64() != (*v)[0].GetUint64())
            return make_error(error_code::wrong_type,
                              path + "[" + num(i) +
                                  "]: expected the same positive integer for every layer, got " +
                                  describe_json(item),
                              path);
    }
    return (*v)[0].GetUint64();
}

// Shared experts of moe_intermediate_size each, together one MLP `count` times as wide.
std::optional<error> set_shared_experts(const key_reader& keys, model_spec& spec, const char* count_key) {
    MP_TRY(count, keys.optional_count(count_key));
    spec.n_shared_experts = count.value_or(0);
    if (spec.n_shared_experts == 0) return std::nullopt;
    if (__builtin_mul_overflow(spec.expert_intermediate, spec.n_shared_experts, &spec.shared_intermediate))
        return make_error(error_code::overflow,
                          keys.path(count_key) + " x the expert width overflows 64 bits",
                          keys.path(count_key));
    spec.switches |= sw_shared_expert;
    return std::nullopt;
}

std::optional<error> read_minimax_m2(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_switch(keys, "use_qk_norm", spec, sw_qk_norm));
    MP_CHECK(read_switch(keys, "use_routing_bias", spec, sw_router_bias));
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    for (auto& l : spec.layers) set_moe_layer(l);
    MP_CHECK(read_rope(keys, spec, "partial_rotary_factor"));
    // The published configs give the rotated width directly (rotary_dim) rather than a factor.
    MP_TRY(rotary_dim, keys.optional_size("rotary_dim"));
    if (rotary_dim && !keys.object().HasMember("partial_rotary_factor")) {
        if (*rotary_dim > spec.head_dim)
            return make_error(error_code::out_of_range,
                              keys.path("rotary_dim") + " (" + num(*rotary_dim) + ") exceeds head_dim (" +
                                  num(spec.head_dim) + ")",
                              keys.path("rotary_dim"));
        spec.rope.rotary_dim = *rotary_dim;
    }
    return std::nullopt;
}

// use_bias: biases on q/k/v/o, on every MLP projection and on lm_head.
std::optional<error> read_ernie_opening(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec, true));
    MP_CHECK(read_switch(keys, "use_bias", spec, sw_all_biases | sw_head_bias));
    return read_rope(keys, spec);
}

std::optional<error> read_ernie4_5(const key_reader& keys, model_spec& spec) {
    return read_ernie_opening(keys, spec);
}

// Ernie4_5_MoeDecoderLayer: MoE where (i + 1) % moe_layer_interval == 0 and start <= i <= end.
std::optional<error> ernie_moe_layers(const key_reader& keys, model_spec& spec) {
    MP_TRY(start, keys.optional_count("moe_layer_start_index"));
    uint64_t interval = 1, last = spec.n_layers - 1;
    MP_CHECK(read_size(keys, "moe_layer_interval", interval));
    const rapidjson::Value* end = keys.find("moe_layer_end_index");
    if (end && !(end->IsInt64() && end->GetInt64() == -1)) { // -1: the last layer
        MP_TRY(end_index, keys.optional_count("moe_layer_end_index"));
        last = *end_index;
    }
    for (uint64_t i = start.value_or(0); i < spec.n_layers && i <= last; ++i)
        if ((i + 1) % interval == 0) set_moe_layer(spec.layers[i]);
    return std::nullopt;
}

std::optional<error> read_ernie4_5_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_ernie_opening(keys, spec));
    MP_CHECK(read_experts(keys, spec, "moe_num_experts", "moe_k", "moe_intermediate_size"));
    MP_CHECK(set_shared_experts(keys, spec, "moe_num_shared_experts"));
    return ernie_moe_layers(keys, spec);
}

std::optional<error> read_bailing_moe(const key_reader& keys, model_spec& spec) {
    // Ling 1.x (BailingMoeForCausalLM) shares the model_type but not the layout.
    const rapidjson::Value& root = keys.root();
    auto archs = root.FindMember("architectures");
    if (archs != root.MemberEnd() && archs->value.IsArray() && !archs->value.Empty() &&
        archs->value[0].IsString() && std::string(archs->value[0].GetString()) == "BailingMoeForCausalLM")
        return make_error(error_code::unknown_model_type,
                          "architectures[0]: class \"BailingMoeForCausalLM\" (Ling 1.x) is not modelled; "
                          "bailing_moe covers BailingMoeV2ForCausalLM (Ling 2.0)",
                          "architectures");
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_switch(keys, "use_qkv_bias", spec, sw_qkv_bias));
    MP_CHECK(read_switch(keys, "use_bias", spec, sw_o_bias));
    MP_CHECK(read_switch(keys, "use_qk_norm", spec, sw_qk_norm));
    MP_CHECK(read_experts(keys, spec, "num_experts", "num_experts_per_tok", "moe_intermediate_size"));
    MP_CHECK(set_shared_experts(keys, spec, "num_shared_experts"));
    // The last num_nextn_predict_layers of num_hidden_layers are next-token-prediction layers.
    MP_TRY(mtp_layers, keys.optional_count("num_nextn_predict_layers"));
    uint64_t mtp = mtp_layers.value_or(0);
    if (mtp >= spec.n_layers)
        return make_error(error_code::out_of_range,
                          keys.path("num_nextn_predict_layers") + " (" + num(mtp) +
                              ") must be below num_hidden_layers (" + num(spec.n_layers) + ")",
                          keys.path("num_nextn_predict_layers"));
    MP_TRY(first_dense, keys.optional_count("first_k_dense_replace"));
    for (uint64_t i = first_dense.value_or(0); i < spec.n_layers; ++i) set_moe_layer(spec.layers[i]);
    spec.n_layers -= mtp;
    for (uint64_t i = spec.n_layers; i < spec.layers.size(); ++i) {
        set_moe_layer(spec.layers[i]); // BailingMoeV2MTPLayer always has the MoE block
        spec.layers[i].stack = layer_stack::mtp;
        spec.layers[i].switches |= sw_mtp;
    }
    return read_rope(keys, spec, "partial_rotary_factor");
}

std::optional<error> read_hunyuan_dense(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    spec.set_switches(sw_qk_norm); // HunYuan attention always has query/key layernorms
    MP_CHECK(read_switch(keys, "use_qk_norm", spec, sw_qk_norm));
    return read_rope(keys, spec);
}

std::optional<error> read_hunyuan_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_hunyuan_dense(keys, spec));
    MP_TRY(experts, read_uniform_size(keys, "num_experts"));
    MP_TRY(topk, read_uniform_size(keys, "moe_topk"));
    if (experts > max_experts) return too_large(keys, "num_experts", experts, max_experts);
    if (topk > experts)
        return make_error(error_code::out_of_range,
                          keys.path("moe_topk") + " (" + num(topk) + ") must not exceed " +
                              keys.path("num_experts") + " (" + num(experts) + ")",
                          keys.path("moe_topk"));
    spec.n_experts = experts;
    spec.n_experts_per_tok = topk;
    spec.expert_intermediate = spec.intermediate; // HunYuanMoEV1MLP: experts and shared MLP alike
    spec.shared_intermediate = spec.intermediate;
    spec.n_shared_experts = 1;
    spec.switches |= sw_shared_expert;
    for (auto& l : spec.layers) set_moe_layer(l);
    return std::nullopt;
}

std::optional<error> read_seed_oss(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_switch(keys, "attention_bias", spec, sw_qkv_bias));
    MP_CHECK(read_switch(keys, "attention_out_bias", spec, sw_o_bias));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    return read_rope(keys, spec);
}

} // namespace

void add_2025_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> minimax = {lp::embed(), rows(minimax_attention), rows(minimax_moe),
                                                 lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> llama_dense = {lp::embed(), lp::attention(), lp::mlp(),
                                                     lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> ernie_moe_layers = {
        lp::embed(), lp::attention(), lp::mlp(), rows(ernie_moe), lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> bailing = {
        rows(bailing_embed), rows(bailing_attention), lp::mlp(),       rows(bailing_moe),
        rows(bailing_mtp),   lp::layer_norms(),       lp::final_norm()};
    const std::vector<template_table> hunyuan_dense = {lp::embed(), rows(hunyuan_attention), lp::mlp(),
                                                       lp::layer_norms(), lp::final_norm()};
    const std::vector<template_table> hunyuan_moe_layers = {
        lp::embed(), rows(hunyuan_attention), rows(hunyuan_moe), lp::layer_norms(), lp::final_norm()};
    const std::vector<head_info> ernie_heads = {
        {head_kind::causal_lm, "ForCausalLM", {rows(ernie_lm_head)}},
        {head_kind::none,      "Model",       {}                   }
    };
    out.push_back(family("minimax_m2", "MiniMaxM2", read_minimax_m2, minimax, causal_lm_and_model_heads())
                      .defaults(minimax_m2_defaults));
    out.push_back(
        family("ernie4_5", "Ernie4_5", read_ernie4_5, llama_dense, ernie_heads).defaults(ernie4_5_defaults));
    out.push_back(
        family("ernie4_5_moe", "Ernie4_5_Moe", read_ernie4_5_moe, ernie_moe_layers, ernie_heads)
            .defaults(ernie4_5_moe_defaults)
            .leaves_out("the multi-token-prediction weights (mtp_*) some ERNIE 4.5 MoE checkpoints carry, "
                        "which transformers ignores on load"));
    const std::vector<head_info> bailing_heads = {
        {head_kind::causal_lm, "ForCausalLM", {rows(bailing_lm_head)}},
        {head_kind::none,      "Model",       {}                     }
    };
    out.push_back(family("bailing_moe", "BailingMoeV2", read_bailing_moe, bailing, bailing_heads)
                      .defaults(bailing_moe_defaults));
    out.push_back(family("hunyuan_v1_dense", "HunYuanDenseV1", read_hunyuan_dense, hunyuan_dense, lp::heads())
                      .defaults(hunyuan_defaults));
    out.push_back(family("hunyuan_v1_moe", "HunYuanMoEV1", read_hunyuan_moe, hunyuan_moe_layers, lp::heads())
                      .defaults(hunyuan_defaults));
    out.push_back(
        family("seed_oss", "SeedOss", read_seed_oss, llama_dense, lp::heads()).defaults(seed_oss_defaults));
}

} // namespace modelplan::family_tables
