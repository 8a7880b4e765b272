// Encoders and encoder-decoders built on T5 and BERT, and ModernBERT:
//   mt5          mT5: T5 v1.1's tensors (gated FFN, untied head by MT5Config's defaults).
//   umt5         UMT5: T5 v1.1 with a relative attention bias in the self-attention of every layer, not
//                only the first of each stack.
//   xlm-roberta  XLM-RoBERTa: RoBERTa's tensors under roberta.
//   modernbert   ModernBERT: fused Wqkv, gated Wi [2 x intermediate, hidden], LayerNorms without bias by
//                default, no norm before the first layer's attention, rotary positions, global attention
//                every global_attn_every_n_layers-th layer and local (sliding) attention in the others, a
//                prediction head (dense + norm) and a decoder tied to the token embedding with its own bias.
// Names are the published checkpoint names (transformers 4.5x state_dict order). Sources: transformers
// models/mt5, umt5, xlm_roberta, modernbert configuration and modeling files; the class defaults below are
// those of the configuration classes.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t enc = sw_encoder, dec = sw_decoder, gated = sw_gated_ffn;

// clang-format off
// UMT5: T5's names; every self-attention layer holds its relative_attention_bias (UMT5LayerSelfAttention builds
// UMT5Attention with has_relative_attention_bias=True; cross-attention never has one).
const tensor_template umt5_base[] = {
    once(role::embed,              "shared.weight",                                                              dim::vocab,   dim::hidden),
    once(role::embed,              "encoder.embed_tokens.weight",                                                dim::vocab,   dim::hidden).alias_of("shared.weight"),
    per_layer(role::attn_q,        "encoder.block.{layer}.layer.0.SelfAttention.q.weight",                       dim::q_dim,   dim::hidden).when(enc),
    per_layer(role::attn_k,        "encoder.block.{layer}.layer.0.SelfAttention.k.weight",                       dim::kv_dim,  dim::hidden).when(enc),
    per_layer(role::attn_v,        "encoder.block.{layer}.layer.0.SelfAttention.v.weight",                       dim::kv_dim,  dim::hidden).when(enc),
    per_layer(role::attn_o,        "encoder.block.{layer}.layer.0.SelfAttention.o.weight",                       dim::hidden,  dim::q_dim) .when(enc),
    per_layer(role::attn_rel_bias, "encoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", dim::buckets, dim::heads) .when(enc),
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
    per_layer(role::attn_rel_bias, "decoder.block.{layer}.layer.0.SelfAttention.relative_attention_bias.weight", dim::buckets, dim::heads) .when(dec),
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
// ModernBertModel: embeddings, layers (layer 0 has no attn_norm: nn.Identity), final_norm.
const tensor_template modernbert_base[] = {
    once(role::embed,          "embeddings.tok_embeddings.weight", dim::vocab,   dim::hidden),
    once(role::embed_norm,     "embeddings.norm.weight",           dim::hidden),
    once(role::embed_norm,     "embeddings.norm.bias",             dim::hidden)             .when(sw_norm_bias),
    per_layer(role::attn_norm, "layers.{layer}.attn_norm.weight",  dim::hidden)             .unless(sw_first_in_stack),
    per_layer(role::attn_norm, "layers.{layer}.attn_norm.bias",    dim::hidden)             .when(sw_norm_bias).unless(sw_first_in_stack),
    per_layer(role::attn_qkv,  "layers.{layer}.attn.Wqkv.weight",  dim::qkv_dim, dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::attn_qkv,  "layers.{layer}.attn.Wqkv.bias",    dim::qkv_dim)            .when(sw_qkv_bias).fused(fused_layout::concatenated),
    per_layer(role::attn_o,    "layers.{layer}.attn.Wo.weight",    dim::hidden,  dim::q_dim),
    per_layer(role::attn_o,    "layers.{layer}.attn.Wo.bias",      dim::hidden)             .when(sw_o_bias),
    per_layer(role::ffn_norm,  "layers.{layer}.mlp_norm.weight",   dim::hidden),
    per_layer(role::ffn_norm,  "layers.{layer}.mlp_norm.bias",     dim::hidden)             .when(sw_norm_bias),
    per_layer(role::ffn_up,    "layers.{layer}.mlp.Wi.weight",     dim::ffn_x2,  dim::hidden).fused(fused_layout::concatenated),
    per_layer(role::ffn_up,    "layers.{layer}.mlp.Wi.bias",       dim::ffn_x2)             .when(sw_mlp_bias).fused(fused_layout::concatenated),
    per_layer(role::ffn_down,  "layers.{layer}.mlp.Wo.weight",     dim::hidden,  dim::ffn),
    per_layer(role::ffn_down,  "layers.{layer}.mlp.Wo.bias",       dim::hidden)             .when(sw_mlp_bias),
    once(role::output_norm,    "final_norm.weight",                dim::hidden),
    once(role::output_norm,    "final_norm.bias",                  dim::hidden)             .when(sw_norm_bias),
};
// ModernBertPredictionHead (head.*): dense (bias: classifier_bias) and norm; full names.
const tensor_template modernbert_prediction_head[] = {
    once(role::head_transform, "head.dense.weight", dim::hidden, dim::hidden),
    once(role::head_transform, "head.dense.bias",   dim::hidden)             .when(sw_classifier_bias),
    once(role::head_transform, "head.norm.weight",  dim::hidden),
    once(role::head_transform, "head.norm.bias",    dim::hidden)             .when(sw_norm_bias),
};
// ModernBertForMaskedLM's decoder: tied to the token embedding, with its own bias (decoder_bias).
const tensor_template modernbert_decoder[] = {
    once(role::lm_head, "decoder.weight", dim::vocab, dim::hidden).alias_of("embeddings.tok_embeddings.weight", sw_tied),
    once(role::lm_head, "decoder.bias",   dim::vocab)             .when(sw_head_bias),
};
const tensor_template modernbert_classifier[] = {
    once(role::classifier, "classifier.weight", dim::labels, dim::hidden),
    once(role::classifier, "classifier.bias",   dim::labels),
};
// clang-format on

// MT5Config and UMT5Config defaults: a gated-GELU FFN and (MT5) an untied head.
const char* mt5_defaults =
    R"({"vocab_size": 250112, "d_model": 512, "d_kv": 64, "d_ff": 1024, "num_layers": 8,
    "num_heads": 6, "relative_attention_num_buckets": 32, "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu", "tie_word_embeddings": false})";
