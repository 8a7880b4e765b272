// Encoders: BERT and RoBERTa (same base names; RoBERTa's position table already includes its padding offset,
// max_position_embeddings 514 in roberta-base's config). Sources: transformers models/bert/modeling_bert.py
// and models/roberta/modeling_roberta.py (4.4x), module registration order.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template bert_base[] = {
    once(role::embed,               "embeddings.word_embeddings.weight",                       dim::vocab,         dim::hidden),
    once(role::pos_embed,           "embeddings.position_embeddings.weight",                   dim::position_rows, dim::hidden),
    once(role::type_embed,          "embeddings.token_type_embeddings.weight",                 dim::token_types,   dim::hidden),
    once(role::embed_norm,          "embeddings.LayerNorm.weight",                             dim::hidden),
    once(role::embed_norm,          "embeddings.LayerNorm.bias",                               dim::hidden),
    per_layer(role::attn_q,         "encoder.layer.{layer}.attention.self.query.weight",       dim::q_dim,         dim::hidden),
    per_layer(role::attn_q,         "encoder.layer.{layer}.attention.self.query.bias",         dim::q_dim),
    per_layer(role::attn_k,         "encoder.layer.{layer}.attention.self.key.weight",         dim::kv_dim,        dim::hidden),
    per_layer(role::attn_k,         "encoder.layer.{layer}.attention.self.key.bias",           dim::kv_dim),
    per_layer(role::attn_v,         "encoder.layer.{layer}.attention.self.value.weight",       dim::kv_dim,        dim::hidden),
    per_layer(role::attn_v,         "encoder.layer.{layer}.attention.self.value.bias",         dim::kv_dim),
    per_layer(role::attn_o,         "encoder.layer.{layer}.attention.output.dense.weight",     dim::hidden,        dim::q_dim),
    per_layer(role::attn_o,         "encoder.layer.{layer}.attention.output.dense.bias",       dim::hidden),
    per_layer(role::attn_post_norm, "encoder.layer.{layer}.attention.output.LayerNorm.weight", dim::hidden),
    per_layer(role::attn_post_norm, "encoder.layer.{layer}.attention.output.LayerNorm.bias",   dim::hidden),
    per_layer(role::ffn_up,         "encoder.layer.{layer}.intermediate.dense.weight",         dim::ffn,           dim::hidden),
    per_layer(role::ffn_up,         "encoder.layer.{layer}.intermediate.dense.bias",           dim::ffn),
    per_layer(role::ffn_down,       "encoder.layer.{layer}.output.dense.weight",               dim::hidden,        dim::ffn),
    per_layer(role::ffn_down,       "encoder.layer.{layer}.output.dense.bias",                 dim::hidden),
    per_layer(role::ffn_post_norm,  "encoder.layer.{layer}.output.LayerNorm.weight",           dim::hidden),
    per_layer(role::ffn_post_norm,  "encoder.layer.{layer}.output.LayerNorm.bias",             dim::hidden),
    once(role::pooler,              "pooler.dense.weight",                                     dim::hidden,        dim::hidden).when(sw_pooler),
    once(role::pooler,              "pooler.dense.bias",                                       dim::hidden)                    .when(sw_pooler),
};
const tensor_template bert_buffers[] = {
    once(role::position_ids, "embeddings.position_ids", dim::one, dim::max_positions).stored_as("I64"),
};
// BertLMPredictionHead: its own bias Parameter is registered before the transform and decoder submodules;
// decoder.bias is the same tensor.
const tensor_template bert_mlm_head[] = {
    once(role::lm_head,        "cls.predictions.bias",                       dim::vocab),
    once(role::head_transform, "cls.predictions.transform.dense.weight",     dim::hidden, dim::hidden),
    once(role::head_transform, "cls.predictions.transform.dense.bias",       dim::hidden),
    once(role::head_transform, "cls.predictions.transform.LayerNorm.weight", dim::hidden),
    once(role::head_transform, "cls.predictions.transform.LayerNorm.bias",   dim::hidden),
    once(role::lm_head,        "cls.predictions.decoder.weight",             dim::vocab,  dim::hidden).alias_of("embeddings.word_embeddings.weight", sw_tied),
    once(role::lm_head,        "cls.predictions.decoder.bias",               dim::vocab)              .alias_of("/cls.predictions.bias"),
};
// BertForPreTraining: the MLM head above, then the next-sentence head.
const tensor_template bert_nsp_head[] = {
    once(role::classifier, "cls.seq_relationship.weight", dim::two, dim::hidden),
    once(role::classifier, "cls.seq_relationship.bias",   dim::two),
};
const tensor_template bert_classifier[] = {
    once(role::classifier, "classifier.weight", dim::labels, dim::hidden),
    once(role::classifier, "classifier.bias",   dim::labels),
};
// RobertaLMHead: bias Parameter first, then dense, layer_norm, decoder (decoder.bias is the same tensor).
const tensor_template roberta_mlm_head[] = {
    once(role::lm_head,        "lm_head.bias",              dim::vocab),
    once(role::head_transform, "lm_head.dense.weight",      dim::hidden, dim::hidden),
    once(role::head_transform, "lm_head.dense.bias",        dim::hidden),
    once(role::head_transform, "lm_head.layer_norm.weight", dim::hidden),
    once(role::head_transform, "lm_head.layer_norm.bias",   dim::hidden),
    once(role::lm_head,        "lm_head.decoder.weight",    dim::vocab,  dim::hidden).alias_of("embeddings.word_embeddings.weight", sw_tied),
    once(role::lm_head,        "lm_head.decoder.bias",      dim::vocab)              .alias_of("/lm_head.bias"),
};
// RobertaClassificationHead.
const tensor_template roberta_classifier[] = {
    once(role::classifier, "classifier.dense.weight",    dim::hidden, dim::hidden),
    once(role::classifier, "classifier.dense.bias",      dim::hidden),
    once(role::classifier, "classifier.out_proj.weight", dim::labels, dim::hidden),
    once(role::classifier, "classifier.out_proj.bias",   dim::labels),
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
    spec.set_switches(sw_tied); // BertConfig default
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.norm = norm_kind::layer;
    spec.set_switches(sw_all_biases | sw_norm_bias | sw_learned_pos | sw_pooler);
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

} // namespace

