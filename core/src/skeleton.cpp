#include "modelplan/skeleton.h"

#include <cstring>
#include <optional>

#include "modelplan/text.h"

namespace modelplan {

namespace {

struct dim_value {
    uint64_t value;
    const char* source;    // the config keys it comes from, for messages
    bool overflow = false; // the product defining it does not fit in 64 bits
};

dim_value product(uint64_t a, uint64_t b, const char* source) {
    dim_value d{0, source};
    d.overflow = __builtin_mul_overflow(a, b, &d.value);
    return d;
}

dim_value resolve(dim d, const model_spec& s) {
    switch (d) {
    case dim::hidden: return {s.hidden, "hidden_size"};
    case dim::vocab: return {s.vocab, "vocab_size"};
    case dim::q_dim: return product(s.n_heads, s.head_dim, "num_attention_heads x head_dim");
    case dim::kv_dim: return product(s.n_kv_heads, s.head_dim, "num_key_value_heads x head_dim");
    case dim::head_dim: return {s.head_dim, "head_dim"};
    case dim::rope_half: return {s.head_dim / 2, "head_dim / 2"};
    case dim::ffn: return {s.intermediate, "intermediate_size"};
    case dim::n_experts: return {s.n_experts, "number of experts"};
    case dim::expert_ffn: return {s.expert_intermediate, "expert intermediate size"};
    }
    return {0, "?"};
}

bool holds(uint16_t needs, const model_spec& s, const layer_spec* layer) {
    if ((needs & need_qkv_bias) && !s.qkv_bias) return false;
    if ((needs & need_o_bias) && !s.o_bias) return false;
    if ((needs & need_mlp_bias) && !s.mlp_bias) return false;
    if ((needs & need_qk_norm) && !s.qk_norm) return false;
    if ((needs & need_dense_ffn) && (!layer || layer->ffn != ffn_kind::dense)) return false;
    if ((needs & need_moe_ffn) && (!layer || layer->ffn != ffn_kind::moe)) return false;
    return true;
}

// Shape of a template for this spec, with overflow checks on every product.
result<tensor_info> instantiate(const tensor_template& t, const model_spec& s, dtype type) {
    tensor_info info;
    info.type = type;
    info.what = t.what;
    info.source = &t;
    info.elements = 1;
    bool overflow = false;
    for (uint8_t i = 0; i < t.rank; ++i) {
        dim_value d = resolve(t.shape[i], s);
        if (d.overflow)
            return make_error(error_code::overflow,
                              std::string(t.name) + ": " + d.source + " overflows 64 bits");
        info.shape.push_back(d.value);
        overflow = overflow || __builtin_mul_overflow(info.elements, d.value, &info.elements);
    }
    if (overflow) {
        std::string formula;
        for (uint8_t i = 0; i < t.rank; ++i) {
            dim_value d = resolve(t.shape[i], s);
            formula += (i ? " x " : "") + std::string(d.source) + " (" + with_thousands(d.value) + ")";
        }
        return make_error(error_code::overflow,
                          std::string(t.name) + ": element count " + formula + " overflows 64 bits");
    }
    return info;
}

// The checkpoint name of one instance: "{layer}" and "{expert}" replaced by the indices.
std::string name_of(const tensor_template& t, int64_t layer, int64_t expert) {
    std::string out;
    out.reserve(80);
    const char* p = t.name;
    for (const char* brace = std::strchr(p, '{'); brace; brace = std::strchr(p, '{')) {
        out.append(p, brace);
        if (std::strncmp(brace, "{layer}", 7) == 0) {
            out += std::to_string(layer);
            p = brace + 7;
        } else if (std::strncmp(brace, "{expert}", 8) == 0) {
            out += std::to_string(expert);
            p = brace + 8;
        } else {
            out += '{';
            p = brace + 1;
        }
    }
    out.append(p);
    return out;
}

// Emits the templates of `rows` in state_dict order: leading model-level rows, then every layer's rows (a run
// of expert rows repeated expert by expert), then trailing model-level rows.
std::optional<error> emit(const std::vector<const tensor_template*>& rows, const model_spec& spec, dtype type,
                          std::vector<tensor_info>& out, std::vector<tensor_alias>* aliases) {
    // Shapes depend on the spec only, so each template is sized once and copied per instance.
    std::vector<tensor_info> prototypes;
    prototypes.reserve(rows.size());
    for (const tensor_template* t : rows) {
        auto info = instantiate(*t, spec, type);
        if (!info) return info.err();
        prototypes.push_back(std::move(*info));
    }
    auto add = [&](size_t row, int64_t layer, int64_t expert) -> std::optional<error> {
        const tensor_template& t = *rows[row];
        if (t.tied_to && spec.tie_embeddings && aliases) {
            aliases->push_back({name_of(t, layer, expert), t.tied_to});
            return std::nullopt;
        }
        out.push_back(prototypes[row]);
        out.back().name = name_of(t, layer, expert);
        out.back().layer = layer;
        out.back().expert = expert;
        return std::nullopt;
    };

    size_t first_layer_row = rows.size(), end_layer_rows = rows.size();
    for (size_t i = 0; i < rows.size(); ++i) {
        if (rows[i]->where == scope::global) continue;
        if (first_layer_row == rows.size()) first_layer_row = i;
        end_layer_rows = i + 1;
    }
    for (size_t i = 0; i < first_layer_row; ++i)
        if (holds(rows[i]->needs, spec, nullptr))
            if (auto e = add(i, no_index, no_index)) return e;
    for (uint64_t il = 0; il < spec.n_layers && first_layer_row < rows.size(); ++il) {
        const layer_spec& layer = spec.layer(il);
        for (size_t i = first_layer_row; i < end_layer_rows;) {
            if (rows[i]->where == scope::global) { // emitted after the layers
                ++i;
                continue;
            }
            if (rows[i]->where != scope::expert) {
                if (holds(rows[i]->needs, spec, &layer))
                    if (auto e = add(i, static_cast<int64_t>(il), no_index)) return e;
                ++i;
                continue;
            }
            size_t run_end = i;
            while (run_end < end_layer_rows && rows[run_end]->where == scope::expert) ++run_end;
            if (holds(rows[i]->needs, spec, &layer))
                for (uint64_t ie = 0; ie < spec.n_experts; ++ie)
                    for (size_t r = i; r < run_end; ++r)
                        if (holds(rows[r]->needs, spec, &layer))
                            if (auto e = add(r, static_cast<int64_t>(il), static_cast<int64_t>(ie))) return e;
            i = run_end;
        }
    }
    for (size_t i = first_layer_row; i < rows.size(); ++i)
        if (rows[i]->where == scope::global && holds(rows[i]->needs, spec, nullptr))
            if (auto e = add(i, no_index, no_index)) return e;
    return std::nullopt;
}

std::vector<const tensor_template*> flatten(const std::vector<template_table>& groups) {
    std::vector<const tensor_template*> rows;
    for (const auto& g : groups)
        for (size_t i = 0; i < g.size; ++i) rows.push_back(&g.rows[i]);
    return rows;
}

} // namespace

result<skeleton> build_skeleton(const model_spec& spec) {
    if (spec.family < 0 || static_cast<size_t>(spec.family) >= families().size())
        return make_error(error_code::internal, "build_skeleton: model_spec has no family");
    const family_info& fam = families()[spec.family];
    skeleton sk;
    if (auto e = emit(flatten(fam.tensors), spec, spec.weight_dtype, sk.tensors, &sk.aliases)) return *e;
    if (auto e = emit(flatten(fam.buffers), spec, dtype::f32, sk.buffers, nullptr)) return *e;
    return sk;
}

} // namespace modelplan
