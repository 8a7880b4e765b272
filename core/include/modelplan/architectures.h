// Architectures are data. A family is one row of switches plus tables of tensor templates; a template is one
// parameter (or buffer) with its checkpoint name pattern, its shape in spec dimensions, its role and the
// conditions under which it exists. Adding a family means adding rows, not classes
// (docs/adding-an-architecture.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/model-spec.h"

namespace modelplan {

class key_reader;

// What a tensor does. Stable names (role_name) appear in JSON output.
enum class role : uint8_t {
    embed,         // token embedding
    pos_embed,     // learned position embedding
    type_embed,    // token type (segment) embedding
    embed_norm,    // norm right after the embeddings
    embed_proj,    // projection between embedding width and hidden width (OPT project_in/out)
    attn_norm,     // norm before attention (or the shared pre-norm of a parallel block)
    attn_qkv,      // fused query/key/value projection
    attn_q,        // query projection (weight and bias)
    attn_q_a,      // MLA query down-projection
    attn_q_a_norm, // MLA query latent norm
    attn_q_b,      // MLA query up-projection
    attn_k,        // key projection
    attn_v,        // value projection
    attn_kv_a,     // MLA joint key/value down-projection (with the rotary key)
    attn_kv_a_norm,
    attn_kv_b, // MLA key/value up-projection
    attn_o,    // attention output projection
    attn_q_norm,
    attn_k_norm,
    attn_post_norm, // norm after attention (Gemma 2/3, OLMo 2, BERT)
    attn_rel_bias,  // relative position bias (T5)
    cross_norm,     // norm before cross-attention (encoder-decoder)
    cross_q,
    cross_k,
    cross_v,
    cross_o,
    ffn_norm,      // norm before the feed-forward block
    ffn_gate,      // dense FFN gate projection
    ffn_up,        // dense FFN up projection (or the fused gate+up)
    ffn_down,      // dense FFN down projection
    ffn_post_norm, // norm after the FFN
    ffn_router,    // MoE router weight (and its score-correction bias)
    ffn_gate_exp,  // routed expert gate projection
    ffn_up_exp,    // routed expert up projection
    ffn_down_exp,  // routed expert down projection
    ffn_gate_shexp,
    ffn_up_shexp,
    ffn_down_shexp,
    ffn_shexp_gate, // gate scalar of a shared expert
    output_norm,    // final norm
    pooler,         // sentence pooler (BERT)
    head_transform, // MLM head transform (dense + norm)
    lm_head,        // output projection to the vocabulary (and its bias)
    classifier,     // classification head
    mtp,            // multi-token-prediction extras (DeepSeek-V3)
    vision,         // vision tower (SigLIP in Gemma 3)
    projector,      // multimodal projector
    rope_freq,      // rotary inv_freq buffer (not a parameter)
    attn_mask,      // causal mask buffer (not a parameter)
    position_ids,   // position id buffer (not a parameter)
    attn_sinks,     // learned per-head attention sink logits (gpt-oss self_attn.sinks)
    // Recurrent mixers (Mamba, Mamba-2, gated DeltaNet, LFM2 short convolution).
    ssm_in,       // input projection (in_proj; DeltaNet in_proj_qkvz and in_proj_ba)
    ssm_conv,     // causal depthwise convolution (conv1d weight and bias)
    ssm_dt,       // time-step projections and bias (Mamba-1 x_proj, dt_proj; Mamba-2 dt_bias)
    ssm_params,   // A_log, D and Jamba's dt/B/C norms
    ssm_norm,     // gated RMSNorm before out_proj
    ssm_out,      // output projection
    audio_conv,   // convolutional front-end of a speech encoder (Whisper conv1, conv2)
    unclassified, // a tensor read from checkpoint headers whose name says no role (header-model.h)
};
constexpr int role_count = static_cast<int>(role::unclassified) + 1;
const char* role_name(role r);

// How often a template repeats.
enum class scope : uint8_t {
    global,  // once per model
    layer,   // once per layer: the name holds {layer}, the layer's index within its stack
    expert,  // once per routed expert of each MoE layer: the name holds {layer} and {expert}
    q_head,  // once per attention head of each layer ({expert} is the head index)
    kv_head, // once per key/value head of each layer ({expert} is the head index)
};

// Shape dimensions, resolved against a model_spec (skeleton.cpp `resolve`).
enum class dim : uint8_t {
    one,             // 1
    two,             // 2 (next-sentence prediction)
    hidden,          // hidden size
    hidden_x2,       // 2 x hidden size
    vocab,           // vocabulary
    heads,           // attention heads
    q_dim,           // heads x head_dim
    kv_dim,          // kv heads x head_dim
    qkv_dim,         // q_dim + 2 kv_dim (fused projections)
    head_dim,        // head_dim
    rope_half,       // rotary dimensions / 2 (inv_freq)
    ffn,             // dense FFN width
    ffn_x2,          // 2 x dense FFN width (fused gate+up)
    n_experts,       // routed experts per MoE layer
    expert_ffn,      // one routed expert's FFN width
    shared_ffn,      // the shared experts' FFN width (all shared experts together)
    position_rows,   // rows of the learned position table (max positions plus any offset)
    token_types,     // token type vocabulary
    labels,          // classification labels
    q_lora,          // MLA query latent rank
    kv_lora,         // MLA key/value latent rank
    mla_q_out,       // heads x (qk_nope + qk_rope)
    mla_kv_a_out,    // kv_lora + qk_rope
    mla_kv_b_out,    // heads x (qk_nope + v_head)
    mla_o_in,        // heads x v_head
    buckets,         // relative attention buckets
    word_proj,       // word embedding width when it differs from hidden (OPT)
    max_positions,   // max_position_embeddings (square causal masks, position id buffers)
    v_hidden,        // vision tower width
    v_hidden_x3,     // 3 x vision width (fused in-projection of the pooling head)
    v_ffn,           // vision FFN width
    v_position_rows, // vision position table: (image_size / patch_size)^2
    v_channels,      // image channels
    v_patch,         // patch size
    kv_heads,        // key/value heads (Cohere's per-head k_norm [kv heads, head_dim])
    expert_ffn_x2,   // 2 x one routed expert's FFN width (fused gate_up of all experts: gpt-oss, Llama 4)
    v_patch_in,      // image channels x patch size^2 (Llama 4's unfold patch embedding, an nn.Linear)
    v_proj_in,       // Llama 4 vision adapter width (projector_input_dim)
    v_proj_out,      // Llama 4 vision adapter output (projector_output_dim)
    v_output,        // Llama 4 vision output width (vision_output_dim), the projector's input
    // Vision-language families (issue 13, group VL: qwen-vl.cpp, vl-families.cpp).
    v_temporal, // frames per patch (Qwen temporal_patch_size: a Conv3d patch embedding)
    v_merged,   // vision width x merge^2: patches concatenated by a spatial merge or pixel shuffle
    v_out,      // the merger's output width (Qwen out_hidden_size)
    // Recurrent mixers (model_spec ssm_* fields).
    ssm_inner,       // Mamba d_inner; DeltaNet value heads x value head_dim
    ssm_state,       // d_state
    ssm_heads,       // Mamba-2 heads; DeltaNet value heads
    ssm_heads_x2,    // 2 x DeltaNet value heads (in_proj_ba)
    ssm_head_dim,    // DeltaNet value head_dim (its gated norm)
    ssm_conv_dim,    // channels of the causal convolution
    ssm_conv_kernel, // its width
    ssm_in_proj,     // in_proj output width
    ssm_dt_rank,     // Mamba-1 time_step_rank
    ssm_x_proj,      // Mamba-1 x_proj output: time_step_rank + 2 x d_state
    q_dim_x2,        // 2 x heads x head_dim (Qwen3-Next's gated q_proj: queries and their output gate)
    hidden_x3,       // 3 x hidden (LFM2's short-convolution in_proj)
    shared_ffn_x2,   // 2 x the shared experts' FFN width (Granite 4's fused shared_mlp.input_linear)
    // Speech encoders (Whisper; model_spec audio_* fields).
    audio_mels,      // input channels of the first convolution (num_mel_bins)
    audio_kernel,    // width of the encoder's convolutions
    audio_positions, // rows of the encoder's position table (max_source_positions)
    // Speculative-decoding heads (eagle.cpp).
    draft_vocab, // an EAGLE-3 head's output vocabulary (draft_vocab_size)
};

// How the parts of a fused projection (q, k and v; gate and up) lie along its fused dimension, which decides
// the exact slice each tensor-parallel rank reads (rank_slices in placement.h).
enum class fused_layout : uint8_t {
    // Not established: no exact tensor-parallel slice is given for the fused dimension.
    unknown,
    // One part after another ([q; k; v], [gate; up], Mamba's [x; z]): a rank reads its share of each.
    concatenated,
    // The parts alternate in small groups (GPT-NeoX's [q_h, k_h, v_h] per head, gpt-oss's gate and up in
    // even and odd columns): a rank reads one contiguous range of whole groups.
    interleaved,
};

// One parameter or buffer. Rows are written with the builders below and say only what differs from the
// defaults: `per_layer(role::attn_q, "layers.{layer}.self_attn.q_proj.bias", dim::q_dim).when(sw_qkv_bias)`.
struct tensor_template {
    role what = role::embed;
    scope where = scope::global;
    const char* name = ""; // checkpoint name; {layer} and {expert} are replaced by indices
    uint8_t rank = 0;
    dim shape[5] = {};
    uint64_t needs = 0;            // switches that must all be on
    uint64_t excludes = 0;         // switches that must all be off
    const char* tied_to = nullptr; // this tensor is an alias of that one when `tie_needs` hold: a base-model
                                   // name (the base prefix is added), or a full name when it starts with '/'
    uint64_t tie_needs = 0;        // switches that make it an alias (0: always an alias)
    const char* fixed_dtype = nullptr; // a buffer's own dtype ("BOOL", "I64"); default: weights' dtype / F32
    fused_layout parts = fused_layout::unknown; // the layout of a fused dimension (qkv_dim, ffn_x2, ...)

