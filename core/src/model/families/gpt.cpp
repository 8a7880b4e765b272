// GPT-2 and GPT-NeoX (Pythia): learned or rotary positions, LayerNorm with biases, fused QKV projections.
// Sources: transformers models/gpt2/modeling_gpt2.py and models/gpt_neox/modeling_gpt_neox.py (4.4x), module
// registration order; published checkpoints openai-community/gpt2 and EleutherAI/pythia-*.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// GPT2Model. Conv1D weights are stored [in, out].
const tensor_template gpt2_base[] = {
    once(role::embed,          "wte.weight",                   dim::vocab,         dim::hidden),
    once(role::pos_embed,      "wpe.weight",                   dim::position_rows, dim::hidden),
    per_layer(role::attn_norm, "h.{layer}.ln_1.weight",        dim::hidden),
    per_layer(role::attn_norm, "h.{layer}.ln_1.bias",          dim::hidden),
    per_layer(role::attn_qkv,  "h.{layer}.attn.c_attn.weight", dim::hidden,        dim::qkv_dim).fused(fused_layout::concatenated),
    per_layer(role::attn_qkv,  "h.{layer}.attn.c_attn.bias",   dim::qkv_dim).fused(fused_layout::concatenated),
    per_layer(role::attn_o,    "h.{layer}.attn.c_proj.weight", dim::q_dim,         dim::hidden),
    per_layer(role::attn_o,    "h.{layer}.attn.c_proj.bias",   dim::hidden),
    per_layer(role::ffn_norm,  "h.{layer}.ln_2.weight",        dim::hidden),
    per_layer(role::ffn_norm,  "h.{layer}.ln_2.bias",          dim::hidden),
    per_layer(role::ffn_up,    "h.{layer}.mlp.c_fc.weight",    dim::hidden,        dim::ffn),
    per_layer(role::ffn_up,    "h.{layer}.mlp.c_fc.bias",      dim::ffn),
    per_layer(role::ffn_down,  "h.{layer}.mlp.c_proj.weight",  dim::ffn,           dim::hidden),
    per_layer(role::ffn_down,  "h.{layer}.mlp.c_proj.bias",    dim::hidden),
    once(role::output_norm,    "ln_f.weight",                  dim::hidden),
    once(role::output_norm,    "ln_f.bias",                    dim::hidden),
};
// Causal masks that older transformers saved: F32 in openai-community/gpt2's model.safetensors.
const tensor_template gpt2_buffers[] = {
    per_layer(role::attn_mask, "h.{layer}.attn.bias",        dim::one, dim::one, dim::max_positions, dim::max_positions).stored_as("F32"),
    per_layer(role::attn_mask, "h.{layer}.attn.masked_bias")                                                            .stored_as("F32"),
};
const tensor_template gpt2_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("wte.weight", sw_tied),
};

// GPTNeoXModel: both norms are registered before attention.
const tensor_template neox_base[] = {
    once(role::embed,          "embed_in.weight",                                 dim::vocab,   dim::hidden),
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight",           dim::hidden),
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.bias",             dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.weight",  dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.post_attention_layernorm.bias",    dim::hidden),
    per_layer(role::attn_qkv,  "layers.{layer}.attention.query_key_value.weight", dim::qkv_dim, dim::hidden).fused(fused_layout::interleaved),
    per_layer(role::attn_qkv,  "layers.{layer}.attention.query_key_value.bias",   dim::qkv_dim).when(sw_qkv_bias).fused(fused_layout::interleaved),
    per_layer(role::attn_o,    "layers.{layer}.attention.dense.weight",           dim::hidden,  dim::q_dim),
    per_layer(role::attn_o,    "layers.{layer}.attention.dense.bias",             dim::hidden) .when(sw_o_bias),
    per_layer(role::ffn_up,    "layers.{layer}.mlp.dense_h_to_4h.weight",         dim::ffn,     dim::hidden),
    per_layer(role::ffn_up,    "layers.{layer}.mlp.dense_h_to_4h.bias",           dim::ffn),
    per_layer(role::ffn_down,  "layers.{layer}.mlp.dense_4h_to_h.weight",         dim::hidden,  dim::ffn),
    per_layer(role::ffn_down,  "layers.{layer}.mlp.dense_4h_to_h.bias",           dim::hidden),
    once(role::output_norm,    "final_layer_norm.weight",                         dim::hidden),
    once(role::output_norm,    "final_layer_norm.bias",                           dim::hidden),
};
// Pythia's checkpoints were saved by transformers 4.24, when these buffers were persistent.
const tensor_template neox_buffers[] = {
    per_layer(role::attn_mask, "layers.{layer}.attention.bias",                dim::one,       dim::one, dim::max_positions, dim::max_positions).stored_as("BOOL"),
    per_layer(role::attn_mask, "layers.{layer}.attention.masked_bias")                                                                          .stored_as("F32"),
    per_layer(role::rope_freq, "layers.{layer}.attention.rotary_emb.inv_freq", dim::rope_half)                                                  .stored_as("F32"),
};
const tensor_template neox_lm_head[] = {
    once(role::lm_head, "embed_out.weight", dim::vocab, dim::hidden).alias_of("embed_in.weight", sw_tied),
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
        return make_error(error_code::missing_key,
                          "missing required key " + keys.path("n_positions") +
                              " (a positive integer: the learned position table)",
                          keys.path("n_positions"));
    spec.n_positions = spec.max_positions;
    spec.set_switches(sw_tied); // PretrainedConfig's default; GPT2Config keeps it
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    bool cross_attention = false;
    MP_CHECK(read_bool(keys, "add_cross_attention", cross_attention));
    if (cross_attention)
        return make_error(error_code::out_of_range,
                          keys.path("add_cross_attention") +
                              " is true: GPT-2 with cross-attention is not modelled",
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
    MP_CHECK(read_decoder(keys, spec, false, k)); // GPTNeoXConfig: tie_word_embeddings false
    spec.set_switches(sw_attention_biases);       // GPTNeoXConfig: attention_bias true
    MP_CHECK(read_switch(keys, "attention_bias", spec, sw_attention_biases));
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
    out.push_back(family("gpt2", "GPT2", read_gpt2, {rows(gpt2_base)},
                         decoder_heads(rows(gpt2_lm_head), score_head(), "LMHeadModel"))
                      .prefix("transformer.")
                      .stores_buffers({rows(gpt2_buffers)}));
    out.push_back(
        family("gpt_neox", "GPTNeoX", read_gpt_neox, {rows(neox_base)}, decoder_heads(rows(neox_lm_head)))
            .prefix("gpt_neox.")
            .stores_buffers({rows(neox_buffers)}));
}

} // namespace modelplan::family_tables
