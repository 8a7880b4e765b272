// Internal: building blocks the families' config readers share (core/src/model/families/*.cpp).
#pragma once

#include <optional>
#include <string>

#include "modelplan/architectures.h"
#include "modelplan/config.h"
#include "modelplan/model-spec.h"
#include "util/json-util.h"
#include "util/text-internal.h"

// Evaluates a result-returning expression; returns its error, or binds its value to `var`.
#define MP_TRY(var, expr)                                                                                    \
    auto var##_result = (expr);                                                                              \
    if (!var##_result) return var##_result.err();                                                            \
    auto var = std::move(*var##_result)

// Evaluates an optional<error>-returning expression and returns the error if there is one.
#define MP_CHECK(expr)                                                                                       \
    if (auto mp_check_error = (expr)) return *mp_check_error

namespace modelplan::readers {

// Switches several config keys set together.
constexpr uint64_t sw_attention_biases = sw_qkv_bias | sw_o_bias;         // attention_bias
constexpr uint64_t sw_all_biases = sw_qkv_bias | sw_o_bias | sw_mlp_bias; // bias, use_bias, enable_bias

// "num_attention_heads|n_head": the first alternative present in the config, else the first one.
std::string pick(const key_reader& keys, const char* alternatives);

// The keys of the core hyperparameters; alternatives separated by '|'. A null key is not read.
struct core_keys {
    const char* hidden = "hidden_size";
    const char* layers = "num_hidden_layers";
    const char* heads = "num_attention_heads";
    const char* kv_heads = "num_key_value_heads";
    const char* head_dim = "head_dim";
    const char* intermediate = "intermediate_size"; // required unless null
    const char* vocab = "vocab_size";
    const char* positions = "max_position_embeddings";
    const char* eps = "rms_norm_eps";
};

// Reads and validates the core hyperparameters and creates n_layers decoder layers.
std::optional<error> read_core(const key_reader& keys, model_spec& spec, const core_keys& k = {});

// Reads an optional boolean into `out` (left unchanged when absent).
std::optional<error> read_bool(const key_reader& keys, const char* key, bool& out);
// Reads an optional boolean into switch bits: all of `bits` on or all off. When the key is absent they keep
// their state, so a family sets its configuration class's default on the spec first.
std::optional<error> read_switch(const key_reader& keys, const char* key, model_spec& spec, uint64_t bits);

// The opening of every decoder reader: the core hyperparameters, then tie_word_embeddings (absent: `tied`,
// the configuration class's default).
std::optional<error> read_decoder(const key_reader& keys, model_spec& spec, bool tied = false,
                                  const core_keys& k = {});
// read_decoder, then attention_bias (default false) for the q/k/v and output projection biases: the opening
// of Llama and of the families whose attention copies LlamaAttention.
std::optional<error> read_llama_opening(const key_reader& keys, model_spec& spec, bool tied = false,
                                        const core_keys& k = {});
// Reads an optional positive integer into `out` (left unchanged when absent).
std::optional<error> read_size(const key_reader& keys, const char* key, uint64_t& out);

// Routed experts: count, experts per token, one expert's width; validates k <= n. Marks no layer.
std::optional<error> read_experts(const key_reader& keys, model_spec& spec, const char* experts_key,
                                  const char* per_token_key, const char* ffn_key);

// rope_theta, rope_scaling and the rotated dimensions (head_dim x partial_rotary_factor).
std::optional<error> read_rope(const key_reader& keys, model_spec& spec, const char* partial_key = nullptr);

// Sliding windows: every layer when "sliding_window" is set (mistral rule), or layers >= max_window_layers
// when use_sliding_window (qwen rule); an explicit "layer_types" list wins over both.
enum class sliding_rule { none, window_key, qwen };
std::optional<error> read_sliding(const key_reader& keys, model_spec& spec, sliding_rule rule);

// Makes a layer a mixture-of-experts layer (its FFN switch from dense to MoE).
void set_moe_layer(layer_spec& layer);

// Appends `count` layers of `stack`, with index within the stack and the stack's switches.
void add_stack(model_spec& spec, layer_stack stack, uint64_t count, uint64_t switches);

error too_large(const key_reader& keys, const char* key, uint64_t value, uint64_t limit);

} // namespace modelplan::readers
