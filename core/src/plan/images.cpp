// Image tokens per processor (images.h). Each rule follows its transformers processor step by step, in the
// same integer and floating-point operations, so that the counts are the processor's own:
// - Qwen2-VL / Qwen2.5-VL / Qwen3-VL: image_processing_qwen2_vl.smart_resize, then grid (h/p) x (w/p)
// patches,
//   merged merge x merge into one token (Qwen2VLProcessor: image_grid_thw.prod() // merge_size^2).
// - Pixtral / Mistral 3: image_processing_pixtral.get_resize_output_image_size, then
//   Mistral3Processor: rows (h / (patch x merge)) of (w / (patch x merge)) tokens plus a break (or end)
//   token.
// - LLaVA-NeXT: LlavaNextProcessor._get_number_of_features with
// image_processing_utils.select_best_resolution.
// - Idefics3 / SmolVLM: image_processing_idefics3 resize (longest edge), resize_for_vision_encoder and
//   split_image; Idefics3Processor puts image_seq_len tokens per tile and for the global image.
// - Llama 4: Llama4ImageProcessorFast.get_best_fit over canvases of up to 16 tiles, Llama4Processor's
//   tokens per tile (pixel shuffle) with separators and markers.
// - LLaVA 1.5 and Gemma 3: a fixed count per image.
#include "modelplan/images.h"

#include <cmath>
#include <limits>
#include <vector>

#include "plan/images-internal.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

std::string size_text(uint64_t w, uint64_t h) {
    return num(w) + "x" + num(h);
}

// Python's round() of n / d for positive integers: to the nearest integer, ties to even.
uint64_t round_half_even(uint64_t n, uint64_t d) {
    uint64_t q = n / d, r = n % d;
    if (2 * r > d || (2 * r == d && q % 2 == 1)) ++q;
    return q;
}

result<image_tokens> qwen_tokens(const image_processor_spec& p, uint64_t w, uint64_t h) {
    const uint64_t factor = p.patch * p.merge;
    if (std::max(w, h) > 200 * std::min(w, h))
        return make_error(error_code::out_of_range,
                          "image_size " + size_text(w, h) +
                              ": the Qwen processor refuses aspect ratios above 200 (smart_resize)",
                          "image_size");
    uint64_t h_bar = round_half_even(h, factor) * factor;
    uint64_t w_bar = round_half_even(w, factor) * factor;
    const double hd = static_cast<double>(h), wd = static_cast<double>(w), f = static_cast<double>(factor);
    if (h_bar * w_bar > p.max_pixels) {
        double beta = std::sqrt(hd * wd / static_cast<double>(p.max_pixels));
        h_bar = std::max(factor, static_cast<uint64_t>(std::floor(hd / beta / f)) * factor);
        w_bar = std::max(factor, static_cast<uint64_t>(std::floor(wd / beta / f)) * factor);
    } else if (h_bar * w_bar < p.min_pixels) {
        double beta = std::sqrt(static_cast<double>(p.min_pixels) / (hd * wd));
        h_bar = static_cast<uint64_t>(std::ceil(hd * beta / f)) * factor;
        w_bar = static_cast<uint64_t>(std::ceil(wd * beta / f)) * factor;
    }
    image_tokens t;
    t.resized_width = w_bar;
    t.resized_height = h_bar;
    t.patches = (h_bar / p.patch) * (w_bar / p.patch);
    t.tokens = t.patches / (p.merge * p.merge);
    t.formula = "smart_resize to " + size_text(w_bar, h_bar) + " (multiples of " + num(factor) + ", " +
                num(p.min_pixels) + " to " + num(p.max_pixels) + " pixels), " + num(w_bar / p.patch) + " x " +
                num(h_bar / p.patch) + " patches of " + num(p.patch) + " px, merged " + num(p.merge) + " x " +
                num(p.merge) + " per token";
    return t;
}

result<image_tokens> pixtral_tokens(const image_processor_spec& p, uint64_t w, uint64_t h) {
    const double edge = static_cast<double>(p.longest_edge);
    double ratio = std::max(static_cast<double>(h) / edge, static_cast<double>(w) / edge);
    if (ratio > 1) {
        h = static_cast<uint64_t>(std::floor(static_cast<double>(h) / ratio));
        w = static_cast<uint64_t>(std::floor(static_cast<double>(w) / ratio));
    }
    // Rounded up to whole patches ((size - 1) // patch + 1 patches).
    uint64_t rh = h ? ((h - 1) / p.patch + 1) * p.patch : 0, rw = w ? ((w - 1) / p.patch + 1) * p.patch : 0;
    uint64_t rows = rh / (p.patch * p.merge), cols = rw / (p.patch * p.merge);
    image_tokens t;
    t.resized_width = rw;
    t.resized_height = rh;
    t.patches = (rh / p.patch) * (rw / p.patch);
    t.tokens = rows * (cols + 1);
    t.formula = "resized to " + size_text(rw, rh) + " (longest edge at most " + num(p.longest_edge) +
                ", whole patches of " + num(p.patch) + " px), " + num(rows) + " rows of " + num(cols) +
                " tokens (" + num(p.merge) + " x " + num(p.merge) +
                " patches each) plus a break or end token";
    return t;
}

