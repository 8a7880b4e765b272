// The skeleton: every unique parameter of a model with its exact checkpoint name, shape, dtype, role, layer
// and expert; plus tied aliases and known buffers. Built from a model_spec and the family's templates.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/architectures.h"
#include "modelplan/error.h"
#include "modelplan/limits.h"
#include "modelplan/model-spec.h"

namespace modelplan {

constexpr int64_t no_index = -1;

struct tensor_info {
    std::string name;
    std::vector<uint64_t> shape;
    dtype type = dtype::f32;
    role what = role::embed;
    int64_t layer = no_index;                // decoder layer, or no_index for model-level tensors
    int64_t expert = no_index;               // routed expert, or no_index
    uint64_t elements = 0;                   // product of shape
    const tensor_template* source = nullptr; // the template it came from (its name pattern)
    bool from_head = false; // a head template (full name) rather than a base-model one (base_prefix + name)
    const char* group_prefix = ""; // the template group's prefix, between base_prefix and the pattern
};

struct tensor_alias {
    std::string name;   // the name a checkpoint or state_dict may also use
    std::string target; // the parameter it is
};

struct skeleton {
    std::string base_prefix;          // prefix of the base model's names in this head class ("model.")
    std::vector<tensor_info> tensors; // unique parameters, in state_dict order
    std::vector<tensor_alias> aliases;
    std::vector<tensor_info> buffers; // non-parameters some checkpoints store
};

// A tensor holding the routed experts of its layer stacked along its first dimension, as transformers' fused
// expert modules do (GptOssExperts, Llama4TextExperts: gate_up_proj [experts, hidden, 2 x ffn]), rather than
// one tensor per expert.
bool holds_stacked_experts(const tensor_info& t);

// Builds the skeleton. Fails on sizes whose products overflow 64 bits and past max_tensors.
result<skeleton> build_skeleton(const model_spec& spec);

} // namespace modelplan
