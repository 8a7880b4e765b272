// Llama 4 (meta-llama/Llama-4-Scout-17B-16E, Llama-4-Maverick-17B-128E): the text model alone
// (Llama4ForCausalLM, model_type llama4_text) and with its vision tower (Llama4ForConditionalGeneration,
// model_type llama4, published checkpoint layout vision_model.*, multi_modal_projector.*, language_model.*).
// Text layers: Llama-named attention (q/k normalized by an L2 norm without weights, use_qk_norm), then
// `feed_forward`: on the MoE layers (moe_layers, else every interleave_moe_layer_step-th) the routed experts
// stacked in two tensors (Llama4TextExperts: gate_up_proj [experts, hidden, 2 x ffn], down_proj
// [experts, ffn, hidden]), the router and one shared expert of the experts' width; on the other layers a
// dense SwiGLU of intermediate_size_mlp. Layers that use RoPE (no_rope_layers[i] = 1) attend within chunks of
// attention_chunk_size tokens (layer_types "chunked_attention"); the NoPE layers attend to everything.
// Vision: Llama4VisionModel (unfold patch embedding as a linear layer, class token, learned positions for
// the patches and the class token, LayerNorms before and after a ViT encoder with biased projections, and the
// pixel-shuffle adapter), then the projector to the text width. Sources: transformers models/llama4
// (configuration_llama4.py, modeling_llama4.py), cache_utils.py (chunked layers cache as sliding ones).
#include <cmath>

#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t moe = sw_moe_ffn;
constexpr uint64_t dense = sw_dense_ffn;
constexpr uint64_t vis = sw_vision;

// clang-format off
// Llama4TextMoe registers experts, router, shared_expert; a dense layer's Llama4TextMLP is feed_forward itself.
const tensor_template llama4_feed_forward[] = {
    per_layer(role::ffn_up_exp,     "layers.{layer}.feed_forward.experts.gate_up_proj",          dim::n_experts,  dim::hidden,     dim::expert_ffn_x2).when(moe).fused(fused_layout::concatenated),
    per_layer(role::ffn_down_exp,   "layers.{layer}.feed_forward.experts.down_proj",             dim::n_experts,  dim::expert_ffn, dim::hidden)       .when(moe),
    per_layer(role::ffn_router,     "layers.{layer}.feed_forward.router.weight",                 dim::n_experts,  dim::hidden)                        .when(moe),
    per_layer(role::ffn_gate_shexp, "layers.{layer}.feed_forward.shared_expert.gate_proj.weight", dim::shared_ffn, dim::hidden)                       .when(moe),
    per_layer(role::ffn_up_shexp,   "layers.{layer}.feed_forward.shared_expert.up_proj.weight",   dim::shared_ffn, dim::hidden)                       .when(moe),
    per_layer(role::ffn_down_shexp, "layers.{layer}.feed_forward.shared_expert.down_proj.weight", dim::hidden,     dim::shared_ffn)                   .when(moe),
    per_layer(role::ffn_gate,       "layers.{layer}.feed_forward.gate_proj.weight",              dim::ffn,        dim::hidden)                        .when(dense),
    per_layer(role::ffn_up,         "layers.{layer}.feed_forward.up_proj.weight",                dim::ffn,        dim::hidden)                        .when(dense),
    per_layer(role::ffn_down,       "layers.{layer}.feed_forward.down_proj.weight",              dim::hidden,     dim::ffn)                           .when(dense),
};
// Llama4VisionModel (vision_model.*): its own parameters first, then patch_embedding, the two LayerNorms, the
// encoder (model.layers) and the adapter.
const tensor_template llama4_vision[] = {
    once(role::vision,      "class_embedding",                                dim::v_hidden),
    once(role::vision,      "positional_embedding_vlm",                       dim::v_position_rows, dim::v_hidden),
    once(role::vision,      "patch_embedding.linear.weight",                  dim::v_hidden,        dim::v_patch_in),
    once(role::vision,      "layernorm_pre.weight",                           dim::v_hidden),
    once(role::vision,      "layernorm_pre.bias",                             dim::v_hidden),
    once(role::vision,      "layernorm_post.weight",                          dim::v_hidden),
    once(role::vision,      "layernorm_post.bias",                            dim::v_hidden),
    per_layer(role::vision, "model.layers.{layer}.self_attn.q_proj.weight",   dim::v_hidden,        dim::v_hidden).when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.q_proj.bias",     dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.k_proj.weight",   dim::v_hidden,        dim::v_hidden).when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.k_proj.bias",     dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.v_proj.weight",   dim::v_hidden,        dim::v_hidden).when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.v_proj.bias",     dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.o_proj.weight",   dim::v_hidden,        dim::v_hidden).when(vis),
    per_layer(role::vision, "model.layers.{layer}.self_attn.o_proj.bias",     dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.mlp.fc1.weight",            dim::v_ffn,           dim::v_hidden).when(vis),
    per_layer(role::vision, "model.layers.{layer}.mlp.fc1.bias",              dim::v_ffn)                         .when(vis),
    per_layer(role::vision, "model.layers.{layer}.mlp.fc2.weight",            dim::v_hidden,        dim::v_ffn)   .when(vis),
    per_layer(role::vision, "model.layers.{layer}.mlp.fc2.bias",              dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.input_layernorm.weight",    dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.input_layernorm.bias",      dim::v_hidden)                      .when(vis),
    per_layer(role::vision, "model.layers.{layer}.post_attention_layernorm.weight", dim::v_hidden)                .when(vis),
    per_layer(role::vision, "model.layers.{layer}.post_attention_layernorm.bias",   dim::v_hidden)                .when(vis),
    // Llama4VisionPixelShuffleMLP: fc1 takes the pixel-shuffled patches (intermediate_size wide), both without
    // biases.
    once(role::vision,      "vision_adapter.mlp.fc1.weight",                  dim::v_proj_in,       dim::v_ffn),
    once(role::vision,      "vision_adapter.mlp.fc2.weight",                  dim::v_proj_out,      dim::v_proj_out),
};
// Llama4MultiModalProjector: vision_output_dim -> text hidden size, no bias.
const tensor_template llama4_projector[] = {
    once(role::projector, "linear_1.weight", dim::hidden, dim::v_output),
};
const tensor_template llama4_lm_head[] = {
    once(role::lm_head, "language_model.lm_head.weight", dim::vocab, dim::hidden).alias_of("/language_model.model.embed_tokens.weight", sw_tied),
};
// clang-format on

