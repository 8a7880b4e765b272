// Early open decoders with LayerNorm and fused or learned-position layouts: OPT (positions with an offset of
// 2, optional project_in/project_out when word_embed_proj_dim differs, final norm only with
// do_layer_norm_before), BLOOM (embedding LayerNorm, fused query_key_value, ALiBi: no position parameters)
// and Falcon (old multi-query architecture with one norm, new decoder architecture with ln_attn and ln_mlp).
// Sources: transformers models/opt, bloom, falcon modeling and configuration files (4.4x), registration
// order.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// OPTDecoder: embed_tokens, embed_positions, project_out, project_in, final_layer_norm, then the layers;
// OPTAttention registers k, v, q, out.
const tensor_template opt_base[] = {
    once(role::embed,          "decoder.embed_tokens.weight",                        dim::vocab,         dim::word_proj),
    once(role::pos_embed,      "decoder.embed_positions.weight",                     dim::position_rows, dim::hidden),
    once(role::embed_proj,     "decoder.project_out.weight",                         dim::word_proj,     dim::hidden)   .when(sw_proj_in_out),
    once(role::embed_proj,     "decoder.project_in.weight",                          dim::hidden,        dim::word_proj).when(sw_proj_in_out),
    once(role::output_norm,    "decoder.final_layer_norm.weight",                    dim::hidden)                       .when(sw_final_norm),
    once(role::output_norm,    "decoder.final_layer_norm.bias",                      dim::hidden)                       .when(sw_final_norm),
    per_layer(role::attn_k,    "decoder.layers.{layer}.self_attn.k_proj.weight",     dim::kv_dim,        dim::hidden),
    per_layer(role::attn_k,    "decoder.layers.{layer}.self_attn.k_proj.bias",       dim::kv_dim)                       .when(sw_qkv_bias),
    per_layer(role::attn_v,    "decoder.layers.{layer}.self_attn.v_proj.weight",     dim::kv_dim,        dim::hidden),
    per_layer(role::attn_v,    "decoder.layers.{layer}.self_attn.v_proj.bias",       dim::kv_dim)                       .when(sw_qkv_bias),
    per_layer(role::attn_q,    "decoder.layers.{layer}.self_attn.q_proj.weight",     dim::q_dim,         dim::hidden),
    per_layer(role::attn_q,    "decoder.layers.{layer}.self_attn.q_proj.bias",       dim::q_dim)                        .when(sw_qkv_bias),
    per_layer(role::attn_o,    "decoder.layers.{layer}.self_attn.out_proj.weight",   dim::hidden,        dim::q_dim),
    per_layer(role::attn_o,    "decoder.layers.{layer}.self_attn.out_proj.bias",     dim::hidden)                       .when(sw_o_bias),
    per_layer(role::attn_norm, "decoder.layers.{layer}.self_attn_layer_norm.weight", dim::hidden),
    per_layer(role::attn_norm, "decoder.layers.{layer}.self_attn_layer_norm.bias",   dim::hidden),
    per_layer(role::ffn_up,    "decoder.layers.{layer}.fc1.weight",                  dim::ffn,           dim::hidden),
    per_layer(role::ffn_up,    "decoder.layers.{layer}.fc1.bias",                    dim::ffn)                          .when(sw_mlp_bias),
    per_layer(role::ffn_down,  "decoder.layers.{layer}.fc2.weight",                  dim::hidden,        dim::ffn),
    per_layer(role::ffn_down,  "decoder.layers.{layer}.fc2.bias",                    dim::hidden)                       .when(sw_mlp_bias),
    per_layer(role::ffn_norm,  "decoder.layers.{layer}.final_layer_norm.weight",     dim::hidden),
    per_layer(role::ffn_norm,  "decoder.layers.{layer}.final_layer_norm.bias",       dim::hidden),
};
const tensor_template opt_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::word_proj).alias_of("decoder.embed_tokens.weight", sw_tied),
};
const tensor_template opt_score[] = {
    once(role::classifier, "score.weight", dim::labels, dim::word_proj),
};

