// Internal: the image inputs of a memory plan (plan/images.cpp; docs/memory.md).
#pragma once

#include "modelplan/images.h"
#include "modelplan/memory.h"

namespace modelplan {

// The side an image has when a request names images but no image_size.
constexpr uint64_t default_image_side = 1024;

struct image_inputs {
    image_tokens per_image;
    uint64_t width = 0, height = 0; // as requested (or the default)
    uint64_t tokens = 0;            // image tokens of one sequence: images x per_image.tokens
};

// The workload's images counted by the model's processor; all zero without images.
result<image_inputs> plan_image_inputs(const model_spec& spec, const workload& w);

// The vision tower's activation peak over every image of the batch (an estimate; docs/memory.md).
plan_item vision_activations_item(const model_spec& spec, const workload& w, const image_inputs& in,
                                  dtype act, uint64_t& bytes);

} // namespace modelplan