// Llama4TextConfig's defaults for the keys a config may omit (transformers configuration_llama4.py).
const char* llama4_text_defaults = R"({"vocab_size": 202048, "hidden_size": 5120, "intermediate_size": 8192,
    "intermediate_size_mlp": 16384, "num_hidden_layers": 48, "num_attention_heads": 40,
    "num_key_value_heads": 8, "head_dim": 128, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": false, "num_experts_per_tok": 1, "num_local_experts": 16,
    "interleave_moe_layer_step": 1, "no_rope_layer_interval": 4, "attention_chunk_size": 8192,
    "attention_bias": false, "rope_theta": 500000.0})";

// Llama4VisionConfig's defaults.
const char* llama4_vision_defaults = R"({"hidden_size": 768, "num_hidden_layers": 34,
    "num_attention_heads": 16, "num_channels": 3, "intermediate_size": 5632, "vision_output_dim": 7680,
    "image_size": 448, "patch_size": 14, "projector_input_dim": 4096, "projector_output_dim": 4096})";

error wrong_list(const std::string& path, const std::string& expected, const rapidjson::Value& got) {
    return make_error(error_code::wrong_type, path + ": expected " + expected + ", got " + describe_json(got),
                      path);
}

// The MoE layers: moe_layers when given (even empty: a dense model), else every interleave_moe_layer_step-th
// layer from step - 1 on (Llama4TextConfig.__post_init__).
std::optional<error> read_moe_layers(const key_reader& keys, model_spec& spec) {
    if (const rapidjson::Value* list = keys.find("moe_layers")) {
        std::string path = keys.path("moe_layers");
        if (!list->IsArray()) return wrong_list(path, "an array of layer indices", *list);
        for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
            const auto& v = (*list)[i];
            std::string item = path + "[" + num(i) + "]";
            if (!v.IsUint64() || v.GetUint64() >= spec.n_layers)
                return make_error(error_code::out_of_range,
                                  item + ": expected a layer index below " + num(spec.n_layers) + ", got " +
                                      describe_json(v),
                                  item);
            set_moe_layer(spec.layers[v.GetUint64()]);
        }
        return std::nullopt;
    }
    uint64_t step = 1;
    MP_CHECK(read_size(keys, "interleave_moe_layer_step", step));
    for (uint64_t i = step - 1; i < spec.n_layers; i += step) set_moe_layer(spec.layers[i]);
    return std::nullopt;
}

