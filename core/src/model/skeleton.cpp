// model_spec + family templates -> skeleton. Templates are sized once per model (shapes depend on the spec
// only), then instantiated per layer and expert in state_dict order.
#include "modelplan/skeleton.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "modelplan/text.h"

namespace modelplan {

namespace {

struct dim_value {
    uint64_t value = 0;
    const char* source = "?"; // the config keys it comes from, for messages
    bool overflow = false;    // a product or sum defining it does not fit in 64 bits
};

dim_value product(uint64_t a, uint64_t b, const char* source) {
    dim_value d{0, source, false};
    d.overflow = __builtin_mul_overflow(a, b, &d.value);
    return d;
}

// A width the spec computes with saturating arithmetic (model_spec::mla_q_dim(), ...): UINT64_MAX means it
// overflows 64 bits.
dim_value saturated(uint64_t value, const char* source) {
    if (value == UINT64_MAX) return {0, source, true};
    return {value, source, false};
}

dim_value resolve(dim d, const model_spec& s) {
    switch (d) {
    case dim::one: return {1, "1"};
    case dim::two: return {2, "2"};
    case dim::hidden: return {s.hidden, "hidden_size"};
    case dim::hidden_x2: return product(2, s.hidden, "2 x hidden_size");
    case dim::vocab: return {s.vocab, "vocab_size"};
    case dim::heads: return {s.n_heads, "num_attention_heads"};
    case dim::q_dim: return product(s.n_heads, s.head_dim, "num_attention_heads x head_dim");
    case dim::kv_dim: return product(s.n_kv_heads, s.head_dim, "num_key_value_heads x head_dim");
    case dim::qkv_dim: {
        uint64_t heads = 0;
        if (__builtin_add_overflow(s.n_heads, 2 * s.n_kv_heads, &heads) || s.n_kv_heads > UINT64_MAX / 2)
            return {0, "(heads + 2 x kv heads) x head_dim", true};
        return product(heads, s.head_dim, "(heads + 2 x kv heads) x head_dim");
    }
    case dim::head_dim: return {s.head_dim, "head_dim"};
    case dim::rope_half: return {s.rope.rotary_dim / 2, "rotary dimensions / 2"};
    case dim::ffn: return {s.intermediate, "intermediate_size"};
    case dim::ffn_x2: return product(2, s.intermediate, "2 x intermediate_size");
    case dim::n_experts: return {s.n_experts, "number of routed experts"};
    case dim::expert_ffn: return {s.expert_intermediate, "expert intermediate size"};
    case dim::shared_ffn: return {s.shared_intermediate, "shared expert intermediate size"};
    case dim::position_rows: return {s.n_positions, "position table size"};
    case dim::token_types: return {s.n_token_types, "type_vocab_size"};
    case dim::labels: return {s.n_labels, "num_labels"};
    case dim::q_lora: return {s.q_lora_rank, "q_lora_rank"};
    case dim::kv_lora: return {s.kv_lora_rank, "kv_lora_rank"};
    case dim::mla_q_out:
        return saturated(s.mla_q_dim(), "num_attention_heads x (qk_nope_head_dim + qk_rope_head_dim)");
    case dim::mla_kv_a_out: return saturated(s.mla_kv_latent_dim(), "kv_lora_rank + qk_rope_head_dim");
    case dim::mla_kv_b_out:
        return saturated(s.mla_kv_b_dim(), "num_attention_heads x (qk_nope_head_dim + v_head_dim)");
    case dim::mla_o_in: return saturated(s.mla_v_dim(), "num_attention_heads x v_head_dim");
    case dim::buckets: return {s.n_buckets, "relative_attention_num_buckets"};
    case dim::word_proj: return {s.word_proj_dim, "word_embed_proj_dim"};
    case dim::max_positions: return {s.max_positions, "max positions"};
    case dim::v_hidden: return {s.vision_hidden, "vision_config.hidden_size"};
    case dim::v_hidden_x3: return product(3, s.vision_hidden, "3 x vision_config.hidden_size");
    case dim::v_ffn: return {s.vision_intermediate, "vision_config.intermediate_size"};
    case dim::v_position_rows:
        return {s.vision_positions, "vision position table rows ((image_size / patch_size)^2, Llama 4: + 1)"};
    case dim::v_channels: return {s.vision_channels, "vision_config.num_channels"};
    case dim::v_patch: return {s.vision_patch, "vision_config.patch_size"};
    case dim::kv_heads: return {s.n_kv_heads, "num_key_value_heads"};
    case dim::expert_ffn_x2: return product(2, s.expert_intermediate, "2 x expert intermediate size");
    case dim::v_patch_in: {
        dim_value d = product(s.vision_channels, s.vision_patch, "vision num_channels x patch_size^2");
        if (d.overflow) return d;
        return product(d.value, s.vision_patch, "vision num_channels x patch_size^2");
    }
    case dim::v_proj_in: return {s.vision_proj_in, "vision_config.projector_input_dim"};
    case dim::v_proj_out: return {s.vision_proj_out, "vision_config.projector_output_dim"};
    case dim::v_output: return {s.vision_output, "vision_config.vision_output_dim"};
    case dim::v_temporal: return {s.vision_temporal_patch, "vision_config.temporal_patch_size"};
    case dim::v_merged: {
        dim_value d = product(s.vision_hidden, s.vision_merge, "vision hidden size x merge^2");
        if (d.overflow) return d;
        return product(d.value, s.vision_merge, "vision hidden size x merge^2");
    }
    case dim::v_out: return {s.vision_out, "vision_config.out_hidden_size"};
    case dim::ssm_inner: return {s.ssm_inner, "mixer intermediate size (d_inner)"};
    case dim::ssm_state: return {s.ssm_state, "SSM state size (d_state)"};
    case dim::ssm_heads: return {s.ssm_heads, "mixer heads"};
    case dim::ssm_heads_x2: return product(2, s.ssm_heads, "2 x mixer value heads");
    case dim::ssm_head_dim: return {s.ssm_head_dim, "mixer head_dim"};
    case dim::ssm_conv_dim: return {s.ssm_conv_dim, "convolution channels"};
    case dim::ssm_conv_kernel: return {s.ssm_conv_kernel, "convolution kernel"};
    case dim::ssm_in_proj: return {s.ssm_in_proj, "mixer in_proj width"};
    case dim::ssm_dt_rank: return {s.ssm_dt_rank, "time_step_rank"};
    case dim::ssm_x_proj: {
        dim_value d = product(2, s.ssm_state, "time_step_rank + 2 x d_state");
        if (d.overflow || __builtin_add_overflow(d.value, s.ssm_dt_rank, &d.value))
            return {0, "time_step_rank + 2 x d_state", true};
        return d;
    }
    case dim::q_dim_x2: {
        dim_value d = product(s.n_heads, s.head_dim, "2 x num_attention_heads x head_dim");
        if (d.overflow) return d;
        return product(2, d.value, "2 x num_attention_heads x head_dim");
    }
    case dim::hidden_x3: return product(3, s.hidden, "3 x hidden_size");
    case dim::shared_ffn_x2: return product(2, s.shared_intermediate, "2 x shared expert intermediate size");
    case dim::audio_mels: return {s.audio_mels, "num_mel_bins"};
    case dim::audio_kernel: return {s.audio_kernel, "convolution kernel"};
    case dim::audio_positions: return {s.audio_positions, "max_source_positions"};
    case dim::draft_vocab: return {s.draft_vocab, "draft_vocab_size"};
    }
    return {};
}

bool holds(const tensor_template& t, uint64_t switches) {
    // Vision layers take only the rows written for them.
    if ((switches & sw_vision) && !(t.needs & sw_vision)) return false;
    return (t.needs & switches) == t.needs && (t.excludes & switches) == 0;
}

// Shape of a template for this spec, with overflow checks on every product.
result<tensor_info> instantiate(const tensor_template& t, const model_spec& s, dtype type,
                                const std::string& prefix) {
    tensor_info info;
    info.type = type;
    if (t.fixed_dtype) {
        auto fixed = parse_dtype(t.fixed_dtype, t.name);
        if (!fixed) return fixed.err();
        info.type = *fixed;
    }
    info.what = t.what;
    info.source = &t;
    info.elements = 1;
    bool overflow = false;
    for (uint8_t i = 0; i < t.rank; ++i) {
        dim_value d = resolve(t.shape[i], s);
        if (d.overflow)
            return make_error(error_code::overflow, prefix + t.name + ": " + d.source + " overflows 64 bits");
        info.shape.push_back(d.value);
        overflow = overflow || __builtin_mul_overflow(info.elements, d.value, &info.elements);
    }
    if (overflow || info.elements > max_tensor_elements) {
        std::string formula;
        for (uint8_t i = 0; i < t.rank; ++i) {
            dim_value d = resolve(t.shape[i], s);
            formula += (i ? " x " : "") + std::string(d.source) + " (" + with_thousands(d.value) + ")";
        }
        if (overflow)
            return make_error(error_code::overflow,
                              prefix + t.name + ": element count " + formula + " overflows 64 bits");
        return make_error(error_code::out_of_range,
                          prefix + t.name + ": element count " + formula + " = " +
                              with_thousands(info.elements) +
                              " is above 2^60, the most one tensor may hold (its bytes must fit a signed "
                              "64-bit size, as LibTorch requires; docs/reliability.md)");
    }
    return info;
}

// The checkpoint name of one instance: the prefix, then the pattern with "{layer}" and "{expert}" replaced.
std::string name_of(const std::string& prefix, const char* group_prefix, const char* pattern, int64_t layer,
                    int64_t expert) {
    std::string out;
    out.reserve(prefix.size() + 80);
    out += prefix;
    out += group_prefix;
    const char* p = pattern;
    for (const char* brace = std::strchr(p, '{'); brace; brace = std::strchr(p, '{')) {
        out.append(p, brace);
        char digits[24];
        if (std::strncmp(brace, "{layer}", 7) == 0) {
            out.append(digits, std::to_chars(digits, digits + sizeof digits, layer).ptr);
            p = brace + 7;
        } else if (std::strncmp(brace, "{expert}", 8) == 0) {
            out.append(digits, std::to_chars(digits, digits + sizeof digits, expert).ptr);
            p = brace + 8;
        } else {
            out += '{';
            p = brace + 1;
        }
    }
    out.append(p);
    return out;
}

struct row_ref {
    const tensor_template* t;
    const char* group_prefix;
    const tensor_template* operator->() const { return t; }
    const tensor_template& operator*() const { return *t; }
};

struct emitter {
    const model_spec& spec;
    std::string prefix;        // put before every name of these templates
    std::string target_prefix; // put before tied_to names (the base model's prefix)
    dtype type;
    std::vector<tensor_info>& out;
    std::vector<tensor_alias>* aliases; // null for buffers
    bool from_head;
    bool full = false; // max_tensors reached: stop emitting, the caller reports it

