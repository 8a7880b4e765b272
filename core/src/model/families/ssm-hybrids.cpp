// Hybrids of Mamba-2 mixers and attention:
//   granitemoehybrid  Granite 4.0-H: each layer either a Mamba-2 mixer ("mamba") or NoPE attention
//                     ("attention", layer_types), and in every layer the GraniteMoe experts (stacked
//                     input_linear/output_linear and router, when num_local_experts > 0) plus a shared MLP
//                     (shared_mlp.input_linear with gate and up fused).
//   falcon_h1         Falcon-H1: attention and a Mamba-2 mixer side by side in every layer (so a KV cache and
//   a
//                     recurrent state in every layer), mamba_d_ssm wide, its gated norm only with
//                     mamba_rms_norm; a SwiGLU feed_forward; input_layernorm, pre_ff_layernorm,
//                     final_layernorm.
//   jamba             Jamba: Mamba-1 mixers (with dt/B/C RMSNorms) and attention every attn_layer_period-th
//   layer
//                     (from attn_layer_offset), a Mixtral-like MoE feed_forward every expert_layer_period-th
//                     layer (router, experts.{e}.gate_proj/up_proj/down_proj), a dense SwiGLU elsewhere.
//   nemotron_h        Nemotron-H (NVIDIA-Nemotron-Nano-9B-v2): one block per layer, its kind from
//                     hybrid_override_pattern ("M" Mamba-2, "*" attention, "-" a squared-ReLU MLP of
//                     up_proj and down_proj), names under backbone. like Mamba.
// Order within a layer is the order in which the modules register (state_dict order). Sources: transformers
// models/granitemoehybrid (configuration_granitemoehybrid.py, modular_granitemoehybrid.py:
// GraniteMoeHybridDecoderLayer re-assigns self_attn and block_sparse_moe in the places GraniteMoeDecoderLayer
// registered them, then appends mamba), models/falcon_h1 (configuration_falcon_h1.py: attention_bias and
// mlp_bias always false; modular_falcon_h1.py: FalconH1DecoderLayer registers feed_forward, mamba, self_attn,
// then its norms; FalconH1Mixer is BambaMixer's with an optional norm), models/jamba (configuration_jamba.py,
// modeling_jamba.py: JambaMambaMixer, JambaAttentionDecoderLayer, JambaMambaDecoderLayer,
// JambaSparseMoeBlock), models/nemotron_h (configuration_nemotron_h.py, modeling_nemotron_h.py:
// NemotronHBlock, NemotronHMamba2Mixer, NemotronHMLP, NemotronHAttention), and the published checkpoints'
// names (tests/core/families-ssm.cpp).
#include "model/families/families.h"
#include "model/families/ssm-parts.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t mamba = sw_mamba;
constexpr uint64_t moe = sw_moe_ffn;
constexpr uint64_t not_attention = sw_mamba | sw_no_attn;

