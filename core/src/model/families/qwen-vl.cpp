// Qwen2-VL, Qwen2.5-VL, Qwen3-VL and Qwen3-VL-MoE: a ViT with a Conv3d patch embedding (temporal_patch_size
// frames of patch_size^2 pixels) and a patch merger that concatenates spatial_merge_size^2 neighbours, in
// front of a Qwen2 / Qwen3 / Qwen3-MoE decoder. Names are those of the published checkpoints, which differ
// between generations: Qwen2-VL and Qwen2.5-VL were saved by transformers 4.4x as `visual.*`, `model.*` and
// `lm_head.weight`; Qwen3-VL and Qwen3-VL-MoE as `model.visual.*`, `model.language_model.*` and
// `lm_head.weight`. Sources: transformers models/qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_vl_moe (configuration
// and modeling files, module registration order); the checkpoints' tensor names in models/SOURCES-VL.md.
#include "model/families/families.h"
#include "model/families/vision-readers.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t vis = sw_vision;
constexpr uint64_t merger = sw_vision_merger_layer;
constexpr uint64_t moe = sw_moe_ffn;

// clang-format off
// Qwen2VisionTransformerPretrainedModel (visual.*): LayerNorms, fused qkv, a quick-GELU MLP.
const tensor_template qwen2_vl_vision[] = {
    once(role::vision,      "patch_embed.proj.weight",         dim::v_hidden, dim::v_channels, dim::v_temporal, dim::v_patch, dim::v_patch),
    per_layer(role::vision, "blocks.{layer}.norm1.weight",     dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.norm1.bias",       dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.norm2.weight",     dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.norm2.bias",       dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.weight",  dim::v_hidden_x3, dim::v_hidden).when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.bias",    dim::v_hidden_x3)               .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.proj.weight", dim::v_hidden, dim::v_hidden)   .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.proj.bias",   dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.fc1.weight",   dim::v_ffn, dim::v_hidden)      .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.fc1.bias",     dim::v_ffn)                     .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.fc2.weight",   dim::v_hidden, dim::v_ffn)      .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.fc2.bias",     dim::v_hidden)                  .when(vis),
    // PatchMerger: LayerNorm over one patch, then an MLP over merge^2 concatenated patches.
    once(role::projector,   "merger.ln_q.weight",              dim::v_hidden),
    once(role::projector,   "merger.ln_q.bias",                dim::v_hidden),
    once(role::projector,   "merger.mlp.0.weight",             dim::v_merged, dim::v_merged),
    once(role::projector,   "merger.mlp.0.bias",               dim::v_merged),
    once(role::projector,   "merger.mlp.2.weight",             dim::v_out, dim::v_merged),
    once(role::projector,   "merger.mlp.2.bias",               dim::v_out),
};
// Qwen2_5_VisionTransformerPretrainedModel (visual.*): RMSNorms, a gated SiLU MLP with biases, windowed
// attention in all blocks but fullatt_block_indexes (no parameter of its own).
const tensor_template qwen2_5_vl_vision[] = {
    once(role::vision,      "patch_embed.proj.weight",             dim::v_hidden, dim::v_channels, dim::v_temporal, dim::v_patch, dim::v_patch),
    per_layer(role::vision, "blocks.{layer}.norm1.weight",         dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.norm2.weight",         dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.weight",      dim::v_hidden_x3, dim::v_hidden).when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.bias",        dim::v_hidden_x3)               .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.proj.weight",     dim::v_hidden, dim::v_hidden)   .when(vis),
    per_layer(role::vision, "blocks.{layer}.attn.proj.bias",       dim::v_hidden)                  .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.gate_proj.weight", dim::v_ffn, dim::v_hidden)      .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.gate_proj.bias",   dim::v_ffn)                     .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.up_proj.weight",   dim::v_ffn, dim::v_hidden)      .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.up_proj.bias",     dim::v_ffn)                     .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.down_proj.weight", dim::v_hidden, dim::v_ffn)      .when(vis),
    per_layer(role::vision, "blocks.{layer}.mlp.down_proj.bias",   dim::v_hidden)                  .when(vis),
    once(role::projector,   "merger.ln_q.weight",                  dim::v_hidden),
    once(role::projector,   "merger.mlp.0.weight",                 dim::v_merged, dim::v_merged),
    once(role::projector,   "merger.mlp.0.bias",                   dim::v_merged),
    once(role::projector,   "merger.mlp.2.weight",                 dim::v_out, dim::v_merged),
    once(role::projector,   "merger.mlp.2.bias",                   dim::v_out),
};
// Qwen3VLVisionModel (model.visual.*): a biased Conv3d, a learned position table, LayerNorms, a GELU MLP, the
// merger and one "deepstack" merger per deepstack_visual_indexes entry (its LayerNorm over the merged width).
const tensor_template qwen3_vl_vision[] = {
    once(role::vision,      "patch_embed.proj.weight",                           dim::v_hidden, dim::v_channels, dim::v_temporal, dim::v_patch, dim::v_patch),
    once(role::vision,      "patch_embed.proj.bias",                             dim::v_hidden),
    once(role::vision,      "pos_embed.weight",                                  dim::v_position_rows, dim::v_hidden),
    per_layer(role::vision, "blocks.{layer}.norm1.weight",                       dim::v_hidden)                  .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.norm1.bias",                         dim::v_hidden)                  .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.norm2.weight",                       dim::v_hidden)                  .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.norm2.bias",                         dim::v_hidden)                  .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.weight",                    dim::v_hidden_x3, dim::v_hidden).when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.attn.qkv.bias",                      dim::v_hidden_x3)               .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.attn.proj.weight",                   dim::v_hidden, dim::v_hidden)   .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.attn.proj.bias",                     dim::v_hidden)                  .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.mlp.linear_fc1.weight",              dim::v_ffn, dim::v_hidden)      .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.mlp.linear_fc1.bias",                dim::v_ffn)                     .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.mlp.linear_fc2.weight",              dim::v_hidden, dim::v_ffn)      .when(vis).unless(merger),
    per_layer(role::vision, "blocks.{layer}.mlp.linear_fc2.bias",                dim::v_hidden)                  .when(vis).unless(merger),
    once(role::projector,   "merger.norm.weight",                                dim::v_hidden),
    once(role::projector,   "merger.norm.bias",                                  dim::v_hidden),
    once(role::projector,   "merger.linear_fc1.weight",                          dim::v_merged, dim::v_merged),
    once(role::projector,   "merger.linear_fc1.bias",                            dim::v_merged),
    once(role::projector,   "merger.linear_fc2.weight",                          dim::v_out, dim::v_merged),
    once(role::projector,   "merger.linear_fc2.bias",                            dim::v_out),
    per_layer(role::projector, "deepstack_merger_list.{layer}.norm.weight",       dim::v_merged)                  .when(vis | merger),
    per_layer(role::projector, "deepstack_merger_list.{layer}.norm.bias",         dim::v_merged)                  .when(vis | merger),
    per_layer(role::projector, "deepstack_merger_list.{layer}.linear_fc1.weight", dim::v_merged, dim::v_merged)   .when(vis | merger),
    per_layer(role::projector, "deepstack_merger_list.{layer}.linear_fc1.bias",   dim::v_merged)                  .when(vis | merger),
    per_layer(role::projector, "deepstack_merger_list.{layer}.linear_fc2.weight", dim::v_out, dim::v_merged)      .when(vis | merger),
    per_layer(role::projector, "deepstack_merger_list.{layer}.linear_fc2.bias",   dim::v_out)                     .when(vis | merger),
};
// Qwen3VLMoeTextSparseMoeBlock: the router, then all experts as two stacked tensors (gate and up fused).
const tensor_template qwen3_vl_moe_mlp[] = {
    per_layer(role::ffn_router,   "layers.{layer}.mlp.gate.weight",              dim::n_experts, dim::hidden)                    .when(moe),
    per_layer(role::ffn_up_exp,   "layers.{layer}.mlp.experts.gate_up_proj",     dim::n_experts, dim::hidden, dim::expert_ffn_x2).when(moe).fused(fused_layout::concatenated),
    per_layer(role::ffn_down_exp, "layers.{layer}.mlp.experts.down_proj",        dim::n_experts, dim::expert_ffn, dim::hidden)   .when(moe),
    per_layer(role::ffn_gate,     "layers.{layer}.mlp.gate_proj.weight",         dim::ffn,       dim::hidden)                    .when(sw_dense_ffn),
    per_layer(role::ffn_up,       "layers.{layer}.mlp.up_proj.weight",           dim::ffn,       dim::hidden)                    .when(sw_dense_ffn),
    per_layer(role::ffn_down,     "layers.{layer}.mlp.down_proj.weight",         dim::hidden,    dim::ffn)                       .when(sw_dense_ffn),
};
const tensor_template qwen2_vl_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("/model.embed_tokens.weight", sw_tied),
};
const tensor_template qwen3_vl_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::vocab, dim::hidden).alias_of("/model.language_model.embed_tokens.weight", sw_tied),
};
// clang-format on

