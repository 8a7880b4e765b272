// Gemma, Gemma 2, Gemma 3 (text) and Gemma 3 with its SigLIP vision tower. Gemma reuses the Llama names;
// Gemma 2/3 add norms before and after the FFN; Gemma 3 adds per-head q/k norms and sliding-window layers.
// Gemma3ForConditionalGeneration is modelled in the published checkpoint layout (transformers 4.51:
// vision_tower.vision_model.*, multi_modal_projector.*, language_model.model.*). Sources: transformers
// models/gemma, gemma2, gemma3, siglip (4.51) modeling and configuration files.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t vis = sw_vision;

// clang-format off
const tensor_template gemma2_layer_norms[] = {
    per_layer(role::attn_norm,      "layers.{layer}.input_layernorm.weight",            dim::hidden),
    per_layer(role::attn_post_norm, "layers.{layer}.post_attention_layernorm.weight",   dim::hidden),
    per_layer(role::ffn_norm,       "layers.{layer}.pre_feedforward_layernorm.weight",  dim::hidden),
    per_layer(role::ffn_post_norm,  "layers.{layer}.post_feedforward_layernorm.weight", dim::hidden),
};
// SiglipVisionModel (vision_tower.vision_model.*).
const tensor_template siglip_vision[] = {
    once(role::vision,      "embeddings.patch_embedding.weight",                dim::v_hidden,        dim::v_channels, dim::v_patch,  dim::v_patch),
    once(role::vision,      "embeddings.patch_embedding.bias",                  dim::v_hidden),
    once(role::vision,      "embeddings.position_embedding.weight",             dim::v_position_rows, dim::v_hidden),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm1.weight",        dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm1.bias",          dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.k_proj.weight",   dim::v_hidden,        dim::v_hidden)                 .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.k_proj.bias",     dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.v_proj.weight",   dim::v_hidden,        dim::v_hidden)                 .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.v_proj.bias",     dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.q_proj.weight",   dim::v_hidden,        dim::v_hidden)                 .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.q_proj.bias",     dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.out_proj.weight", dim::v_hidden,        dim::v_hidden)                 .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.out_proj.bias",   dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm2.weight",        dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm2.bias",          dim::v_hidden)                                       .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc1.weight",            dim::v_ffn,           dim::v_hidden)                 .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc1.bias",              dim::v_ffn)                                          .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc2.weight",            dim::v_hidden,        dim::v_ffn)                    .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc2.bias",              dim::v_hidden)                                       .when(vis),
    once(role::vision,      "post_layernorm.weight",                            dim::v_hidden),
    once(role::vision,      "post_layernorm.bias",                              dim::v_hidden),
    once(role::vision,      "head.probe",                                       dim::one,             dim::one,        dim::v_hidden).when(sw_vision_head),
    once(role::vision,      "head.attention.in_proj_weight",                    dim::v_hidden_x3,     dim::v_hidden)                 .when(sw_vision_head),
    once(role::vision,      "head.attention.in_proj_bias",                      dim::v_hidden_x3)                                    .when(sw_vision_head),
    once(role::vision,      "head.attention.out_proj.weight",                   dim::v_hidden,        dim::v_hidden)                 .when(sw_vision_head),
    once(role::vision,      "head.attention.out_proj.bias",                     dim::v_hidden)                                       .when(sw_vision_head),
    once(role::vision,      "head.layernorm.weight",                            dim::v_hidden)                                       .when(sw_vision_head),
    once(role::vision,      "head.layernorm.bias",                              dim::v_hidden)                                       .when(sw_vision_head),
    once(role::vision,      "head.mlp.fc1.weight",                              dim::v_ffn,           dim::v_hidden)                 .when(sw_vision_head),
    once(role::vision,      "head.mlp.fc1.bias",                                dim::v_ffn)                                          .when(sw_vision_head),
    once(role::vision,      "head.mlp.fc2.weight",                              dim::v_hidden,        dim::v_ffn)                    .when(sw_vision_head),
    once(role::vision,      "head.mlp.fc2.bias",                                dim::v_hidden)                                       .when(sw_vision_head),
};
// Gemma3MultiModalProjector: a raw [vision width, text width] parameter (used as x @ W) and an RMSNorm.
const tensor_template gemma3_projector[] = {
    once(role::projector, "mm_input_projection_weight", dim::v_hidden, dim::hidden),
    once(role::projector, "mm_soft_emb_norm.weight",    dim::v_hidden),
};
const tensor_template gemma3_lm_head[] = {
    once(role::lm_head, "language_model.lm_head.weight", dim::vocab, dim::hidden).alias_of("/language_model.model.embed_tokens.weight", sw_tied),
};
// clang-format on

// Gemma3TextConfig defaults that the published Gemma 3 configs rely on (gemma-3-4b's text_config names
// only hidden_size, intermediate_size, num_hidden_layers, rope_scaling and sliding_window).
const char* gemma3_text_defaults = R"({"vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216,
    "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "sliding_window": 4096,
    "sliding_window_pattern": 6, "tie_word_embeddings": true, "attention_bias": false})";

std::optional<error> read_gemma_common(const key_reader& keys, model_spec& spec) {
    MP_CHECK(
        read_llama_opening(keys, spec, true)); // tied: GemmaConfig, Gemma2Config, Gemma3TextConfig default
    return read_rope(keys, spec);
}

std::optional<error> read_gemma(const key_reader& keys, model_spec& spec) {
    return read_gemma_common(keys, spec);
}

