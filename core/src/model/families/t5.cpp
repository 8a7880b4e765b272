// T5: encoder-decoder with a shared embedding, relative attention bias in the first block of each stack, a
// plain (v1.0, ReLU) or gated (v1.1, FLAN-T5, mT5: "gated-gelu") FFN, and an output head tied to the shared
// embedding unless tie_word_embeddings is false. Sources: transformers models/t5/modeling_t5.py and
// configuration_t5.py (4.4x), module registration order.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t enc = sw_encoder, dec = sw_decoder, first = sw_first_in_stack, gated = sw_gated_ffn;

// clang-format off
const tensor_template t5_base[] = {
    once(role::embed,              "shared.weight",                                                              dim::vocab,   dim::hidden),
    once(role::embed,              "encoder.embed_tokens.weight",                                                dim::vocab,   dim::hidden).alias_of("shared.weight"),
    per_layer(role::attn_q,        "encoder.block.{layer}.layer.0.SelfAttention.q.weight",                       dim::q_dim,   dim::hidden).when(enc),
    per_layer(role::attn_k,        "encoder.block.{layer}.layer.0.SelfAttention.k.weight",                       dim::kv_dim,  dim::hidden).when(enc),
    per_layer(role::attn_v,        "encoder.block.{layer}.layer.0.SelfAttention.v.weight",                       dim::kv_dim,  dim::hidden).when(enc),
    per_layer(role::attn_o,        "encoder.block.{layer}.layer.0.SelfAttention.o.weight",                       dim::hidden,  dim::q_dim) .when(enc),
    per_layer(role::attn_rel_bias, "encoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", dim::buckets, dim::heads) .when(enc | first),
    per_layer(role::attn_norm,     "encoder.block.{layer}.layer.0.layer_norm.weight",                            dim::hidden)              .when(enc),
    per_layer(role::ffn_up,        "encoder.block.{layer}.layer.1.DenseReluDense.wi.weight",                     dim::ffn,     dim::hidden).when(enc).unless(gated),
    per_layer(role::ffn_gate,      "encoder.block.{layer}.layer.1.DenseReluDense.wi_0.weight",                   dim::ffn,     dim::hidden).when(enc | gated),
    per_layer(role::ffn_up,        "encoder.block.{layer}.layer.1.DenseReluDense.wi_1.weight",                   dim::ffn,     dim::hidden).when(enc | gated),
    per_layer(role::ffn_down,      "encoder.block.{layer}.layer.1.DenseReluDense.wo.weight",                     dim::hidden,  dim::ffn)   .when(enc),
    per_layer(role::ffn_norm,      "encoder.block.{layer}.layer.1.layer_norm.weight",                            dim::hidden)              .when(enc),
    once(role::output_norm,        "encoder.final_layer_norm.weight",                                            dim::hidden),
    once(role::embed,              "decoder.embed_tokens.weight",                                                dim::vocab,   dim::hidden).alias_of("shared.weight"),
    per_layer(role::attn_q,        "decoder.block.{layer}.layer.0.SelfAttention.q.weight",                       dim::q_dim,   dim::hidden).when(dec),
    per_layer(role::attn_k,        "decoder.block.{layer}.layer.0.SelfAttention.k.weight",                       dim::kv_dim,  dim::hidden).when(dec),
    per_layer(role::attn_v,        "decoder.block.{layer}.layer.0.SelfAttention.v.weight",                       dim::kv_dim,  dim::hidden).when(dec),
    per_layer(role::attn_o,        "decoder.block.{layer}.layer.0.SelfAttention.o.weight",                       dim::hidden,  dim::q_dim) .when(dec),
    per_layer(role::attn_rel_bias, "decoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", dim::buckets, dim::heads) .when(dec | first),
    per_layer(role::attn_norm,     "decoder.block.{layer}.layer.0.layer_norm.weight",                            dim::hidden)              .when(dec),
    per_layer(role::cross_q,       "decoder.block.{layer}.layer.1.EncDecAttention.q.weight",                     dim::q_dim,   dim::hidden).when(dec),
    per_layer(role::cross_k,       "decoder.block.{layer}.layer.1.EncDecAttention.k.weight",                     dim::kv_dim,  dim::hidden).when(dec),
    per_layer(role::cross_v,       "decoder.block.{layer}.layer.1.EncDecAttention.v.weight",                     dim::kv_dim,  dim::hidden).when(dec),
    per_layer(role::cross_o,       "decoder.block.{layer}.layer.1.EncDecAttention.o.weight",                     dim::hidden,  dim::q_dim) .when(dec),
    per_layer(role::cross_norm,    "decoder.block.{layer}.layer.1.layer_norm.weight",                            dim::hidden)              .when(dec),
    per_layer(role::ffn_up,        "decoder.block.{layer}.layer.2.DenseReluDense.wi.weight",                     dim::ffn,     dim::hidden).when(dec).unless(gated),
    per_layer(role::ffn_gate,      "decoder.block.{layer}.layer.2.DenseReluDense.wi_0.weight",                   dim::ffn,     dim::hidden).when(dec | gated),
    per_layer(role::ffn_up,        "decoder.block.{layer}.layer.2.DenseReluDense.wi_1.weight",                   dim::ffn,     dim::hidden).when(dec | gated),
    per_layer(role::ffn_down,      "decoder.block.{layer}.layer.2.DenseReluDense.wo.weight",                     dim::hidden,  dim::ffn)   .when(dec),
    per_layer(role::ffn_norm,      "decoder.block.{layer}.layer.2.layer_norm.weight",                            dim::hidden)              .when(dec),
    once(role::output_norm,        "decoder.final_layer_norm.weight",                                            dim::hidden),
};
// Some checkpoints converted from TensorFlow carry a relative bias in the first cross-attention, which the
// model never uses (transformers ignores it on load).
const tensor_template t5_buffers[] = {
    per_layer(role::attn_rel_bias, "decoder.block.{layer}.layer.1.EncDecAttention.relative_attention_bias.weight", dim::buckets, dim::heads).when(dec | first),
};
const tensor_template t5_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("shared.weight", sw_tied),
};
// clang-format on

