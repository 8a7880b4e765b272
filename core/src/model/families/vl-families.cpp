// Mistral 3 (a Pixtral tower, a patch merger and a two-layer projector in front of a Mistral decoder), LLaVA
// 1.5 and LLaVA-NeXT (a CLIP tower and a two-layer projector in front of a Llama or Mistral decoder; NeXT
// adds the image_newline parameter), Idefics3 and SmolVLM (a SigLIP-style tower, a pixel-shuffle connector
// and a Llama decoder). Names are the published checkpoints': transformers 4.3x-4.50 saved LLaVA and Mistral
// 3 as `vision_tower.*`, `multi_modal_projector.*`, `language_model.model.*`,
// `language_model.lm_head.weight`; Idefics3/SmolVLM as `model.vision_model.*`, `model.connector.*`,
// `model.text_model.*`, `lm_head.weight`. Sources: transformers models/mistral3, pixtral, llava, llava_next,
// clip, idefics3, smolvlm (configuration and modeling files, module registration order); checkpoints and
// totals in models/SOURCES-VL.md.
#include "model/families/families.h"
#include "model/families/vision-readers.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t vis = sw_vision;
constexpr uint64_t pbias = sw_projector_bias;

// clang-format off
// PixtralVisionModel (vision_tower.*): a patch convolution without bias, RMSNorms, a gated SiLU MLP, 2-D RoPE
// (no parameter). PixtralAttentionLayer registers attention_norm, feed_forward, attention, ffn_norm.
const tensor_template pixtral_vision[] = {
    once(role::vision,      "patch_conv.weight",                                   dim::v_hidden, dim::v_channels, dim::v_patch, dim::v_patch),
    once(role::vision,      "ln_pre.weight",                                       dim::v_hidden),
    per_layer(role::vision, "transformer.layers.{layer}.attention_norm.weight",    dim::v_hidden)               .when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.feed_forward.gate_proj.weight", dim::v_ffn, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.feed_forward.up_proj.weight",   dim::v_ffn, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.feed_forward.down_proj.weight", dim::v_hidden, dim::v_ffn).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.attention.k_proj.weight",  dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.attention.v_proj.weight",  dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.attention.q_proj.weight",  dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.attention.o_proj.weight",  dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "transformer.layers.{layer}.ffn_norm.weight",          dim::v_hidden)               .when(vis),
};
// Mistral3MultiModalProjector: RMSNorm, the patch merger (merge^2 neighbours -> one, no bias), two linears.
const tensor_template mistral3_projector[] = {
    once(role::projector, "norm.weight",                       dim::v_hidden),
    once(role::projector, "patch_merger.merging_layer.weight", dim::v_hidden, dim::v_merged),
    once(role::projector, "linear_1.weight",                   dim::hidden,   dim::v_hidden),
    once(role::projector, "linear_1.bias",                     dim::hidden)                 .when(pbias),
    once(role::projector, "linear_2.weight",                   dim::hidden,   dim::hidden),
    once(role::projector, "linear_2.bias",                     dim::hidden)                 .when(pbias),
};
// CLIPVisionModel (vision_tower.vision_model.*): class embedding, a patch convolution without bias, a learned
// position table of (image_size / patch_size)^2 + 1 rows, pre- and post-LayerNorms ("pre_layrnorm" is the
// checkpoint's spelling); CLIPEncoderLayer registers self_attn (k, v, q, out), layer_norm1, mlp, layer_norm2.
const tensor_template clip_vision_embeddings[] = {
    once(role::vision,      "embeddings.class_embedding",                       dim::v_hidden),
    once(role::vision,      "embeddings.patch_embedding.weight",                dim::v_hidden, dim::v_channels, dim::v_patch, dim::v_patch),
    once(role::vision,      "embeddings.position_embedding.weight",             dim::v_position_rows, dim::v_hidden),
    once(role::vision,      "pre_layrnorm.weight",                              dim::v_hidden),
    once(role::vision,      "pre_layrnorm.bias",                                dim::v_hidden),
};
// LlavaMultiModalProjector: two linears with biases (multimodal_projector_bias, default true).
const tensor_template llava_projector[] = {
    once(role::projector, "linear_1.weight", dim::hidden, dim::v_hidden),
    once(role::projector, "linear_1.bias",   dim::hidden)              .when(pbias),
    once(role::projector, "linear_2.weight", dim::hidden, dim::hidden),
    once(role::projector, "linear_2.bias",   dim::hidden)              .when(pbias),
};
// LlavaNextForConditionalGeneration.image_newline: one text-width vector after each row of image features.
const tensor_template llava_next_newline[] = {
    once(role::projector, "image_newline", dim::hidden),
};
// Idefics3VisionTransformer / SmolVLMVisionTransformer (model.vision_model.*): SigLIP's names without the
// pooling head; a biased patch convolution and a position table of (image_size / patch_size)^2 rows.
const tensor_template idefics3_vision_embeddings[] = {
    once(role::vision,      "embeddings.patch_embedding.weight",                dim::v_hidden, dim::v_channels, dim::v_patch, dim::v_patch),
    once(role::vision,      "embeddings.patch_embedding.bias",                  dim::v_hidden),
    once(role::vision,      "embeddings.position_embedding.weight",             dim::v_position_rows, dim::v_hidden),
};
// The ViT encoder both towers above share, in the published order: per layer self_attn (k, v, q, out, all
// biased), layer_norm1, mlp (fc1, fc2), layer_norm2; then post_layernorm. (SigLIP in gemma.cpp orders its layer
// norms differently and keeps its own table.)
const tensor_template vit_encoder_and_post_norm[] = {
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.k_proj.weight",   dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.k_proj.bias",     dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.v_proj.weight",   dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.v_proj.bias",     dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.q_proj.weight",   dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.q_proj.bias",     dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.out_proj.weight", dim::v_hidden, dim::v_hidden).when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.self_attn.out_proj.bias",   dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm1.weight",        dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm1.bias",          dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc1.weight",            dim::v_ffn, dim::v_hidden)   .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc1.bias",              dim::v_ffn)                  .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc2.weight",            dim::v_hidden, dim::v_ffn)   .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.mlp.fc2.bias",              dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm2.weight",        dim::v_hidden)               .when(vis),
    per_layer(role::vision, "encoder.layers.{layer}.layer_norm2.bias",          dim::v_hidden)               .when(vis),
    once(role::vision,      "post_layernorm.weight",                            dim::v_hidden),
    once(role::vision,      "post_layernorm.bias",                              dim::v_hidden),
};
// Idefics3Connector: pixel shuffle (scale_factor^2 patches -> one), then one linear without bias.
const tensor_template idefics3_connector[] = {
    once(role::projector, "modality_projection.proj.weight", dim::hidden, dim::v_merged),
};
const tensor_template language_model_lm_head[] = {
    once(role::lm_head, "language_model.lm_head.weight", dim::vocab, dim::hidden).alias_of("/language_model.model.embed_tokens.weight", sw_tied),
};
const tensor_template idefics3_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("/model.text_model.embed_tokens.weight", sw_tied),
};
// clang-format on

