#include "model/family-readers.h"

#include <cmath>

namespace modelplan::readers {

std::string pick(const key_reader& keys, const char* alternatives) {
    std::string all = alternatives, first;
    for (size_t start = 0; start <= all.size();) {
        size_t bar = all.find('|', start);
        std::string key = all.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        if (first.empty()) first = key;
        if (keys.has(key.c_str())) return key;
        if (bar == std::string::npos) break;
        start = bar + 1;
    }
    return first;
}

error too_large(const key_reader& keys, const char* key, uint64_t value, uint64_t limit) {
    return make_error(error_code::out_of_range,
                      keys.path(key) + " (" + num(value) + ") exceeds the supported maximum of " + num(limit),
                      keys.path(key));
}

std::optional<error> read_bool(const key_reader& keys, const char* key, bool& out) {
    auto v = keys.optional_bool(key, out);
    if (!v) return v.err();
    out = *v;
    return std::nullopt;
}

std::optional<error> read_switch(const key_reader& keys, const char* key, model_spec& spec, uint64_t bits) {
    bool on = spec.has(bits);
    MP_CHECK(read_bool(keys, key, on));
    spec.set_switches(bits, on);
    return std::nullopt;
}

std::optional<error> read_decoder(const key_reader& keys, model_spec& spec, bool tied, const core_keys& k) {
    MP_CHECK(read_core(keys, spec, k));
    spec.set_switches(sw_tied, tied);
    return read_switch(keys, "tie_word_embeddings", spec, sw_tied);
}

std::optional<error> read_llama_opening(const key_reader& keys, model_spec& spec, bool tied,
                                        const core_keys& k) {
    MP_CHECK(read_decoder(keys, spec, tied, k));
    return read_switch(keys, "attention_bias", spec, sw_attention_biases);
}

std::optional<error> read_size(const key_reader& keys, const char* key, uint64_t& out) {
    auto v = keys.optional_size(key);
    if (!v) return v.err();
    if (*v) out = **v;
    return std::nullopt;
}

void set_moe_layer(layer_spec& layer) {
    layer.ffn = ffn_kind::moe;
    layer.switches = (layer.switches & ~sw_dense_ffn) | sw_moe_ffn;
}

void add_stack(model_spec& spec, layer_stack stack, uint64_t count, uint64_t switches) {
    for (uint64_t i = 0; i < count; ++i) {
        layer_spec l;
        l.stack = stack;
        l.index = static_cast<uint32_t>(i);
        l.switches = switches | (i == 0 ? uint64_t{sw_first_in_stack} : uint64_t{0});
        spec.layers.push_back(l);
    }
}

std::optional<error> read_core(const key_reader& keys, model_spec& spec, const core_keys& k) {
    std::string hidden_key = pick(keys, k.hidden), layers_key = pick(keys, k.layers),
                heads_key = pick(keys, k.heads), vocab_key = pick(keys, k.vocab);
    MP_TRY(hidden, keys.size(hidden_key.c_str()));
    MP_TRY(n_layers, keys.size(layers_key.c_str()));
    MP_TRY(n_heads, keys.size(heads_key.c_str()));
    MP_TRY(vocab, keys.size(vocab_key.c_str()));
    spec.hidden = hidden;
    spec.n_layers = n_layers;
    spec.n_heads = n_heads;
    spec.vocab = vocab;
    if (n_layers > max_layers) return too_large(keys, layers_key.c_str(), n_layers, max_layers);
    if (k.intermediate) {
        std::string key = pick(keys, k.intermediate);
        MP_TRY(intermediate, keys.size(key.c_str()));
        spec.intermediate = intermediate;
    }
    spec.n_kv_heads = n_heads;
    std::string kv_key = k.kv_heads ? pick(keys, k.kv_heads) : std::string("num_key_value_heads");
    if (k.kv_heads) MP_CHECK(read_size(keys, kv_key.c_str(), spec.n_kv_heads));
    if (k.positions) MP_CHECK(read_size(keys, pick(keys, k.positions).c_str(), spec.max_positions));
    if (k.eps) {
        std::string eps_key = pick(keys, k.eps);
        MP_TRY(eps, keys.optional_number(eps_key.c_str(), spec.norm_eps));
        spec.norm_eps = eps;
    }

    std::optional<uint64_t> head_dim;
    if (k.head_dim) {
        MP_TRY(hd, keys.optional_size(pick(keys, k.head_dim).c_str()));
        head_dim = hd;
    }
    std::string head_dim_key = k.head_dim ? pick(keys, k.head_dim) : std::string("head_dim");
    if (head_dim) {
        spec.head_dim = *head_dim;
    } else {
        if (hidden % n_heads != 0)
            return make_error(error_code::not_divisible,
                              keys.path(hidden_key.c_str()) + " (" + num(hidden) + ") must be divisible by " +
                                  keys.path(heads_key.c_str()) + " (" + num(n_heads) + ") when " +
                                  keys.path(head_dim_key.c_str()) + " is not set",
                              keys.path(hidden_key.c_str()));
        spec.head_dim = hidden / n_heads;
    }
    if (n_heads % spec.n_kv_heads != 0)
        return make_error(error_code::not_divisible,
                          keys.path(heads_key.c_str()) + " (" + num(n_heads) + ") must be divisible by " +
                              keys.path(kv_key.c_str()) + " (" + num(spec.n_kv_heads) + ")",
                          keys.path(kv_key.c_str()));
    spec.layers.clear();
    add_stack(spec, layer_stack::decoder, n_layers, sw_dense_ffn);
    return std::nullopt;
}

std::optional<error> read_experts(const key_reader& keys, model_spec& spec, const char* experts_key,
                                  const char* per_token_key, const char* ffn_key) {
    MP_TRY(n, keys.size(experts_key));
    MP_TRY(k, keys.size(per_token_key));
    MP_TRY(ffn, keys.size(ffn_key));
    if (n > max_experts) return too_large(keys, experts_key, n, max_experts);
    if (k > n)
        return make_error(error_code::out_of_range,
                          keys.path(per_token_key) + " (" + num(k) + ") must not exceed " +
                              keys.path(experts_key) + " (" + num(n) + ")",
                          keys.path(per_token_key));
    spec.n_experts = n;
    spec.n_experts_per_tok = k;
    spec.expert_intermediate = ffn;
    return std::nullopt;
}

std::optional<error> read_rope(const key_reader& keys, model_spec& spec, const char* partial_key) {
    MP_TRY(theta, keys.optional_number("rope_theta", spec.rope.theta));
    spec.rope.theta = theta;
    spec.rope.rotary_dim = spec.head_dim;
    if (partial_key) {
        MP_TRY(factor, keys.optional_number(partial_key, 1.0));
        if (!(factor > 0.0 && factor <= 1.0))
            return make_error(error_code::out_of_range,
                              keys.path(partial_key) + " must be in (0, 1], got " + std::to_string(factor),
                              keys.path(partial_key));
        spec.rope.rotary_dim = static_cast<uint64_t>(std::floor(static_cast<double>(spec.head_dim) * factor));
    }
    // transformers 5's configs (Ministral 3, ...) hold rope_theta and the scaling in one "rope_parameters".
    if (const rapidjson::Value* params = keys.find("rope_parameters"); params && !params->IsNull()) {
        if (!params->IsObject())
            return make_error(error_code::wrong_type,
                              keys.path("rope_parameters") + ": expected an object or null, got " +
                                  describe_json(*params),
                              keys.path("rope_parameters"));
        key_reader rope_keys(*params, keys.path("rope_parameters"));
        MP_TRY(params_theta, rope_keys.optional_number("rope_theta", spec.rope.theta));
        MP_TRY(type, rope_keys.optional_string("rope_type"));
        MP_TRY(legacy_type, rope_keys.optional_string("type"));
        MP_TRY(factor, rope_keys.optional_number("factor", 1.0));
        spec.rope.theta = params_theta;
        std::string kind = type ? *type : legacy_type.value_or("");
        if (kind != "default") {
            spec.rope.scaling_type = kind;
            spec.rope.scaling_factor = factor;
        }
    }
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
    return std::nullopt;
}

std::optional<error> read_sliding(const key_reader& keys, model_spec& spec, sliding_rule rule) {
    std::optional<uint64_t> window;
    if (rule != sliding_rule::none || keys.has("layer_types")) {
        MP_TRY(w, keys.optional_size("sliding_window"));
        window = w;
    }
    auto set_sliding = [&](layer_spec& l) {
        l.attn = attn_kind::sliding;
        l.window = *window;
    };

    const auto& root = keys.object();
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
            set_sliding(spec.layers[i]);
        }
        return std::nullopt;
    }
    if (rule == sliding_rule::window_key && window) {
        for (auto& l : spec.layers) set_sliding(l);
    } else if (rule == sliding_rule::qwen) {
        bool use = false;
        MP_CHECK(read_bool(keys, "use_sliding_window", use));
        MP_TRY(max_window_layers, keys.optional_count("max_window_layers"));
        if (use) {
            if (!window)
                return make_error(error_code::missing_key,
                                  keys.path("use_sliding_window") + " is true but " +
                                      keys.path("sliding_window") + " is not set",
                                  keys.path("sliding_window"));
            for (uint64_t il = max_window_layers.value_or(0); il < spec.n_layers; ++il)
                set_sliding(spec.layers[il]);
        }
    }
    return std::nullopt;
}

} // namespace modelplan::readers
