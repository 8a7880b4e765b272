// A model without a family table, built from its checkpoint headers (modelplan/header-model.h). The skeleton
// is the checkpoint's logical view (checkpoint.h: quantized groups folded as `inspect` folds them, GGUF names
// as stored); blocks of tensors become layers, names give roles, and the generic keys of the config (or GGUF
// metadata) give what headers cannot: the attention that sizes the KV cache and the widths activations use.
// Every such part is written down as a note (docs/checkpoints.md, "Models without a family").
#include "modelplan/header-model.h"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include "model/config-json.h"
#include "model/header-internal.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"
#include "util/json-util.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan {

using header_read::generic_keys;
using header_read::guessed_role;
using header_read::name_parts;
using header_read::role_match;

namespace {

// One logical tensor of the checkpoint with what its name says and the bytes it is stored in.
struct read_tensor {
    logical_tensor l;
    name_parts parts;
    guessed_role guess;
    uint64_t stored_bytes = 0;
};

// The blocks that share the part of their names before the block number ("model.layers").
struct block_stack {
    std::string name;
    std::set<uint64_t> blocks;
    uint64_t tensors = 0;
};

bool is_float_dtype(const std::string& d) {
    return d == "F32" || d == "F16" || d == "BF16" || d == "F64";
}

bool is_column_role(role r) {
    switch (r) {
    case role::attn_q:
    case role::attn_k:
    case role::attn_v:
    case role::attn_qkv:
    case role::ffn_gate:
    case role::ffn_up:
    case role::ffn_gate_exp:
    case role::ffn_up_exp:
    case role::ffn_gate_shexp:
    case role::ffn_up_shexp: return true;
    default: return false;
    }
}

// The width a role's split dimension holds, as the tensor-parallel planner reads it (parallel.cpp).
dim width_of(role r, uint64_t extent, const model_spec& s) {
    switch (r) {
    case role::attn_k:
    case role::attn_v: return s.head_dim && extent == s.kv_dim() ? dim::kv_dim : dim::q_dim;
    case role::attn_qkv:
        return s.head_dim && extent == s.q_dim() + 2 * s.kv_dim() ? dim::qkv_dim : dim::q_dim;
    case role::attn_q:
    case role::attn_o: return dim::q_dim;
    case role::ffn_gate:
    case role::ffn_up:
    case role::ffn_down: return dim::ffn;
    case role::ffn_gate_exp:
    case role::ffn_up_exp:
    case role::ffn_down_exp: return dim::expert_ffn;
    default: return dim::shared_ffn;
    }
}

// The dimensions of a name pattern's row: one per axis of the shape (at most four), dim::one except where a
// tensor-parallel split cuts it (PyTorch's [out, in] weights: column-parallel roles along dim 0, row-parallel
// ones along dim 1, the vocabulary of the embedding and the head along dim 0).
void set_split_dims(tensor_template& t, const std::vector<uint64_t>& shape, const model_spec& s) {
    t.rank = static_cast<uint8_t>(std::min<size_t>(shape.size(), 4));
    for (auto& d : t.shape) d = dim::one;
    if (shape.empty() || shape.size() > 2) return;
    if (t.what == role::embed || t.what == role::lm_head) {
        t.shape[0] = dim::vocab;
    } else if (is_column_role(t.what)) {
        t.shape[0] = width_of(t.what, shape[0], s);
    } else if ((t.what == role::attn_o || t.what == role::ffn_down || t.what == role::ffn_down_exp ||
                t.what == role::ffn_down_shexp) &&
               shape.size() == 2) {
        t.shape[1] = width_of(t.what, shape[1], s);
    }
}

std::string list_text(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
    return out;
}

// Per tensor of `view` (the logical view of `ck`), the bytes it is stored in: a quantized group all its
// members, a stored tensor split into several (GGUF experts) its bytes shared evenly.
std::vector<uint64_t> logical_stored_bytes(const checkpoint& ck, const checkpoint_view& view) {
    std::unordered_map<std::string, uint64_t> stored, uses, given;
    for (const checkpoint_tensor& t : ck.tensors) stored[t.name] = t.bytes();
    std::unordered_map<std::string, const quantized_group*> group_at;
    for (const quantized_group& g : view.quantized) group_at[g.members.front()] = &g;
    for (const logical_tensor& l : view.tensors)
        if (!group_at.count(l.stored)) ++uses[l.stored];
    std::vector<uint64_t> out;
    out.reserve(view.tensors.size());
    for (const logical_tensor& l : view.tensors) {
        auto group = group_at.find(l.stored);
        if (group != group_at.end()) {
            out.push_back(group->second->bytes);
        } else {
            uint64_t n = uses[l.stored], total = stored[l.stored];
            out.push_back(total / n + (given[l.stored]++ == 0 ? total % n : 0));
        }
    }
    return out;
}

class builder {
  public:
    builder(const std::string& model, const checkpoint& ck, generic_keys keys, const config_options& options,
            const std::string& checkpoint_label)
        : model_(model), ck_(ck), keys_(std::move(keys)), options_(options) {
        out_.checkpoint = checkpoint_label;
        out_.generic_keys = keys_.source;
    }

    result<analysis> run() {
        if (options_.head)
            return make_error(
                error_code::bad_request,
                "head: the model is read from its checkpoint headers, whose tensors are the model as stored; "
                "a head cannot be chosen for it",
                "head");
        if (auto e = read_tensors()) return *e;
        if (auto e = choose_layers()) return *e;
        fill_spec();
        set_attention();
        set_recurrent();
        build_tensors();
        return finish();
    }

