#include "model/families/ssm-parts.h"

namespace modelplan::family_tables::ssm {

using namespace readers;

std::optional<error> read_mamba2_mixer(const key_reader& keys, model_spec& spec, const mamba2_keys& k,
                                       uint64_t inner, const std::string& inner_key) {
    MP_TRY(heads, keys.size(k.heads));
    MP_TRY(groups, keys.size(k.groups));
    MP_TRY(state, keys.size(k.state));
    MP_TRY(kernel, keys.size(k.conv_kernel));
    uint64_t head_dim = 0;
    if (k.head_dim && keys.has(k.head_dim)) {
        MP_TRY(hd, keys.size(k.head_dim));
        head_dim = hd;
    } else {
        head_dim = inner / heads;
    }
    if (heads > max_ssm_width || head_dim > max_ssm_width || state > max_ssm_width ||
        groups > max_ssm_width || kernel > max_ssm_width || inner > max_ssm_width)
        return make_error(error_code::out_of_range,
                          keys.path(k.heads) + " (" + num(heads) + "), " + keys.path(k.state) + " (" +
                              num(state) + ") or another mixer width exceeds the supported maximum of " +
                              num(max_ssm_width),
                          keys.path(k.heads));
    if (heads * head_dim != inner)
        return make_error(error_code::inconsistent,
                          keys.path(k.heads) + " (" + num(heads) + ") x head_dim (" + num(head_dim) +
                              ") must equal the mixer width " + inner_key + " (" + num(inner) + ")",
                          keys.path(k.heads));
    if (heads % groups != 0)
        return make_error(error_code::not_divisible,
                          keys.path(k.heads) + " (" + num(heads) + ") must be divisible by " +
                              keys.path(k.groups) + " (" + num(groups) + ")",
                          keys.path(k.groups));
    spec.ssm_inner = inner;
    spec.ssm_heads = heads;
    spec.ssm_head_dim = head_dim;
    spec.ssm_groups = groups;
    spec.ssm_state = state;
    spec.ssm_conv_kernel = kernel;
    spec.ssm_conv_dim = inner + 2 * groups * state;
    spec.ssm_in_proj = inner + spec.ssm_conv_dim + heads;
    if (k.proj_bias) MP_CHECK(read_switch(keys, k.proj_bias, spec, sw_ssm_bias));
    if (k.conv_bias) MP_CHECK(read_switch(keys, k.conv_bias, spec, sw_conv_bias));
    return std::nullopt;
}

result<uint64_t> expanded_width(const key_reader& keys, const model_spec& spec, const char* expand_key) {
    MP_TRY(expand, keys.size(expand_key));
    if (expand > max_ssm_width) return too_large(keys, expand_key, expand, max_ssm_width);
    if (spec.hidden > max_ssm_width) return too_large(keys, "hidden_size", spec.hidden, max_ssm_width);
    return expand * spec.hidden;
}

std::optional<error> read_state_dtype(const key_reader& keys, model_spec& spec) {
    MP_TRY(name, keys.optional_string("mamba_ssm_dtype"));
    if (!name) return std::nullopt;
    auto type = parse_dtype(*name, keys.path("mamba_ssm_dtype"));
    if (!type) return type.err();
    spec.ssm_state_dtype = *type;
    return std::nullopt;
}

void set_recurrent_layer(layer_spec& layer, uint64_t kind) {
    layer.switches |= kind | sw_no_kv_cache;
}

result<std::vector<size_t>> read_layer_kinds(const key_reader& keys, const char* key, uint64_t n_layers,
                                             const std::vector<const char*>& names) {
    const rapidjson::Value* list = keys.find(key);
    std::string path = keys.path(key);
    if (!list) return make_error(error_code::missing_key, "missing required key " + path, path);
    if (!list->IsArray())
        return make_error(error_code::wrong_type,
                          path + ": expected an array of strings, got " + describe_json(*list), path);
    if (list->Size() != n_layers)
        return make_error(
            error_code::inconsistent,
            path + " has " + num(list->Size()) + " entries but num_hidden_layers is " + num(n_layers), path);
    std::string allowed;
    for (const char* n : names) allowed += (allowed.empty() ? "\"" : ", \"") + std::string(n) + "\"";
    std::vector<size_t> out;
    for (rapidjson::SizeType i = 0; i < list->Size(); ++i) {
        const auto& v = (*list)[i];
        std::string item = path + "[" + num(i) + "]";
        size_t found = names.size();
        if (v.IsString())
            for (size_t n = 0; n < names.size(); ++n)
                if (std::string(v.GetString()) == names[n]) found = n;
        if (found == names.size())
            return make_error(error_code::wrong_type,
                              item + ": expected one of " + allowed + ", got " + describe_json(v), item);
        out.push_back(found);
    }
    return out;
}

} // namespace modelplan::family_tables::ssm