std::optional<error> read_t5(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.hidden = "d_model";
    k.layers = "num_layers";
    k.heads = "num_heads";
    k.kv_heads = nullptr;
    k.head_dim = "d_kv";
    k.intermediate = "d_ff";
    k.positions = nullptr;
    k.eps = "layer_norm_epsilon";
    MP_CHECK(read_core(keys, spec, k));
    uint64_t decoder_layers = spec.n_layers;
    MP_CHECK(read_size(keys, "num_decoder_layers", decoder_layers));
    if (decoder_layers > max_layers) return too_large(keys, "num_decoder_layers", decoder_layers, max_layers);
    spec.layers.clear();
    add_stack(spec, layer_stack::encoder, spec.n_layers, sw_encoder | sw_dense_ffn);
    add_stack(spec, layer_stack::cross_decoder, decoder_layers, sw_decoder | sw_dense_ffn);
    spec.n_buckets = 32; // T5Config default relative_attention_num_buckets
    MP_CHECK(read_size(keys, "relative_attention_num_buckets", spec.n_buckets));
    MP_TRY(projection, keys.optional_string("feed_forward_proj"));
    std::string proj = projection.value_or("relu");
    if (proj.rfind("gated-", 0) == 0) spec.switches |= sw_gated_ffn;
    spec.set_switches(sw_tied); // T5Config default
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

} // namespace

template_table t5_parts::base() {
    return rows(t5_base);
}
template_table t5_parts::buffers() {
    return rows(t5_buffers);
}
template_table t5_parts::lm_head() {
    return rows(t5_lm_head);
}
family_reader t5_parts::reader() {
    return read_t5;
}

void add_t5_families(std::vector<family_info>& out) {
    const std::vector<head_info> heads = {
        {head_kind::cond_gen, "ForConditionalGeneration", {rows(t5_lm_head)}},
        {head_kind::none,     "Model",                    {}                }
    };
    out.push_back(
        family("t5", "T5", read_t5, {rows(t5_base)}, heads).prefix("").stores_buffers({rows(t5_buffers)}));
}

} // namespace modelplan::family_tables
