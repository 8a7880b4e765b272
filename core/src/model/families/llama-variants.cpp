// Llama-shaped decoders of 2024-25 with their own twists:
//   smollm3  SmolLM3: NoPE layers (no_rope_layers, or every no_rope_layer_interval-th layer), tied head.
//   granite  Granite 3.x dense: Llama names, head_dim = hidden / heads; its multipliers scale activations
//            and logits, not parameters.
//   olmo3    OLMo 3: OLMo 2's tensors (whole-projection q/k norms, post-norms only) with sliding-window
//   layers
//            (three of every four by default).
//   cohere   Command R: one LayerNorm without bias per layer (parallel attention and FFN), optional q/k
//            LayerNorms with a weight per head ([heads, head_dim]), tied head scaled by logit_scale.
//   cohere2  Command R7B / Command A: Cohere's layer without q/k norms, sliding layers with global NoPE
//   layers. exaone4  EXAONE 4.0: per-head q/k RMSNorm, OLMo 2's post-norms, sliding layers with global NoPE
//   layers
//            when a sliding window is set.
// Names are the published safetensors names (transformers 4.5x state_dict order). Sources: transformers
// models/smollm3, granite, olmo3, cohere, cohere2, exaone4 configuration and modeling files; the class
// defaults below are those of the configuration classes.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
// RMSNorm over the whole q and k projections (OLMo 2/3, OLMoE).
const tensor_template whole_qk_norms[] = {
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::q_dim),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::kv_dim),
};
// Norms after attention and after the FFN only (OLMo 2/3, EXAONE 4).
const tensor_template post_norms[] = {
    per_layer(role::attn_post_norm, "layers.{layer}.post_attention_layernorm.weight",   dim::hidden),
    per_layer(role::ffn_post_norm,  "layers.{layer}.post_feedforward_layernorm.weight", dim::hidden),
};
// CohereAttention: Llama's projections, then (use_qk_norm) bias-free LayerNorms with one weight row per head.
const tensor_template cohere_attention[] = {
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.weight", dim::q_dim,    dim::hidden),
    per_layer(role::attn_q,      "layers.{layer}.self_attn.q_proj.bias",   dim::q_dim)                  .when(sw_qkv_bias),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.weight", dim::kv_dim,   dim::hidden),
    per_layer(role::attn_k,      "layers.{layer}.self_attn.k_proj.bias",   dim::kv_dim)                 .when(sw_qkv_bias),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.weight", dim::kv_dim,   dim::hidden),
    per_layer(role::attn_v,      "layers.{layer}.self_attn.v_proj.bias",   dim::kv_dim)                 .when(sw_qkv_bias),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.weight", dim::hidden,   dim::q_dim),
    per_layer(role::attn_o,      "layers.{layer}.self_attn.o_proj.bias",   dim::hidden)                 .when(sw_o_bias),
    per_layer(role::attn_q_norm, "layers.{layer}.self_attn.q_norm.weight", dim::heads,    dim::head_dim).when(sw_qk_norm),
    per_layer(role::attn_k_norm, "layers.{layer}.self_attn.k_norm.weight", dim::kv_heads, dim::head_dim).when(sw_qk_norm),
};
// Cohere's one norm per layer, shared by the parallel attention and FFN.
const tensor_template cohere_layer_norm[] = {
    per_layer(role::attn_norm, "layers.{layer}.input_layernorm.weight", dim::hidden),
};
// clang-format on

// Configuration-class defaults for keys the published configs may omit.
const char* smollm3_defaults = R"({"vocab_size": 128256, "hidden_size": 2048, "intermediate_size": 11008,
    "num_hidden_layers": 36, "num_attention_heads": 16, "num_key_value_heads": 4, "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6, "rope_theta": 2000000.0, "use_sliding_window": false, "no_rope_layer_interval": 4,
    "attention_bias": false, "mlp_bias": false, "tie_word_embeddings": true})";
const char* granite_defaults = R"({"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
    "tie_word_embeddings": false, "rope_theta": 10000.0, "attention_bias": false, "mlp_bias": false,
    "embedding_multiplier": 1.0, "logits_scaling": 1.0, "residual_multiplier": 1.0, "attention_multiplier": 1.0})";
const char* olmo3_defaults = R"({"vocab_size": 50304, "hidden_size": 4096, "intermediate_size": 11008,
    "num_hidden_layers": 32, "num_attention_heads": 32, "max_position_embeddings": 2048, "rms_norm_eps": 1e-5,
    "tie_word_embeddings": false, "rope_theta": 500000.0, "attention_bias": false, "sliding_window": 4096})";