// Qwen2VLVisionConfig / Qwen2_5_VLVisionConfig / Qwen3VLVisionConfig defaults (transformers 4.57).
const char* qwen2_vl_vision_defaults =
    R"({"depth": 32, "embed_dim": 1280, "hidden_size": 3584, "mlp_ratio": 4,
    "num_heads": 16, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2})";
const char* qwen2_5_vl_vision_defaults = R"({"depth": 32, "hidden_size": 3584, "intermediate_size": 3420,
    "num_heads": 16, "in_channels": 3, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2,
    "out_hidden_size": 3584})";
const char* qwen3_vl_vision_defaults = R"({"depth": 27, "hidden_size": 1152, "intermediate_size": 4304,
    "num_heads": 16, "in_channels": 3, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2,
    "out_hidden_size": 3584, "num_position_embeddings": 2304, "deepstack_visual_indexes": [8, 16, 24]})";

// Qwen2VLTextConfig / Qwen2_5_VLTextConfig defaults (the same values).
const char* qwen2_vl_text_defaults =
    R"({"vocab_size": 152064, "hidden_size": 8192, "intermediate_size": 29568,
    "num_hidden_layers": 80, "num_attention_heads": 64, "num_key_value_heads": 8,
    "max_position_embeddings": 32768, "rms_norm_eps": 1e-5, "tie_word_embeddings": false,
    "use_sliding_window": false, "sliding_window": 4096, "max_window_layers": 80, "rope_theta": 1000000.0})";