const char* umt5_defaults =
    R"({"vocab_size": 250112, "d_model": 512, "d_kv": 64, "d_ff": 1024, "num_layers": 8,
    "num_heads": 6, "relative_attention_num_buckets": 32, "layer_norm_epsilon": 1e-6,
    "feed_forward_proj": "gated-gelu", "tie_word_embeddings": true})";
// XLMRobertaConfig defaults (those of BertConfig).
const char* xlm_roberta_defaults = R"({"vocab_size": 30522, "hidden_size": 768, "num_hidden_layers": 12,
    "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 512, "type_vocab_size": 2,
    "layer_norm_eps": 1e-12, "tie_word_embeddings": true})";
const char* modernbert_defaults = R"({"vocab_size": 50368, "hidden_size": 768, "intermediate_size": 1152,
    "num_hidden_layers": 22, "num_attention_heads": 12, "max_position_embeddings": 8192, "norm_eps": 1e-5,
    "norm_bias": false, "attention_bias": false, "local_attention": 128, "mlp_bias": false, "decoder_bias": true,
    "classifier_bias": false, "tie_word_embeddings": true, "global_attn_every_n_layers": 3,
    "global_rope_theta": 160000.0})";

// ModernBERT: layers that are not global attend to local_attention tokens around each position.
std::optional<error> modernbert_attention_layers(const key_reader& keys, model_spec& spec) {
    MP_TRY(window, keys.size("local_attention"));
    if (keys.has("layer_types")) {
        const auto& types = *keys.find("layer_types");
        std::string path = keys.path("layer_types");
        if (!types.IsArray() || types.Size() != spec.n_layers)
            return make_error(
                error_code::inconsistent,
                path + ": expected one of \"full_attention\" or \"sliding_attention\" per layer (" +
                    num(spec.n_layers) + "), got " + describe_json(types),
                path);
        for (rapidjson::SizeType i = 0; i < types.Size(); ++i) {
            std::string t = types[i].IsString() ? types[i].GetString() : "";
            std::string item = path + "[" + num(i) + "]";
            if (t != "full_attention" && t != "sliding_attention")
                return make_error(error_code::wrong_type,
                                  item + ": expected \"full_attention\" or \"sliding_attention\", got " +
                                      describe_json(types[i]),
                                  item);
            if (t == "sliding_attention")
                spec.layers[i].attn = attn_kind::sliding, spec.layers[i].window = window;
        }
        return std::nullopt;
    }
    uint64_t every = 3;
    MP_CHECK(read_size(keys, "global_attn_every_n_layers", every));
    for (uint64_t i = 0; i < spec.n_layers; ++i)
        if (i % every != 0) spec.layers[i].attn = attn_kind::sliding, spec.layers[i].window = window;
    return std::nullopt;
}