// clang-format off
// GraniteMoeHybridDecoderLayer: self_attn, block_sparse_moe, input_layernorm, post_attention_layernorm,
// shared_mlp, mamba.
const tensor_template granite_hybrid_layer[] = {
    per_layer(role::attn_q,        "layers.{layer}.self_attn.q_proj.weight",               dim::q_dim,     dim::hidden)    .unless(mamba),
    per_layer(role::attn_q,        "layers.{layer}.self_attn.q_proj.bias",                 dim::q_dim)                     .unless(mamba).when(sw_qkv_bias),
    per_layer(role::attn_k,        "layers.{layer}.self_attn.k_proj.weight",               dim::kv_dim,    dim::hidden)    .unless(mamba),
    per_layer(role::attn_k,        "layers.{layer}.self_attn.k_proj.bias",                 dim::kv_dim)                    .unless(mamba).when(sw_qkv_bias),
    per_layer(role::attn_v,        "layers.{layer}.self_attn.v_proj.weight",               dim::kv_dim,    dim::hidden)    .unless(mamba),
    per_layer(role::attn_v,        "layers.{layer}.self_attn.v_proj.bias",                 dim::kv_dim)                    .unless(mamba).when(sw_qkv_bias),
    per_layer(role::attn_o,        "layers.{layer}.self_attn.o_proj.weight",               dim::hidden,    dim::q_dim)     .unless(mamba),
    per_layer(role::attn_o,        "layers.{layer}.self_attn.o_proj.bias",                 dim::hidden)                    .unless(mamba).when(sw_o_bias),
    per_layer(role::ffn_up_exp,    "layers.{layer}.block_sparse_moe.input_linear.weight",  dim::n_experts, dim::expert_ffn_x2, dim::hidden).when(moe).fused(fused_layout::concatenated),
    per_layer(role::ffn_down_exp,  "layers.{layer}.block_sparse_moe.output_linear.weight", dim::n_experts, dim::hidden, dim::expert_ffn)   .when(moe),
    per_layer(role::ffn_router,    "layers.{layer}.block_sparse_moe.router.layer.weight",  dim::n_experts, dim::hidden)    .when(moe),
    per_layer(role::attn_norm,     "layers.{layer}.input_layernorm.weight",                dim::hidden),
    per_layer(role::ffn_norm,      "layers.{layer}.post_attention_layernorm.weight",       dim::hidden),
    per_layer(role::ffn_up_shexp,  "layers.{layer}.shared_mlp.input_linear.weight",        dim::shared_ffn_x2, dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ffn_down_shexp,"layers.{layer}.shared_mlp.output_linear.weight",       dim::hidden, dim::shared_ffn),
    per_layer(role::ssm_conv,      "layers.{layer}.mamba.conv1d.weight",                   dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel).when(mamba),
    per_layer(role::ssm_conv,      "layers.{layer}.mamba.conv1d.bias",                     dim::ssm_conv_dim)              .when(mamba | sw_conv_bias),
    per_layer(role::ssm_in,        "layers.{layer}.mamba.in_proj.weight",                  dim::ssm_in_proj, dim::hidden)  .when(mamba),
    per_layer(role::ssm_in,        "layers.{layer}.mamba.in_proj.bias",                    dim::ssm_in_proj)               .when(mamba | sw_ssm_bias),
    per_layer(role::ssm_dt,        "layers.{layer}.mamba.dt_bias",                         dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.A_log",                           dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_norm,      "layers.{layer}.mamba.norm.weight",                     dim::ssm_inner)                 .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.D",                               dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_out,       "layers.{layer}.mamba.out_proj.weight",                 dim::hidden, dim::ssm_inner)    .when(mamba),
    per_layer(role::ssm_out,       "layers.{layer}.mamba.out_proj.bias",                   dim::hidden)                    .when(mamba | sw_ssm_bias),
};
// FalconH1DecoderLayer: feed_forward, mamba, self_attn, input_layernorm, pre_ff_layernorm.
const tensor_template falcon_h1_layer[] = {
    per_layer(role::ffn_gate,   "layers.{layer}.feed_forward.gate_proj.weight", dim::ffn, dim::hidden),
    per_layer(role::ffn_up,     "layers.{layer}.feed_forward.up_proj.weight",   dim::ffn, dim::hidden),
    per_layer(role::ffn_down,   "layers.{layer}.feed_forward.down_proj.weight", dim::hidden, dim::ffn),
    per_layer(role::ssm_conv,   "layers.{layer}.mamba.conv1d.weight",           dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel),
    per_layer(role::ssm_conv,   "layers.{layer}.mamba.conv1d.bias",             dim::ssm_conv_dim)           .when(sw_conv_bias),
    per_layer(role::ssm_in,     "layers.{layer}.mamba.in_proj.weight",          dim::ssm_in_proj, dim::hidden),
    per_layer(role::ssm_in,     "layers.{layer}.mamba.in_proj.bias",            dim::ssm_in_proj)            .when(sw_ssm_bias),
    per_layer(role::ssm_dt,     "layers.{layer}.mamba.dt_bias",                 dim::ssm_heads),
    per_layer(role::ssm_params, "layers.{layer}.mamba.A_log",                   dim::ssm_heads),
    per_layer(role::ssm_norm,   "layers.{layer}.mamba.norm.weight",             dim::ssm_inner)              .when(sw_ssm_norm),
    per_layer(role::ssm_params, "layers.{layer}.mamba.D",                       dim::ssm_heads),
    per_layer(role::ssm_out,    "layers.{layer}.mamba.out_proj.weight",         dim::hidden, dim::ssm_inner),
    per_layer(role::ssm_out,    "layers.{layer}.mamba.out_proj.bias",           dim::hidden)                 .when(sw_o_bias),
    per_layer(role::attn_q,     "layers.{layer}.self_attn.q_proj.weight",       dim::q_dim, dim::hidden),
    per_layer(role::attn_k,     "layers.{layer}.self_attn.k_proj.weight",       dim::kv_dim, dim::hidden),
    per_layer(role::attn_v,     "layers.{layer}.self_attn.v_proj.weight",       dim::kv_dim, dim::hidden),
    per_layer(role::attn_o,     "layers.{layer}.self_attn.o_proj.weight",       dim::hidden, dim::q_dim),
    per_layer(role::attn_norm,  "layers.{layer}.input_layernorm.weight",        dim::hidden),
    per_layer(role::ffn_norm,   "layers.{layer}.pre_ff_layernorm.weight",       dim::hidden),
};
const tensor_template falcon_h1_final_norm[] = {
    once(role::output_norm, "final_layernorm.weight", dim::hidden),
};
// JambaAttentionDecoderLayer: self_attn, feed_forward, input_layernorm, pre_ff_layernorm; JambaMambaDecoderLayer
// the same with mamba (JambaMambaMixer: conv1d, in_proj, x_proj, dt_proj, A_log, D, out_proj, then the dt, B and
// C norms) first.
const tensor_template jamba_layer[] = {
    per_layer(role::ssm_conv,      "layers.{layer}.mamba.conv1d.weight",             dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel).when(mamba),
    per_layer(role::ssm_conv,      "layers.{layer}.mamba.conv1d.bias",               dim::ssm_conv_dim)              .when(mamba | sw_conv_bias),
    per_layer(role::ssm_in,        "layers.{layer}.mamba.in_proj.weight",            dim::ssm_in_proj, dim::hidden)  .when(mamba).fused(fused_layout::concatenated),
    per_layer(role::ssm_in,        "layers.{layer}.mamba.in_proj.bias",              dim::ssm_in_proj)               .when(mamba | sw_ssm_bias).fused(fused_layout::concatenated),
    per_layer(role::ssm_dt,        "layers.{layer}.mamba.x_proj.weight",             dim::ssm_x_proj, dim::ssm_inner).when(mamba),
    per_layer(role::ssm_dt,        "layers.{layer}.mamba.dt_proj.weight",            dim::ssm_inner, dim::ssm_dt_rank).when(mamba),
    per_layer(role::ssm_dt,        "layers.{layer}.mamba.dt_proj.bias",              dim::ssm_inner)                 .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.A_log",                     dim::ssm_inner, dim::ssm_state) .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.D",                         dim::ssm_inner)                 .when(mamba),
    per_layer(role::ssm_out,       "layers.{layer}.mamba.out_proj.weight",           dim::hidden, dim::ssm_inner)    .when(mamba),
    per_layer(role::ssm_out,       "layers.{layer}.mamba.out_proj.bias",             dim::hidden)                    .when(mamba | sw_ssm_bias),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.dt_layernorm.weight",       dim::ssm_dt_rank)               .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.b_layernorm.weight",        dim::ssm_state)                 .when(mamba),
    per_layer(role::ssm_params,    "layers.{layer}.mamba.c_layernorm.weight",        dim::ssm_state)                 .when(mamba),
    per_layer(role::attn_q,        "layers.{layer}.self_attn.q_proj.weight",         dim::q_dim, dim::hidden)        .unless(mamba),
    per_layer(role::attn_k,        "layers.{layer}.self_attn.k_proj.weight",         dim::kv_dim, dim::hidden)       .unless(mamba),
    per_layer(role::attn_v,        "layers.{layer}.self_attn.v_proj.weight",         dim::kv_dim, dim::hidden)       .unless(mamba),
    per_layer(role::attn_o,        "layers.{layer}.self_attn.o_proj.weight",         dim::hidden, dim::q_dim)        .unless(mamba),
    per_layer(role::ffn_gate,      "layers.{layer}.feed_forward.gate_proj.weight",   dim::ffn, dim::hidden)          .when(sw_dense_ffn),
    per_layer(role::ffn_up,        "layers.{layer}.feed_forward.up_proj.weight",     dim::ffn, dim::hidden)          .when(sw_dense_ffn),
    per_layer(role::ffn_down,      "layers.{layer}.feed_forward.down_proj.weight",   dim::hidden, dim::ffn)          .when(sw_dense_ffn),
    per_layer(role::ffn_router,    "layers.{layer}.feed_forward.router.weight",      dim::n_experts, dim::hidden)    .when(moe),
    per_expert(role::ffn_gate_exp, "layers.{layer}.feed_forward.experts.{expert}.gate_proj.weight", dim::expert_ffn, dim::hidden).when(moe),
    per_expert(role::ffn_up_exp,   "layers.{layer}.feed_forward.experts.{expert}.up_proj.weight",   dim::expert_ffn, dim::hidden).when(moe),
    per_expert(role::ffn_down_exp, "layers.{layer}.feed_forward.experts.{expert}.down_proj.weight", dim::hidden, dim::expert_ffn).when(moe),
    per_layer(role::attn_norm,     "layers.{layer}.input_layernorm.weight",          dim::hidden),
    per_layer(role::ffn_norm,      "layers.{layer}.pre_ff_layernorm.weight",         dim::hidden),
};
// NemotronHBlock: norm, then its mixer.
const tensor_template nemotron_embed[] = {
    once(role::embed, "embeddings.weight", dim::vocab, dim::hidden),
};
const tensor_template nemotron_layer[] = {
    per_layer(role::attn_norm,  "layers.{layer}.norm.weight",           dim::hidden),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.weight",   dim::ssm_conv_dim, dim::one, dim::ssm_conv_kernel).when(mamba),
    per_layer(role::ssm_conv,   "layers.{layer}.mixer.conv1d.bias",     dim::ssm_conv_dim)              .when(mamba | sw_conv_bias),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.weight",  dim::ssm_in_proj, dim::hidden)  .when(mamba),
    per_layer(role::ssm_in,     "layers.{layer}.mixer.in_proj.bias",    dim::ssm_in_proj)               .when(mamba | sw_ssm_bias),
    per_layer(role::ssm_dt,     "layers.{layer}.mixer.dt_bias",         dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_params, "layers.{layer}.mixer.A_log",           dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_norm,   "layers.{layer}.mixer.norm.weight",     dim::ssm_inner)                 .when(mamba),
    per_layer(role::ssm_params, "layers.{layer}.mixer.D",               dim::ssm_heads)                 .when(mamba),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.weight", dim::hidden, dim::ssm_inner)    .when(mamba),
    per_layer(role::ssm_out,    "layers.{layer}.mixer.out_proj.bias",   dim::hidden)                    .when(mamba | sw_ssm_bias),
    per_layer(role::ffn_up,     "layers.{layer}.mixer.up_proj.weight",  dim::ffn, dim::hidden)          .when(sw_no_attn),
    per_layer(role::ffn_up,     "layers.{layer}.mixer.up_proj.bias",    dim::ffn)                       .when(sw_no_attn | sw_mlp_bias),
    per_layer(role::ffn_down,   "layers.{layer}.mixer.down_proj.weight",dim::hidden, dim::ffn)          .when(sw_no_attn),
    per_layer(role::ffn_down,   "layers.{layer}.mixer.down_proj.bias",  dim::hidden)                    .when(sw_no_attn | sw_mlp_bias),
    per_layer(role::attn_q,     "layers.{layer}.mixer.q_proj.weight",   dim::q_dim, dim::hidden)        .unless(not_attention),
    per_layer(role::attn_q,     "layers.{layer}.mixer.q_proj.bias",     dim::q_dim)                     .unless(not_attention).when(sw_qkv_bias),
    per_layer(role::attn_k,     "layers.{layer}.mixer.k_proj.weight",   dim::kv_dim, dim::hidden)       .unless(not_attention),
    per_layer(role::attn_k,     "layers.{layer}.mixer.k_proj.bias",     dim::kv_dim)                    .unless(not_attention).when(sw_qkv_bias),
    per_layer(role::attn_v,     "layers.{layer}.mixer.v_proj.weight",   dim::kv_dim, dim::hidden)       .unless(not_attention),
    per_layer(role::attn_v,     "layers.{layer}.mixer.v_proj.bias",     dim::kv_dim)                    .unless(not_attention).when(sw_qkv_bias),
    per_layer(role::attn_o,     "layers.{layer}.mixer.o_proj.weight",   dim::hidden, dim::q_dim)        .unless(not_attention),
    per_layer(role::attn_o,     "layers.{layer}.mixer.o_proj.bias",     dim::hidden)                    .unless(not_attention).when(sw_o_bias),
};
const tensor_template nemotron_final_norm[] = {
    once(role::output_norm, "norm_f.weight", dim::hidden),
};
const tensor_template nemotron_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("embeddings.weight", sw_tied),
};
// clang-format on