// select_best_resolution: the grid resolution that keeps the most of the image, then wastes the least.
void best_resolution(const image_processor_spec& p, uint64_t w, uint64_t h, uint64_t& best_h,
                     uint64_t& best_w) {
    uint64_t max_effective = 0, min_wasted = std::numeric_limits<uint64_t>::max();
    for (size_t i = 0; i + 1 < p.grid.size(); i += 2) {
        uint64_t gh = p.grid[i], gw = p.grid[i + 1];
        double scale = std::min(static_cast<double>(gw) / static_cast<double>(w),
                                static_cast<double>(gh) / static_cast<double>(h));
        uint64_t dw = static_cast<uint64_t>(static_cast<double>(w) * scale);
        uint64_t dh = static_cast<uint64_t>(static_cast<double>(h) * scale);
        uint64_t effective = std::min(dw * dh, w * h);
        uint64_t wasted = gw * gh - effective;
        if (effective > max_effective || (effective == max_effective && wasted < min_wasted)) {
            max_effective = effective;
            min_wasted = wasted;
            best_h = gh;
            best_w = gw;
        }
    }
}

// Python's int(round(x, 7)) for a positive x.
uint64_t trunc_round7(double x) {
    return static_cast<uint64_t>(std::round(x * 1e7) / 1e7);
}

result<image_tokens> llava_next_tokens(const image_processor_spec& p, uint64_t w, uint64_t h) {
    uint64_t best_h = p.tile, best_w = p.tile;
    best_resolution(p, w, h, best_h, best_w);
    const uint64_t side = p.tile / p.patch; // patches per tile side
    uint64_t scale_h = best_h / p.tile, scale_w = best_w / p.tile;
    uint64_t cur_h = side * scale_h, cur_w = side * scale_w;
    // _get_unpadded_features: the padding the resize to the grid added is cut off again.
    double original_aspect = static_cast<double>(w) / static_cast<double>(h);
    double current_aspect = static_cast<double>(cur_w) / static_cast<double>(cur_h);
    if (original_aspect > current_aspect) {
        uint64_t new_h =
            trunc_round7(static_cast<double>(h) * (static_cast<double>(cur_w) / static_cast<double>(w)));
        uint64_t padding = new_h < cur_h ? (cur_h - new_h) / 2 : 0;
        cur_h -= padding * 2;
    } else {
        uint64_t new_w =
            trunc_round7(static_cast<double>(w) * (static_cast<double>(cur_h) / static_cast<double>(h)));
        uint64_t padding = new_w < cur_w ? (cur_w - new_w) / 2 : 0;
        cur_w -= padding * 2;
    }
    image_tokens t;
    t.resized_width = best_w;
    t.resized_height = best_h;
    t.frames = scale_h * scale_w + 1;
    t.patches = t.frames * (side * side + 1); // CLIP: each tile's patches and its class token
    t.tokens = cur_h * cur_w + cur_h + side * side;
    t.formula = "best grid " + size_text(best_w, best_h) + " of " + num(scale_w * scale_h) + " tiles of " +
                num(p.tile) + " px: " + num(cur_w) + " x " + num(cur_h) + " unpadded features, " +
                num(cur_h) + " row newlines, and the base image's " + num(side * side);
    return t;
}

// _resize_output_size_rescale_to_max_len: the longest edge becomes `max_len`, the other keeps the aspect
// ratio, rounded up to even.
void rescale_to_max_len(uint64_t& w, uint64_t& h, uint64_t max_len) {
    double aspect = static_cast<double>(w) / static_cast<double>(h);
    if (w >= h) {
        w = max_len;
        h = static_cast<uint64_t>(static_cast<double>(w) / aspect);
        if (h % 2 != 0) ++h;
    } else {
        h = max_len;
        w = static_cast<uint64_t>(static_cast<double>(h) * aspect);
        if (w % 2 != 0) ++w;
    }
    w = std::max<uint64_t>(w, 1);
    h = std::max<uint64_t>(h, 1);
}

uint64_t ceil_to(uint64_t x, uint64_t m) {
    return (x + m - 1) / m * m;
}