    std::optional<error> run(const std::vector<row_ref>& rows) {
        std::vector<tensor_info> prototypes;
        prototypes.reserve(rows.size());
        for (const row_ref& t : rows) {
            auto info = instantiate(*t, spec, type, prefix + t.group_prefix);
            if (info) {
                info->from_head = from_head;
                info->group_prefix = t.group_prefix;
            }
            if (!info) return info.err();
            prototypes.push_back(std::move(*info));
        }
        // Room for every instance (an upper bound: every row in every layer, repeated rows per repeat).
        uint64_t estimate = 0;
        for (const row_ref& t : rows) {
            uint64_t repeat =
                t->where == scope::global ? 1
                : t->where == scope::layer
                    ? spec.layers.size()
                    : spec.layers.size() * std::max({spec.n_experts, spec.n_heads, uint64_t{1}});
            estimate += repeat;
        }
        out.reserve(out.size() + static_cast<size_t>(std::min<uint64_t>(estimate, 1u << 22)));
        // Model-level rows are emitted where they stand; a run of layer rows is emitted layer by layer
        // (a run of expert rows inside it expert by expert), for every layer whose switches they match.
        for (size_t i = 0; i < rows.size();) {
            if (rows[i]->where == scope::global) {
                if (holds(*rows[i], spec.switches)) add(rows[i], prototypes[i], no_index, 0, no_index);
                ++i;
                continue;
            }
            size_t end = i;
            while (end < rows.size() && rows[end]->where != scope::global) ++end;
            for (size_t il = 0; il < spec.layers.size() && !full; ++il)
                emit_layer(rows, prototypes, i, end, il);
            i = end;
        }
        if (full) return too_many_tensors();
        return std::nullopt;
    }

