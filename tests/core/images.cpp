// Image inputs (issue 13): tokens per image as each model's processor counts them, two resolutions per rule,
// worked by hand from the processor's documented steps (transformers 4.57: the functions named in each test),
// and the plan's KV cache growing by exactly the image tokens.
#include <gtest/gtest.h>

#include "modelplan/images.h"
#include "modelplan/memory.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

uint64_t tokens(const std::string& preset, uint64_t width, uint64_t height) {
    analysis a = analyze_preset(preset);
    auto t = count_image_tokens(a.spec, width, height);
    EXPECT_TRUE(t.ok()) << preset << ": " << (t.ok() ? "" : t.err().message);
    return t.ok() ? t->tokens : 0;
}

// Qwen2VLImageProcessor / image_processing_qwen2_vl.smart_resize(height, width, factor = patch x merge = 28,
// min_pixels 3136, max_pixels 12845056), then (h / 14) x (w / 14) patches merged 2 x 2 per token.
// 1024x768: h 768/28 = 27.4 -> 27 x 28 = 756, w 1024/28 = 36.6 -> 37 x 28 = 1036; 54 x 74 / 4 = 999.
// 8000x6000: 5992 x 8008 is above max_pixels: beta = sqrt(48e6 / 12845056) = 1.9331, h = floor(6000 / beta /
// 28) x 28 = 110 x 28 = 3080, w = floor(8000 / beta / 28) x 28 = 147 x 28 = 4116; 220 x 294 / 4 = 16170.
TEST(image_tokens, qwen2_and_qwen2_5_smart_resize) {
    for (const char* preset : {"qwen2.5-vl-7b-instruct", "qwen2-vl-7b-instruct"}) {
        SCOPED_TRACE(preset);
        EXPECT_EQ(tokens(preset, 1024, 768), 999u);
        EXPECT_EQ(tokens(preset, 8000, 6000), 16170u);
    }
}

// Qwen3-VL: the same smart_resize with patch 16, merge 2 (factor 32) and the processor's size
// {shortest_edge 65536, longest_edge 16777216} as min and max pixels.
// 1024x768: already multiples of 32; 48 x 64 patches / 4 = 768.
// 200x100: 96 x 192 = 18432 is below 65536: beta = sqrt(65536 / 20000) = 1.8102, h = ceil(100 x beta / 32) x
// 32 = 6 x 32 = 192, w = ceil(200 x beta / 32) x 32 = 12 x 32 = 384; 12 x 24 / 4 = 72.
TEST(image_tokens, qwen3_smart_resize) {
    for (const char* preset : {"qwen3-vl-8b-instruct", "qwen3-vl-30b-a3b-instruct"}) {
        SCOPED_TRACE(preset);
        EXPECT_EQ(tokens(preset, 1024, 768), 768u);
        EXPECT_EQ(tokens(preset, 200, 100), 72u);
    }
}

// Gemma3Processor: mm_tokens_per_image (256) image tokens per image, whatever its size.
TEST(image_tokens, gemma3_fixed) {
    EXPECT_EQ(tokens("gemma-3-4b", 1024, 768), 256u);
    EXPECT_EQ(tokens("gemma-3-4b", 200, 100), 256u);
}

// Mistral3Processor over PixtralImageProcessor (longest_edge = vision image_size 1540, patch 14, spatial
// merge 2): get_resize_output_image_size scales by max(h, w) / 1540 when above 1 and rounds up to whole
// patches, then rows h // 28 of w // 28 tokens plus one break (the last an end token).
// 1024x768: no scaling; h (767 // 14 + 1) x 14 = 770, w (1023 // 14 + 1) x 14 = 1036; 27 rows x (37 + 1) =
// 1026. 3080x1540: ratio 2 -> 1540 x 770; 770 // 28 = 27 rows of 1540 // 28 = 55 (+1): 27 x 56 = 1512.
TEST(image_tokens, mistral3_pixtral_rows_with_breaks) {
    for (const char* preset :
         {"mistral-small-3.1-24b-instruct-2503", "mistral-small-3.2-24b-instruct-2506"}) {
        SCOPED_TRACE(preset);
        EXPECT_EQ(tokens(preset, 1024, 768), 1026u);
        EXPECT_EQ(tokens(preset, 3080, 1540), 1512u);
    }
}

// LlavaProcessor: (336 / 14)^2 patches + 1 class token - 1 (vision_feature_select_strategy "default") = 576,
// whatever the image's size (resized and center-cropped to 336).
TEST(image_tokens, llava_fixed_576) {
    EXPECT_EQ(tokens("llava-1.5-7b", 1024, 768), 576u);
    EXPECT_EQ(tokens("llava-1.5-7b", 200, 100), 576u);
}