const char* cohere_defaults = R"({"vocab_size": 256000, "hidden_size": 8192, "intermediate_size": 22528,
    "logit_scale": 0.0625, "num_hidden_layers": 40, "num_attention_heads": 64, "max_position_embeddings": 8192,
    "layer_norm_eps": 1e-5, "tie_word_embeddings": true, "rope_theta": 10000.0, "attention_bias": false,
    "use_qk_norm": false})";
const char* cohere2_defaults = R"({"vocab_size": 256000, "hidden_size": 8192, "intermediate_size": 22528,
    "logit_scale": 0.0625, "num_hidden_layers": 40, "num_attention_heads": 64, "max_position_embeddings": 8192,
    "layer_norm_eps": 1e-5, "tie_word_embeddings": true, "rope_theta": 10000.0, "attention_bias": false,
    "sliding_window": 4096, "sliding_window_pattern": 4})";
const char* exaone4_defaults = R"({"vocab_size": 102400, "hidden_size": 4096, "intermediate_size": 16384,
    "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": false, "sliding_window": 4096, "sliding_window_pattern": 4})";

// Reads a multiplier that scales activations only: validated as a number, no parameter depends on it.
std::optional<error> read_scale(const key_reader& keys, const char* key) {
    MP_TRY(value, keys.optional_number(key, 1.0));
    (void)value;
    return std::nullopt;
}

void set_no_rope(layer_spec& layer) {
    layer.switches |= sw_no_rope;
}

// Layers that slide every `pattern`-th layer excepted ((i + 1) % pattern != 0), with `window` tokens; the
// others attend fully. An explicit layer_types list wins (read_sliding).
std::optional<error> pattern_layers(const key_reader& keys, model_spec& spec, const char* pattern_key) {
    if (keys.has("layer_types")) return read_sliding(keys, spec, sliding_rule::none);
    MP_TRY(window, keys.optional_size("sliding_window"));
    if (!window) return std::nullopt;
    uint64_t pattern = 4;
    if (pattern_key) {
        const rapidjson::Value* v = keys.find(pattern_key);
        if (v && !v->IsUint64())
            return make_error(error_code::wrong_type,
                              keys.path(pattern_key) +
                                  ": expected a positive integer when layer_types is not given, got " +
                                  describe_json(*v),
                              keys.path(pattern_key));
        MP_CHECK(read_size(keys, pattern_key, pattern));
    }
    for (uint64_t i = 0; i < spec.n_layers; ++i)
        if ((i + 1) % pattern != 0) spec.layers[i].attn = attn_kind::sliding, spec.layers[i].window = *window;
    return std::nullopt;
}

// SmolLM3: no_rope_layers holds 1 for a layer with rotary embedding and 0 for a NoPE layer (at least one
// entry per layer); without it every no_rope_layer_interval-th layer is NoPE. Sliding windows apply only with
// use_sliding_window, to the layers layer_types names (by default the NoPE layers).
std::optional<error> read_smollm3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec, true));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    MP_CHECK(read_rope(keys, spec));
    if (const rapidjson::Value* list = keys.find("no_rope_layers")) {
        std::string path = keys.path("no_rope_layers");
        if (!list->IsArray())
            return make_error(error_code::wrong_type,
                              path + ": expected an array of 0 and 1, got " + describe_json(*list), path);
        if (list->Size() < spec.n_layers)
            return make_error(error_code::inconsistent,
                              path + " has " + num(list->Size()) + " entries but num_hidden_layers is " +
                                  num(spec.n_layers),
                              path);
        for (uint64_t i = 0; i < spec.n_layers; ++i) {
            const auto& v = (*list)[static_cast<rapidjson::SizeType>(i)];
            std::string item = path + "[" + num(i) + "]";
            if (!v.IsUint64() || v.GetUint64() > 1)
                return make_error(error_code::wrong_type,
                                  item + ": expected 0 (no rotary embedding) or 1, got " + describe_json(v),
                                  item);
            if (v.GetUint64() == 0) set_no_rope(spec.layers[i]);
        }
    } else {
        uint64_t interval = 4;
        MP_CHECK(read_size(keys, "no_rope_layer_interval", interval));
        for (uint64_t i = 0; i < spec.n_layers; ++i)
            if ((i + 1) % interval == 0) set_no_rope(spec.layers[i]);
    }
    bool use_sliding = false;
    MP_CHECK(read_bool(keys, "use_sliding_window", use_sliding));
    if (!use_sliding) return std::nullopt;
    if (keys.has("layer_types")) return read_sliding(keys, spec, sliding_rule::none);
    MP_TRY(window, keys.optional_size("sliding_window"));
    if (window)
        for (auto& l : spec.layers)
            if (l.switches & sw_no_rope) l.attn = attn_kind::sliding, l.window = *window;
    return std::nullopt;
}