const tensor_template bloom_base[] = {
    once(role::embed,          "word_embeddings.weight",                          dim::vocab,   dim::hidden),
    once(role::embed_norm,     "word_embeddings_layernorm.weight",                dim::hidden),
    once(role::embed_norm,     "word_embeddings_layernorm.bias",                  dim::hidden),
    per_layer(role::attn_norm, "h.{layer}.input_layernorm.weight",                dim::hidden),
    per_layer(role::attn_norm, "h.{layer}.input_layernorm.bias",                  dim::hidden),
    per_layer(role::attn_qkv,  "h.{layer}.self_attention.query_key_value.weight", dim::qkv_dim, dim::hidden).fused(fused_layout::interleaved),
    per_layer(role::attn_qkv,  "h.{layer}.self_attention.query_key_value.bias",   dim::qkv_dim).fused(fused_layout::interleaved),
    per_layer(role::attn_o,    "h.{layer}.self_attention.dense.weight",           dim::hidden,  dim::q_dim),
    per_layer(role::attn_o,    "h.{layer}.self_attention.dense.bias",             dim::hidden),
    per_layer(role::ffn_norm,  "h.{layer}.post_attention_layernorm.weight",       dim::hidden),
    per_layer(role::ffn_norm,  "h.{layer}.post_attention_layernorm.bias",         dim::hidden),
    per_layer(role::ffn_up,    "h.{layer}.mlp.dense_h_to_4h.weight",              dim::ffn,     dim::hidden),
    per_layer(role::ffn_up,    "h.{layer}.mlp.dense_h_to_4h.bias",                dim::ffn),
    per_layer(role::ffn_down,  "h.{layer}.mlp.dense_4h_to_h.weight",              dim::hidden,  dim::ffn),
    per_layer(role::ffn_down,  "h.{layer}.mlp.dense_4h_to_h.bias",                dim::hidden),
    once(role::output_norm,    "ln_f.weight",                                     dim::hidden),
    once(role::output_norm,    "ln_f.bias",                                       dim::hidden),
};
const tensor_template bloom_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("word_embeddings.weight", sw_tied),
};

// FalconDecoderLayer (4.45+): attention and MLP, then the norms: post_attention_layernorm and input_layernorm
// without a parallel block, ln_attn and ln_mlp with two parallel norms, else input_layernorm alone.
const tensor_template falcon_base[] = {
    once(role::embed,          "word_embeddings.weight",                          dim::vocab,   dim::hidden),
    per_layer(role::attn_qkv,  "h.{layer}.self_attention.query_key_value.weight", dim::qkv_dim, dim::hidden),
    per_layer(role::attn_qkv,  "h.{layer}.self_attention.query_key_value.bias",   dim::qkv_dim).when(sw_qkv_bias),
    per_layer(role::attn_o,    "h.{layer}.self_attention.dense.weight",           dim::hidden,  dim::q_dim),
    per_layer(role::attn_o,    "h.{layer}.self_attention.dense.bias",             dim::hidden) .when(sw_o_bias),
    per_layer(role::ffn_up,    "h.{layer}.mlp.dense_h_to_4h.weight",              dim::ffn,     dim::hidden),
    per_layer(role::ffn_up,    "h.{layer}.mlp.dense_h_to_4h.bias",                dim::ffn)    .when(sw_mlp_bias),
    per_layer(role::ffn_down,  "h.{layer}.mlp.dense_4h_to_h.weight",              dim::hidden,  dim::ffn),
    per_layer(role::ffn_down,  "h.{layer}.mlp.dense_4h_to_h.bias",                dim::hidden) .when(sw_mlp_bias),
    per_layer(role::ffn_norm,  "h.{layer}.post_attention_layernorm.weight",       dim::hidden) .unless(sw_parallel_attn),
    per_layer(role::ffn_norm,  "h.{layer}.post_attention_layernorm.bias",         dim::hidden) .unless(sw_parallel_attn),
    per_layer(role::attn_norm, "h.{layer}.input_layernorm.weight",                dim::hidden) .unless(sw_two_norms),
    per_layer(role::attn_norm, "h.{layer}.input_layernorm.bias",                  dim::hidden) .unless(sw_two_norms),
    per_layer(role::attn_norm, "h.{layer}.ln_attn.weight",                        dim::hidden) .when(sw_two_norms),
    per_layer(role::attn_norm, "h.{layer}.ln_attn.bias",                          dim::hidden) .when(sw_two_norms),
    per_layer(role::ffn_norm,  "h.{layer}.ln_mlp.weight",                         dim::hidden) .when(sw_two_norms),
    per_layer(role::ffn_norm,  "h.{layer}.ln_mlp.bias",                           dim::hidden) .when(sw_two_norms),
    once(role::output_norm,    "ln_f.weight",                                     dim::hidden),
    once(role::output_norm,    "ln_f.bias",                                       dim::hidden),
};
// clang-format on