// LlavaNextProcessor._get_number_of_features with select_best_resolution over image_grid_pinpoints
// [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]] (height, width), 24 x 24 patches per tile.
// 336x336: best (336, 672) (the first of the equally effective, least wasted), grid 24 x 48; the width is
// unpadded to 336 x 24/336 = 24 (padding 12 each side): 24 x 24 + 24 newlines + 576 base = 1176.
// 1000x500: best (336, 672) keeps 672 x 336 with nothing wasted; aspect 2 = 48 / 24, no padding:
// 24 x 48 + 24 + 576 = 1752. 384x384: best (672, 672), 48 x 48 + 48 + 576 = 2928.
TEST(image_tokens, llava_next_anyres) {
    EXPECT_EQ(tokens("llava-v1.6-mistral-7b", 336, 336), 1176u);
    EXPECT_EQ(tokens("llava-v1.6-mistral-7b", 1000, 500), 1752u);
    EXPECT_EQ(tokens("llava-v1.6-mistral-7b", 384, 384), 2928u);
}

// Idefics3ImageProcessor: the longest edge to 4 x 364 = 1456 (the other side keeps the aspect ratio, rounded
// up to even), both sides up to whole 364-px tiles, then the tiles plus the global image; Idefics3Processor
// puts image_seq_len = (364 / 14)^2 / 2^2 = 169 tokens in each.
// 364x364: 1456 x 1456, 4 x 4 tiles + 1 = 17 x 169 = 2873. 1000x500: 1456 x 728, 4 x 2 tiles + 1 = 9 x 169 =
// 1521. SmolVLM2 (384-px tiles, 4 x 384 = 1536, scale factor 3: (384 // 14)^2 / 9 = 81 tokens): 384x384: 4 x
// 4 + 1 = 17 x 81 = 1377. 1000x500: 1536 x 768, 4 x 2 + 1 = 9 x 81 = 729.
TEST(image_tokens, idefics3_and_smolvlm_tiles) {
    EXPECT_EQ(tokens("idefics3-8b-llama3", 364, 364), 2873u);
    EXPECT_EQ(tokens("idefics3-8b-llama3", 1000, 500), 1521u);
    EXPECT_EQ(tokens("smolvlm2-2.2b-instruct", 384, 384), 1377u);
    EXPECT_EQ(tokens("smolvlm2-2.2b-instruct", 1000, 500), 729u);
}

// Llama 4 (Llama4ImageProcessorFast, transformers 4.57; Scout's vision_config: image_size 336, patch_size 14,
// pixel_shuffle_ratio 0.5): a tile is (336 / 14)^2 = 576 patches, 576 // round(1 / 0.5^2) = 144 tokens.
// Canvases are rows x cols tiles with rows x cols <= 16 (max_patches); get_best_fit takes the smallest scale
// >= 1 (scale = min(336 rows / h, 336 cols / w)), then the smallest area. Llama4Processor._prompt_split_image
// writes
// <|image_start|>, each tile's 144 tokens and a separator per tile (rows x (cols - 1) x-separators, rows
// y-separators), <|image|>, the global tile's 144, <|image_end|>.
// 336x336: (1, 1) has scale 1: one tile, no global tile: 1 + 1 + 144 + 1 = 147.
// 800x600 (h 600, w 800): rows >= 2 (672/600 = 1.12), cols >= 3 (1008/800 = 1.26); the smallest scale >= 1 is
// 1.12, held by (2, 3) ... (2, 8); the smallest area is 2 x 3 = 6 tiles: 7 x 144 + 6 + 3 = 1017.
// 1024x768: rows >= 3 (1008/768 = 1.3125), cols >= 4 (1344/1024 = 1.3125): (3, 4), 12 tiles: 13 x 144 + 15 =
// 1887. 8000x8000: no canvas upscales; the largest scale below 1 is 4 x 4 (1344/8000): 17 x 144 + 16 + 3 =
// 2467.
TEST(image_tokens, llama4_best_canvas_of_tiles) {
    for (const char* preset : {"llama-4-scout-17b-16e-instruct", "llama-4-maverick-17b-128e-instruct"}) {
        EXPECT_EQ(tokens(preset, 336, 336), 147u) << preset;
        EXPECT_EQ(tokens(preset, 800, 600), 1017u) << preset;
        EXPECT_EQ(tokens(preset, 1024, 768), 1887u) << preset;
        EXPECT_EQ(tokens(preset, 8000, 8000), 2467u) << preset;
    }
    analysis a = analyze_preset("llama-4-scout-17b-16e-instruct");
    auto t = count_image_tokens(a.spec, 1024, 768);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->frames, 13u);             // 12 tiles and the global tile
    EXPECT_EQ(t->patches, 13u * 576u);     // each encoded apart by the tower
    EXPECT_EQ(t->resized_width, 4u * 336); // the canvas, before padding is split
    EXPECT_EQ(t->resized_height, 3u * 336);
}

