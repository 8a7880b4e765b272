// Early open decoders with LayerNorm and fused or learned-position layouts: OPT (positions with an offset of 2,
// optional project_in/project_out when word_embed_proj_dim differs, final norm only with do_layer_norm_before),
// BLOOM (embedding LayerNorm, fused query_key_value, ALiBi: no position parameters) and Falcon (old
// multi-query architecture with one norm, new decoder architecture with ln_attn and ln_mlp).
// Sources: transformers models/opt, bloom, falcon modeling and configuration files (4.4x), registration order.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// OPTDecoder: embed_tokens, embed_positions, project_out, project_in, final_layer_norm, then the layers;
// OPTAttention registers k, v, q, out.
const tensor_template opt_base[] = {
    {role::embed,       scope::global, "decoder.embed_tokens.weight",    2, {dim::vocab,     dim::word_proj}, 0,              0, nullptr, 0},
    {role::pos_embed,   scope::global, "decoder.embed_positions.weight", 2, {dim::positions, dim::hidden},    0,              0, nullptr, 0},
    {role::embed_proj,  scope::global, "decoder.project_out.weight",     2, {dim::word_proj, dim::hidden},    sw_proj_in_out, 0, nullptr, 0},
    {role::embed_proj,  scope::global, "decoder.project_in.weight",      2, {dim::hidden,    dim::word_proj}, sw_proj_in_out, 0, nullptr, 0},
    {role::output_norm, scope::global, "decoder.final_layer_norm.weight", 1, {dim::hidden},                   sw_final_norm,  0, nullptr, 0},
    {role::output_norm, scope::global, "decoder.final_layer_norm.bias",  1, {dim::hidden},                    sw_final_norm,  0, nullptr, 0},
    {role::attn_k,      scope::layer,  "decoder.layers.{layer}.self_attn.k_proj.weight",   2, {dim::kv_dim, dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_k,      scope::layer,  "decoder.layers.{layer}.self_attn.k_proj.bias",     1, {dim::kv_dim},              sw_qkv_bias, 0, nullptr, 0},
    {role::attn_v,      scope::layer,  "decoder.layers.{layer}.self_attn.v_proj.weight",   2, {dim::kv_dim, dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_v,      scope::layer,  "decoder.layers.{layer}.self_attn.v_proj.bias",     1, {dim::kv_dim},              sw_qkv_bias, 0, nullptr, 0},
    {role::attn_q,      scope::layer,  "decoder.layers.{layer}.self_attn.q_proj.weight",   2, {dim::q_dim,  dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_q,      scope::layer,  "decoder.layers.{layer}.self_attn.q_proj.bias",     1, {dim::q_dim},               sw_qkv_bias, 0, nullptr, 0},
    {role::attn_o,      scope::layer,  "decoder.layers.{layer}.self_attn.out_proj.weight", 2, {dim::hidden, dim::q_dim},  0, 0, nullptr, 0},
    {role::attn_o,      scope::layer,  "decoder.layers.{layer}.self_attn.out_proj.bias",   1, {dim::hidden},              sw_o_bias, 0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "decoder.layers.{layer}.self_attn_layer_norm.weight", 1, {dim::hidden},            0, 0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "decoder.layers.{layer}.self_attn_layer_norm.bias", 1, {dim::hidden},              0, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "decoder.layers.{layer}.fc1.weight",                2, {dim::ffn,    dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "decoder.layers.{layer}.fc1.bias",                  1, {dim::ffn},                 sw_mlp_bias, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "decoder.layers.{layer}.fc2.weight",                2, {dim::hidden, dim::ffn},    0, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "decoder.layers.{layer}.fc2.bias",                  1, {dim::hidden},              sw_mlp_bias, 0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "decoder.layers.{layer}.final_layer_norm.weight",   1, {dim::hidden},              0, 0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "decoder.layers.{layer}.final_layer_norm.bias",     1, {dim::hidden},              0, 0, nullptr, 0},
};
const tensor_template opt_lm_head[] = {
    {role::lm_head,     scope::global, "lm_head.weight", 2, {dim::vocab,  dim::word_proj}, 0, 0, "decoder.embed_tokens.weight", sw_tied},
};
const tensor_template opt_score[] = {
    {role::classifier,  scope::global, "score.weight",   2, {dim::labels, dim::word_proj}, 0, 0, nullptr, 0},
};

const tensor_template bloom_base[] = {
    {role::embed,       scope::global, "word_embeddings.weight",                         2, {dim::vocab,   dim::hidden}, 0, 0, nullptr, 0},
    {role::embed_norm,  scope::global, "word_embeddings_layernorm.weight",               1, {dim::hidden},               0, 0, nullptr, 0},
    {role::embed_norm,  scope::global, "word_embeddings_layernorm.bias",                 1, {dim::hidden},               0, 0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.input_layernorm.weight",               1, {dim::hidden},               0, 0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.input_layernorm.bias",                 1, {dim::hidden},               0, 0, nullptr, 0},
    {role::attn_qkv,    scope::layer,  "h.{layer}.self_attention.query_key_value.weight", 2, {dim::qkv_dim, dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_qkv,    scope::layer,  "h.{layer}.self_attention.query_key_value.bias",  1, {dim::qkv_dim},              0, 0, nullptr, 0},
    {role::attn_o,      scope::layer,  "h.{layer}.self_attention.dense.weight",          2, {dim::hidden,  dim::q_dim},  0, 0, nullptr, 0},
    {role::attn_o,      scope::layer,  "h.{layer}.self_attention.dense.bias",            1, {dim::hidden},               0, 0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.post_attention_layernorm.weight",      1, {dim::hidden},               0, 0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.post_attention_layernorm.bias",        1, {dim::hidden},               0, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "h.{layer}.mlp.dense_h_to_4h.weight",             2, {dim::ffn,     dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "h.{layer}.mlp.dense_h_to_4h.bias",               1, {dim::ffn},                  0, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "h.{layer}.mlp.dense_4h_to_h.weight",             2, {dim::hidden,  dim::ffn},    0, 0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "h.{layer}.mlp.dense_4h_to_h.bias",               1, {dim::hidden},               0, 0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.weight",                                    1, {dim::hidden},               0, 0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.bias",                                      1, {dim::hidden},               0, 0, nullptr, 0},
};
const tensor_template bloom_lm_head[] = {
    {role::lm_head,     scope::global, "lm_head.weight", 2, {dim::vocab, dim::hidden}, 0, 0, "word_embeddings.weight", sw_tied},
};
const tensor_template score_head[] = {
    {role::classifier,  scope::global, "score.weight",   2, {dim::labels, dim::hidden}, 0, 0, nullptr, 0},
};

// FalconDecoderLayer (4.45+): attention and MLP, then the norms: post_attention_layernorm and input_layernorm
// without a parallel block, ln_attn and ln_mlp with two parallel norms, else input_layernorm alone.
const tensor_template falcon_base[] = {
    {role::embed,       scope::global, "word_embeddings.weight",                          2, {dim::vocab,   dim::hidden}, 0,                0, nullptr, 0},
    {role::attn_qkv,    scope::layer,  "h.{layer}.self_attention.query_key_value.weight", 2, {dim::qkv_dim, dim::hidden}, 0,                0, nullptr, 0},
    {role::attn_qkv,    scope::layer,  "h.{layer}.self_attention.query_key_value.bias",   1, {dim::qkv_dim},              sw_qkv_bias,      0, nullptr, 0},
    {role::attn_o,      scope::layer,  "h.{layer}.self_attention.dense.weight",           2, {dim::hidden,  dim::q_dim},  0,                0, nullptr, 0},
    {role::attn_o,      scope::layer,  "h.{layer}.self_attention.dense.bias",             1, {dim::hidden},               sw_o_bias,        0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "h.{layer}.mlp.dense_h_to_4h.weight",              2, {dim::ffn,     dim::hidden}, 0,                0, nullptr, 0},
    {role::ffn_up,      scope::layer,  "h.{layer}.mlp.dense_h_to_4h.bias",                1, {dim::ffn},                  sw_mlp_bias,      0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "h.{layer}.mlp.dense_4h_to_h.weight",              2, {dim::hidden,  dim::ffn},    0,                0, nullptr, 0},
    {role::ffn_down,    scope::layer,  "h.{layer}.mlp.dense_4h_to_h.bias",                1, {dim::hidden},               sw_mlp_bias,      0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.post_attention_layernorm.weight",       1, {dim::hidden},               0,                sw_parallel_attn, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.post_attention_layernorm.bias",         1, {dim::hidden},               0,                sw_parallel_attn, nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.input_layernorm.weight",                1, {dim::hidden},               0,                sw_two_norms,     nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.input_layernorm.bias",                  1, {dim::hidden},               0,                sw_two_norms,     nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.ln_attn.weight",                        1, {dim::hidden},               sw_two_norms,     0, nullptr, 0},
    {role::attn_norm,   scope::layer,  "h.{layer}.ln_attn.bias",                          1, {dim::hidden},               sw_two_norms,     0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.ln_mlp.weight",                         1, {dim::hidden},               sw_two_norms,     0, nullptr, 0},
    {role::ffn_norm,    scope::layer,  "h.{layer}.ln_mlp.bias",                           1, {dim::hidden},               sw_two_norms,     0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.weight",                                     1, {dim::hidden},               0,                0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.bias",                                       1, {dim::hidden},               0,                0, nullptr, 0},
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
        return make_error(error_code::missing_key, "missing required key " + keys.path("max_position_embeddings"),
                          keys.path("max_position_embeddings"));
    spec.n_positions = spec.max_positions + 2; // OPTLearnedPositionalEmbedding keeps an offset of 2
    spec.word_proj_dim = spec.hidden;
    MP_CHECK(read_size(keys, "word_embed_proj_dim", spec.word_proj_dim));
    if (spec.word_proj_dim != spec.hidden) spec.switches |= sw_proj_in_out;
    bool before = true, remove_final = false, bias = true;
    MP_CHECK(read_bool(keys, "do_layer_norm_before", before));
    MP_CHECK(read_bool(keys, "_remove_final_layer_norm", remove_final));
    if (before && !remove_final) spec.switches |= sw_final_norm;
    MP_CHECK(read_bool(keys, "enable_bias", bias));
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = bias;
    spec.tie_embeddings = true; // OPTConfig default
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
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
    spec.tie_embeddings = true;
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    spec.norm = norm_kind::layer;
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = true;
    spec.switches |= sw_norm_bias;
    spec.rope.rotary_dim = 0; // ALiBi
    return std::nullopt;
}

// `legacy`: the pre-transformers model types, RefinedWeb (the new architecture, falcon-40b/180b) and
// RefinedWebModel (the old one, falcon-7b), whose configs carry no new_decoder_architecture key.
std::optional<error> read_falcon_arch(const key_reader& keys, model_spec& spec, std::optional<bool> legacy_new_arch) {
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
    // Fused QKV: (heads + 2 kv) x head_dim, with kv heads from num_kv_heads (new architecture), 1 (multi-query)
    // or heads.
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
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = bias;
    spec.tie_embeddings = true; // FalconConfig default
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
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
    // clang-format off
    out.push_back({"opt", "OPT", "model.", nullptr, read_opt, nullptr, {rows(opt_base)},
                   {{head_kind::causal_lm, "ForCausalLM", {rows(opt_lm_head)}}, {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(opt_score)}}}, {}, nullptr});
    out.push_back({"bloom", "Bloom", "transformer.", nullptr, read_bloom, nullptr, {rows(bloom_base)},
                   {{head_kind::causal_lm, "ForCausalLM", {rows(bloom_lm_head)}}, {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}}, {}, nullptr});
    out.push_back({"falcon", "Falcon", "transformer.", nullptr, read_falcon, nullptr, {rows(falcon_base)},
                   {{head_kind::causal_lm, "ForCausalLM", {rows(bloom_lm_head)}}, {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}}, {}, nullptr});
    // Falcon checkpoints published before transformers had the class (RWForCausalLM, remote code).
    struct legacy {
        const char* model_type;
        family_reader reader;
    };
    for (legacy l : {legacy{"RefinedWeb", read_refinedweb}, legacy{"RefinedWebModel", read_refinedweb_model}})
        out.push_back({l.model_type, "RW", "transformer.", nullptr, l.reader, nullptr, {rows(falcon_base)},
                       {{head_kind::causal_lm, "ForCausalLM", {rows(bloom_lm_head)}}, {head_kind::none, "Model", {}}},
                       {}, nullptr});
    // clang-format on
}

} // namespace modelplan::family_tables
