// Parameter counts derived from a skeleton (definitions and sources: docs/counts.md).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "modelplan/architectures.h"
#include "modelplan/error.h"
#include "modelplan/skeleton.h"

namespace modelplan {

struct param_counts {
    uint64_t total = 0;         // every unique parameter; tied weights once
    uint64_t embedding = 0;     // token embedding plus an untied output head
    uint64_t non_embedding = 0; // total - embedding
    uint64_t active = 0;        // used per token: total minus the routed experts a token does not visit
    uint64_t mtp = 0;          // multi-token-prediction layers: stored in checkpoints, not in the model count
    uint64_t weight_bytes = 0; // every stored parameter (mtp included) at its dtype
    uint64_t buffer_elements = 0;
    std::array<uint64_t, role_count> by_role{}; // indexed by role
    std::vector<uint64_t> by_layer;             // parameters of each layer, every stack (mtp included)
    uint64_t outside_layers = 0;                // embedding, final norm, head
};

// Fails only when a sum overflows 64 bits.
result<param_counts> count_params(const model_spec& spec, const skeleton& sk);

} // namespace modelplan