    void emit_layer(const std::vector<row_ref>& rows, const std::vector<tensor_info>& prototypes,
                    size_t begin, size_t end, size_t il) {
        const layer_spec& layer = spec.layers[il];
        uint64_t switches = spec.switches | layer.switches;
        for (size_t r = begin; r < end;) {
            if (rows[r]->where == scope::layer) {
                if (holds(*rows[r], switches)) add(rows[r], prototypes[r], il, layer.index, no_index);
                ++r;
                continue;
            }
            // A run of rows repeated per routed expert, per query head or per key/value head.
            scope repeat = rows[r]->where;
            size_t run_end = r;
            while (run_end < end && rows[run_end]->where == repeat) ++run_end;
            uint64_t count = repeat == scope::expert   ? spec.n_experts
                             : repeat == scope::q_head ? spec.n_heads
                                                       : spec.n_kv_heads;
            for (uint64_t i = 0; i < count && !full; ++i)
                for (size_t e = r; e < run_end; ++e)
                    if (holds(*rows[e], switches))
                        add(rows[e], prototypes[e], il, layer.index, static_cast<int64_t>(i),
                            repeat == scope::expert);
            r = run_end;
        }
    }

    error too_many_tensors() const {
        std::string why = with_thousands(spec.layers.size()) + " layers";
        if (spec.n_experts) why += " x " + with_thousands(spec.n_experts) + " experts";
        return make_error(
            error_code::out_of_range,
            "the model has more than " + with_thousands(max_tensors) + " tensors (" + why +
                "), the most modelplan builds (docs/reliability.md); check num_hidden_layers and "
                "the number of experts");
    }