// Bad sizes and text-only models are errors that name the field and the value.
TEST(image_tokens, bad_inputs_are_errors) {
    analysis qwen = analyze_preset("qwen2.5-vl-7b-instruct");
    auto zero = count_image_tokens(qwen.spec, 0, 5);
    ASSERT_FALSE(zero.ok());
    EXPECT_NE(zero.err().message.find("0x5"), std::string::npos);
    auto thin = count_image_tokens(qwen.spec, 4000, 10); // aspect ratio 400: smart_resize raises
    ASSERT_FALSE(thin.ok());
    EXPECT_NE(thin.err().message.find("200"), std::string::npos);
    analysis llama = analyze_preset("llama-3.1-8b");
    auto text_only = count_image_tokens(llama.spec, 100, 100);
    ASSERT_FALSE(text_only.ok());
    EXPECT_EQ(text_only.err().path, "images");

    workload w;
    for (const char* bad :
         {"0x5", "5x0", "-1x5", "1024", "x768", "1024x", "99999999x2", "70000x10", "ax b"}) {
        auto e = set_workload_option(w, "image_size", bad, "--image-size");
        ASSERT_TRUE(e) << bad;
        EXPECT_NE(e->message.find("--image-size"), std::string::npos);
        EXPECT_NE(e->message.find(bad), std::string::npos);
    }
    for (const char* bad : {"-1", "1.5", "65537", "99999999999999999999999", ""}) {
        auto e = set_workload_option(w, "images", bad, "--images");
        ASSERT_TRUE(e) << bad;
        EXPECT_NE(e->message.find("--images"), std::string::npos);
    }
    EXPECT_FALSE(set_workload_option(w, "images", "65536", "--images"));
    EXPECT_FALSE(set_workload_option(w, "image_size", "65536x65536", "--image-size"));
    EXPECT_EQ(w.image_width, 65536u);
}

// Two images of 1024x768 add 2 x 999 tokens to each sequence: Qwen2.5-VL-7B's KV cache grows by exactly those
// tokens x its bytes per token (2 x 4 kv heads x 128 x 2 bytes x 28 layers = 57,344, config.json's values),
// for every sequence of the batch.
TEST(image_tokens, kv_cache_grows_by_the_image_tokens) {
    analysis a = analyze_preset("qwen2.5-vl-7b-instruct");
    workload text;
    text.seq = 1000;
    text.batch = 3;
    workload with_images = text;
    ASSERT_FALSE(set_workload_option(with_images, "images", "2", "--images"));
    ASSERT_FALSE(set_workload_option(with_images, "image_size", "1024x768", "--image-size"));
    auto p0 = plan_memory(a, text);
    auto p1 = plan_memory(a, with_images);
    ASSERT_TRUE(p0.ok() && p1.ok());
    EXPECT_EQ(p1->kv_bytes_per_token, 57'344u);
    EXPECT_EQ(p1->image_tokens, 2u * 999u);
    EXPECT_EQ(p1->image_tokens_per_image, 999u);
    EXPECT_EQ(p1->text_seq, 1000u);
    EXPECT_EQ(p1->bytes.kv_cache - p0->bytes.kv_cache, 3u * 2u * 999u * 57'344u);
    EXPECT_GT(p1->bytes.vision_activations, 0u);
    EXPECT_EQ(p0->bytes.vision_activations, 0u);
    EXPECT_EQ(p1->total_bytes - p0->total_bytes, (p1->bytes.kv_cache - p0->bytes.kv_cache) +
                                                     (p1->bytes.activations - p0->bytes.activations) +
                                                     p1->bytes.vision_activations);
    bool item = false;
    for (const auto& i : p1->items) item = item || i.name == "vision_activations";
    EXPECT_TRUE(item);
}

// Images on a text-only model are refused by the plan, naming the field.
TEST(image_tokens, text_only_model_refuses_images) {
    workload w;
    w.images = 1;
    auto p = plan_memory(analyze_preset("llama-3.1-8b"), w);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.err().path, "images");
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

// The JSON request of the wasm module and the CLI's --json take the same fields.
TEST(image_tokens, json_requests_take_images_and_image_size) {
    std::string answer = handle_request(
        "plan", R"({"model": "qwen3-vl-8b-instruct", "images": 3, "image_size": "1024x768", "seq": 500})");
    rapidjson::Document doc;
    doc.Parse(answer.c_str());
    ASSERT_TRUE(doc.IsObject() && doc.HasMember("plan")) << answer;
    EXPECT_EQ(doc["plan"]["images"]["tokens_per_image"].GetUint64(), 768u); // qwen3_smart_resize above
    EXPECT_EQ(doc["plan"]["images"]["image_tokens"].GetUint64(), 3u * 768u);
    EXPECT_EQ(doc["plan"]["images"]["text_seq"].GetUint64(), 500u);
    std::string bad =
        handle_request("plan", R"({"model": "qwen3-vl-8b-instruct", "images": 1, "image_size": "0x5"})");
    EXPECT_NE(bad.find("\"error\""), std::string::npos);
    EXPECT_NE(bad.find("0x5"), std::string::npos);
    std::string negative = handle_request("plan", R"({"model": "qwen3-vl-8b-instruct", "images": -1})");
    EXPECT_NE(negative.find("\"error\""), std::string::npos);
}

} // namespace
} // namespace modelplan::test