// Which layers use RoPE: no_rope_layers (1 = RoPE, 0 = NoPE) when non-empty, else every layer but each
// no_rope_layer_interval-th.
result<std::vector<bool>> read_rope_layers(const key_reader& keys, const model_spec& spec) {
    std::vector<bool> rope(spec.n_layers, true);
    const rapidjson::Value* list = keys.find("no_rope_layers");
    if (list && !(list->IsArray() && list->Empty())) {
        std::string path = keys.path("no_rope_layers");
        if (!list->IsArray()) return wrong_list(path, "an array of 0 and 1 per layer", *list);
        if (list->Size() < spec.n_layers)
            return make_error(error_code::inconsistent,
                              path + " has " + num(list->Size()) + " entries but num_hidden_layers is " +
                                  num(spec.n_layers),
                              path);
        for (uint64_t i = 0; i < spec.n_layers; ++i) {
            const auto& v = (*list)[static_cast<rapidjson::SizeType>(i)];
            if (!v.IsUint64() || v.GetUint64() > 1)
                return wrong_list(path + "[" + num(i) + "]", "0 (NoPE) or 1 (RoPE)", v);
            rope[i] = v.GetUint64() == 1;
        }
        return rope;
    }
    uint64_t interval = 4;
    MP_CHECK(read_size(keys, "no_rope_layer_interval", interval));
    for (uint64_t i = 0; i < spec.n_layers; ++i) rope[i] = (i + 1) % interval != 0;
    return rope;
}

// Chunked attention: layer_types when given, else the RoPE layers (Llama4TextConfig.__post_init__). Each
// chunked layer records attention_chunk_size as its window; a null chunk size leaves every layer full.
std::optional<error> read_chunked_layers(const key_reader& keys, model_spec& spec) {
    MP_TRY(chunk, keys.optional_size("attention_chunk_size"));
    std::vector<bool> chunked(spec.n_layers, false);
    const rapidjson::Value* types = keys.find("layer_types");
    if (types) {
        std::string path = keys.path("layer_types");
        if (!types->IsArray()) return wrong_list(path, "an array of strings", *types);
        if (types->Size() != spec.n_layers)
            return make_error(error_code::inconsistent,
                              path + " has " + num(types->Size()) + " entries but num_hidden_layers is " +
                                  num(spec.n_layers),
                              path);
        for (uint64_t i = 0; i < spec.n_layers; ++i) {
            const auto& v = (*types)[static_cast<rapidjson::SizeType>(i)];
            std::string t = v.IsString() ? v.GetString() : "";
            if (t != "chunked_attention" && t != "full_attention")
                return wrong_list(path + "[" + num(i) + "]", "\"chunked_attention\" or \"full_attention\"",
                                  v);
            chunked[i] = t == "chunked_attention";
        }
    } else {
        MP_TRY(rope, read_rope_layers(keys, spec));
        chunked = rope;
    }
    if (!chunk) return std::nullopt;
    for (uint64_t i = 0; i < spec.n_layers; ++i)
        if (chunked[i]) spec.layers[i].attn = attn_kind::chunked, spec.layers[i].window = *chunk;
    return std::nullopt;
}

std::optional<error> read_llama4_text(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.intermediate = "intermediate_size_mlp"; // the dense layers' width; intermediate_size is the experts'
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    MP_CHECK(read_experts(keys, spec, "num_local_experts", "num_experts_per_tok", "intermediate_size"));
    spec.n_shared_experts = 1; // Llama4TextMoe.shared_expert: Llama4TextMLP of intermediate_size
    spec.shared_intermediate = spec.expert_intermediate;
    spec.switches |= sw_shared_expert;
    MP_CHECK(read_moe_layers(keys, spec));
    MP_CHECK(read_chunked_layers(keys, spec));
    return read_rope(keys, spec);
}