// Qwen3VLTextConfig defaults.
const char* qwen3_vl_text_defaults =
    R"({"vocab_size": 151936, "hidden_size": 4096, "intermediate_size": 22016,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "head_dim": 128,
    "max_position_embeddings": 128000, "rms_norm_eps": 1e-6, "attention_bias": false, "rope_theta": 5000000.0})";
// Qwen3VLMoeTextConfig defaults.
const char* qwen3_vl_moe_text_defaults = R"({"vocab_size": 151936, "hidden_size": 2048,
    "intermediate_size": 5632, "num_hidden_layers": 24, "num_attention_heads": 16, "num_key_value_heads": 16,
    "max_position_embeddings": 128000, "rms_norm_eps": 1e-6, "attention_bias": false, "rope_theta": 5000000.0,
    "decoder_sparse_step": 1, "moe_intermediate_size": 1408, "num_experts_per_tok": 4, "num_experts": 60})";

// The published preprocessor_config.json values of the Qwen processors (Qwen2VLImageProcessor: min_pixels
// 56 x 56, max_pixels 28 x 28 x 1280; Qwen3-VL: size.shortest_edge 65536, size.longest_edge 16777216).
constexpr uint64_t qwen2_min_pixels = 3136, qwen2_max_pixels = 12845056;
constexpr uint64_t qwen3_min_pixels = 65536, qwen3_max_pixels = 16777216;

enum class generation { qwen2, qwen2_5, qwen3 };

// The text keys: text_config when the config has one (configs saved by transformers 4.53 and later, all
// Qwen3-VL configs), else the top level (Qwen2VLConfig passes its own keyword arguments to the text config).
template <class Read>
std::optional<error> read_text(const key_reader& keys, model_spec& spec, const char* defaults_json,
                               Read read) {
    const rapidjson::Value* text = &keys.root();
    std::string prefix;
    auto it = keys.root().FindMember("text_config");
    if (it != keys.root().MemberEnd() && !it->value.IsNull()) {
        if (!it->value.IsObject())
            return make_error(error_code::wrong_type,
                              "text_config: expected an object, got " + describe_json(it->value),
                              "text_config");
        text = &it->value;
        prefix = "text_config";
    }
    const rapidjson::Value* defaults = parsed_defaults(defaults_json);
    key_reader t(*text, prefix, defaults, &keys.root());
    MP_CHECK(read(t, spec));
    // tie_word_embeddings of the top-level config (Qwen3VLConfig's own key, default false) when the text
    // config names none.
    if (!prefix.empty() && !t.object().HasMember("tie_word_embeddings"))
        MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    return std::nullopt;
}