result<image_tokens> idefics3_tokens(const image_processor_spec& p, uint64_t w, uint64_t h) {
    rescale_to_max_len(w, h, p.longest_edge);
    // resize_for_vision_encoder: both sides up to whole tiles.
    double aspect = static_cast<double>(w) / static_cast<double>(h);
    if (w >= h) {
        w = ceil_to(w, p.tile);
        h = ceil_to(static_cast<uint64_t>(static_cast<double>(w) / aspect), p.tile);
    } else {
        h = ceil_to(h, p.tile);
        w = ceil_to(static_cast<uint64_t>(static_cast<double>(h) * aspect), p.tile);
    }
    uint64_t rows = 0, cols = 0;
    if (h > p.tile || w > p.tile) {
        rows = (h + p.tile - 1) / p.tile;
        cols = (w + p.tile - 1) / p.tile;
    }
    image_tokens t;
    t.resized_width = w;
    t.resized_height = h;
    t.frames = rows * cols + 1; // the tiles and the global image, or the image alone
    t.patches = t.frames * (p.tile / p.patch) * (p.tile / p.patch);
    t.tokens = t.frames * p.tokens;
    t.formula =
        "resized to " + size_text(w, h) + " (longest edge " + num(p.longest_edge) + ", whole tiles of " +
        num(p.tile) + " px): " +
        (rows ? num(cols) + " x " + num(rows) + " tiles and the global image" : std::string("one tile")) +
        ", " + num(p.tokens) + " tokens each";
    return t;
}

// Llama4ImageProcessorFast: the canvases are every rows x cols grid of tiles with rows x cols <= max_patches
// (find_supported_resolutions). A canvas's scale is min(canvas_h / h, canvas_w / w), divided in float32 as
// torch divides an integer tensor (get_best_fit); the chosen scale is the smallest at or above 1, else the
// largest below 1, and among canvases of that scale the smallest area. More than one tile adds a global tile.
// Llama4Processor._prompt_split_image then writes <|image_start|>, per tile its patch tokens and a separator
// (x between tiles of a row, y after each row), <|image|>, the global tile's patch tokens and <|image_end|>;
// one tile alone is <|image_start|><|image|>, its patch tokens, <|image_end|>.
result<image_tokens> llama4_tokens(const image_processor_spec& p, uint64_t w, uint64_t h) {
    struct canvas {
        uint64_t rows, cols;
        float scale;
    };
    std::vector<canvas> canvases;
    for (uint64_t rows = 1; rows <= p.max_tiles; ++rows)
        for (uint64_t cols = 1; rows * cols <= p.max_tiles; ++cols) {
            float scale_h = static_cast<float>(rows * p.tile) / static_cast<float>(h);
            float scale_w = static_cast<float>(cols * p.tile) / static_cast<float>(w);
            canvases.push_back({rows, cols, scale_h > scale_w ? scale_w : scale_h});
        }
    bool upscale = false;
    float selected = 0;
    for (const canvas& c : canvases)
        if (c.scale >= 1 && (!upscale || c.scale < selected)) {
            selected = c.scale;
            upscale = true;
        }
    if (!upscale)
        for (const canvas& c : canvases) selected = std::max(selected, c.scale);
    const canvas* best = nullptr;
    for (const canvas& c : canvases)
        if (c.scale == selected && (!best || c.rows * c.cols < best->rows * best->cols)) best = &c;
    const uint64_t tiles = best->rows * best->cols;
    image_tokens t;
    t.frames = tiles > 1 ? tiles + 1 : 1;
    t.patches = t.frames * (p.tile / p.patch) * (p.tile / p.patch);
    t.resized_width = best->cols * p.tile;
    t.resized_height = best->rows * p.tile;
    // Patch tokens of every tile and the global one, a separator per tile, and the three markers.
    t.tokens = tiles > 1 ? (tiles + 1) * p.tokens + tiles + 3 : p.tokens + 3;
    t.formula = "canvas " + num(best->cols) + " x " + num(best->rows) + " tiles of " + num(p.tile) + " px" +
                (tiles > 1 ? " and a global tile, " + num(p.tokens) + " tokens each, a separator per tile"
                           : std::string(", ") + num(p.tokens) + " tokens") +
                ", and 3 image markers";
    return t;
}

} // namespace