// The text configuration classes the vision-language configs nest (text_config.model_type decides):
// LlamaConfig and MistralConfig defaults (transformers 4.57).
const char* llama_defaults = R"({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "mlp_bias": false})";
const char* mistral_defaults = R"({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 8,
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "tie_word_embeddings": false,
    "rope_theta": 10000.0, "sliding_window": 4096})";
// Ministral3Config's defaults (transformers 5), for Ministral 3's text_config.
const char* ministral3_text_defaults =
    R"({"vocab_size": 131072, "hidden_size": 4096, "intermediate_size": 14336,
    "num_hidden_layers": 34, "num_attention_heads": 32, "num_key_value_heads": 8, "head_dim": 128,
    "max_position_embeddings": 262144, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
    "rope_parameters": {"type": "yarn", "rope_theta": 1000000.0, "factor": 16.0,
                        "original_max_position_embeddings": 16384}})";
// Idefics3Config's default text config: LlamaConfig(rms_norm_eps=1e-5, pad_token_id=128002,
// tie_word_embeddings=False).
const char* idefics3_text_defaults = R"({"vocab_size": 32000, "hidden_size": 4096,
    "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32,
    "max_position_embeddings": 2048, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
    "rope_theta": 10000.0, "attention_bias": false, "mlp_bias": false})";

