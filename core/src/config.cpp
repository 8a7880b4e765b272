// config.json -> model_spec. Key names follow transformers' configuration classes (LlamaConfig,
// MistralConfig, MixtralConfig, Qwen2Config, Qwen3Config); defaults are those classes' defaults where a
// config omits a key.
#include "modelplan/config.h"

#include <rapidjson/document.h>

#include "json-util.h"
#include "modelplan/architectures.h"
#include "modelplan/text.h"

// Evaluates a result-returning expression; returns its error, or binds its value to `var`.
#define MP_TRY(var, expr)                                                                                    \
    auto var##_result = (expr);                                                                              \
    if (!var##_result) return var##_result.err();                                                            \
    auto var = std::move(*var##_result)

namespace modelplan {

namespace {

std::string num(uint64_t v) {
    return std::to_string(v);
}

result<int> resolve_family(const key_reader& keys) {
    MP_TRY(model_type, keys.optional_string("model_type"));
    if (!model_type)
        return make_error(
            error_code::missing_key,
            "missing required key " + keys.path("model_type") +
                " (a string naming the architecture family; supported: " + supported_model_types() + ")",
            keys.path("model_type"));
    int family = find_family(*model_type);
    if (family >= 0) return family;
    std::vector<std::string> names;
    for (const auto& f : families()) names.push_back(f.model_type);
    std::string hint = closest_name(*model_type, names);
    return make_error(error_code::unknown_model_type,
                      keys.path("model_type") + ": unknown model_type \"" + *model_type +
                          "\"; supported: " + supported_model_types() +
                          (hint.empty() ? std::string() : "; did you mean \"" + hint + "\"?"),
                      keys.path("model_type"));
}

// Per-layer attention kind from the family's sliding-window rule (or an explicit "layer_types" list).
std::optional<error> resolve_layers(const key_reader& keys, const rapidjson::Value& root,
                                    const family_info& fam, model_spec& spec) {
    spec.layers.assign(spec.n_layers, layer_spec{});
    auto window_r = keys.optional_size("sliding_window");
    if (!window_r) {
        if (fam.sliding == sliding_rule::none)
            window_r = std::optional<uint64_t>{}; // key unused by this family
        else
            return window_r.err();
    }
    std::optional<uint64_t> window = *window_r;

    auto types_it = root.FindMember("layer_types");
    if (types_it != root.MemberEnd() && !types_it->value.IsNull()) {
        const auto& types = types_it->value;
        std::string path = keys.path("layer_types");
        if (!types.IsArray())
            return make_error(error_code::wrong_type,
                              path + ": expected an array of strings, got " + describe_json(types), path);
        if (types.Size() != spec.n_layers)
            return make_error(error_code::inconsistent,
                              path + " has " + num(types.Size()) + " entries but num_hidden_layers is " +
                                  num(spec.n_layers),
                              path);
        for (rapidjson::SizeType i = 0; i < types.Size(); ++i) {
            std::string item = path + "[" + num(i) + "]";
            std::string t = types[i].IsString() ? types[i].GetString() : "";
            if (t == "full_attention") continue;
            if (t != "sliding_attention")
                return make_error(error_code::wrong_type,
                                  item + ": expected \"full_attention\" or \"sliding_attention\", got " +
                                      describe_json(types[i]),
                                  item);
            if (!window)
                return make_error(error_code::missing_key,
                                  item + " is \"sliding_attention\" but " + keys.path("sliding_window") +
                                      " is not set",
                                  keys.path("sliding_window"));
            spec.layers[i].attn = attn_kind::sliding;
            spec.layers[i].window = *window;
        }
        return std::nullopt;
    }

    if (fam.sliding == sliding_rule::window_key && window) {
        for (auto& l : spec.layers) l = layer_spec{attn_kind::sliding, *window, l.ffn};
    } else if (fam.sliding == sliding_rule::qwen) {
        auto use = keys.optional_bool("use_sliding_window", false);
        if (!use) return use.err();
        auto max_window_layers = keys.optional_count("max_window_layers");
        if (!max_window_layers) return max_window_layers.err();
        if (*use) {
            if (!window)
                return make_error(error_code::missing_key,
                                  keys.path("use_sliding_window") + " is true but " +
                                      keys.path("sliding_window") + " is not set",
                                  keys.path("sliding_window"));
            uint64_t first = max_window_layers->value_or(0);
            for (uint64_t il = first; il < spec.n_layers; ++il)
                spec.layers[il] = layer_spec{attn_kind::sliding, *window, spec.layers[il].ffn};
        }
    }
    return std::nullopt;
}

std::optional<error> resolve_moe(const key_reader& keys, const family_info& fam, model_spec& spec) {
    if (!fam.experts_key) return std::nullopt;
    auto n = keys.size(fam.experts_key);
    if (!n) return n.err();
    auto k = keys.size("num_experts_per_tok");
    if (!k) return k.err();
    auto ffn = keys.size(fam.expert_ffn_key);
    if (!ffn) return ffn.err();
    if (*n > max_experts)
        return make_error(error_code::out_of_range,
                          keys.path(fam.experts_key) + " (" + num(*n) +
                              ") exceeds the supported maximum of " + num(max_experts),
                          keys.path(fam.experts_key));
    if (*k > *n)
        return make_error(error_code::out_of_range,
                          keys.path("num_experts_per_tok") + " (" + num(*k) + ") must not exceed " +
                              keys.path(fam.experts_key) + " (" + num(*n) + ")",
                          keys.path("num_experts_per_tok"));
    spec.n_experts = *n;
    spec.n_experts_per_tok = *k;
    spec.expert_intermediate = *ffn;
    for (auto& l : spec.layers) l.ffn = ffn_kind::moe;
    return std::nullopt;
}

} // namespace

result<model_spec> parse_config(const std::string& json_text, const config_options& options) {
    rapidjson::Document doc;
    if (auto e = parse_json(json_text, doc, "config.json")) return *e;
    return parse_config(doc, options);
}

result<model_spec> parse_config(const rapidjson::Value& doc, const config_options& options) {
    if (!doc.IsObject())
        return make_error(error_code::wrong_type,
                          "config.json: expected a JSON object at the top level, got " + describe_json(doc));
    key_reader keys(doc, "");

    model_spec spec;
    MP_TRY(family, resolve_family(keys));
    const family_info& fam = families()[family];
    spec.family = family;
    spec.model_type = fam.model_type;
    spec.architecture = fam.causal_lm_class;

    // "architectures" is informational here (the head comes from it in later families), but must be well
    // formed.
    if (const rapidjson::Value* archs = keys.find("architectures")) {
        bool ok = archs->IsArray();
        for (rapidjson::SizeType i = 0; ok && i < archs->Size(); ++i) ok = (*archs)[i].IsString();
        if (!ok)
            return make_error(error_code::wrong_type,
                              keys.path("architectures") + ": expected an array of class names, got " +
                                  describe_json(*archs),
                              keys.path("architectures"));
    }

    MP_TRY(hidden, keys.size("hidden_size"));
    MP_TRY(n_layers, keys.size("num_hidden_layers"));
    MP_TRY(n_heads, keys.size("num_attention_heads"));
    MP_TRY(intermediate, keys.size("intermediate_size"));
    MP_TRY(vocab, keys.size("vocab_size"));
    MP_TRY(n_kv_heads, keys.optional_size("num_key_value_heads"));
    MP_TRY(head_dim, keys.optional_size("head_dim"));
    MP_TRY(max_positions, keys.optional_size("max_position_embeddings"));
    spec.hidden = hidden;
    spec.n_layers = n_layers;
    spec.n_heads = n_heads;
    spec.intermediate = intermediate;
    spec.vocab = vocab;
    spec.n_kv_heads = n_kv_heads.value_or(n_heads);
    spec.max_positions = max_positions.value_or(0);

    if (n_layers > max_layers)
        return make_error(error_code::out_of_range,
                          keys.path("num_hidden_layers") + " (" + num(n_layers) +
                              ") exceeds the supported maximum of " + num(max_layers),
                          keys.path("num_hidden_layers"));
    if (head_dim) {
        spec.head_dim = *head_dim;
    } else {
        if (hidden % n_heads != 0)
            return make_error(error_code::not_divisible,
                              keys.path("hidden_size") + " (" + num(hidden) + ") must be divisible by " +
                                  keys.path("num_attention_heads") + " (" + num(n_heads) + ") when " +
                                  keys.path("head_dim") + " is not set",
                              keys.path("hidden_size"));
        spec.head_dim = hidden / n_heads;
    }
    if (n_heads % spec.n_kv_heads != 0)
        return make_error(error_code::not_divisible,
                          keys.path("num_attention_heads") + " (" + num(n_heads) + ") must be divisible by " +
                              keys.path("num_key_value_heads") + " (" + num(spec.n_kv_heads) + ")",
                          keys.path("num_key_value_heads"));

    MP_TRY(tie, keys.optional_bool("tie_word_embeddings", fam.tie_default));
    spec.tie_embeddings = tie;
    switch (fam.biases) {
    case bias_rule::none: break;
    case bias_rule::qkv_always: spec.qkv_bias = true; break;
    case bias_rule::attention_bias_key: {
        MP_TRY(attention_bias, keys.optional_bool("attention_bias", false));
        MP_TRY(mlp_bias, keys.optional_bool("mlp_bias", false));
        spec.qkv_bias = spec.o_bias = attention_bias;
        spec.mlp_bias = mlp_bias;
        break;
    }
    }
    spec.qk_norm = fam.qk_norm;
    MP_TRY(eps, keys.optional_number("rms_norm_eps", 1e-6));
    spec.norm_eps = eps;

    MP_TRY(theta, keys.optional_number("rope_theta", 10000.0));
    spec.rope.theta = theta;
    if (const rapidjson::Value* scaling = keys.find("rope_scaling")) {
        if (!scaling->IsObject())
            return make_error(error_code::wrong_type,
                              keys.path("rope_scaling") + ": expected an object or null, got " +
                                  describe_json(*scaling),
                              keys.path("rope_scaling"));
        key_reader rope_keys(*scaling, keys.path("rope_scaling"));
        MP_TRY(type, rope_keys.optional_string("rope_type"));
        MP_TRY(legacy_type, rope_keys.optional_string("type"));
        MP_TRY(factor, rope_keys.optional_number("factor", 1.0));
        spec.rope.scaling_type = type ? *type : legacy_type.value_or("");
        spec.rope.scaling_factor = factor;
    }

    // Weight dtype: the override, else "torch_dtype" (transformers 4.x) or "dtype" (newer), else float32,
    // which is what from_pretrained gives when neither the config nor the caller names one.
    if (options.weight_dtype) {
        spec.weight_dtype = *options.weight_dtype;
    } else {
        const char* key = keys.has("torch_dtype") ? "torch_dtype" : "dtype";
        MP_TRY(name, keys.optional_string(key));
        if (name) {
            MP_TRY(t, parse_dtype(*name, keys.path(key)));
            spec.weight_dtype = t;
        }
    }

    spec.layers.assign(n_layers, layer_spec{});
    if (auto e = resolve_moe(keys, fam, spec)) return *e;
    std::vector<layer_spec> ffn_kinds = spec.layers;
    if (auto e = resolve_layers(keys, doc, fam, spec)) return *e;
    for (uint64_t il = 0; il < n_layers; ++il) spec.layers[il].ffn = ffn_kinds[il].ffn;
    return spec;
}

} // namespace modelplan