  private:
    // ---- phase 1: the logical view, with each tensor's stored bytes and what its name says
    std::optional<error> read_tensors() {
        auto view = logical_view(ck_);
        if (!view) return view.err();
        view_notes_ = view->notes;
        groups_ = view->quantized.size();
        std::vector<uint64_t> bytes = logical_stored_bytes(ck_, *view);
        const bool gguf = ck_.format == checkpoint_format::gguf;
        for (size_t i = 0; i < view->tensors.size(); ++i) {
            logical_tensor& l = view->tensors[i];
            read_tensor r;
            r.stored_bytes = bytes[i];
            out_.quantized = out_.quantized || l.quantized;
            r.parts = header_read::split_name(l.name);
            r.guess = header_read::guess_role(l.name, gguf);
            r.l = std::move(l);
            tensors_.push_back(std::move(r));
        }
        return std::nullopt;
    }

    // ---- phase 2: which blocks are the layers
    std::optional<error> choose_layers() {
        std::map<std::string, size_t> index;
        for (const read_tensor& t : tensors_) {
            if (!t.parts.block) continue;
            auto [it, fresh] = index.emplace(t.parts.stack, stacks_.size());
            if (fresh) stacks_.push_back({t.parts.stack, {}, 0});
            stacks_[it->second].blocks.insert(*t.parts.block);
            stacks_[it->second].tensors += 1;
        }
        if (keys_.layers && *keys_.layers > max_layers)
            return make_error(error_code::out_of_range,
                              "num_hidden_layers (" + num(*keys_.layers) +
                                  ") exceeds the supported maximum of " + num(max_layers),
                              "num_hidden_layers");
        main_ = pick_main_stack();
        const uint64_t main_blocks = main_ < stacks_.size() ? *stacks_[main_].blocks.rbegin() + 1 : 0;
        n_main_ = keys_.layers.value_or(main_blocks);
        uint64_t next = n_main_;
        for (size_t s = 0; s < stacks_.size(); ++s)
            for (uint64_t b : stacks_[s].blocks) {
                if (s == main_ && b < n_main_)
                    layer_of_[{s, b}] = b;
                else
                    layer_of_[{s, b}] = next++;
            }
        if (next > max_layers + (1u << 16))
            return make_error(error_code::out_of_range,
                              "the checkpoint holds " + num(next) + " blocks of tensors, more than modelled");
        for (const read_tensor& t : tensors_)
            if (t.parts.expert && *t.parts.expert >= max_experts)
                return make_error(error_code::out_of_range,
                                  quoted(t.l.name) + ": expert " + num(*t.parts.expert) +
                                      " is past the supported maximum of " + num(max_experts) + " experts");
        stack_index_ = std::move(index);
        n_layers_total_ = next;
        return std::nullopt;
    }

    // The stack whose blocks are the model's layers: the one with num_hidden_layers blocks, else the one with
    // the most blocks (most tensors on a tie).
    size_t pick_main_stack() const {
        size_t best = stacks_.size();
        auto better = [&](size_t s) {
            if (best == stacks_.size()) return true;
            const block_stack &a = stacks_[s], &b = stacks_[best];
            if (keys_.layers) {
                bool a_exact = a.blocks.size() == *keys_.layers, b_exact = b.blocks.size() == *keys_.layers;
                if (a_exact != b_exact) return a_exact;
            }
            if (a.blocks.size() != b.blocks.size()) return a.blocks.size() > b.blocks.size();
            return a.tensors > b.tensors;
        };
        for (size_t s = 0; s < stacks_.size(); ++s)
            if (better(s)) best = s;
        return best;
    }

    int64_t layer_index(const read_tensor& t) const {
        if (!t.parts.block) return no_index;
        return static_cast<int64_t>(layer_of_.at({stack_index_.at(t.parts.stack), *t.parts.block}));
    }

    // ---- phase 3: the spec's widths, from the generic keys or else from the shapes
    const read_tensor* first_of(std::initializer_list<role> roles) const {
        for (role r : roles)
            for (const read_tensor& t : tensors_)
                if (t.guess.what == r && !t.l.shape.empty() && t.l.kind == logical_kind::parameter) return &t;
        return nullptr;
    }

    uint64_t from_keys_or_shape(const std::optional<uint64_t>& key, const char* key_name,
                                std::initializer_list<role> roles, size_t axis, const char* what) {
        if (key) return *key;
        const read_tensor* t = first_of(roles);
        if (!t || t->l.shape.size() <= axis) return 0;
        inferred_.push_back(std::string(key_name) + " " + num(t->l.shape[axis]) + " (" + what + " of " +
                            t->l.name + ")");
        return t->l.shape[axis];
    }