// GraniteMoeHybridConfig's defaults (transformers configuration_granitemoehybrid.py).
const char* granite_hybrid_defaults =
    R"({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "embedding_multiplier": 1.0,
    "logits_scaling": 1.0, "residual_multiplier": 1.0, "attention_multiplier": 1.0, "num_local_experts": 8,
    "num_experts_per_tok": 2, "shared_intermediate_size": 1024, "mamba_n_heads": 128, "mamba_n_groups": 1,
    "mamba_d_state": 256, "mamba_d_head": "auto", "mamba_d_conv": 4, "mamba_expand": 2, "mamba_chunk_size": 256,
    "mamba_conv_bias": true, "mamba_proj_bias": false})";
// NemotronHConfig's defaults (transformers configuration_nemotron_h.py, 4.5x).
const char* nemotron_h_defaults = R"({"vocab_size": 131072, "tie_word_embeddings": false, "hidden_size": 4096,
    "intermediate_size": 21504, "num_hidden_layers": 52,
    "hybrid_override_pattern": "M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M*-M-M-M-M-M-",
    "num_attention_heads": 32, "head_dim": 128, "num_key_value_heads": 8, "attention_bias": false,
    "mlp_bias": false, "use_bias": false, "layer_norm_epsilon": 1e-5, "max_position_embeddings": 4096,
    "ssm_state_size": 128, "mamba_num_heads": 128, "n_groups": 8, "mamba_head_dim": 64, "conv_kernel": 4,
    "expand": 2, "use_conv_bias": true})";

