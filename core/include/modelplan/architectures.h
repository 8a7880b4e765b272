// Architectures are data. A family is one row of switches plus tables of tensor templates; a template is one
// parameter (or buffer) with its checkpoint name pattern, its shape in spec dimensions, its role and the
// conditions under which it exists. Adding a family means adding rows, not classes
// (docs/adding-an-architecture.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace modelplan {

// What a tensor does. Stable names (role_name) appear in JSON output.
enum class role : uint8_t {
    embed,        // token embedding
    attn_norm,    // norm before attention
    attn_q,       // query projection (weight and bias)
    attn_k,       // key projection
    attn_v,       // value projection
    attn_o,       // attention output projection
    attn_q_norm,  // per-head query norm
    attn_k_norm,  // per-head key norm
    ffn_norm,     // norm before the feed-forward block
    ffn_gate,     // dense FFN gate projection
    ffn_up,       // dense FFN up projection
    ffn_down,     // dense FFN down projection
    ffn_router,   // MoE router (gate) weight
    ffn_gate_exp, // routed expert gate projection
    ffn_up_exp,   // routed expert up projection
    ffn_down_exp, // routed expert down projection
    output_norm,  // final norm
    lm_head,      // output projection to the vocabulary
    rope_freq,    // rotary inv_freq buffer (not a parameter)
};
constexpr int role_count = static_cast<int>(role::rope_freq) + 1;
const char* role_name(role r);

// How often a template repeats.
enum class scope : uint8_t {
    global, // once per model
    layer,  // once per decoder layer: the name holds {layer}
    expert, // once per routed expert of each MoE layer: the name holds {layer} and {expert}
};

// Shape dimensions, resolved against a model_spec.
enum class dim : uint8_t {
    hidden,     // hidden_size
    vocab,      // vocab_size
    q_dim,      // num_attention_heads * head_dim
    kv_dim,     // num_key_value_heads * head_dim
    head_dim,   // head_dim
    rope_half,  // head_dim / 2 (rotary frequencies)
    ffn,        // intermediate_size
    n_experts,  // routed experts per MoE layer
    expert_ffn, // intermediate size of one expert
};

// Conditions a template requires (all must hold). A bit mask.
enum need : uint16_t {
    need_none = 0,
    need_qkv_bias = 1 << 0,
    need_o_bias = 1 << 1,
    need_mlp_bias = 1 << 2,
    need_qk_norm = 1 << 3,
    need_dense_ffn = 1 << 4, // this layer's FFN is dense
    need_moe_ffn = 1 << 5,   // this layer's FFN is a mixture of experts
};

struct tensor_template {
    role what;
    scope where;
    const char* name; // checkpoint name; {layer} and {expert} are replaced by indices
    uint8_t rank;
    dim shape[3];
    uint16_t needs;      // bit mask of `need`
    const char* tied_to; // when the model ties embeddings, this tensor is an alias of that one
};

struct template_table {
    const tensor_template* rows;
    size_t size;
};

// How a family decides which projections carry biases.
enum class bias_rule : uint8_t {
    none,               // never (mistral, mixtral)
    attention_bias_key, // config "attention_bias" switches q/k/v/o biases; "mlp_bias" switches FFN biases
                        // (llama, qwen3)
    qkv_always,         // q/k/v always carry biases, o never (qwen2)
};

// How a family decides which layers use sliding-window attention.
enum class sliding_rule : uint8_t {
    none,       // always full attention
    window_key, // every layer slides when "sliding_window" is a number (mistral, mixtral)
    qwen,       // layers >= "max_window_layers" slide when "use_sliding_window" is true (qwen2, qwen3)
};

struct family_info {
    const char* model_type;      // config "model_type"
    const char* causal_lm_class; // the class whose state_dict the skeleton reproduces
    bool tie_default;            // tie_word_embeddings when the config omits it (the config class default)
    bias_rule biases;
    bool qk_norm; // per-head q/k norms
    sliding_rule sliding;
    const char* experts_key;             // key holding the routed expert count; nullptr for dense families
    const char* expert_ffn_key;          // key holding one expert's intermediate size
    std::vector<template_table> tensors; // parameter groups, in state_dict order
    std::vector<template_table> buffers; // known non-parameter buffers that some checkpoints store
};

const std::vector<family_info>& families();

// Index of the family for a model_type, or -1.
int find_family(const std::string& model_type);

// Supported model_type names, in table order, joined with ", ".
std::string supported_model_types();

} // namespace modelplan