    void fill_spec() {
        model_spec& s = spec_;
        s.model_type = keys_.model_type;
        s.architecture = keys_.architecture.empty() ? "(no family)" : keys_.architecture;
        s.n_layers = n_main_;
        s.hidden = from_keys_or_shape(keys_.hidden, "hidden_size", {role::embed}, 1, "columns");
        s.vocab = from_keys_or_shape(keys_.vocab, "vocab_size", {role::embed, role::lm_head}, 0, "rows");
        s.intermediate = from_keys_or_shape(keys_.intermediate, "intermediate_size",
                                            {role::ffn_gate, role::ffn_up}, 0, "rows");
        s.expert_intermediate = from_keys_or_shape(keys_.expert_intermediate, "moe_intermediate_size",
                                                   {role::ffn_gate_exp, role::ffn_up_exp}, 0, "rows");
        s.shared_intermediate = from_keys_or_shape(std::nullopt, "shared expert width",
                                                   {role::ffn_gate_shexp, role::ffn_up_shexp}, 0, "rows");
        s.max_positions = keys_.max_positions.value_or(0);
        s.n_heads = keys_.heads.value_or(0);
        s.n_kv_heads = keys_.kv_heads.value_or(s.n_heads);
        if (keys_.head_dim)
            s.head_dim = *keys_.head_dim;
        else if (s.n_heads && s.hidden % s.n_heads == 0)
            s.head_dim = s.hidden / s.n_heads;
        s.weight_dtype = weight_dtype();
        for (const read_tensor& t : tensors_)
            if (t.parts.expert) s.n_experts = std::max(s.n_experts, *t.parts.expert + 1);
        if (s.n_experts == 0 && keys_.experts) merged_experts_ = *keys_.experts;
        if (s.n_experts)
            s.n_experts_per_tok = std::min(keys_.experts_per_tok.value_or(s.n_experts), s.n_experts);
    }