// FalconH1Config's defaults (transformers configuration_falcon_h1.py).
const char* falcon_h1_defaults = R"({"vocab_size": 128000, "tie_word_embeddings": false, "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-5, "max_position_embeddings": 8192, "mamba_d_ssm": 1024, "mamba_n_heads": 128,
    "mamba_d_head": "auto", "mamba_n_groups": 1, "mamba_d_state": 256, "mamba_d_conv": 4, "mamba_expand": 2,
    "mamba_chunk_size": 256, "mamba_conv_bias": true, "mamba_proj_bias": false, "mamba_norm_before_gate": true,
    "mamba_rms_norm": false, "projectors_bias": false, "rope_theta": 100000.0})";
// JambaConfig's defaults (transformers configuration_jamba.py; they are Jamba-v0.1's).
const char* jamba_defaults = R"({"vocab_size": 65536, "tie_word_embeddings": false, "hidden_size": 4096,
    "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-6, "max_position_embeddings": 262144, "num_experts_per_tok": 2, "num_experts": 16,
    "expert_layer_period": 2, "expert_layer_offset": 1, "attn_layer_period": 8, "attn_layer_offset": 4,
    "mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": "auto", "mamba_conv_bias": true,
    "mamba_proj_bias": false})";

void set_attention_only(layer_spec& l) {
    l.switches &= ~sw_dense_ffn;
}