    // `expert` is the repeat index ({expert} in names); it is recorded as the tensor's expert only for
    // experts.
    void add(const row_ref& row, const tensor_info& prototype, int64_t layer, uint32_t index, int64_t expert,
             bool is_expert = true) {
        const tensor_template& t = *row.t;
        int64_t name_index = layer == no_index ? no_index : static_cast<int64_t>(index);
        if (t.tied_to && aliases && (t.tie_needs & spec.switches) == t.tie_needs) {
            bool absolute = t.tied_to[0] == '/';
            aliases->push_back({name_of(prefix, row.group_prefix, t.name, name_index, expert),
                                name_of(absolute ? std::string() : target_prefix, "",
                                        t.tied_to + (absolute ? 1 : 0), name_index, expert)});
            return;
        }
        if (out.size() + (aliases ? aliases->size() : 0) >= max_tensors) {
            full = true;
            return;
        }
        out.push_back(prototype);
        out.back().name = name_of(prefix, row.group_prefix, t.name, name_index, expert);
        out.back().layer = layer;
        out.back().expert = is_expert ? expert : no_index;
    }
};

std::vector<row_ref> flatten(const std::vector<template_table>& groups) {
    std::vector<row_ref> out;
    for (const auto& g : groups)
        for (size_t i = 0; i < g.size; ++i) out.push_back({&g.rows[i], g.prefix});
    return out;
}

} // namespace

bool holds_stacked_experts(const tensor_info& t) {
    if (t.expert != no_index || t.layer == no_index || !t.source || t.source->rank < 2) return false;
    bool expert_role =
        t.what == role::ffn_gate_exp || t.what == role::ffn_up_exp || t.what == role::ffn_down_exp;
    return expert_role && t.source->where == scope::layer && t.source->shape[0] == dim::n_experts;
}

result<skeleton> build_skeleton(const model_spec& spec) {
    if (spec.family < 0 || static_cast<size_t>(spec.family) >= families().size())
        return make_error(error_code::internal, "build_skeleton: model_spec has no family");
    const family_info& fam = families()[spec.family];
    if (spec.head < 0 || static_cast<size_t>(spec.head) >= fam.heads.size())
        return make_error(error_code::internal, "build_skeleton: model_spec has no head");
    const head_info& head = fam.heads[spec.head];
    std::string base_prefix = head.kind == head_kind::none ? "" : fam.base_prefix;

    skeleton sk;
    sk.base_prefix = base_prefix;
    emitter base{spec, base_prefix, base_prefix, spec.weight_dtype, sk.tensors, &sk.aliases, false};
    if (auto e = base.run(flatten(fam.base))) return *e;
    emitter head_rows{spec, "", base_prefix, spec.weight_dtype, sk.tensors, &sk.aliases, true};
    if (auto e = head_rows.run(flatten(head.tensors))) return *e;
    emitter buffers{spec, base_prefix, base_prefix, dtype::f32, sk.buffers, nullptr, false};
    if (auto e = buffers.run(flatten(fam.buffers))) return *e;
    return sk;
}

} // namespace modelplan