std::optional<error> read_modernbert(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.eps = "norm_eps";
    MP_CHECK(read_core(keys, spec, k));
    for (auto& l : spec.layers) l.stack = layer_stack::encoder, l.switches |= sw_encoder;
    spec.norm = norm_kind::layer;
    MP_CHECK(read_switch(keys, "norm_bias", spec, sw_norm_bias));
    MP_CHECK(read_switch(keys, "attention_bias", spec, sw_attention_biases));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    MP_CHECK(read_switch(keys, "decoder_bias", spec, sw_head_bias));
    MP_CHECK(read_switch(keys, "classifier_bias", spec, sw_classifier_bias));
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    MP_TRY(theta, keys.optional_number("global_rope_theta", 160000.0));
    spec.rope.theta = theta;
    spec.rope.rotary_dim = spec.head_dim;
    return modernbert_attention_layers(keys, spec);
}

} // namespace

void add_encoder_variant_families(std::vector<family_info>& out) {
    const std::vector<head_info> mt5_heads = {
        {head_kind::cond_gen, "ForConditionalGeneration", {t5_parts::lm_head()}},
        {head_kind::none,     "Model",                    {}                   }
    };
    // clang-format off
    const std::vector<head_info> modernbert_heads = {
        {head_kind::masked_lm, "ForMaskedLM",               {rows(modernbert_prediction_head), rows(modernbert_decoder)}},
        {head_kind::none,      "Model",                     {}},
        {head_kind::seq_cls,   "ForSequenceClassification", {rows(modernbert_prediction_head), rows(modernbert_classifier)}},
    };
    // clang-format on
    out.push_back(family("mt5", "MT5", t5_parts::reader(), {t5_parts::base()}, mt5_heads)
                      .prefix("")
                      .defaults(mt5_defaults)
                      .stores_buffers({t5_parts::buffers()}));
    out.push_back(family("umt5", "UMT5", t5_parts::reader(), {rows(umt5_base)}, mt5_heads)
                      .prefix("")
                      .defaults(umt5_defaults));
    out.push_back(family("xlm-roberta", "XLMRoberta", bert_parts::reader(), {bert_parts::base()},
                         bert_parts::roberta_heads())
                      .prefix("roberta.")
                      .defaults(xlm_roberta_defaults)
                      .stores_buffers({bert_parts::buffers()}));
    out.push_back(
        family("modernbert", "ModernBert", read_modernbert, {rows(modernbert_base)}, modernbert_heads)
            .defaults(modernbert_defaults));
}

} // namespace modelplan::family_tables