// layer_types (or its alias layers_block_type): "mamba" or "attention" per layer; absent: every layer Mamba.
std::optional<error> read_granite_layers(const key_reader& keys, model_spec& spec) {
    const char* key =
        keys.has("layer_types") || !keys.has("layers_block_type") ? "layer_types" : "layers_block_type";
    if (!keys.has(key)) {
        for (auto& l : spec.layers) ssm::set_recurrent_layer(l, sw_mamba);
        return std::nullopt;
    }
    MP_TRY(kinds, ssm::read_layer_kinds(keys, key, spec.n_layers, {"mamba", "attention"}));
    for (size_t il = 0; il < kinds.size(); ++il)
        if (kinds[il] == 0) ssm::set_recurrent_layer(spec.layers[il], sw_mamba);
    return std::nullopt;
}

std::optional<error> read_granite_hybrid(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.head_dim = nullptr; // GraniteMoeHybridAttention: hidden_size / num_attention_heads
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    for (const char* key :
         {"embedding_multiplier", "logits_scaling", "residual_multiplier", "attention_multiplier"}) {
        MP_TRY(scale, keys.optional_number(key, 1.0)); // scales activations, not parameters
        (void)scale;
    }
    MP_TRY(shared, keys.size("shared_intermediate_size"));
    spec.shared_intermediate = shared;
    spec.n_shared_experts = 1;
    spec.set_switches(sw_shared_expert);
    MP_TRY(experts, keys.optional_count("num_local_experts"));
    if (experts.value_or(0) > 0) {
        MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
        for (auto& l : spec.layers) set_moe_layer(l);
    } else {
        spec.intermediate = shared; // dense (Granite 4.0-H Micro): the shared MLP is the FFN
        for (auto& l : spec.layers) l.switches &= ~sw_dense_ffn;
    }
    MP_TRY(inner, ssm::expanded_width(keys, spec, "mamba_expand"));
    ssm::mamba2_keys m{"mamba_n_heads", "mamba_d_head",    "mamba_n_groups", "mamba_d_state",
                       "mamba_d_conv",  "mamba_proj_bias", "mamba_conv_bias"};
    const rapidjson::Value* d_head = keys.find("mamba_d_head");
    if (d_head && d_head->IsString() && std::string(d_head->GetString()) == "auto") m.head_dim = nullptr;
    MP_CHECK(ssm::read_mamba2_mixer(keys, spec, m, inner, "mamba_expand x hidden_size"));
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    MP_CHECK(read_granite_layers(keys, spec));
    // position_embedding_type "rope" rotates queries and keys; Granite 4.0-H's "nope" (or none) does not.
    MP_TRY(position, keys.optional_string("position_embedding_type"));
    if (position && *position == "rope") return read_rope(keys, spec);
    return std::nullopt;
}