std::optional<error> read_opt(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.intermediate = "ffn_dim";
    k.eps = nullptr;
    MP_CHECK(read_core(keys, spec, k));
    if (spec.max_positions == 0)
        return make_error(error_code::missing_key,
                          "missing required key " + keys.path("max_position_embeddings"),
                          keys.path("max_position_embeddings"));
    spec.n_positions = spec.max_positions + 2; // OPTLearnedPositionalEmbedding keeps an offset of 2
    spec.word_proj_dim = spec.hidden;
    MP_CHECK(read_size(keys, "word_embed_proj_dim", spec.word_proj_dim));
    if (spec.word_proj_dim != spec.hidden) spec.switches |= sw_proj_in_out;
    bool before = true, remove_final = false;
    MP_CHECK(read_bool(keys, "do_layer_norm_before", before));
    MP_CHECK(read_bool(keys, "_remove_final_layer_norm", remove_final));
    if (before && !remove_final) spec.switches |= sw_final_norm;
    spec.set_switches(sw_all_biases | sw_tied); // OPTConfig defaults: enable_bias, tie_word_embeddings
    MP_CHECK(read_switch(keys, "enable_bias", spec, sw_all_biases));
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias | sw_learned_pos;
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

std::optional<error> read_bloom(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.hidden = "hidden_size|n_embed";
    k.layers = "n_layer|num_hidden_layers";
    k.heads = "n_head|num_attention_heads";
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.intermediate = nullptr;
    k.positions = nullptr;
    k.eps = "layer_norm_epsilon";
    MP_CHECK(read_core(keys, spec, k));
    if (spec.hidden > UINT64_MAX / 4) return too_large(keys, "hidden_size", spec.hidden, UINT64_MAX / 4);
    spec.intermediate = 4 * spec.hidden; // BloomMLP is always 4 x hidden_size
    spec.set_switches(sw_tied);          // BloomConfig default
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.norm = norm_kind::layer;
    spec.set_switches(sw_all_biases | sw_norm_bias);
    spec.rope.rotary_dim = 0; // ALiBi
    return std::nullopt;
}

// `legacy`: the pre-transformers model types, RefinedWeb (the new architecture, falcon-40b/180b) and
// RefinedWebModel (the old one, falcon-7b), whose configs carry no new_decoder_architecture key.
std::optional<error> read_falcon_arch(const key_reader& keys, model_spec& spec,
                                      std::optional<bool> legacy_new_arch) {
    core_keys k;
    k.layers = "num_hidden_layers|n_layer";
    k.heads = "num_attention_heads|n_head";
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.intermediate = nullptr;
    k.eps = "layer_norm_epsilon";
    MP_CHECK(read_core(keys, spec, k));
    bool new_arch = legacy_new_arch.value_or(false), multi_query = true, parallel = true, bias = false,
         alibi = false;
    if (!legacy_new_arch) MP_CHECK(read_bool(keys, "new_decoder_architecture", new_arch));
    MP_CHECK(read_bool(keys, "multi_query", multi_query));
    MP_CHECK(read_bool(keys, "parallel_attn", parallel));
    MP_CHECK(read_bool(keys, "bias", bias));
    MP_CHECK(read_bool(keys, "alibi", alibi));
    // Fused QKV: (heads + 2 kv) x head_dim, with kv heads from num_kv_heads (new architecture), 1
    // (multi-query) or heads.
    if (new_arch) {
        std::string kv_key = pick(keys, "num_kv_heads|n_head_kv");
        MP_CHECK(read_size(keys, kv_key.c_str(), spec.n_kv_heads));
        if (spec.n_heads % spec.n_kv_heads != 0)
            return make_error(error_code::not_divisible,
                              keys.path("num_attention_heads") + " (" + num(spec.n_heads) +
                                  ") must be divisible by " + keys.path(kv_key.c_str()) + " (" +
                                  num(spec.n_kv_heads) + ")",
                              keys.path(kv_key.c_str()));
    } else {
        spec.n_kv_heads = multi_query ? 1 : spec.n_heads;
    }
    if (spec.hidden > UINT64_MAX / 4) return too_large(keys, "hidden_size", spec.hidden, UINT64_MAX / 4);
    spec.intermediate = 4 * spec.hidden; // FalconConfig: ffn_hidden_size defaults to 4 x hidden_size
    MP_CHECK(read_size(keys, "ffn_hidden_size", spec.intermediate));
    uint64_t norms = new_arch ? 2 : 1; // num_ln_in_parallel_attn is forced to 2 by the new architecture
    if (!new_arch) MP_CHECK(read_size(keys, "num_ln_in_parallel_attn", norms));
    if (parallel) spec.switches |= sw_parallel_attn;
    if (parallel && norms == 2) spec.switches |= sw_two_norms;
    if (new_arch) spec.switches |= sw_new_arch;
    spec.set_switches(sw_all_biases, bias);
    spec.set_switches(sw_tied); // FalconConfig default
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    if (alibi) {
        spec.rope.rotary_dim = 0;
        return std::nullopt;
    }
    return read_rope(keys, spec);
}

std::optional<error> read_falcon(const key_reader& keys, model_spec& spec) {
    return read_falcon_arch(keys, spec, std::nullopt);
}
std::optional<error> read_refinedweb(const key_reader& keys, model_spec& spec) {
    return read_falcon_arch(keys, spec, true);
}
std::optional<error> read_refinedweb_model(const key_reader& keys, model_spec& spec) {
    return read_falcon_arch(keys, spec, false);
}

} // namespace

void add_bigscience_families(std::vector<family_info>& out) {
    out.push_back(
        family("opt", "OPT", read_opt, {rows(opt_base)}, decoder_heads(rows(opt_lm_head), rows(opt_score))));
    out.push_back(family("bloom", "Bloom", read_bloom, {rows(bloom_base)}, decoder_heads(rows(bloom_lm_head)))
                      .prefix("transformer."));
    out.push_back(
        family("falcon", "Falcon", read_falcon, {rows(falcon_base)}, decoder_heads(rows(bloom_lm_head)))
            .prefix("transformer."));
    // Falcon checkpoints published before transformers had the class (RWForCausalLM, remote code): no
    // sequence-classification head.
    std::vector<head_info> rw_heads = decoder_heads(rows(bloom_lm_head));
    rw_heads.pop_back();
    out.push_back(
        family("RefinedWeb", "RW", read_refinedweb, {rows(falcon_base)}, rw_heads).prefix("transformer."));
    out.push_back(family("RefinedWebModel", "RW", read_refinedweb_model, {rows(falcon_base)}, rw_heads)
                      .prefix("transformer."));
}

} // namespace modelplan::family_tables