// Vision configuration classes' defaults: PixtralVisionConfig, CLIPVisionConfig, Idefics3VisionConfig (and
// SmolVLMVisionConfig, the same values).
const char* pixtral_defaults = R"({"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24,
    "num_attention_heads": 16, "num_channels": 3, "image_size": 1024, "patch_size": 16})";
const char* clip_defaults = R"({"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
    "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 32})";
const char* idefics3_vision_defaults = R"({"hidden_size": 1152, "intermediate_size": 3072,
    "num_hidden_layers": 12, "num_attention_heads": 16, "num_channels": 3, "image_size": 224, "patch_size": 32})";

// The nested text config: a Llama or a Mistral decoder, read with its own class's defaults.
std::optional<error> read_text_model(const key_reader& keys, model_spec& spec, const char* llama_fallback) {
    MP_TRY(type, keys.optional_string("model_type"));
    std::string t = type.value_or("llama");
    if (t != "llama" && t != "mistral" && t != "ministral3")
        return make_error(
            error_code::unknown_model_type,
            keys.path("model_type") + ": \"" + t +
                "\" is not modelled as the text model of a vision-language model; modelled: llama, "
                "mistral, ministral3",
            keys.path("model_type"));
    key_reader text(keys.object(), keys.prefix(),
                    parsed_defaults(t == "mistral"      ? mistral_defaults
                                    : t == "ministral3" ? ministral3_text_defaults
                                                        : llama_fallback),
                    &keys.root());
    if (t == "mistral" || t == "ministral3") { // Ministral 3: Mistral's layers (Mistral3 with Ministral 3)
        MP_CHECK(read_decoder(text, spec));
        MP_CHECK(read_rope(text, spec));
        return read_sliding(text, spec, sliding_rule::window_key);
    }
    MP_CHECK(read_llama_opening(text, spec));
    MP_CHECK(read_switch(text, "mlp_bias", spec, sw_mlp_bias));
    return read_rope(text, spec);
}

// The vision tower's common keys; `positions`: the position table's rows beyond the patches (CLIP: 1, the
// class token; SigLIP: 0; Pixtral: no table).
struct tower {
    uint64_t image = 0, patch = 0;
};
result<tower> read_tower(const key_reader& keys, model_spec& spec, const char* defaults,
                         int extra_positions) {
    MP_TRY(v, vision_keys(keys, defaults));
    MP_TRY(hidden, v.size("hidden_size"));
    MP_TRY(intermediate, v.size("intermediate_size"));
    MP_TRY(layers, v.size("num_hidden_layers"));
    MP_TRY(heads, v.size("num_attention_heads"));
    MP_TRY(channels, v.size("num_channels"));
    MP_TRY(image, v.size("image_size"));
    MP_TRY(patch, v.size("patch_size"));
    if (layers > max_layers) return too_large(v, "num_hidden_layers", layers, max_layers);
    if (image > (1u << 20)) return too_large(v, "image_size", image, 1u << 20);
    if (patch > image)
        return make_error(error_code::out_of_range,
                          v.path("patch_size") + " (" + num(patch) + ") must not exceed " +
                              v.path("image_size") + " (" + num(image) + ")",
                          v.path("patch_size"));
    if (extra_positions >= 0) {
        uint64_t side = image / patch;
        spec.vision_positions = side * side + static_cast<uint64_t>(extra_positions);
    }
    spec.vision_hidden = hidden;
    spec.vision_intermediate = intermediate;
    spec.vision_heads = heads;
    spec.vision_channels = channels;
    spec.vision_patch = patch;
    add_stack(spec, layer_stack::vision, layers, sw_vision);
    return tower{image, patch};
}

