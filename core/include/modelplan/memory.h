// Memory plan for inference: named line items computed from the skeleton and the spec, each with the inputs
// that produced it (formulas and sources: docs/memory.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/report.h"

namespace modelplan {

enum class attention_impl : uint8_t { sdpa, eager };

struct workload {
    uint64_t batch = 1;
    uint64_t seq = 0;           // tokens per sequence held in the cache (prompt + generated); 0: the default
    uint64_t encoder_seq = 0;   // encoder tokens for encoder-decoder models; 0: same as seq
    uint64_t prefill_chunk = 0; // tokens per sequence in one forward pass; 0: the whole sequence
    std::optional<dtype> kv_dtype; // default: the weights' 16/32-bit float type
    attention_impl attention = attention_impl::sdpa;
    uint64_t overhead_bytes = 0; // fixed runtime overhead (CUDA context, allocator reserve)
    bool include_mtp = false;    // load multi-token-prediction layers (speculative decoding)
};

// The default sequence length when the workload names none: 4096 tokens, or max_position_embeddings when
// smaller.
uint64_t default_seq(const model_spec& spec);

struct plan_input {
    std::string name;
    std::string value;
};

struct plan_item {
    std::string name; // "weights", "kv_cache", ...
    uint64_t bytes = 0;
    std::string formula; // how the bytes follow from the inputs
    std::vector<plan_input> inputs;
};

struct memory_plan {
    std::vector<plan_item> items;
    uint64_t total_bytes = 0;
    uint64_t kv_bytes_per_token = 0; // one more token of one sequence, every layer
    std::vector<uint64_t>
        kv_bytes_by_layer; // for the whole workload, per layer (0 where a layer caches nothing)
    std::vector<std::string> warnings;
};

// KV-cache bytes one token of one sequence adds in layer `il` (0 for layers without a cache).
uint64_t kv_bytes_per_token_in_layer(const model_spec& spec, uint64_t il, dtype kv);

result<memory_plan> plan_memory(const analysis& a, const workload& w);

std::string plan_json(const analysis& a, const memory_plan& p);

} // namespace modelplan
