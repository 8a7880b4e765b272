// T5: encoder-decoder with a shared embedding, relative attention bias in the first block of each stack, a
// plain (v1.0, ReLU) or gated (v1.1, FLAN-T5, mT5: "gated-gelu") FFN, and an output head tied to the shared
// embedding unless tie_word_embeddings is false. Sources: transformers models/t5/modeling_t5.py and
// configuration_t5.py (4.4x), module registration order.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t enc = sw_encoder, dec = sw_decoder, first = sw_first_in_stack, gated = sw_gated_ffn;

// clang-format off
const tensor_template t5_base[] = {
    {role::embed,         scope::global, "shared.weight",                                                  2, {dim::vocab,  dim::hidden}, 0,             0,     nullptr, 0},
    {role::embed,         scope::global, "encoder.embed_tokens.weight",                                    2, {dim::vocab,  dim::hidden}, 0,             0,     "shared.weight", 0},
    {role::attn_q,        scope::layer,  "encoder.block.{layer}.layer.0.SelfAttention.q.weight",           2, {dim::q_dim,  dim::hidden}, enc,           0,     nullptr, 0},
    {role::attn_k,        scope::layer,  "encoder.block.{layer}.layer.0.SelfAttention.k.weight",           2, {dim::kv_dim, dim::hidden}, enc,           0,     nullptr, 0},
    {role::attn_v,        scope::layer,  "encoder.block.{layer}.layer.0.SelfAttention.v.weight",           2, {dim::kv_dim, dim::hidden}, enc,           0,     nullptr, 0},
    {role::attn_o,        scope::layer,  "encoder.block.{layer}.layer.0.SelfAttention.o.weight",           2, {dim::hidden, dim::q_dim},  enc,           0,     nullptr, 0},
    {role::attn_rel_bias, scope::layer,  "encoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", 2, {dim::buckets, dim::heads}, enc | first, 0, nullptr, 0},
    {role::attn_norm,     scope::layer,  "encoder.block.{layer}.layer.0.layer_norm.weight",                1, {dim::hidden},              enc,           0,     nullptr, 0},
    {role::ffn_up,        scope::layer,  "encoder.block.{layer}.layer.1.DenseReluDense.wi.weight",         2, {dim::ffn,    dim::hidden}, enc,           gated, nullptr, 0},
    {role::ffn_gate,      scope::layer,  "encoder.block.{layer}.layer.1.DenseReluDense.wi_0.weight",       2, {dim::ffn,    dim::hidden}, enc | gated,   0,     nullptr, 0},
    {role::ffn_up,        scope::layer,  "encoder.block.{layer}.layer.1.DenseReluDense.wi_1.weight",       2, {dim::ffn,    dim::hidden}, enc | gated,   0,     nullptr, 0},
    {role::ffn_down,      scope::layer,  "encoder.block.{layer}.layer.1.DenseReluDense.wo.weight",         2, {dim::hidden, dim::ffn},    enc,           0,     nullptr, 0},
    {role::ffn_norm,      scope::layer,  "encoder.block.{layer}.layer.1.layer_norm.weight",                1, {dim::hidden},              enc,           0,     nullptr, 0},
    {role::output_norm,   scope::global, "encoder.final_layer_norm.weight",                                1, {dim::hidden},              0,             0,     nullptr, 0},
    {role::embed,         scope::global, "decoder.embed_tokens.weight",                                    2, {dim::vocab,  dim::hidden}, 0,             0,     "shared.weight", 0},
    {role::attn_q,        scope::layer,  "decoder.block.{layer}.layer.0.SelfAttention.q.weight",           2, {dim::q_dim,  dim::hidden}, dec,           0,     nullptr, 0},
    {role::attn_k,        scope::layer,  "decoder.block.{layer}.layer.0.SelfAttention.k.weight",           2, {dim::kv_dim, dim::hidden}, dec,           0,     nullptr, 0},
    {role::attn_v,        scope::layer,  "decoder.block.{layer}.layer.0.SelfAttention.v.weight",           2, {dim::kv_dim, dim::hidden}, dec,           0,     nullptr, 0},
    {role::attn_o,        scope::layer,  "decoder.block.{layer}.layer.0.SelfAttention.o.weight",           2, {dim::hidden, dim::q_dim},  dec,           0,     nullptr, 0},
    {role::attn_rel_bias, scope::layer,  "decoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", 2, {dim::buckets, dim::heads}, dec | first, 0, nullptr, 0},
    {role::attn_norm,     scope::layer,  "decoder.block.{layer}.layer.0.layer_norm.weight",                1, {dim::hidden},              dec,           0,     nullptr, 0},
    {role::cross_q,       scope::layer,  "decoder.block.{layer}.layer.1.EncDecAttention.q.weight",         2, {dim::q_dim,  dim::hidden}, dec,           0,     nullptr, 0},
    {role::cross_k,       scope::layer,  "decoder.block.{layer}.layer.1.EncDecAttention.k.weight",         2, {dim::kv_dim, dim::hidden}, dec,           0,     nullptr, 0},
    {role::cross_v,       scope::layer,  "decoder.block.{layer}.layer.1.EncDecAttention.v.weight",         2, {dim::kv_dim, dim::hidden}, dec,           0,     nullptr, 0},
    {role::cross_o,       scope::layer,  "decoder.block.{layer}.layer.1.EncDecAttention.o.weight",         2, {dim::hidden, dim::q_dim},  dec,           0,     nullptr, 0},
    {role::cross_norm,    scope::layer,  "decoder.block.{layer}.layer.1.layer_norm.weight",                1, {dim::hidden},              dec,           0,     nullptr, 0},
    {role::ffn_up,        scope::layer,  "decoder.block.{layer}.layer.2.DenseReluDense.wi.weight",         2, {dim::ffn,    dim::hidden}, dec,           gated, nullptr, 0},
    {role::ffn_gate,      scope::layer,  "decoder.block.{layer}.layer.2.DenseReluDense.wi_0.weight",       2, {dim::ffn,    dim::hidden}, dec | gated,   0,     nullptr, 0},
    {role::ffn_up,        scope::layer,  "decoder.block.{layer}.layer.2.DenseReluDense.wi_1.weight",       2, {dim::ffn,    dim::hidden}, dec | gated,   0,     nullptr, 0},
    {role::ffn_down,      scope::layer,  "decoder.block.{layer}.layer.2.DenseReluDense.wo.weight",         2, {dim::hidden, dim::ffn},    dec,           0,     nullptr, 0},
    {role::ffn_norm,      scope::layer,  "decoder.block.{layer}.layer.2.layer_norm.weight",                1, {dim::hidden},              dec,           0,     nullptr, 0},
    {role::output_norm,   scope::global, "decoder.final_layer_norm.weight",                                1, {dim::hidden},              0,             0,     nullptr, 0},
};
// Some checkpoints converted from TensorFlow carry a relative bias in the first cross-attention, which the
// model never uses (transformers ignores it on load).
const tensor_template t5_buffers[] = {
    {role::attn_rel_bias, scope::layer,  "decoder.block.{layer}.layer.1.EncDecAttention.relative_attention_bias.weight", 2, {dim::buckets, dim::heads}, dec | first, 0, nullptr, 0},
};
const tensor_template t5_lm_head[] = {
    {role::lm_head,       scope::global, "lm_head.weight",                                                 2, {dim::vocab,  dim::hidden}, 0,             0,     "shared.weight", sw_tied},
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
    spec.tie_embeddings = true; // T5Config default
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

} // namespace

void add_t5_families(std::vector<family_info>& out) {
    out.push_back({"t5", "T5", "", nullptr, read_t5, nullptr, {rows(t5_base)},
                   {{head_kind::cond_gen, "ForConditionalGeneration", {rows(t5_lm_head)}}, {head_kind::none, "Model", {}}},
                   {rows(t5_buffers)}, nullptr});
}

} // namespace modelplan::family_tables