std::optional<error> read_projector_bias(const key_reader& keys, model_spec& spec, bool fallback) {
    key_reader top(keys.root(), "");
    MP_TRY(bias, top.optional_bool("multimodal_projector_bias", fallback));
    spec.set_switches(sw_projector_bias, bias);
    return std::nullopt;
}

// Mistral3Config: text MistralConfig, vision PixtralVisionConfig, spatial_merge_size (default 2),
// multimodal_projector_bias (default false). The processor resizes to the tower's image_size as longest edge.
std::optional<error> read_mistral3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text_model(keys, spec, llama_defaults));
    MP_TRY(t, read_tower(keys, spec, pixtral_defaults, -1));
    key_reader top(keys.root(), "");
    uint64_t merge = 2;
    MP_CHECK(read_size(top, "spatial_merge_size", merge));
    if (merge > 64) return too_large(top, "spatial_merge_size", merge, 64);
    spec.vision_merge = merge;
    MP_CHECK(read_projector_bias(keys, spec, false));
    spec.images.rule = image_token_rule::pixtral;
    spec.images.patch = t.patch;
    spec.images.merge = merge;
    spec.images.longest_edge = t.image;
    return std::nullopt;
}

// LlavaConfig: the CLIP tower's patches, plus the class token unless vision_feature_select_strategy is
// "default" (LlavaProcessor: (image_size / patch_size)^2 + 1 - 1 = 576 for 336 px and 14 px patches).
std::optional<error> read_llava_common(const key_reader& keys, model_spec& spec, tower& t) {
    MP_CHECK(read_text_model(keys, spec, llama_defaults));
    // Only CLIP towers are modelled (Pixtral-12B's llava config names a pixtral tower).
    auto vision = keys.root().FindMember("vision_config");
    if (vision != keys.root().MemberEnd() && vision->value.IsObject()) {
        auto type = vision->value.FindMember("model_type");
        if (type != vision->value.MemberEnd() &&
            !(type->value.IsString() && std::string(type->value.GetString()) == "clip_vision_model"))
            return make_error(error_code::unknown_model_type,
                              "vision_config.model_type: " + describe_json(type->value) +
                                  " is not modelled for LLaVA; modelled: \"clip_vision_model\"",
                              "vision_config.model_type");
    }
    MP_TRY(read, read_tower(keys, spec, clip_defaults, 1));
    t = read;
    return read_projector_bias(keys, spec, true);
}

std::optional<error> read_llava(const key_reader& keys, model_spec& spec) {
    tower t;
    MP_CHECK(read_llava_common(keys, spec, t));
    key_reader top(keys.root(), "");
    MP_TRY(strategy, top.optional_string("vision_feature_select_strategy"));
    uint64_t side = t.image / t.patch;
    spec.images.rule = image_token_rule::fixed;
    spec.images.tokens = side * side + (strategy.value_or("default") == "full" ? 1 : 0);
    spec.images.patch = t.patch;
    spec.images.tile = t.image;
    return std::nullopt;
}

// LlavaNextConfig: image_grid_pinpoints (default [[336, 672], [672, 336], [672, 672], [1008, 336],
// [336, 1008]]) for the anyres tiling.
std::optional<error> read_llava_next(const key_reader& keys, model_spec& spec) {
    tower t;
    MP_CHECK(read_llava_common(keys, spec, t));
    spec.images.rule = image_token_rule::llava_next_anyres;
    spec.images.patch = t.patch;
    spec.images.tile = t.image;
    const rapidjson::Value* grid = nullptr;
    auto it = keys.root().FindMember("image_grid_pinpoints");
    if (it != keys.root().MemberEnd() && !it->value.IsNull()) grid = &it->value;
    if (!grid) {
        spec.images.grid = {336, 672, 672, 336, 672, 672, 1008, 336, 336, 1008};
        return std::nullopt;
    }
    auto wrong = [&](const std::string& why) {
        return make_error(error_code::wrong_type, "image_grid_pinpoints: " + why, "image_grid_pinpoints");
    };
    if (!grid->IsArray() || grid->Empty() || grid->Size() > 1024)
        return wrong("expected a non-empty array of [height, width] pairs, got " + describe_json(*grid));
    for (const auto& pair : grid->GetArray()) {
        if (!pair.IsArray() || pair.Size() != 2 || !pair[0].IsUint64() || !pair[1].IsUint64() ||
            pair[0].GetUint64() < t.image || pair[1].GetUint64() < t.image ||
            pair[0].GetUint64() > (1u << 16) || pair[1].GetUint64() > (1u << 16))
            return wrong("expected [height, width] pairs of pixels from the tower's image_size (" +
                         num(t.image) + ") to 65536, got " + describe_json(pair));
        spec.images.grid.push_back(pair[0].GetUint64());
        spec.images.grid.push_back(pair[1].GetUint64());
    }
    return std::nullopt;
}

