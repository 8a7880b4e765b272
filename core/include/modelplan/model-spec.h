// The normalized hyperparameters of a model: every family maps its config.json keys into this one struct.
// Per-layer properties (attention kind, FFN kind) live in `layers`, with accessors, because hybrid models
// change them from layer to layer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/dtype.h"

namespace modelplan {

enum class attn_kind : uint8_t { full, sliding };
enum class ffn_kind : uint8_t { dense, moe };
enum class norm_kind : uint8_t { rms, layer };

struct layer_spec {
    attn_kind attn = attn_kind::full;
    uint64_t window = 0; // tokens a sliding-window layer attends to; 0 for full attention
    ffn_kind ffn = ffn_kind::dense;
};

struct rope_spec {
    double theta = 10000.0;
    std::string scaling_type; // "" (none), "llama3", "linear", "dynamic", "yarn", ...
    double scaling_factor = 1.0;
};

struct model_spec {
    std::string model_type;   // config "model_type", e.g. "llama"
    std::string architecture; // the class counted, e.g. "LlamaForCausalLM"
    int family = -1;          // index into the family table (architectures.h)

    uint64_t hidden = 0;        // hidden_size
    uint64_t n_layers = 0;      // num_hidden_layers
    uint64_t n_heads = 0;       // num_attention_heads
    uint64_t n_kv_heads = 0;    // num_key_value_heads (defaults to n_heads)
    uint64_t head_dim = 0;      // head_dim, or hidden / n_heads
    uint64_t intermediate = 0;  // intermediate_size (dense FFN)
    uint64_t vocab = 0;         // vocab_size
    uint64_t max_positions = 0; // max_position_embeddings (0 when absent)

    // Sparse mixture of experts (0 experts: dense model).
    uint64_t n_experts = 0;           // routed experts per MoE layer
    uint64_t n_experts_per_tok = 0;   // experts a token is routed to
    uint64_t expert_intermediate = 0; // intermediate size of one expert

    bool tie_embeddings = false; // lm_head.weight is model.embed_tokens.weight
    bool qkv_bias = false;       // q/k/v projections carry biases
    bool o_bias = false;         // output projection carries a bias
    bool mlp_bias = false;       // FFN projections carry biases
    bool qk_norm = false;        // per-head RMSNorm on queries and keys (Qwen3)
    norm_kind norm = norm_kind::rms;
    double norm_eps = 1e-6;

    rope_spec rope;
    dtype weight_dtype = dtype::f32; // from torch_dtype / dtype, or the user's override

    std::vector<layer_spec> layers; // one entry per decoder layer

    uint64_t q_dim() const { return n_heads * head_dim; }
    uint64_t kv_dim() const { return n_kv_heads * head_dim; }
    const layer_spec& layer(uint64_t il) const { return layers[il]; }
    bool is_moe_layer(uint64_t il) const { return layers[il].ffn == ffn_kind::moe; }
};

} // namespace modelplan
