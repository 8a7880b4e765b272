// Image inputs of vision-language models: how many tokens one image becomes, computed as the model's
// processor computes them, and how many patches its vision tower sees (formulas and sources: docs/memory.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "modelplan/error.h"
#include "modelplan/model-spec.h"

namespace modelplan {

// The largest image side and image count a request may name: far above any processor's resize bound
// (Qwen's 16,777,216-pixel cap is 4096 x 4096), small enough that every product below fits 64 bits.
constexpr uint64_t max_image_side = 1u << 16;
constexpr uint64_t max_images = 1u << 16;

struct image_tokens {
    uint64_t tokens = 0;  // tokens one image adds to the sequence (the processor's image placeholders)
    uint64_t patches = 0; // patches the vision tower encodes for one image (every tile, every frame)
    uint64_t frames = 1;  // images the tower encodes apart (tiles plus the global image; 1 without tiling)
    uint64_t resized_width = 0; // the image after the processor's resize (0 where it does not resize)
    uint64_t resized_height = 0;
    std::string formula; // how the count follows, in words
};

// Tokens and patches of one `width` x `height` image for `spec`'s processor. Errors: the model takes no
// image inputs, a side of 0 or above max_image_side, an aspect ratio the processor refuses.
result<image_tokens> count_image_tokens(const model_spec& spec, uint64_t width, uint64_t height);

// Parses "WxH" (e.g. "1024x768") into width and height; the error names `label` and the value.
std::optional<error> parse_image_size(const std::string& value, const std::string& label, uint64_t& width,
                                      uint64_t& height);

} // namespace modelplan