// Idefics3Config / SmolVLMConfig: scale_factor (default 2) of the pixel shuffle. The processor tiles images
// of longest edge 4 x image_size into image_size tiles plus the global image, (image_size / patch)^2 /
// scale_factor^2 tokens each (Idefics3: 169 for 364 px; SmolVLM: 81 for 384 px).
std::optional<error> read_idefics3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text_model(keys, spec, idefics3_text_defaults));
    MP_TRY(t, read_tower(keys, spec, idefics3_vision_defaults, 0));
    key_reader top(keys.root(), "");
    uint64_t scale = 2;
    MP_CHECK(read_size(top, "scale_factor", scale));
    if (scale > 64) return too_large(top, "scale_factor", scale, 64);
    spec.vision_merge = scale;
    uint64_t side = t.image / t.patch;
    spec.images.rule = image_token_rule::idefics3_split;
    spec.images.patch = t.patch;
    spec.images.tile = t.image;
    spec.images.longest_edge = 4 * t.image;
    spec.images.tokens = side * side / (scale * scale);
    return std::nullopt;
}

} // namespace

void add_vl_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const char* lm = "language_model.model.";
    auto language_model = [&](std::vector<template_table> front) {
        for (auto t : {lp::embed(), lp::attention(), lp::mlp(), lp::layer_norms(), lp::final_norm()})
            front.push_back(with_prefix(t, lm));
        return front;
    };
    const char* text = "model.text_model.";
    const std::vector<template_table> idefics3 = {rows(idefics3_vision_embeddings, "model.vision_model."),
                                                  rows(vit_encoder_and_post_norm, "model.vision_model."),
                                                  rows(idefics3_connector, "model.connector."),
                                                  with_prefix(lp::embed(), text),
                                                  with_prefix(lp::attention(), text),
                                                  with_prefix(lp::mlp(), text),
                                                  with_prefix(lp::layer_norms(), text),
                                                  with_prefix(lp::final_norm(), text)};
    auto heads = [](template_table lm_head) {
        return std::vector<head_info>{
            {head_kind::cond_gen, "ForConditionalGeneration", {lm_head}}
        };
    };
    out.push_back(family("mistral3", "Mistral3", read_mistral3,
                         language_model({rows(pixtral_vision, "vision_tower."),
                                         rows(mistral3_projector, "multi_modal_projector.")}),
                         heads(rows(language_model_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
    out.push_back(family("llava", "Llava", read_llava,
                         language_model({rows(clip_vision_embeddings, "vision_tower.vision_model."),
                                         rows(vit_encoder_and_post_norm, "vision_tower.vision_model."),
                                         rows(llava_projector, "multi_modal_projector.")}),
                         heads(rows(language_model_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
    out.push_back(family("llava_next", "LlavaNext", read_llava_next,
                         language_model({rows(llava_next_newline),
                                         rows(clip_vision_embeddings, "vision_tower.vision_model."),
                                         rows(vit_encoder_and_post_norm, "vision_tower.vision_model."),
                                         rows(llava_projector, "multi_modal_projector.")}),
                         heads(rows(language_model_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
    out.push_back(family("idefics3", "Idefics3", read_idefics3, idefics3, heads(rows(idefics3_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
    out.push_back(family("smolvlm", "SmolVLM", read_idefics3, idefics3, heads(rows(idefics3_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
}

} // namespace modelplan::family_tables