    // The dtype activations and the KV cache take: --dtype, the config's torch_dtype, F16 for a GGUF file
    // (llama.cpp's default cache type), else the float type most parameters are stored in (BF16 when none
    // is).
    dtype weight_dtype() {
        if (options_.weight_dtype) return *options_.weight_dtype;
        if (keys_.torch_dtype) return *keys_.torch_dtype;
        if (ck_.format == checkpoint_format::gguf) {
            dtype_note_ = "F16, llama.cpp's default type of the KV cache (--cache-type-k/v f16)";
            return dtype::f16;
        }
        std::map<std::string, uint64_t> by_float;
        for (const read_tensor& t : tensors_)
            if (is_float_dtype(t.l.dtype)) by_float[t.l.dtype] += t.l.elements;
        auto most = std::max_element(by_float.begin(), by_float.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
        if (most == by_float.end()) {
            dtype_note_ = "BF16 (no tensor is stored as a float; quantized weights compute in BF16)";
            return dtype::bf16;
        }
        dtype_note_ = most->first + ", the float type most parameters are stored in (the config names none)";
        return *parse_dtype(most->first, "dtype");
    }

    // ---- phase 4: which layers cache keys and values, and how many tokens
    bool kv_estimable() const { return spec_.n_heads && spec_.head_dim && spec_.n_kv_heads && n_main_; }

    void set_attention() {
        spec_.layers.assign(n_layers_total_, layer_spec{});
        for (uint64_t il = 0; il < n_layers_total_; ++il) {
            layer_spec& l = spec_.layers[il];
            l.index = static_cast<uint32_t>(il < n_main_ ? il : il - n_main_);
            if (il >= n_main_ || !kv_estimable()) l.switches |= sw_no_kv_cache;
        }
        for (const read_tensor& t : tensors_)
            if (t.parts.expert && t.parts.block) spec_.layers[layer_index(t)].ffn = ffn_kind::moe;
        if (!kv_estimable()) return;
        const auto& types = keys_.layer_types;
        if (types && types->size() != n_main_) {
            kv_notes_.push_back("layer_types has " + num(types->size()) + " entries for " + num(n_main_) +
                                " layers: not read, every layer counted with full attention");
        } else if (types) {
            std::set<std::string> as_full;
            for (uint64_t il = 0; il < n_main_; ++il) {
                const std::string& kind = (*types)[il];
                layer_spec& l = spec_.layers[il];
                const bool attends =
                    kind.find("attention") != std::string::npos && kind.find("linear") == std::string::npos;
                if (kind == "full_attention" || kind == "attention") continue;
                if (kind == "sliding_attention" && keys_.sliding_window) {
                    l.attn = attn_kind::sliding;
                    l.window = *keys_.sliding_window;
                } else if (attends) { // chunked, or sliding without a window: every token, an upper bound
                    as_full.insert(kind);
                } else { // linear attention, Mamba, convolutions: no cache that grows with the context
                    l.switches |= sw_no_kv_cache;
                    uncached_layers_[kind].push_back(il);
                }
            }
            for (const std::string& kind : as_full)
                kv_notes_.push_back("\"" + kind + "\" layers are counted with full attention" +
                                    (kind == "sliding_attention" ? " (no sliding_window is set)" : "") +
                                    ", an upper bound");
        } else if (keys_.sliding_window && !keys_.sliding_disabled) {
            for (uint64_t il = 0; il < n_main_; ++il) {
                spec_.layers[il].attn = attn_kind::sliding;
                spec_.layers[il].window = *keys_.sliding_window;
            }
            kv_notes_.push_back("sliding_window " + num(*keys_.sliding_window) +
                                " applies to every layer (the config has no layer_types)");
        }
    }

    // ---- phase 4b: recurrent mixers and their state (docs/checkpoints.md, "Models without a family")
    // A layer whose tensors hold a Mamba mixer (A_log or conv1d under "mixer." or "mamba.", as Mamba,
    // Mamba-2, Nemotron-H, Granite 4 and Falcon-H1 checkpoints name them) or a gated DeltaNet
    // ("linear_attn.", as Qwen3-Next's) keeps a recurrent state. Its widths come from the shapes where they
    // are unambiguous (conv1d.weight [channels, 1, kernel]; A_log [d_inner, d_state] for Mamba-1, [heads] for
    // Mamba-2 and DeltaNet; out_proj.weight [hidden, d_inner]) and from the mixers' config keys otherwise.
    static uint64_t mixer_kind(const std::string& name) {
        // llama.cpp's names in a GGUF file: blk.N.ssm_a (A, not its log) and blk.N.ssm_conv1d.*.
        if (ends_with(name, ".ssm_a") || name.find(".ssm_conv1d.") != std::string::npos) return sw_mamba;
        const bool mixer_param = ends_with(name, ".A_log") || name.find(".conv1d.") != std::string::npos;
        if (!mixer_param) return 0;
        if (name.find("linear_attn.") != std::string::npos) return sw_linear_attn;
        if (name.find("mixer.") != std::string::npos || name.find("mamba.") != std::string::npos)
            return sw_mamba;
        return 0;
    }

    static bool is_attention_role(role r) {
        return r == role::attn_q || r == role::attn_k || r == role::attn_v || r == role::attn_qkv;
    }

    void set_recurrent() {
        std::map<uint64_t, uint64_t> kind_of; // layer -> sw_mamba / sw_linear_attn
        std::set<uint64_t> attends;
        const read_tensor *conv = nullptr, *a_log = nullptr, *out_proj = nullptr;
        const bool gguf = ck_.format == checkpoint_format::gguf;
        std::set<uint64_t>
            delta_rule; // GGUF layers with a DeltaNet's beta/alpha (llama.cpp's ssm_beta*, ssm_ba)
        for (const read_tensor& t : tensors_) {
            const int64_t il = layer_index(t);
            if (il == no_index) continue;
            if (is_attention_role(t.guess.what)) attends.insert(static_cast<uint64_t>(il));
            if (gguf && (t.l.name.find(".ssm_beta") != std::string::npos ||
                         t.l.name.find(".ssm_ba.") != std::string::npos))
                delta_rule.insert(static_cast<uint64_t>(il));
            const uint64_t kind = mixer_kind(t.l.name);
            if (!kind || !t.l.shape_known) continue;
            kind_of[static_cast<uint64_t>(il)] |= kind;
            if (!conv && (ends_with(t.l.name, ".conv1d.weight") || ends_with(t.l.name, ".ssm_conv1d.weight")))
                conv = &t;
            if (!a_log && (ends_with(t.l.name, ".A_log") || ends_with(t.l.name, ".ssm_a"))) a_log = &t;
        }
        for (uint64_t il : delta_rule)
            if (kind_of.count(il)) kind_of[il] = sw_linear_attn;
        if (kind_of.empty()) return;
        uint64_t kinds = 0;
        for (const auto& [il, kind] : kind_of) kinds |= kind;
        for (const read_tensor& t : tensors_) {
            const int64_t il = layer_index(t);
            if (out_proj || il == no_index || !kind_of.count(static_cast<uint64_t>(il))) continue;
            if (t.l.shape_known && t.l.shape.size() == 2 &&
                ((ends_with(t.l.name, ".out_proj.weight") &&
                  (t.l.name.find("mixer.") != std::string::npos ||
                   t.l.name.find("mamba.") != std::string::npos)) ||
                 (gguf && ends_with(t.l.name, ".ssm_out.weight"))))
                out_proj = &t;
        }

        // Layers with a recurrent mixer and no attention tensors cache no keys and values.
        uint64_t without_attention = 0;
        for (const auto& [il, kind] : kind_of)
            if (!attends.count(il) && !(spec_.layers[il].switches & sw_no_kv_cache)) {
                spec_.layers[il].switches |= sw_no_kv_cache;
                ++without_attention;
            }
        if (without_attention)
            kv_notes_.push_back(num(without_attention) +
                                (without_attention == 1 ? " layer holds" : " layers hold") +
                                " a recurrent mixer and no attention tensors: they cache no keys and values");

        const char* what = kinds == sw_linear_attn ? "gated DeltaNet (linear_attn.)"
                           : gguf                  ? "Mamba (llama.cpp's ssm_*)"
                                                   : "Mamba (mixer./mamba.)";
        std::string layers_text =
            num(kind_of.size()) + (kind_of.size() == 1 ? " layer" : " layers") + " with a " + what + " mixer";
        if (kinds == (sw_mamba | sw_linear_attn)) {
            state_note_ =
                "not estimated (0 bytes): the checkpoint holds both Mamba (mixer./mamba.) and gated "
                "DeltaNet (linear_attn.) mixers, whose widths a generic reading cannot tell apart";
            return;
        }
        model_spec& s = spec_;
        std::vector<std::string> inputs, missing;
        // The causal convolution: [channels, 1, kernel] as PyTorch's depthwise Conv1d stores it, or
        // [channels, kernel] as llama.cpp does.
        if (conv && conv->l.shape.size() == 3 && conv->l.shape[1] == 1) {
            s.ssm_conv_dim = conv->l.shape[0];
            s.ssm_conv_kernel = conv->l.shape[2];
            inputs.push_back(conv->l.name + " " + shape_text(conv->l.shape) + ": conv channels " +
                             num(s.ssm_conv_dim) + ", conv_kernel " + num(s.ssm_conv_kernel));
        } else if (gguf && conv && conv->l.shape.size() == 2) {
            s.ssm_conv_dim = conv->l.shape[0];
            s.ssm_conv_kernel = conv->l.shape[1];
            inputs.push_back(conv->l.name + " " + shape_text(conv->l.shape) + ": conv channels " +
                             num(s.ssm_conv_dim) + ", conv_kernel " + num(s.ssm_conv_kernel));
        } else {
            missing.push_back(gguf ? "an ssm_conv1d.weight [channels, kernel]"
                                   : "a conv1d.weight [channels, 1, kernel]");
        }
        if (kinds == sw_mamba) {
            // llama.cpp stores Mamba-2's A as [heads, 1].
            const bool heads_column = a_log && a_log->l.shape.size() == 2 && a_log->l.shape[1] == 1;
            if (a_log && a_log->l.shape.size() == 2 && !heads_column) { // Mamba-1: d_state per channel
                s.ssm_inner = a_log->l.shape[0];
                s.ssm_state = a_log->l.shape[1];
                inputs.push_back(a_log->l.name + " " + shape_text(a_log->l.shape) + ": d_inner " +
                                 num(s.ssm_inner) + ", d_state " + num(s.ssm_state) + " (Mamba-1)");
            } else {
                if (a_log && (a_log->l.shape.size() == 1 || heads_column)) {
                    s.ssm_heads = a_log->l.shape[0];
                    inputs.push_back(a_log->l.name + " " + shape_text(a_log->l.shape) + ": " +
                                     num(s.ssm_heads) + " heads (Mamba-2)");
                } else if (keys_.ssm_heads) {
                    s.ssm_heads = *keys_.ssm_heads;
                } else {
                    missing.push_back("the heads (an A_log [heads], or mamba_n_heads)");
                }
                if (keys_.ssm_head_dim) {
                    s.ssm_head_dim = *keys_.ssm_head_dim;
                } else if (s.ssm_heads && keys_.ssm_inner && *keys_.ssm_inner % s.ssm_heads == 0) {
                    s.ssm_head_dim = *keys_.ssm_inner / s.ssm_heads;
                    inputs.push_back("head_dim d_inner (" + num(*keys_.ssm_inner) +
                                     ") / heads = " + num(s.ssm_head_dim));
                } else if (s.ssm_heads && out_proj && out_proj->l.shape[1] % s.ssm_heads == 0) {
                    s.ssm_head_dim = out_proj->l.shape[1] / s.ssm_heads;
                    inputs.push_back(out_proj->l.name + " " + shape_text(out_proj->l.shape) + ": d_inner " +
                                     num(out_proj->l.shape[1]) +
                                     ", head_dim d_inner / heads = " + num(s.ssm_head_dim));
                } else {
                    missing.push_back(
                        "head_dim (mamba_d_head, or a mixer out_proj.weight [hidden, d_inner])");
                }
                if (keys_.ssm_state)
                    s.ssm_state = *keys_.ssm_state;
                else
                    missing.push_back("d_state (mamba_d_state, ssm_state_size or state_size)");
                s.ssm_inner = sat::mul(s.ssm_heads, s.ssm_head_dim);
            }
        } else { // gated DeltaNet: value heads x key head_dim x value head_dim
            if (a_log && a_log->l.shape.size() == 1) {
                s.ssm_heads = a_log->l.shape[0];
                inputs.push_back(a_log->l.name + " " + shape_text(a_log->l.shape) + ": " + num(s.ssm_heads) +
                                 " value heads");
            } else if (keys_.linear_value_heads) {
                s.ssm_heads = *keys_.linear_value_heads;
            } else {
                missing.push_back("the value heads (an A_log [heads], or linear_num_value_heads)");
            }
            if (keys_.linear_value_head_dim)
                s.ssm_head_dim = *keys_.linear_value_head_dim;
            else
                missing.push_back("linear_value_head_dim");
            if (keys_.linear_key_head_dim)
                s.ssm_state = *keys_.linear_key_head_dim;
            else
                missing.push_back("linear_key_head_dim");
            s.ssm_inner = sat::mul(s.ssm_heads, s.ssm_head_dim);
        }
        if (!missing.empty()) {
            s.ssm_inner = s.ssm_state = s.ssm_heads = s.ssm_head_dim = 0;
            s.ssm_conv_dim = s.ssm_conv_kernel = 0;
            state_note_ = "not estimated (0 bytes) for the " + layers_text + ": it needs " +
                          list_text(missing) + ", which neither the tensor shapes nor the " +
                          (keys_.source.empty() ? std::string("config (there is none)") : keys_.source) +
                          " give";
            return;
        }
        for (const auto& [il, kind] : kind_of) s.layers[il].switches |= kind;
        s.ssm_state_dtype = keys_.ssm_state_dtype;
        if (gguf) { // llama.cpp keeps both parts in F32 (llama_memory_recurrent's type_r and type_s)
            s.ssm_state_dtype = s.ssm_conv_dtype = dtype::f32;
            inputs.push_back("both parts in F32, as llama.cpp keeps them");
        }
        if (!keys_.mixer_read.empty()) inputs.push_back("the generic keys " + list_text(keys_.mixer_read));
        const std::string ssm_formula =
            s.ssm_heads ? "heads (" + num(s.ssm_heads) + ") x head_dim (" + num(s.ssm_head_dim) +
                              ") x d_state (" + num(s.ssm_state) + ")"
                        : "d_inner (" + num(s.ssm_inner) + ") x d_state (" + num(s.ssm_state) + ")";
        state_note_ = "estimated for the " + layers_text +
                      " from the checkpoint shapes and keys: " + list_text(inputs) +
                      "; per layer and sequence (conv_kernel - 1) x conv channels x " +
                      "conv dtype bytes + " + ssm_formula + " x state dtype bytes";
    }

    // ---- phase 5: the skeleton, its name patterns and the tied head
    void build_tensors() {
        std::unordered_map<std::string, const tensor_template*> rows;
        for (size_t i = 0; i < tensors_.size(); ++i) {
            read_tensor& r = tensors_[i];
            tensor_info t;
            t.name = r.l.name;
            t.shape = r.l.shape_known ? r.l.shape : std::vector<uint64_t>{};
            t.elements = r.l.elements;
            t.what = r.guess.what;
            t.layer = layer_index(r);
            t.expert = r.parts.expert ? static_cast<int64_t>(*r.parts.expert) : no_index;
            t.from_head = true; // names are whole: no base prefix is put before them
            std::string dtype_text = r.l.dtype;
            uint64_t bytes = r.stored_bytes;
            auto parsed = parse_dtype(r.l.dtype, "dtype");
            t.type = parsed ? *parsed : spec_.weight_dtype;
            if (options_.weight_dtype && is_float_dtype(r.l.dtype)) { // from_pretrained casts floats
                t.type = *options_.weight_dtype;
                dtype_text = dtype_name(t.type);
                bytes = sat::mul(t.elements, dtype_bytes(t.type));
            }
            t.source = row_for(r, t.shape, rows);
            if (r.l.kind == logical_kind::buffer) {
                sk_.buffers.push_back(std::move(t));
                continue;
            }
            count_guess(r.guess);
            sk_.tensors.push_back(std::move(t));
            out_.stored_bytes.push_back(bytes);
            out_.stored_dtype.push_back(dtype_text);
        }
        add_tied_head();
    }

    const tensor_template* row_for(const read_tensor& r, const std::vector<uint64_t>& shape,
                                   std::unordered_map<std::string, const tensor_template*>& rows) {
        auto found = rows.find(r.parts.pattern);
        if (found != rows.end()) return found->second;
        out_.pattern_names.push_back(r.parts.pattern);
        tensor_template row;
        row.what = r.guess.what;
        row.where = r.parts.expert ? scope::expert : r.parts.block ? scope::layer : scope::global;
        row.name = out_.pattern_names.back().c_str();
        set_split_dims(row, shape, spec_);
        out_.patterns.push_back(row);
        return rows[r.parts.pattern] = &out_.patterns.back();
    }

    void count_guess(const guessed_role& g) {
        switch (g.how) {
        case role_match::family_name: ++by_family_; break;
        case role_match::name_ending: ++by_ending_; break;
        case role_match::gguf_name: ++by_gguf_; break;
        case role_match::none: ++unclassified_; break;
        }
    }

    // The checkpoint stores no output head: a causal LM ties it to the embedding (tie_word_embeddings, or for
    // a GGUF file the absent output.weight, as llama.cpp writes tied models).
    void add_tied_head() {
        const tensor_info* embed = nullptr;
        for (const tensor_info& t : sk_.tensors) {
            if (t.what == role::lm_head) return;
            if (t.what == role::embed && !embed) embed = &t;
        }
        if (!embed) return;
        const bool gguf = ck_.format == checkpoint_format::gguf;
        const bool lm = ends_with(keys_.architecture, "ForCausalLM") ||
                        ends_with(keys_.architecture, "ForConditionalGeneration");
        if (!gguf && !(keys_.tie_embeddings.value_or(false) || (lm && keys_.tie_embeddings.value_or(true))))
            return;
        std::string head = gguf ? "output.weight" : "lm_head.weight";
        sk_.aliases.push_back({head, embed->name});
        spec_.switches |= sw_tied;
        tied_note_ =
            "the checkpoint stores no output head: " + head + " is tied to " + embed->name +
            (gguf ? " (llama.cpp writes no output.weight for a tied head)" : " (tie_word_embeddings)");
    }

    // ---- phase 6: counts and the notes
    result<analysis> finish() {
        auto counts = count_params(spec_, sk_);
        if (!counts) return counts.err();
        counts->active = active_params(counts->total);
        uint64_t stored = 0;
        for (uint64_t b : out_.stored_bytes) stored = sat::add(stored, b);
        counts->weight_bytes = stored;
        write_notes();
        analysis a{model_, std::move(spec_), std::move(sk_), std::move(*counts), nullptr, 0, {}, nullptr};
        a.from_headers = std::make_shared<const header_model>(std::move(out_));
        return a;
    }

    // A token visits num_experts_per_tok of a layer's experts: the routed experts' parameters of each layer
    // count that share (the checkpoint's own experts, whatever their sizes, rather than expert 0 times all).
    uint64_t active_params(uint64_t total) const {
        const uint64_t experts = spec_.n_experts, per_token = spec_.n_experts_per_tok;
        if (!experts) return total;
        std::vector<uint64_t> routed(spec_.layers.size(), 0);
        for (const tensor_info& t : sk_.tensors)
            if (t.expert != no_index && t.layer != no_index)
                routed[t.layer] = sat::add(routed[t.layer], t.elements);
        uint64_t skipped = 0;
        for (uint64_t r : routed) skipped = sat::add(skipped, r / experts * (experts - per_token));
        return total - std::min(skipped, total);
    }

    void note(const char* item, std::string text) { out_.notes.push_back({item, std::move(text)}); }

    std::string keys_text() const {
        if (keys_.source.empty()) return "no config.json and no GGUF metadata";
        return keys_.read.empty() ? "no generic key in the " + keys_.source
                                  : "the generic keys of the " + keys_.source + ": " + list_text(keys_.read);
    }

    void write_notes() {
        const uint64_t files = ck_.files.size();
        note("skeleton", "read from the checkpoint headers of " + out_.checkpoint + " (" +
                             with_thousands(ck_.tensors.size()) + " stored tensors in " + num(files) +
                             (files == 1 ? " file" : " files") +
                             "): names, shapes, dtypes, parameter counts and bytes are exact" +
                             (groups_ ? "; " + with_thousands(groups_) +
                                            " quantized groups folded into their "
                                            "parameters"
                                      : std::string()) +
                             (keys_.model_type.empty() ? std::string()
                                                       : "; model_type " + quote_value(keys_.model_type) +
                                                             " has no family table"));
        for (const std::string& n : view_notes_) note("skeleton", n);
        note("roles",
             "guessed from the tensor names (they decide placement, tensor-parallel splits, LoRA targets "
             "and the embedding count): " +
                 with_thousands(by_family_) + " by the names of families we model, " +
                 with_thousands(by_ending_) + " by usual name endings, " +
                 (by_gguf_ ? with_thousands(by_gguf_) + " by llama.cpp's GGUF names, " : std::string()) +
                 with_thousands(unclassified_) + " unclassified");
        if (!tied_note_.empty()) note("roles", tied_note_);
        write_layer_notes();
        write_kv_notes();
        if (!state_note_.empty()) note("recurrent_state", state_note_);
        note("activations", "estimated from " + activation_inputs());
        note("weights", "each tensor's bytes as the checkpoint stores them" +
                            std::string(out_.quantized ? " (quantized storage included)" : "") +
                            (options_.weight_dtype ? ", but float tensors at " +
                                                         std::string(dtype_name(*options_.weight_dtype)) +
                                                         " (the dtype asked for: from_pretrained casts them)"
                                                   : std::string()));
        if (!dtype_note_.empty()) note("dtype", "compute and KV-cache dtype " + dtype_note_);
        if (spec_.n_experts && !keys_.experts_per_tok)
            note("active", "num_experts_per_tok is not given: active parameters count every expert");
        if (merged_experts_)
            note("active", num(merged_experts_) + " experts per layer are stored merged in one tensor each: "
                                                  "active parameters count every expert");
        for (const std::string& n : keys_.notes) note("kv_cache", n);
    }

    void write_layer_notes() {
        if (main_ >= stacks_.size()) {
            note("layers",
                 "no tensor name holds a block number: the model has no layers to place one by one");
            return;
        }
        const block_stack& m = stacks_[main_];
        std::string text =
            "the " + num(m.blocks.size()) + " blocks of " + quote_value(m.name) + " are the layers";
        if (keys_.layers) text += " (num_hidden_layers " + num(*keys_.layers) + ")";
        for (size_t s = 0; s < stacks_.size(); ++s)
            if (s != main_)
                text += "; the " + num(stacks_[s].blocks.size()) + " blocks of " +
                        quote_value(stacks_[s].name) + " are layers without a KV cache";
        uint64_t past = 0;
        for (uint64_t b : m.blocks) past += b >= n_main_ ? 1 : 0;
        if (past)
            text += "; " + num(past) +
                    " of its blocks lie past num_hidden_layers and cache nothing (such as "
                    "multi-token-prediction layers)";
        note("layers", text);
    }

    void write_kv_notes() {
        if (!kv_estimable()) {
            std::vector<std::string> missing;
            if (!n_main_) missing.push_back("num_hidden_layers");
            if (!spec_.n_heads) missing.push_back("num_attention_heads");
            if (spec_.n_heads && !spec_.head_dim)
                missing.push_back("head_dim (or a hidden_size divisible by it)");
            note("kv_cache", "not estimated (0 bytes): it needs " + list_text(missing) + ", and " +
                                 keys_text() + " gives none");
            return;
        }
        note("kv_cache",
             "estimated from " + keys_text() + ": 2 x num_key_value_heads (" + num(spec_.n_kv_heads) +
                 ") x head_dim (" + num(spec_.head_dim) + ") x bytes per token in each attention layer" +
                 (keys_.kv_heads ? std::string() : " (no num_key_value_heads: every head keeps its own)"));
        for (const auto& [kind, layers] : uncached_layers_) {
            bool estimated = true;
            for (uint64_t il : layers) estimated = estimated && spec_.has_recurrent_state(il);
            note("kv_cache", "layers whose layer_types entry is \"" + kind +
                                 "\" cache no keys and values here" +
                                 (estimated ? " (their recurrent state is the recurrent_state item)"
                                            : " (any state they keep is not estimated)"));
        }
        for (const std::string& n : kv_notes_) note("kv_cache", n);
    }

    std::string activation_inputs() {
        std::vector<std::string> parts;
        for (const std::string& i : inferred_) parts.push_back(i + ", inferred from the shapes");
        std::string base = keys_text();
        return parts.empty() ? base : base + "; " + list_text(parts);
    }

    const std::string& model_;
    const checkpoint& ck_;
    generic_keys keys_;
    const config_options& options_;
    header_model out_;
    model_spec spec_;
    skeleton sk_;
    std::vector<read_tensor> tensors_;
    std::vector<block_stack> stacks_;
    std::map<std::string, size_t> stack_index_;
    std::map<std::pair<size_t, uint64_t>, uint64_t> layer_of_;
    size_t main_ = 0;
    uint64_t n_main_ = 0, n_layers_total_ = 0, merged_experts_ = 0;
    uint64_t groups_ = 0, by_family_ = 0, by_ending_ = 0, by_gguf_ = 0, unclassified_ = 0;
    std::vector<std::string> view_notes_, kv_notes_, inferred_;
    std::string dtype_note_, tied_note_, state_note_;
    std::map<std::string, std::vector<uint64_t>> uncached_layers_;
};

} // namespace

std::string header_model::notes_of(const std::string& item) const {
    std::string out;
    for (const generic_note& n : notes)
        if (n.item == item) out += (out.empty() ? "" : "; ") + n.note;
    return out;
}

std::string header_model::note_for_item(const std::string& plan_item) const {
    if (plan_item == "overhead") return "";
    if (plan_item == "weights" || plan_item == "kv_cache" || plan_item == "recurrent_state")
        return notes_of(plan_item);
    return notes_of("activations");
}

bool lacks_family(const error& e) {
    const bool at_model_type = e.path == "model_type";
    return at_model_type && (e.code == error_code::unknown_model_type || e.code == error_code::missing_key);
}

result<analysis> analyze_checkpoint(const std::string& model, const checkpoint& ck,
                                    const std::string* config_json, const config_options& options,
                                    const std::string& checkpoint_label) {
    rapidjson::Document doc;
    if (config_json)
        if (auto e = parse_json(*config_json, doc, "config.json")) return *e;
    return header_read::analyze_checkpoint(model, ck, config_json ? &doc : nullptr, options,
                                           checkpoint_label);
}

namespace header_read {

result<analysis> analyze_checkpoint(const std::string& model, const checkpoint& ck,
                                    const rapidjson::Value* config, const config_options& options,
                                    const std::string& checkpoint_label) {
    result<generic_keys> keys = generic_keys{};
    if (config) {
        auto spec = parse_config(*config, options);
        if (spec) return analyze(model, std::move(spec));
        if (!lacks_family(spec.err())) return spec.err();
        keys = read_config_keys(*config);
    } else if (ck.format == checkpoint_format::gguf) {
        keys = read_gguf_keys(ck);
    }
    if (!keys) return keys.err();
    return builder(model, ck, std::move(*keys), options, checkpoint_label).run();
}

} // namespace header_read

result<std::vector<uint64_t>> checkpoint_weight_bytes(const analysis& a, const checkpoint& ck) {
    auto view = logical_view(ck);
    if (!view) return view.err();
    // The checkpoint must hold every tensor of the skeleton, in its shape: the verification's rule.
    verify_report v = verify_checkpoint(a.sk, *view);
    if (!v.missing.empty() || !v.mismatched.empty()) {
        std::string first = !v.missing.empty() ? "missing " + v.missing.front().name
                                               : "another shape for " + v.mismatched.front().name;
        return make_error(error_code::bad_request,
                          "checkpoint_weights: the checkpoint is not " + a.model + "'s (" +
                              std::to_string(v.missing.size()) + " tensors missing, " +
                              std::to_string(v.mismatched.size()) + " in another shape; " + first +
                              "); its bytes cannot stand for the model's weights",
                          "checkpoint_weights");
    }
    std::vector<uint64_t> stored = logical_stored_bytes(ck, *view);
    std::unordered_map<std::string, uint64_t> by_name;
    for (size_t i = 0; i < view->tensors.size(); ++i)
        if (view->tensors[i].kind == logical_kind::parameter) by_name[view->tensors[i].name] = stored[i];
    std::vector<uint64_t> out;
    out.reserve(a.sk.tensors.size());
    for (const tensor_info& t : a.sk.tensors) out.push_back(by_name[t.name]);
    return out;
}

std::vector<std::string> close_model_types(const std::string& model_type, size_t count) {
    if (model_type.size() > 64) return {}; // no name at all; its edit distances would cost seconds
    auto stem = [](const std::string& s) {
        size_t n = 0;
        while (n < s.size() && std::isalpha(static_cast<unsigned char>(s[n]))) ++n;
        std::string out = s.substr(0, n);
        for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return out;
    };
    const std::string wanted_stem = stem(model_type);
    std::vector<std::pair<size_t, std::string>> ranked;
    std::set<std::string> seen;
    for (const family_info& f : families()) {
        std::string name = f.model_type;
        if (!seen.insert(name).second) continue;
        size_t d = edit_distance(model_type, name);
        bool same_stem = wanted_stem.size() >= 3 && stem(name) == wanted_stem;
        size_t limit = std::max<size_t>(2, std::max(model_type.size(), name.size()) / 3);
        if (same_stem || d <= limit) ranked.emplace_back(d, name);
    }
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<std::string> out;
    for (size_t i = 0; i < ranked.size() && i < count; ++i) out.push_back(ranked[i].second);
    return out;
}

} // namespace modelplan