// Sliding layers by pattern when the config has no explicit layer_types: Gemma 2 slides on even layers,
// Gemma 3 on every layer but each `sliding_window_pattern`-th.
std::optional<error> pattern_sliding(const key_reader& keys, model_spec& spec, bool gemma3) {
    if (keys.has("layer_types")) return read_sliding(keys, spec, sliding_rule::none);
    MP_TRY(window, keys.optional_size("sliding_window"));
    if (!window) return std::nullopt;
    uint64_t pattern = 6;
    if (gemma3) MP_CHECK(read_size(keys, "sliding_window_pattern", pattern));
    for (uint64_t i = 0; i < spec.n_layers; ++i) {
        bool sliding = gemma3 ? (i + 1) % pattern != 0 : i % 2 == 0;
        if (sliding) spec.layers[i].attn = attn_kind::sliding, spec.layers[i].window = *window;
    }
    return std::nullopt;
}

std::optional<error> read_gemma2(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_gemma_common(keys, spec));
    return pattern_sliding(keys, spec, false);
}

std::optional<error> read_gemma3_text(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_gemma_common(keys, spec));
    spec.set_switches(sw_qk_norm);
    return pattern_sliding(keys, spec, true);
}

// SiglipVisionConfig defaults.
const char* siglip_defaults = R"({"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16})";

std::optional<error> read_gemma3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_gemma3_text(keys, spec));
    const rapidjson::Value* vision = nullptr;
    auto it = keys.root().FindMember("vision_config");
    if (it == keys.root().MemberEnd() || !it->value.IsObject())
        return make_error(error_code::missing_key, "missing required key vision_config (an object)",
                          "vision_config");
    vision = &it->value;
    static rapidjson::Document defaults;
    if (!defaults.IsObject()) defaults.Parse(siglip_defaults);
    key_reader v(*vision, "vision_config", &defaults, &keys.root());
    MP_TRY(hidden, v.size("hidden_size"));
    MP_TRY(intermediate, v.size("intermediate_size"));
    MP_TRY(layers, v.size("num_hidden_layers"));
    MP_TRY(channels, v.size("num_channels"));
    MP_TRY(image, v.size("image_size"));
    MP_TRY(patch, v.size("patch_size"));
    if (layers > max_layers) return too_large(v, "num_hidden_layers", layers, max_layers);
    if (image % patch != 0)
        return make_error(error_code::not_divisible,
                          v.path("image_size") + " (" + num(image) + ") must be divisible by " +
                              v.path("patch_size") + " (" + num(patch) + ")",
                          v.path("image_size"));
    uint64_t side = image / patch;
    if (__builtin_mul_overflow(side, side, &spec.vision_positions))
        return make_error(error_code::overflow,
                          v.path("image_size") + " / patch_size squared overflows 64 bits",
                          v.path("image_size"));
    spec.vision_hidden = hidden;
    spec.vision_intermediate = intermediate;
    spec.vision_channels = channels;
    spec.vision_patch = patch;
    bool use_head = true; // SiglipVisionTransformer builds the pooling head unless vision_use_head is false
    MP_CHECK(read_bool(v, "vision_use_head", use_head));
    if (use_head) spec.switches |= sw_vision_head;
    add_stack(spec, layer_stack::vision, layers, sw_vision);
    // Image inputs (issue 13): Gemma3Processor puts mm_tokens_per_image (Gemma3Config default 256) tokens
    // per image, resized to image_size; the tower's heads for the activation estimate.
    MP_TRY(heads, v.size("num_attention_heads"));
    key_reader top(keys.root(), "");
    uint64_t per_image = 256;
    MP_CHECK(read_size(top, "mm_tokens_per_image", per_image));
    spec.vision_heads = heads;
    spec.images.rule = image_token_rule::fixed;
    spec.images.tokens = per_image;
    spec.images.patch = patch;
    spec.images.tile = image;
    return std::nullopt;
}

} // namespace

void add_gemma_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> gemma = {lp::embed(), lp::attention(), lp::mlp(), lp::layer_norms(),
                                               lp::final_norm()};
    const std::vector<template_table> gemma2 = {lp::embed(), lp::attention(), lp::mlp(),
                                                rows(gemma2_layer_norms), lp::final_norm()};
    const char* text = "language_model.model.";
    const std::vector<template_table> gemma3 = {rows(siglip_vision, "vision_tower.vision_model."),
                                                rows(gemma3_projector, "multi_modal_projector."),
                                                with_prefix(lp::embed(), text),
                                                with_prefix(lp::attention(), text),
                                                with_prefix(lp::mlp(), text),
                                                with_prefix(rows(gemma2_layer_norms), text),
                                                with_prefix(lp::final_norm(), text)};
    const std::vector<head_info> gemma3_text_heads = {
        {head_kind::causal_lm, "ForCausalLM", lp::heads()[0].tensors},
        {head_kind::none,      "TextModel",   {}                    }
    };
    const std::vector<head_info> gemma3_heads = {
        {head_kind::cond_gen, "ForConditionalGeneration", {rows(gemma3_lm_head)}}
    };
    out.push_back(family("gemma", "Gemma", read_gemma, gemma, lp::heads()));
    out.push_back(family("gemma2", "Gemma2", read_gemma2, gemma2, lp::heads()));
    out.push_back(family("gemma3_text", "Gemma3", read_gemma3_text, gemma2, gemma3_text_heads)
                      .defaults(gemma3_text_defaults));
    out.push_back(family("gemma3", "Gemma3", read_gemma3, gemma3, gemma3_heads)
                      .prefix("")
                      .text_config("text_config")
                      .defaults(gemma3_text_defaults));
}

} // namespace modelplan::family_tables