std::optional<error> read_qwen2_text(const key_reader& t, model_spec& spec) {
    MP_CHECK(read_decoder(t, spec));
    spec.set_switches(sw_qkv_bias); // Qwen2Attention: q/k/v with bias, o_proj without
    MP_CHECK(read_rope(t, spec));
    return read_sliding(t, spec, sliding_rule::qwen);
}

std::optional<error> read_qwen3_text(const key_reader& t, model_spec& spec) {
    MP_CHECK(read_llama_opening(t, spec));
    spec.set_switches(sw_qk_norm);
    return read_rope(t, spec);
}

// Qwen3VLMoeTextConfig: every decoder_sparse_step-th layer not in mlp_only_layers is sparse.
std::optional<error> read_qwen3_moe_text(const key_reader& t, model_spec& spec) {
    MP_CHECK(read_qwen3_text(t, spec));
    MP_CHECK(read_experts(t, spec, "num_experts", "num_experts_per_tok", "moe_intermediate_size"));
    uint64_t step = 1;
    MP_CHECK(read_size(t, "decoder_sparse_step", step));
    MP_TRY(dense_layers, read_layer_list(t, "mlp_only_layers", spec.n_layers));
    for (uint64_t i = 0; i < spec.n_layers; ++i) {
        bool dense = false;
        for (uint64_t d : dense_layers) dense = dense || d == i;
        if (!dense && (i + 1) % step == 0) set_moe_layer(spec.layers[i]);
    }
    return std::nullopt;
}

// The vision tower and merger of any generation.
std::optional<error> read_qwen_vision(const key_reader& keys, model_spec& spec, generation g) {
    const char* defaults = g == generation::qwen2     ? qwen2_vl_vision_defaults
                           : g == generation::qwen2_5 ? qwen2_5_vl_vision_defaults
                                                      : qwen3_vl_vision_defaults;
    MP_TRY(v, vision_keys(keys, defaults));
    MP_TRY(depth, v.size("depth"));
    if (depth > max_layers) return too_large(v, "depth", depth, max_layers);
    MP_TRY(heads, v.size("num_heads"));
    MP_TRY(channels, v.size("in_channels"));
    MP_TRY(patch, v.size("patch_size"));
    MP_TRY(merge, v.size("spatial_merge_size"));
    MP_TRY(temporal, v.size("temporal_patch_size"));
    // Bounds far above any published tower keep the image-token arithmetic (patch x merge) exact.
    if (patch > 4096) return too_large(v, "patch_size", patch, 4096);
    if (merge > 64) return too_large(v, "spatial_merge_size", merge, 64);
    if (temporal > 64) return too_large(v, "temporal_patch_size", temporal, 64);
    if (g == generation::qwen2) {
        // Qwen2VLVisionConfig: embed_dim is the tower's width, hidden_size the merger's output.
        MP_TRY(embed, v.size("embed_dim"));
        MP_TRY(ratio, v.size("mlp_ratio"));
        MP_TRY(out, v.size("hidden_size"));
        spec.vision_hidden = embed;
        if (__builtin_mul_overflow(embed, ratio, &spec.vision_intermediate))
            return make_error(error_code::overflow, v.path("embed_dim") + " x mlp_ratio overflows 64 bits",
                              v.path("mlp_ratio"));
        spec.vision_out = out;
    } else {
        MP_TRY(hidden, v.size("hidden_size"));
        MP_TRY(intermediate, v.size("intermediate_size"));
        MP_TRY(out, v.size("out_hidden_size"));
        spec.vision_hidden = hidden;
        spec.vision_intermediate = intermediate;
        spec.vision_out = out;
    }
    if (spec.vision_hidden % heads != 0)
        return make_error(error_code::not_divisible,
                          v.path("hidden_size") + " (" + num(spec.vision_hidden) + ") must be divisible by " +
                              v.path("num_heads") + " (" + num(heads) + ")",
                          v.path("num_heads"));
    spec.vision_heads = heads;
    spec.vision_channels = channels;
    spec.vision_patch = patch;
    spec.vision_merge = merge;
    spec.vision_temporal_patch = temporal;
    add_stack(spec, layer_stack::vision, depth, sw_vision);

    spec.images.rule = image_token_rule::qwen_smart_resize;
    spec.images.patch = patch;
    spec.images.merge = merge;
    spec.images.min_pixels = g == generation::qwen3 ? qwen3_min_pixels : qwen2_min_pixels;
    spec.images.max_pixels = g == generation::qwen3 ? qwen3_max_pixels : qwen2_max_pixels;
    if (g != generation::qwen3) return std::nullopt;

    MP_TRY(positions, v.size("num_position_embeddings"));
    spec.vision_positions = positions;
    MP_TRY(deepstack, read_layer_list(v, "deepstack_visual_indexes", depth));
    add_vision_mergers(spec, deepstack.size());
    return std::nullopt;
}