// hybrid_override_pattern: one character per layer; or layers_block_type, a list of names (transformers 5).
std::optional<error> read_nemotron_layers(const key_reader& keys, model_spec& spec) {
    std::vector<char> kinds;
    if (keys.object().HasMember("layers_block_type") || !keys.has("hybrid_override_pattern")) {
        MP_TRY(named, ssm::read_layer_kinds(
                          keys, "layers_block_type", spec.n_layers,
                          {"mamba", "linear_attention", "attention", "full_attention", "mlp", "moe"}));
        for (size_t n : named) kinds.push_back("MM**-E"[n]);
    } else {
        const rapidjson::Value* v = keys.find("hybrid_override_pattern");
        std::string path = keys.path("hybrid_override_pattern");
        if (!v->IsString())
            return make_error(
                error_code::wrong_type,
                path + ": expected a string of M, *, - (one per layer), got " + describe_json(*v), path);
        std::string pattern = v->GetString();
        if (pattern.size() != spec.n_layers)
            return make_error(error_code::inconsistent,
                              path + " has " + num(pattern.size()) + " characters but num_hidden_layers is " +
                                  num(spec.n_layers),
                              path);
        kinds.assign(pattern.begin(), pattern.end());
    }
    for (size_t il = 0; il < kinds.size(); ++il) {
        layer_spec& l = spec.layers[il];
        switch (kinds[il]) {
        case 'M':
            set_attention_only(l);
            ssm::set_recurrent_layer(l, sw_mamba);
            break;
        case '*': set_attention_only(l); break;
        case '-': l.switches |= sw_no_attn | sw_no_kv_cache; break;
        default: {
            std::string path = keys.path("hybrid_override_pattern") + "[" + num(il) + "]";
            return make_error(
                kinds[il] == 'E' ? error_code::unsupported : error_code::wrong_type,
                kinds[il] == 'E'
                    ? path + ": \"E\" (mixture-of-experts layers, Nemotron 3) is not modelled yet; "
                             "Nemotron-H with M, * and - layers is"
                    : path + ": expected M (Mamba-2), * (attention) or - (MLP), got \"" +
                          std::string(1, kinds[il]) + "\"",
                path);
        }
        }
    }
    return std::nullopt;
}