std::optional<error> read_llama4(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama4_text(keys, spec));
    auto it = keys.root().FindMember("vision_config");
    if (it == keys.root().MemberEnd() || !it->value.IsObject())
        return make_error(error_code::missing_key, "missing required key vision_config (an object)",
                          "vision_config");
    static rapidjson::Document defaults;
    if (!defaults.IsObject()) defaults.Parse(llama4_vision_defaults);
    key_reader v(it->value, "vision_config", &defaults, &keys.root());
    MP_TRY(hidden, v.size("hidden_size"));
    MP_TRY(intermediate, v.size("intermediate_size"));
    MP_TRY(layers, v.size("num_hidden_layers"));
    MP_TRY(channels, v.size("num_channels"));
    MP_TRY(image, v.size("image_size"));
    MP_TRY(patch, v.size("patch_size"));
    MP_TRY(output, v.size("vision_output_dim"));
    MP_TRY(proj_in, v.size("projector_input_dim"));
    MP_TRY(proj_out, v.size("projector_output_dim"));
    if (layers > max_layers) return too_large(v, "num_hidden_layers", layers, max_layers);
    if (image % patch != 0)
        return make_error(error_code::not_divisible,
                          v.path("image_size") + " (" + num(image) + ") must be divisible by " +
                              v.path("patch_size") + " (" + num(patch) + ")",
                          v.path("image_size"));
    uint64_t side = image / patch;
    // Llama4VisionModel.num_patches: the patches of one tile plus the class token.
    if (side > UINT32_MAX || __builtin_add_overflow(side * side, uint64_t{1}, &spec.vision_positions))
        return make_error(error_code::overflow,
                          v.path("image_size") + " / patch_size squared overflows 64 bits",
                          v.path("image_size"));
    MP_TRY(heads, v.size("num_attention_heads"));
    MP_TRY(shuffle, v.optional_number("pixel_shuffle_ratio", 0.5));
    // Llama4Processor: int(round(1 / ratio^2)) patches of a tile become one token (4 at the published 0.5).
    const double per_token = shuffle > 0 && shuffle <= 1 ? std::round(1.0 / (shuffle * shuffle)) : 0;
    if (per_token < 1 || per_token > static_cast<double>(side * side))
        return make_error(error_code::out_of_range,
                          v.path("pixel_shuffle_ratio") + " must be in (0, 1] and merge at most one tile's " +
                              num(side * side) + " patches",
                          v.path("pixel_shuffle_ratio"));
    spec.images.rule = image_token_rule::llama4_tiles;
    spec.images.patch = patch;
    spec.images.tile = image;
    spec.images.tokens = side * side / static_cast<uint64_t>(per_token);
    spec.images.max_tiles = 16; // Llama4ImageProcessorFast.max_patches
    spec.vision_heads = heads;
    spec.vision_hidden = hidden;
    spec.vision_intermediate = intermediate;
    spec.vision_channels = channels;
    spec.vision_patch = patch;
    spec.vision_output = output;
    spec.vision_proj_in = proj_in;
    spec.vision_proj_out = proj_out;
    add_stack(spec, layer_stack::vision, layers, sw_vision);
    return std::nullopt;
}

} // namespace

void add_llama4_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> text = {lp::embed(), lp::attention(), rows(llama4_feed_forward),
                                              lp::layer_norms(), lp::final_norm()};
    const char* lm = "language_model.model.";
    const std::vector<template_table> multimodal = {rows(llama4_vision, "vision_model."),
                                                    rows(llama4_projector, "multi_modal_projector."),
                                                    with_prefix(lp::embed(), lm),
                                                    with_prefix(lp::attention(), lm),
                                                    with_prefix(rows(llama4_feed_forward), lm),
                                                    with_prefix(lp::layer_norms(), lm),
                                                    with_prefix(lp::final_norm(), lm)};
    const std::vector<head_info> text_heads = {
        {head_kind::causal_lm, "ForCausalLM", lp::heads()[0].tensors},
        {head_kind::none,      "TextModel",   {}                    }
    };
    const std::vector<head_info> multimodal_heads = {
        {head_kind::cond_gen, "ForConditionalGeneration", {rows(llama4_lm_head)}}
    };
    out.push_back(
        family("llama4_text", "Llama4", read_llama4_text, text, text_heads).defaults(llama4_text_defaults));
    out.push_back(family("llama4", "Llama4", read_llama4, multimodal, multimodal_heads)
                      .prefix("")
                      .text_config("text_config")
                      .defaults(llama4_text_defaults));
}

} // namespace modelplan::family_tables