// GraniteAttention sizes its heads as hidden_size / num_attention_heads (no head_dim key).
std::optional<error> read_granite(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.head_dim = nullptr;
    MP_CHECK(read_llama_opening(keys, spec, false, k));
    MP_CHECK(read_switch(keys, "mlp_bias", spec, sw_mlp_bias));
    for (const char* key :
         {"embedding_multiplier", "logits_scaling", "residual_multiplier", "attention_multiplier"})
        MP_CHECK(read_scale(keys, key));
    return read_rope(keys, spec);
}

// Olmo3Config: without layer_types, three of every four layers slide (sliding_window tokens).
std::optional<error> read_olmo3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec, false));
    MP_CHECK(read_rope(keys, spec));
    return pattern_layers(keys, spec, nullptr);
}

std::optional<error> read_cohere_common(const key_reader& keys, model_spec& spec, const core_keys& k) {
    MP_CHECK(read_llama_opening(keys, spec, true, k));
    MP_CHECK(read_scale(keys, "logit_scale"));
    spec.norm = norm_kind::layer; // CohereLayerNorm: a weight, no bias
    spec.switches |= sw_parallel_attn;
    return read_rope(keys, spec);
}

std::optional<error> read_cohere(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    MP_CHECK(read_cohere_common(keys, spec, k));
    return read_switch(keys, "use_qk_norm", spec, sw_qk_norm);
}

// Cohere2Config sets head_dim = hidden_size / num_attention_heads; the full-attention layers use no rotary
// embedding (Cohere2Attention rotates only in sliding layers).
std::optional<error> read_cohere2(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.eps = "layer_norm_eps";
    k.head_dim = nullptr;
    MP_CHECK(read_cohere_common(keys, spec, k));
    MP_CHECK(pattern_layers(keys, spec, "sliding_window_pattern"));
    for (auto& l : spec.layers)
        if (l.attn != attn_kind::sliding) set_no_rope(l);
    return std::nullopt;
}

// Exaone4Attention: q/k RMSNorm per head, no biases; with a sliding window the global layers use no rotary
// embedding ("global NoPE").
std::optional<error> read_exaone4(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_decoder(keys, spec, false));
    spec.set_switches(sw_qk_norm);
    MP_CHECK(read_rope(keys, spec));
    MP_CHECK(pattern_layers(keys, spec, "sliding_window_pattern"));
    if (keys.has("sliding_window"))
        for (auto& l : spec.layers)
            if (l.attn != attn_kind::sliding) set_no_rope(l);
    return std::nullopt;
}

// The ForCausalLM head and the bare Model: these classes have no sequence-classification head.
std::vector<head_info> causal_and_model(const std::vector<head_info>& decoder) {
    return {decoder[0], decoder[1]};
}

} // namespace

template_table whole_projection_qk_norms() {
    return rows(whole_qk_norms);
}

void add_llama_variant_families(std::vector<family_info>& out) {
    using lp = llama_parts;
    const std::vector<template_table> llama = {lp::embed(), lp::attention(), lp::mlp(), lp::layer_norms(),
                                               lp::final_norm()};
    const std::vector<template_table> olmo3 = {lp::embed(), lp::attention(),  rows(whole_qk_norms),
                                               lp::mlp(),   rows(post_norms), lp::final_norm()};
    const std::vector<template_table> cohere = {lp::embed(), rows(cohere_attention), lp::mlp(),
                                                rows(cohere_layer_norm), lp::final_norm()};
    const std::vector<template_table> exaone4 = {lp::embed(), lp::attention(), lp::mlp(), rows(post_norms),
                                                 lp::final_norm()};
    const auto heads = lp::heads();
    out.push_back(family("smollm3", "SmolLM3", read_smollm3, llama, heads).defaults(smollm3_defaults));
    out.push_back(family("granite", "Granite", read_granite, llama, causal_and_model(heads))
                      .defaults(granite_defaults));
    out.push_back(
        family("olmo3", "Olmo3", read_olmo3, olmo3, causal_and_model(heads)).defaults(olmo3_defaults));
    out.push_back(
        family("cohere", "Cohere", read_cohere, cohere, causal_and_model(heads)).defaults(cohere_defaults));
    out.push_back(family("cohere2", "Cohere2", read_cohere2, cohere, causal_and_model(heads))
                      .defaults(cohere2_defaults));
    out.push_back(family("exaone4", "Exaone4", read_exaone4, exaone4, heads).defaults(exaone4_defaults));
}

} // namespace modelplan::family_tables