std::optional<error> read_nemotron_h(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_epsilon|rms_norm_eps";
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    ssm::mamba2_keys m;
    m.heads = "mamba_num_heads";
    m.head_dim = "mamba_head_dim";
    std::string groups = pick(keys, "n_groups|mamba_n_groups"),
                state = pick(keys, "ssm_state_size|mamba_d_state"),
                kernel = pick(keys, "conv_kernel|mamba_d_conv"),
                proj = pick(keys, "use_bias|mamba_proj_bias"),
                conv = pick(keys, "use_conv_bias|mamba_conv_bias");
    m.groups = groups.c_str();
    m.state = state.c_str();
    m.conv_kernel = kernel.c_str();
    m.proj_bias = proj.c_str();
    m.conv_bias = conv.c_str();
    MP_TRY(heads, keys.size(m.heads));
    MP_TRY(head_dim, keys.size(m.head_dim));
    if (heads > ssm::max_ssm_width || head_dim > ssm::max_ssm_width)
        return too_large(keys, m.heads, std::max(heads, head_dim), ssm::max_ssm_width);
    // NemotronHMamba2Mixer: d_inner = mamba_num_heads x mamba_head_dim.
    MP_CHECK(ssm::read_mamba2_mixer(keys, spec, m, heads * head_dim, "mamba_num_heads x mamba_head_dim"));
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    MP_CHECK(read_nemotron_layers(keys, spec));
    spec.rope.rotary_dim = 0; // Nemotron-H's attention has no positional encoding
    return std::nullopt;
}

// FalconH1: attention (attention_bias is always false) and a Mamba-2 mixer of mamba_d_ssm channels (null:
// mamba_expand x hidden_size) in every layer.
std::optional<error> read_falcon_h1(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    uint64_t inner = 0;
    if (keys.has("mamba_d_ssm")) {
        MP_TRY(d_ssm, keys.size("mamba_d_ssm"));
        inner = d_ssm;
    } else {
        MP_TRY(width, ssm::expanded_width(keys, spec, "mamba_expand"));
        inner = width;
    }
    if (inner > ssm::max_ssm_width) return too_large(keys, "mamba_d_ssm", inner, ssm::max_ssm_width);
    ssm::mamba2_keys m{"mamba_n_heads", "mamba_d_head",    "mamba_n_groups", "mamba_d_state",
                       "mamba_d_conv",  "mamba_proj_bias", "mamba_conv_bias"};
    const rapidjson::Value* d_head = keys.find("mamba_d_head");
    if (d_head && d_head->IsString() && std::string(d_head->GetString()) == "auto") m.head_dim = nullptr;
    MP_CHECK(ssm::read_mamba2_mixer(keys, spec, m, inner, "mamba_d_ssm"));
    MP_CHECK(read_switch(keys, "mamba_rms_norm", spec, sw_ssm_norm));
    MP_CHECK(read_switch(keys, "projectors_bias", spec, sw_o_bias));
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    for (auto& l : spec.layers) l.switches |= sw_mamba; // attention too: its KV cache stays
    return read_rope(keys, spec);
}

