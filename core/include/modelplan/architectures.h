// Architectures are data. A family is one row of switches plus tables of tensor templates; a template is one
// parameter (or buffer) with its checkpoint name pattern, its shape in spec dimensions, its role and the
// conditions under which it exists. Adding a family means adding rows, not classes
// (docs/adding-an-architecture.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
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
};
constexpr int role_count = static_cast<int>(role::position_ids) + 1;
const char* role_name(role r);

// How often a template repeats.
enum class scope : uint8_t {
    global, // once per model
    layer,  // once per layer: the name holds {layer}, the layer's index within its stack
    expert, // once per routed expert of each MoE layer: the name holds {layer} and {expert}
    q_head,  // once per attention head of each layer ({expert} is the head index)
    kv_head, // once per key/value head of each layer ({expert} is the head index)
};

// Shape dimensions, resolved against a model_spec (skeleton.cpp `resolve`).
enum class dim : uint8_t {
    one,          // 1
    two,          // 2 (next-sentence prediction)
    hidden,       // hidden size
    hidden2,      // 2 x hidden size
    vocab,        // vocabulary
    heads,        // attention heads
    q_dim,        // heads x head_dim
    kv_dim,       // kv heads x head_dim
    qkv_dim,      // q_dim + 2 kv_dim (fused projections)
    head_dim,     // head_dim
    rope_half,    // rotary dimensions / 2 (inv_freq)
    ffn,          // dense FFN width
    ffn2,         // 2 x dense FFN width (fused gate+up)
    n_experts,    // routed experts per MoE layer
    expert_ffn,   // one routed expert's FFN width
    shared_ffn,   // the shared experts' FFN width (all shared experts together)
    positions,    // rows of the learned position table
    token_types,  // token type vocabulary
    labels,       // classification labels
    q_lora,       // MLA query latent rank
    kv_lora,      // MLA key/value latent rank
    mla_q_out,    // heads x (qk_nope + qk_rope)
    mla_kv_a_out, // kv_lora + qk_rope
    mla_kv_b_out, // heads x (qk_nope + v_head)
    mla_o_in,     // heads x v_head
    buckets,      // relative attention buckets
    word_proj,    // word embedding width when it differs from hidden (OPT)
    n_positions2, // n_positions (square mask buffers)
    v_hidden,     // vision tower width
    v_hidden3,    // 3 x vision width (fused in-projection of the pooling head)
    v_ffn,        // vision FFN width
    v_positions,  // vision position table: (image_size / patch_size)^2
    v_channels,   // image channels
    v_patch,      // patch size
};

// Switches: named conditions a template may require (`needs`) or exclude (`excludes`). Model-wide switches
// live in model_spec::switches, per-layer ones in layer_spec::switches; a template sees their union.
enum switch_bit : uint64_t {
    sw_qkv_bias = 1ull << 0,        // q/k/v projections carry biases
    sw_o_bias = 1ull << 1,          // attention output projection carries a bias
    sw_mlp_bias = 1ull << 2,        // FFN projections carry biases
    sw_qk_norm = 1ull << 3,         // per-head q/k norms
    sw_norm_bias = 1ull << 4,       // norms are LayerNorm with a bias
    sw_tied = 1ull << 5,            // output head tied to the token embedding
    sw_dense_ffn = 1ull << 6,       // (layer) dense FFN
    sw_moe_ffn = 1ull << 7,         // (layer) mixture of experts
    sw_shared_expert = 1ull << 8,   // MoE layers also hold shared experts
    sw_first_in_stack = 1ull << 9,  // (layer) first layer of its stack
    sw_encoder = 1ull << 10,        // (layer) encoder stack
    sw_decoder = 1ull << 11,        // (layer) decoder stack of an encoder-decoder
    sw_mtp = 1ull << 12,            // (layer) multi-token-prediction layer
    sw_q_lora = 1ull << 13,         // MLA with a query latent (q_lora_rank set)
    sw_router_bias = 1ull << 14,    // router score-correction bias (DeepSeek-V3 noaux_tc)
    sw_gated_ffn = 1ull << 15,      // gated FFN where the family also has a plain one (T5 v1.1)
    sw_new_arch = 1ull << 16,       // Falcon's new decoder architecture
    sw_parallel_attn = 1ull << 17,  // attention and FFN share one pre-norm (Falcon, GPT-NeoX parallel)
    sw_proj_in_out = 1ull << 18,    // OPT project_in / project_out
    sw_final_norm = 1ull << 19,     // a final norm after the last layer (OPT do_layer_norm_before)
    sw_pooler = 1ull << 20,         // BERT-style pooler
    sw_head_bias = 1ull << 21,      // output head carries a bias (phi-2)
    sw_shexp_gate = 1ull << 22,     // shared expert has a sigmoid gate (Qwen2-MoE)
    sw_learned_pos = 1ull << 23,    // learned absolute positions
    sw_two_norms = 1ull << 24,      // Falcon new arch with ln_attn and ln_mlp (num_ln_in_parallel_attn 2)
    sw_rotary = 1ull << 25,         // the family stores rotary inv_freq buffers in some checkpoints
    sw_vision = 1ull << 26,         // (layer) vision tower layer; only rows that need it apply to it
    sw_vision_head = 1ull << 27,    // the vision tower has an attention-pooling head
    sw_qk_layernorm = 1ull << 28,   // q/k LayerNorms (phi, stablelm)
    sw_post_norms = 1ull << 29,     // extra norms after attention and FFN (gemma2/3)
    sw_no_input_norm = 1ull << 30,  // parallel residual without a second norm (stablelm) -- see family
};

struct tensor_template {
    role what;
    scope where;
    const char* name; // checkpoint name; {layer} and {expert} are replaced by indices
    uint8_t rank;
    dim shape[4];
    uint64_t needs;          // switches that must all be on
    uint64_t excludes;       // switches that must all be off
    const char* tied_to;     // this tensor is an alias of that one when `tie_needs` hold: a base-model name
                             // (the base prefix is added), or a full name when it starts with '/'

    uint64_t tie_needs;      // switches that make it an alias (0: always an alias)
    const char* fixed_dtype = nullptr; // a buffer's own dtype ("BOOL", "I64"); default: weights' dtype / F32
};

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
    const char* class_suffix;             // appended to the family's class prefix: "ForCausalLM", "Model", ...
    std::vector<template_table> tensors;  // the head's own parameters (full names)
    uint64_t clears = 0;                  // base switches this head turns off (BertForMaskedLM: no pooler)
};

using family_reader = std::optional<error> (*)(const key_reader& keys, model_spec& spec);

struct family_info {
    const char* model_type;    // config "model_type"
    const char* class_prefix;  // "Llama": classes are prefix + head suffix
    const char* base_prefix;   // prefix of the base model's names inside a head class ("model.")
    const char* nested_config; // key of a nested text config ("text_config"), or nullptr
    family_reader read;        // config keys -> spec (families/*.cpp)
    const char* config_defaults; // JSON of the configuration class's defaults for keys a config omits, or null
    std::vector<template_table> base;    // the base model's parameters (names without base_prefix)
    std::vector<head_info> heads;        // first entry: the default head
    std::vector<template_table> buffers; // known non-parameter buffers that some checkpoints store
    const char* not_modelled;            // parts of the published model we leave out, or nullptr
};

const std::vector<family_info>& families();

// Index of the family for a model_type, or -1.
int find_family(const std::string& model_type);

// Supported model_type names, in table order, joined with ", ".
std::string supported_model_types();

} // namespace modelplan