    // The row exists only when all of `switches` are on.
    constexpr tensor_template when(uint64_t switches) const {
        tensor_template t = *this;
        t.needs |= switches;
        return t;
    }
    // The row exists only when all of `switches` are off.
    constexpr tensor_template unless(uint64_t switches) const {
        tensor_template t = *this;
        t.excludes |= switches;
        return t;
    }
    // The row is an alias of `target` when all of `switches` are on (always when 0).
    constexpr tensor_template alias_of(const char* target, uint64_t switches = 0) const {
        tensor_template t = *this;
        t.tied_to = target;
        t.tie_needs = switches;
        return t;
    }
    // The parts of its fused dimension lie as `layout` says (checked against transformers' modeling code).
    constexpr tensor_template fused(fused_layout layout) const {
        tensor_template t = *this;
        t.parts = layout;
        return t;
    }
    // A buffer stored in its own dtype ("F32", "BOOL", "I64").
    constexpr tensor_template stored_as(const char* dtype_name) const {
        tensor_template t = *this;
        t.fixed_dtype = dtype_name;
        return t;
    }
};

namespace detail {
template <class... Dims>
constexpr tensor_template make_row(role what, scope where, const char* name, Dims... dims) {
    static_assert(sizeof...(Dims) <= 5, "a tensor has at most five dimensions (Conv3d patch embeddings)");
    const dim list[] = {dims..., dim::one}; // the sentinel keeps the array non-empty for scalars
    tensor_template t;
    t.what = what;
    t.where = where;
    t.name = name;
    t.rank = static_cast<uint8_t>(sizeof...(Dims));
    for (size_t i = 0; i < sizeof...(Dims); ++i) t.shape[i] = list[i];
    return t;
}
} // namespace detail

// A template that exists once per model, with its shape given as dimensions (outermost first).
template <class... Dims>
constexpr tensor_template once(role what, const char* name, Dims... dims) {
    return detail::make_row(what, scope::global, name, dims...);
}
// Once per layer ({layer} in the name).
template <class... Dims>
constexpr tensor_template per_layer(role what, const char* name, Dims... dims) {
    return detail::make_row(what, scope::layer, name, dims...);
}
// Once per routed expert of each MoE layer ({layer} and {expert} in the name).
template <class... Dims>
constexpr tensor_template per_expert(role what, const char* name, Dims... dims) {
    return detail::make_row(what, scope::expert, name, dims...);
}
// Once per query head, or per key/value head, of each layer ({expert} is the head index).
template <class... Dims>
constexpr tensor_template per_q_head(role what, const char* name, Dims... dims) {
    return detail::make_row(what, scope::q_head, name, dims...);
}
template <class... Dims>
constexpr tensor_template per_kv_head(role what, const char* name, Dims... dims) {
    return detail::make_row(what, scope::kv_head, name, dims...);
}

struct template_table {
    const tensor_template* rows;
    size_t size;
    const char* prefix = ""; // put before the group's names (after the base prefix): "language_model.model."
};

// A group of templates as a table, optionally under a name prefix.
template <size_t N>
template_table rows(const tensor_template (&group)[N], const char* prefix = "") {
    return template_table{group, N, prefix};
}
inline template_table with_prefix(template_table t, const char* prefix) {
    t.prefix = prefix;
    return t;
}

// The task head on top of the base model, chosen from `architectures` or --head.
enum class head_kind : uint8_t { none, causal_lm, masked_lm, seq_cls, cond_gen, pretraining };
// "none", "causal-lm", "masked-lm", "seq-cls", "cond-gen", "pretraining"
const char* head_kind_name(head_kind h);
std::optional<head_kind> parse_head_kind(const std::string& name);

struct head_info {
    head_kind kind;
    const char* class_suffix;            // appended to the family's class prefix: "ForCausalLM", "Model", ...
    std::vector<template_table> tensors; // the head's own parameters (full names)
    uint64_t clears = 0;                 // base switches this head turns off (BertForMaskedLM: no pooler)
};

using family_reader = std::optional<error> (*)(const key_reader& keys, model_spec& spec);

// A family: its config reader, its base model's templates and its heads. Rows are written with `family()` and
// the chained setters, which name only what differs from the defaults below.
struct family_info {
    const char* model_type = "";         // config "model_type"
    const char* class_prefix = "";       // "Llama": classes are prefix + head suffix
    const char* base_prefix = "model.";  // prefix of the base model's names inside a head class
    const char* nested_config = nullptr; // key of a nested text config ("text_config"), or nullptr
    family_reader read = nullptr;        // config keys -> spec (families/*.cpp)
    const char* config_defaults =
        nullptr;                         // JSON of the configuration class's defaults for keys a config omits
    std::vector<template_table> base;    // the base model's parameters (names without base_prefix)
    std::vector<head_info> heads;        // first entry: the default head
    std::vector<template_table> buffers; // known non-parameter buffers that some checkpoints store
    const char* not_modelled = nullptr;  // parts of the published model we leave out, or nullptr
    // Found by its class in architectures[0] before model_type (an EAGLE head's config says "llama").
    bool by_class = false;

    family_info&& prefix(const char* base_model_prefix) && {
        base_prefix = base_model_prefix;
        return std::move(*this);
    }
    family_info&& text_config(const char* key) && {
        nested_config = key;
        return std::move(*this);
    }
    family_info&& defaults(const char* json) && {
        config_defaults = json;
        return std::move(*this);
    }
    family_info&& stores_buffers(std::vector<template_table> tables) && {
        buffers = std::move(tables);
        return std::move(*this);
    }
    family_info&& leaves_out(const char* parts) && {
        not_modelled = parts;
        return std::move(*this);
    }
    family_info&& found_by_class() && {
        by_class = true;
        return std::move(*this);
    }
};

// A family row: what every family has. Base prefix "model.", no nested config, no buffers unless set.
family_info family(const char* model_type, const char* class_prefix, family_reader read,
                   std::vector<template_table> base, std::vector<head_info> heads);

const std::vector<family_info>& families();

// Index of the family for a model_type, or -1.
int find_family(const std::string& model_type);

// Supported model_type names, in table order, joined with ", ".
std::string supported_model_types();

} // namespace modelplan