// Jamba: attention where i % attn_layer_period == attn_layer_offset, Mamba elsewhere; the MoE block where
// i % expert_layer_period == expert_layer_offset, a dense MLP elsewhere.
std::optional<error> read_jamba(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec));
    MP_CHECK(read_experts(keys, spec, "num_experts", "num_experts_per_tok", "intermediate_size"));
    uint64_t period[2] = {}, offset[2] = {};
    const char* keys_of[2][2] = {
        {"attn_layer_period",   "attn_layer_offset"  },
        {"expert_layer_period", "expert_layer_offset"}
    };
    for (int i = 0; i < 2; ++i) {
        MP_TRY(p, keys.size(keys_of[i][0]));
        MP_TRY(o, keys.optional_count(keys_of[i][1]));
        period[i] = p;
        offset[i] = o.value_or(0);
        if (offset[i] >= period[i])
            return make_error(error_code::out_of_range,
                              keys.path(keys_of[i][1]) + " (" + num(offset[i]) + ") must be below " +
                                  keys.path(keys_of[i][0]) + " (" + num(period[i]) + ")",
                              keys.path(keys_of[i][1]));
    }
    MP_TRY(inner, ssm::expanded_width(keys, spec, "mamba_expand"));
    MP_TRY(state, keys.size("mamba_d_state"));
    MP_TRY(kernel, keys.size("mamba_d_conv"));
    for (auto [key, v] : {
             std::pair{"mamba_d_state", state },
             {"mamba_d_conv",  kernel}
    })
        if (v > ssm::max_ssm_width) return too_large(keys, key, v, ssm::max_ssm_width);
    spec.ssm_inner = inner;
    spec.ssm_state = state;
    spec.ssm_conv_kernel = kernel;
    spec.ssm_conv_dim = spec.ssm_inner;
    spec.ssm_in_proj = 2 * spec.ssm_inner;
    const rapidjson::Value* rank = keys.find("mamba_dt_rank");
    if (rank && rank->IsString() && std::string(rank->GetString()) == "auto") {
        spec.ssm_dt_rank = (spec.hidden + 15) / 16;
    } else {
        MP_TRY(r, keys.size("mamba_dt_rank"));
        if (r > ssm::max_ssm_width) return too_large(keys, "mamba_dt_rank", r, ssm::max_ssm_width);
        spec.ssm_dt_rank = r;
    }
    MP_CHECK(read_switch(keys, "mamba_proj_bias", spec, sw_ssm_bias));
    MP_CHECK(read_switch(keys, "mamba_conv_bias", spec, sw_conv_bias));
    MP_CHECK(ssm::read_state_dtype(keys, spec));
    for (uint64_t il = 0; il < spec.n_layers; ++il) {
        layer_spec& l = spec.layers[il];
        if (il % period[0] != offset[0]) ssm::set_recurrent_layer(l, sw_mamba);
        if (il % period[1] == offset[1]) set_moe_layer(l);
    }
    spec.rope.rotary_dim = 0; // Jamba's attention has no positional encoding
    return read_sliding(keys, spec, sliding_rule::window_key);
}

std::vector<head_info> nemotron_heads() {
    return {
        {head_kind::causal_lm, "ForCausalLM", {rows(nemotron_lm_head)}},
        {head_kind::none,      "Model",       {}                      }
    };
}

} // namespace

void add_ssm_hybrid_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> granite = {lp::embed(), rows(granite_hybrid_layer), lp::final_norm()};
    const auto heads = lp::heads();
    out.push_back(
        family("granitemoehybrid", "GraniteMoeHybrid", read_granite_hybrid, granite, {heads[0], heads[1]})
            .defaults(granite_hybrid_defaults));
    out.push_back(family("falcon_h1", "FalconH1", read_falcon_h1,
                         {lp::embed(), rows(falcon_h1_layer), rows(falcon_h1_final_norm)},
                         {heads[0], heads[1]})
                      .defaults(falcon_h1_defaults));
    out.push_back(family("jamba", "Jamba", read_jamba,
                         {lp::embed(), rows(jamba_layer), rows(falcon_h1_final_norm)}, lp::heads())
                      .defaults(jamba_defaults));
    const std::vector<template_table> nemotron = {rows(nemotron_embed), rows(nemotron_layer),
                                                  rows(nemotron_final_norm)};
    out.push_back(family("nemotron_h", "NemotronH", read_nemotron_h, nemotron, nemotron_heads())
                      .prefix("backbone.")
                      .defaults(nemotron_h_defaults));
}

} // namespace modelplan::family_tables
