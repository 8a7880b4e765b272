// Encoders: BERT and RoBERTa (same base names; RoBERTa's position table already includes its padding offset,
// max_position_embeddings 514 in roberta-base's config). Sources: transformers models/bert/modeling_bert.py and
// models/roberta/modeling_roberta.py (4.4x), module registration order.
#include "model/family-readers.h"
#include "model/families/families.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template bert_base[] = {
    {role::embed,          scope::global, "embeddings.word_embeddings.weight",                  2, {dim::vocab,       dim::hidden}, 0, 0, nullptr, 0},
    {role::pos_embed,      scope::global, "embeddings.position_embeddings.weight",              2, {dim::positions,   dim::hidden}, 0, 0, nullptr, 0},
    {role::type_embed,     scope::global, "embeddings.token_type_embeddings.weight",            2, {dim::token_types, dim::hidden}, 0, 0, nullptr, 0},
    {role::embed_norm,     scope::global, "embeddings.LayerNorm.weight",                        1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::embed_norm,     scope::global, "embeddings.LayerNorm.bias",                          1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::attn_q,         scope::layer,  "encoder.layer.{layer}.attention.self.query.weight",  2, {dim::q_dim,       dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_q,         scope::layer,  "encoder.layer.{layer}.attention.self.query.bias",    1, {dim::q_dim},                    0, 0, nullptr, 0},
    {role::attn_k,         scope::layer,  "encoder.layer.{layer}.attention.self.key.weight",    2, {dim::kv_dim,      dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_k,         scope::layer,  "encoder.layer.{layer}.attention.self.key.bias",      1, {dim::kv_dim},                   0, 0, nullptr, 0},
    {role::attn_v,         scope::layer,  "encoder.layer.{layer}.attention.self.value.weight",  2, {dim::kv_dim,      dim::hidden}, 0, 0, nullptr, 0},
    {role::attn_v,         scope::layer,  "encoder.layer.{layer}.attention.self.value.bias",    1, {dim::kv_dim},                   0, 0, nullptr, 0},
    {role::attn_o,         scope::layer,  "encoder.layer.{layer}.attention.output.dense.weight", 2, {dim::hidden,     dim::q_dim},  0, 0, nullptr, 0},
    {role::attn_o,         scope::layer,  "encoder.layer.{layer}.attention.output.dense.bias",  1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::attn_post_norm, scope::layer,  "encoder.layer.{layer}.attention.output.LayerNorm.weight", 1, {dim::hidden},              0, 0, nullptr, 0},
    {role::attn_post_norm, scope::layer,  "encoder.layer.{layer}.attention.output.LayerNorm.bias",   1, {dim::hidden},              0, 0, nullptr, 0},
    {role::ffn_up,         scope::layer,  "encoder.layer.{layer}.intermediate.dense.weight",    2, {dim::ffn,         dim::hidden}, 0, 0, nullptr, 0},
    {role::ffn_up,         scope::layer,  "encoder.layer.{layer}.intermediate.dense.bias",      1, {dim::ffn},                      0, 0, nullptr, 0},
    {role::ffn_down,       scope::layer,  "encoder.layer.{layer}.output.dense.weight",          2, {dim::hidden,      dim::ffn},    0, 0, nullptr, 0},
    {role::ffn_down,       scope::layer,  "encoder.layer.{layer}.output.dense.bias",            1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::ffn_post_norm,  scope::layer,  "encoder.layer.{layer}.output.LayerNorm.weight",      1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::ffn_post_norm,  scope::layer,  "encoder.layer.{layer}.output.LayerNorm.bias",        1, {dim::hidden},                   0, 0, nullptr, 0},
    {role::pooler,         scope::global, "pooler.dense.weight",                                2, {dim::hidden,      dim::hidden}, sw_pooler, 0, nullptr, 0},
    {role::pooler,         scope::global, "pooler.dense.bias",                                  1, {dim::hidden},                   sw_pooler, 0, nullptr, 0},
};
const tensor_template bert_buffers[] = {
    {role::position_ids,   scope::global, "embeddings.position_ids",                            2, {dim::one, dim::n_positions2},   0, 0, nullptr, 0, "I64"},
};
// BertLMPredictionHead: its own bias Parameter is registered before the transform and decoder submodules;
// decoder.bias is the same tensor.
const tensor_template bert_mlm_head[] = {
    {role::lm_head,        scope::global, "cls.predictions.bias",                     1, {dim::vocab},               0, 0, nullptr, 0},
    {role::head_transform, scope::global, "cls.predictions.transform.dense.weight",   2, {dim::hidden, dim::hidden}, 0, 0, nullptr, 0},
    {role::head_transform, scope::global, "cls.predictions.transform.dense.bias",     1, {dim::hidden},              0, 0, nullptr, 0},
    {role::head_transform, scope::global, "cls.predictions.transform.LayerNorm.weight", 1, {dim::hidden},            0, 0, nullptr, 0},
    {role::head_transform, scope::global, "cls.predictions.transform.LayerNorm.bias", 1, {dim::hidden},              0, 0, nullptr, 0},
    {role::lm_head,        scope::global, "cls.predictions.decoder.weight",           2, {dim::vocab,  dim::hidden}, 0, 0, "embeddings.word_embeddings.weight", sw_tied},
    {role::lm_head,        scope::global, "cls.predictions.decoder.bias",             1, {dim::vocab},               0, 0, "/cls.predictions.bias", 0},
};
// BertForPreTraining: the MLM head above, then the next-sentence head.
const tensor_template bert_nsp_head[] = {
    {role::classifier,     scope::global, "cls.seq_relationship.weight",             2, {dim::two, dim::hidden},    0, 0, nullptr, 0},
    {role::classifier,     scope::global, "cls.seq_relationship.bias",               1, {dim::two},                 0, 0, nullptr, 0},
};
const tensor_template bert_classifier[] = {
    {role::classifier,     scope::global, "classifier.weight",                        2, {dim::labels, dim::hidden}, 0, 0, nullptr, 0},
    {role::classifier,     scope::global, "classifier.bias",                          1, {dim::labels},              0, 0, nullptr, 0},
};
// RobertaLMHead: bias Parameter first, then dense, layer_norm, decoder (decoder.bias is the same tensor).
const tensor_template roberta_mlm_head[] = {
    {role::lm_head,        scope::global, "lm_head.bias",              1, {dim::vocab},               0, 0, nullptr, 0},
    {role::head_transform, scope::global, "lm_head.dense.weight",      2, {dim::hidden, dim::hidden}, 0, 0, nullptr, 0},
    {role::head_transform, scope::global, "lm_head.dense.bias",        1, {dim::hidden},              0, 0, nullptr, 0},
    {role::head_transform, scope::global, "lm_head.layer_norm.weight", 1, {dim::hidden},              0, 0, nullptr, 0},
    {role::head_transform, scope::global, "lm_head.layer_norm.bias",   1, {dim::hidden},              0, 0, nullptr, 0},
    {role::lm_head,        scope::global, "lm_head.decoder.weight",    2, {dim::vocab,  dim::hidden}, 0, 0, "embeddings.word_embeddings.weight", sw_tied},
    {role::lm_head,        scope::global, "lm_head.decoder.bias",      1, {dim::vocab},               0, 0, "/lm_head.bias", 0},
};
// RobertaClassificationHead.
const tensor_template roberta_classifier[] = {
    {role::classifier,     scope::global, "classifier.dense.weight",    2, {dim::hidden, dim::hidden}, 0, 0, nullptr, 0},
    {role::classifier,     scope::global, "classifier.dense.bias",      1, {dim::hidden},              0, 0, nullptr, 0},
    {role::classifier,     scope::global, "classifier.out_proj.weight", 2, {dim::labels, dim::hidden}, 0, 0, nullptr, 0},
    {role::classifier,     scope::global, "classifier.out_proj.bias",   1, {dim::labels},              0, 0, nullptr, 0},
};
// clang-format on

std::optional<error> read_bert(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_core(keys, spec, k));
    for (auto& l : spec.layers) l.stack = layer_stack::encoder, l.switches |= sw_encoder;
    if (spec.max_positions == 0)
        return make_error(error_code::missing_key,
                          "missing required key " + keys.path("max_position_embeddings") +
                              " (a positive integer: the learned position table)",
                          keys.path("max_position_embeddings"));
    spec.n_positions = spec.max_positions;
    spec.n_token_types = 2; // BertConfig default type_vocab_size
    MP_CHECK(read_size(keys, "type_vocab_size", spec.n_token_types));
    spec.tie_embeddings = true;
    MP_CHECK(read_bool(keys, "tie_word_embeddings", spec.tie_embeddings));
    spec.norm = norm_kind::layer;
    spec.qkv_bias = spec.o_bias = spec.mlp_bias = true;
    spec.switches |= sw_norm_bias | sw_learned_pos | sw_pooler;
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

} // namespace

void add_bert_families(std::vector<family_info>& out) {
    // clang-format off
    out.push_back({"bert", "Bert", "bert.", nullptr, read_bert, nullptr, {rows(bert_base)},
                   {{head_kind::masked_lm, "ForMaskedLM", {rows(bert_mlm_head)}, sw_pooler},
                    {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(bert_classifier)}},
                    {head_kind::pretraining, "ForPreTraining", {rows(bert_mlm_head), rows(bert_nsp_head)}}},
                   {rows(bert_buffers)}, nullptr});
    out.push_back({"roberta", "Roberta", "roberta.", nullptr, read_bert, nullptr, {rows(bert_base)},
                   {{head_kind::masked_lm, "ForMaskedLM", {rows(roberta_mlm_head)}, sw_pooler},
                    {head_kind::none, "Model", {}},
                    {head_kind::seq_cls, "ForSequenceClassification", {rows(roberta_classifier)}, sw_pooler}},
                   {rows(bert_buffers)}, nullptr});
    // clang-format on
}

} // namespace modelplan::family_tables
