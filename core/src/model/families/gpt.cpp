// GPT-2 and GPT-NeoX (Pythia): learned or rotary positions, LayerNorm with biases, fused QKV projections.
// Sources: transformers models/gpt2/modeling_gpt2.py and models/gpt_neox/modeling_gpt_neox.py (4.4x), module
// registration order; published checkpoints openai-community/gpt2 and EleutherAI/pythia-*.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// GPT2Model. Conv1D weights are stored [in, out].
const tensor_template gpt2_base[] = {
    {role::embed,     scope::global, "wte.weight",                 2, {dim::vocab,     dim::hidden},  0, 0, nullptr, 0},
    {role::pos_embed, scope::global, "wpe.weight",                 2, {dim::positions, dim::hidden},  0, 0, nullptr, 0},
    {role::attn_norm, scope::layer,  "h.{layer}.ln_1.weight",      1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::attn_norm, scope::layer,  "h.{layer}.ln_1.bias",        1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::attn_qkv,  scope::layer,  "h.{layer}.attn.c_attn.weight", 2, {dim::hidden,  dim::qkv_dim}, 0, 0, nullptr, 0},
    {role::attn_qkv,  scope::layer,  "h.{layer}.attn.c_attn.bias", 1, {dim::qkv_dim},                 0, 0, nullptr, 0},
    {role::attn_o,    scope::layer,  "h.{layer}.attn.c_proj.weight", 2, {dim::q_dim,   dim::hidden},  0, 0, nullptr, 0},
    {role::attn_o,    scope::layer,  "h.{layer}.attn.c_proj.bias", 1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::ffn_norm,  scope::layer,  "h.{layer}.ln_2.weight",      1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::ffn_norm,  scope::layer,  "h.{layer}.ln_2.bias",        1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::ffn_up,    scope::layer,  "h.{layer}.mlp.c_fc.weight",  2, {dim::hidden,    dim::ffn},     0, 0, nullptr, 0},
    {role::ffn_up,    scope::layer,  "h.{layer}.mlp.c_fc.bias",    1, {dim::ffn},                     0, 0, nullptr, 0},
    {role::ffn_down,  scope::layer,  "h.{layer}.mlp.c_proj.weight", 2, {dim::ffn,      dim::hidden},  0, 0, nullptr, 0},
    {role::ffn_down,  scope::layer,  "h.{layer}.mlp.c_proj.bias",  1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.weight",              1, {dim::hidden},                  0, 0, nullptr, 0},
    {role::output_norm, scope::global, "ln_f.bias",                1, {dim::hidden},                  0, 0, nullptr, 0},
};
// Causal masks that older transformers saved: F32 in openai-community/gpt2's model.safetensors.
const tensor_template gpt2_buffers[] = {
    {role::attn_mask, scope::layer, "h.{layer}.attn.bias",        4, {dim::one, dim::one, dim::n_positions2, dim::n_positions2}, 0, 0, nullptr, 0, "F32"},
    {role::attn_mask, scope::layer, "h.{layer}.attn.masked_bias", 0, {},                                                        0, 0, nullptr, 0, "F32"},
};
const tensor_template gpt2_lm_head[] = {
    {role::lm_head,    scope::global, "lm_head.weight", 2, {dim::vocab,  dim::hidden}, 0, 0, "wte.weight", sw_tied},
};
const tensor_template score_head[] = {
    {role::classifier, scope::global, "score.weight",   2, {dim::labels, dim::hidden}, 0, 0, nullptr, 0},
};

// GPTNeoXModel: both norms are registered before attention.
const tensor_template neox_base[] = {
    {role::embed,     scope::global, "embed_in.weight",                                    2, {dim::vocab,  dim::hidden}, 0,           0, nullptr, 0},
    {role::attn_norm, scope::layer,  "layers.{layer}.input_layernorm.weight",              1, {dim::hidden},              0,           0, nullptr, 0},
    {role::attn_norm, scope::layer,  "layers.{layer}.input_layernorm.bias",                1, {dim::hidden},              0,           0, nullptr, 0},
    {role::ffn_norm,  scope::layer,  "layers.{layer}.post_attention_layernorm.weight",     1, {dim::hidden},              0,           0, nullptr, 0},
    {role::ffn_norm,  scope::layer,  "layers.{layer}.post_attention_layernorm.bias",       1, {dim::hidden},              0,           0, nullptr, 0},
    {role::attn_qkv,  scope::layer,  "layers.{layer}.attention.query_key_value.weight",    2, {dim::qkv_dim, dim::hidden}, 0,          0, nullptr, 0},
    {role::attn_qkv,  scope::layer,  "layers.{layer}.attention.query_key_value.bias",      1, {dim::qkv_dim},             sw_qkv_bias, 0, nullptr, 0},
    {role::attn_o,    scope::layer,  "layers.{layer}.attention.dense.weight",              2, {dim::hidden, dim::q_dim},  0,           0, nullptr, 0},
    {role::attn_o,    scope::layer,  "layers.{layer}.attention.dense.bias",                1, {dim::hidden},              sw_o_bias,   0, nullptr, 0},
    {role::ffn_up,    scope::layer,  "layers.{layer}.mlp.dense_h_to_4h.weight",            2, {dim::ffn,    dim::hidden}, 0,           0, nullptr, 0},
    {role::ffn_up,    scope::layer,  "layers.{layer}.mlp.dense_h_to_4h.bias",              1, {dim::ffn},                 0,           0, nullptr, 0},
    {role::ffn_down,  scope::layer,  "layers.{layer}.mlp.dense_4h_to_h.weight",            2, {dim::hidden, dim::ffn},    0,           0, nullptr, 0},
    {role::ffn_down,  scope::layer,  "layers.{layer}.mlp.dense_4h_to_h.bias",              1, {dim::hidden},              0,           0, nullptr, 0},
    {role::output_norm, scope::global, "final_layer_norm.weight",                          1, {dim::hidden},              0,           0, nullptr, 0},
    {role::output_norm, scope::global, "final_layer_norm.bias",                            1, {dim::hidden},              0,           0, nullptr, 0},
};
// Pythia's checkpoints were saved by transformers 4.24, when these buffers were persistent.
const tensor_template neox_buffers[] = {
    {role::attn_mask, scope::layer, "layers.{layer}.attention.bias",                 4, {dim::one, dim::one, dim::n_positions2, dim::n_positions2}, 0, 0, nullptr, 0, "BOOL"},
    {role::attn_mask, scope::layer, "layers.{layer}.attention.masked_bias",          0, {},                                                        0, 0, nullptr, 0, "F32"},
    {role::rope_freq, scope::layer, "layers.{layer}.attention.rotary_emb.inv_freq",  1, {dim::rope_half},                                          0, 0, nullptr, 0, "F32"},
};
const tensor_template neox_lm_head[] = {
    {role::lm_head,   scope::global, "embed_out.weight", 2, {dim::vocab, dim::hidden}, 0, 0, "embed_in.weight", sw_tied},
};
// clang-format on

std::optional<error> read_gpt2(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.hidden = "n_embd|hidden_size";
    k.layers = "n_layer|num_hidden_layers";
    k.heads = "n_head|num_attention_heads";
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.intermediate = nullptr;
    k.positions = "n_positions|max_position_embeddings";
    k.eps = "layer_norm_epsilon";
    MP_CHECK(read_core(keys, spec, k));
    spec.intermediate = 4 * spec.hidden; // n_inner: None means 4 x n_embd (GPT2MLP)
    if (spec.hidden > UINT64_MAX / 4) return too_large(keys, "n_embd", spec.hidden, UINT64_MAX / 4);
    MP_CHECK(read_size(keys, "n_inner", spec.intermediate));
    if (spec.max_positions == 0)
        return make_error(error_code::missing_key, "missing required key " + keys.path("n_positions") +
                                                       " (a positive integer: the learned position table)",
                          keys.path("n_positions"));
    spec.n_positions = spec.max_positions;
    spec.tie_embeddings = true; // PretrainedConfig's default; GPT2Config keeps it
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    bool cross_attention = false;
    MP_CHECK(read_bool(keys, "add_cross_attention", cross_attention));
    if (cross_attention)
        return make_error(error_code::out_of_range,
                          keys.path("add_cross_attention") + " is true: GPT-2 with cross-attention is not modelled",
                          keys.path("add_cross_attention"));
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias | sw_learned_pos;
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

std::optional<error> read_gpt_neox(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_core(keys, spec, k));
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings)); // GPTNeoXConfig default: false
    bool attention_bias = true;                                             // GPTNeoXConfig default
    MP_CHECK(read_bool(keys, "attention_bias", attention_bias));
    spec.qkv_bias = spec.o_bias = attention_bias;
    spec.norm = norm_kind::layer;
    spec.switches |= sw_norm_bias;
    MP_TRY(base, keys.optional_number("rotary_emb_base", spec.rope.theta));
    spec.rope.theta = base;
    MP_CHECK(read_rope(keys, spec, "rotary_pct"));
    bool parallel = true;
    MP_CHECK(read_bool(keys, "use_parallel_residual", parallel));
    if (parallel) spec.switches |= sw_parallel_attn;
    return std::nullopt;
}

} // namespace

void add_gpt_families(std::vector<family_info>& out) {
    // clang-format off
    out.push_back({"gpt2", "GPT2", "transformer.", nullptr, read_gpt2, nullptr, {rows(gpt2_base)},
                   {{head_kind::causal_lm, "LMHeadModel", {rows(gpt2_lm_head)}},
                    {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}},
                   {rows(gpt2_buffers)}, nullptr});
    out.push_back({"gpt_neox", "GPTNeoX", "gpt_neox.", nullptr, read_gpt_neox, nullptr, {rows(neox_base)},
                   {{head_kind::causal_lm, "ForCausalLM", {rows(neox_lm_head)}},
                    {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(score_head)}}},
                   {rows(neox_buffers)}, nullptr});
    // clang-format on
}

} // namespace modelplan::family_tables