std::optional<error> read_qwen2_vl(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text(keys, spec, qwen2_vl_text_defaults, read_qwen2_text));
    return read_qwen_vision(keys, spec, generation::qwen2);
}

std::optional<error> read_qwen2_5_vl(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text(keys, spec, qwen2_vl_text_defaults, read_qwen2_text));
    return read_qwen_vision(keys, spec, generation::qwen2_5);
}

std::optional<error> read_qwen3_vl(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text(keys, spec, qwen3_vl_text_defaults, read_qwen3_text));
    return read_qwen_vision(keys, spec, generation::qwen3);
}

std::optional<error> read_qwen3_vl_moe(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_text(keys, spec, qwen3_vl_moe_text_defaults, read_qwen3_moe_text));
    return read_qwen_vision(keys, spec, generation::qwen3);
}

} // namespace

void add_qwen_vl_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const char* text2 = "model.";
    const char* text3 = "model.language_model.";
    auto qwen2_text = [&](template_table vision) {
        return std::vector<template_table>{vision,
                                           with_prefix(lp::embed(), text2),
                                           with_prefix(lp::attention(), text2),
                                           with_prefix(lp::mlp(), text2),
                                           with_prefix(lp::layer_norms(), text2),
                                           with_prefix(lp::final_norm(), text2)};
    };
    auto qwen3_text = [&](template_table ffn) {
        return std::vector<template_table>{
            rows(qwen3_vl_vision, "model.visual."), with_prefix(lp::embed(), text3),
            with_prefix(lp::attention(), text3),    with_prefix(ffn, text3),
            with_prefix(lp::layer_norms(), text3),  with_prefix(lp::final_norm(), text3)};
    };
    auto heads = [](template_table lm_head) {
        return std::vector<head_info>{
            {head_kind::cond_gen, "ForConditionalGeneration", {lm_head}}
        };
    };
    // Qwen3VLConfig always saves text_config (with its dtype): it is the nested config of the Qwen3 families.
    out.push_back(family("qwen2_vl", "Qwen2VL", read_qwen2_vl, qwen2_text(rows(qwen2_vl_vision, "visual.")),
                         heads(rows(qwen2_vl_lm_head)))
                      .prefix(""));
    out.push_back(family("qwen2_5_vl", "Qwen2_5_VL", read_qwen2_5_vl,
                         qwen2_text(rows(qwen2_5_vl_vision, "visual.")), heads(rows(qwen2_vl_lm_head)))
                      .prefix(""));
    out.push_back(
        family("qwen3_vl", "Qwen3VL", read_qwen3_vl, qwen3_text(lp::mlp()), heads(rows(qwen3_vl_lm_head)))
            .prefix("")
            .text_config("text_config"));
    out.push_back(family("qwen3_vl_moe", "Qwen3VLMoe", read_qwen3_vl_moe, qwen3_text(rows(qwen3_vl_moe_mlp)),
                         heads(rows(qwen3_vl_lm_head)))
                      .prefix("")
                      .text_config("text_config"));
}

} // namespace modelplan::family_tables