result<image_tokens> count_image_tokens(const model_spec& spec, uint64_t width, uint64_t height) {
    const image_processor_spec& p = spec.images;
    if (p.rule == image_token_rule::none)
        return make_error(
            error_code::bad_request,
            spec.vision_hidden
                ? "images: image inputs of " + spec.architecture + " (" + spec.model_type +
                      ") are not modelled: its processor's token count is not known to modelplan"
                : "images: " + spec.architecture + " (" + spec.model_type + ") takes no image inputs",
            "images");
    for (auto [side, name] : {
             std::pair{width,  "width" },
             std::pair{height, "height"}
    })
        if (side == 0 || side > max_image_side)
            return make_error(error_code::out_of_range,
                              "image_size " + size_text(width, height) + ": the " + name +
                                  " must be between 1 and " + num(max_image_side) + " pixels",
                              "image_size");
    switch (p.rule) {
    case image_token_rule::qwen_smart_resize: return qwen_tokens(p, width, height);
    case image_token_rule::pixtral: return pixtral_tokens(p, width, height);
    case image_token_rule::llava_next_anyres: return llava_next_tokens(p, width, height);
    case image_token_rule::idefics3_split: return idefics3_tokens(p, width, height);
    case image_token_rule::llama4_tiles: return llama4_tokens(p, width, height);
    case image_token_rule::fixed:
    case image_token_rule::none: break;
    }
    image_tokens t;
    t.tokens = p.tokens;
    t.patches = p.tile && p.patch ? (p.tile / p.patch) * (p.tile / p.patch) : 0;
    t.resized_width = t.resized_height = p.tile;
    t.formula = num(p.tokens) + " tokens per image, whatever its size (resized to " + num(p.tile) + " px)";
    return t;
}

std::optional<error> parse_image_size(const std::string& value, const std::string& label, uint64_t& width,
                                      uint64_t& height) {
    auto bad = [&]() {
        return make_error(error_code::bad_request,
                          label + ": expected WIDTHxHEIGHT in pixels, each from 1 to " + num(max_image_side) +
                              " (e.g. 1024x768), got \"" + value + "\"",
                          "image_size");
    };
    size_t x = value.find_first_of("xX");
    if (x == std::string::npos || x == 0 || x + 1 >= value.size() || x > 6 || value.size() - x - 1 > 6)
        return bad();
    std::string w = value.substr(0, x), h = value.substr(x + 1);
    if (w.find_first_not_of("0123456789") != std::string::npos ||
        h.find_first_not_of("0123456789") != std::string::npos)
        return bad();
    width = std::stoull(w);
    height = std::stoull(h);
    if (width == 0 || height == 0 || width > max_image_side || height > max_image_side) return bad();
    return std::nullopt;
}

result<image_inputs> plan_image_inputs(const model_spec& spec, const workload& w) {
    image_inputs in;
    if (w.images == 0) return in;
    uint64_t width = w.image_width ? w.image_width : default_image_side;
    uint64_t height = w.image_height ? w.image_height : default_image_side;
    auto per_image = count_image_tokens(spec, width, height);
    if (!per_image) return per_image.err();
    in.per_image = std::move(*per_image);
    in.width = width;
    in.height = height;
    in.tokens = in.per_image.tokens * w.images; // both below 2^40 and 2^16: no overflow
    return in;
}

plan_item vision_activations_item(const model_spec& spec, const workload& w, const image_inputs& in,
                                  dtype act, uint64_t& bytes) {
    using sat::add;
    using sat::mul;
    const uint64_t ab = dtype_bytes(act);
    const uint64_t patches = mul(mul(w.batch, w.images), in.per_image.patches); // every image of the batch
    const uint64_t frame = in.per_image.frames ? in.per_image.patches / in.per_image.frames : 0;
    uint64_t residual = mul(mul(mul(2, patches), spec.vision_hidden), ab);
    uint64_t attention = mul(mul(mul(4, patches), spec.vision_hidden), ab); // q, k, v and the output
    if (w.attention == attention_impl::eager) // scores and probabilities of each image or tile
        attention = add(attention, mul(mul(mul(mul(2, mul(w.batch, w.images)), in.per_image.frames),
                                           mul(spec.vision_heads, mul(frame, frame))),
                                       ab));
    uint64_t ffn = mul(mul(mul(3, patches), spec.vision_intermediate), ab); // gate, up and product (at most)
    bytes = add(residual, std::max(attention, ffn));
    return {
        "vision_activations",
        bytes,
        "an estimate: the peak of one vision-encoder layer over every image's patches, 2 x patches x "
        "vision hidden (residual) + max(4 x patches x vision hidden (q, k, v, output; eager attention adds "
        "2 x heads x patches^2 per image or tile), 3 x patches x vision FFN) x bytes; the tower runs "
        "before the decoder's prefill and is counted in addition to its activations",
        {{"images", num(w.images)},
          {"image_size", size_text(in.width, in.height)},
          {"resized_to", size_text(in.per_image.resized_width, in.per_image.resized_height)},
          {"patches_per_image", num(in.per_image.patches)},
          {"frames_per_image", num(in.per_image.frames)},
          {"patches", num(patches)},
          {"vision_hidden", num(spec.vision_hidden)},
          {"vision_ffn", num(spec.vision_intermediate)},
          {"vision_heads", num(spec.vision_heads)},
          {"activation_dtype", dtype_name(act)},
          {"attention", attention_name(w.attention)}}
    };
}

} // namespace modelplan