template_table bert_parts::base() {
    return rows(bert_base);
}
template_table bert_parts::buffers() {
    return rows(bert_buffers);
}
std::vector<head_info> bert_parts::roberta_heads() {
    // clang-format off
    return {
        {head_kind::masked_lm,   "ForMaskedLM",               {rows(roberta_mlm_head)}, sw_pooler},
        {head_kind::none,        "Model",                     {}},
        {head_kind::seq_cls,     "ForSequenceClassification", {rows(roberta_classifier)}, sw_pooler},
    };
    // clang-format on
}
family_reader bert_parts::reader() {
    return read_bert;
}

void add_bert_families(std::vector<family_info>& out) {
    // clang-format off
    const std::vector<head_info> bert_heads = {
        {head_kind::masked_lm,   "ForMaskedLM",               {rows(bert_mlm_head)}, sw_pooler},
        {head_kind::none,        "Model",                     {}},
        {head_kind::seq_cls,     "ForSequenceClassification", {rows(bert_classifier)}},
        {head_kind::pretraining, "ForPreTraining",            {rows(bert_mlm_head), rows(bert_nsp_head)}},
    };
    // clang-format on
    out.push_back(family("bert", "Bert", read_bert, {rows(bert_base)}, bert_heads)
                      .prefix("bert.")
                      .stores_buffers({rows(bert_buffers)}));
    out.push_back(family("roberta", "Roberta", read_bert, {rows(bert_base)}, bert_parts::roberta_heads())
                      .prefix("roberta.")
                      .stores_buffers({rows(bert_buffers)}));
}

} // namespace modelplan::family_tables
