// Weight storage under quantization (docs/quantization.md): formats, block sizes and what each format keeps.
// The published sizes (llama.cpp's bits per weight and GGUF file sizes, vLLM's quantized weights, QLoRA's
// bits per parameter) are checked in tests/data/reference/memory-figures.tsv by tests/core/accuracy.cpp.
#include <cmath>

#include <gtest/gtest.h>

#include "modelplan/quantization.h"
#include "test-util.h"

namespace modelplan {
namespace {

using test::analyze_preset;
using test::edited_config;

plan_item weights(const analysis& a, const std::string& quant) {
    workload w;
    w.quant = quant;
    auto item = plan_weights(a, w);
    EXPECT_TRUE(item.ok()) << quant << ": " << (item.ok() ? "" : item.err().message);
    return item.ok() ? *item : plan_item{};
}

std::string input(const plan_item& item, const std::string& name) {
    for (const auto& i : item.inputs)
        if (i.name == name) return i.value;
    return "";
}

analysis analyze_config(const std::string& name, const std::string& config) {
    auto a = analyze(name, config, {});
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

// ggml-common.h block sizes: Q8_0 34 bytes per 32 weights, Q4_0 18 per 32 (plain mixes, output Q6_K).
TEST(QuantizationPlan, Gguf_BlockBytesPerWeight) {
    analysis a = analyze_preset("llama-2-7b");
    plan_item q8 = weights(a, "q8_0+head");
    plan_item q4 = weights(a, "q4_0+head");
    // Every quantized tensor at 8.5 resp. 4.5 bits per weight.
    EXPECT_EQ(input(q8, "quantized_bits_per_weight"), "8.500");
    EXPECT_EQ(input(q4, "quantized_bits_per_weight"), "4.500");
    EXPECT_EQ(input(weights(a, "q6_k+head"), "quantized_bits_per_weight"), "6.563");
}

// RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w4a16 (a GPTQ checkpoint: 4 bits, group 128, fp16 head and
// embeddings): the format read from quantization_config. Its weights against vLLM's "weights memory":
// memory-figures.tsv.
TEST(QuantizationPlan, Gptq_Llama31_8B_FormatFromTheConfig) {
    std::string config =
        edited_config("llama-3.1-8b", "quantization_config",
                      R"({"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": true})");
    analysis a = analyze_config("llama-3.1-8b-gptq", config);
    plan_item item = weights(a, "");
    EXPECT_EQ(input(item, "quant"), "gptq-4bit-128g");
    EXPECT_EQ(input(item, "quant_source"), "config.json quantization_config");
    EXPECT_EQ(input(item, "quantized_tensors"), "224"); // 32 layers x 7 projections
}

// RedHatAI/Qwen2.5-7B-Instruct-fp8-dynamic (compressed-tensors, fp8 channel scales, lm_head ignored): the
// head stays as it is. Its weights against vLLM's: memory-figures.tsv.
TEST(QuantizationPlan, Fp8_CompressedTensorsKeepsTheHead) {
    std::string ct =
        R"({"quant_method": "compressed-tensors", "format": "float-quantized", "ignore": ["lm_head"],
        "config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": true}}}})";
    analysis qwen = analyze_config("qwen2.5-7b-fp8", edited_config("qwen2.5-7b", "quantization_config", ct));
    plan_item item = weights(qwen, "");
    EXPECT_EQ(input(item, "lm_head"), "kept");
}

// bitsandbytes NF4 (its bits per weight with and without double quantization against the QLoRA paper's §3:
// memory-figures.tsv) keeps the head: transformers skips lm_head by default.
TEST(QuantizationPlan, Bnb_Nf4_KeepsTheHead) {
    analysis a = analyze_preset("llama-2-7b");
    EXPECT_EQ(input(weights(a, "nf4"), "lm_head"), "kept");
}

// bitsandbytes LLM.int8: int8 weights + one fp32 scale (SCB) per output row. Llama-2-7B: linear layers
// 6,476,005,376 weights (7B params minus 2 x 32000 x 4096 embeddings/head minus norms) + 32 x (3 x 4096 +
// 4096 + 2 x 11008 + 4096) rows x 4 bytes.
TEST(QuantizationPlan, Bnb_Int8_WeightPlusRowScale) {
    analysis a = analyze_preset("llama-2-7b");
    plan_item item = weights(a, "int8");
    EXPECT_EQ(input(item, "quantized_bytes"),
              std::to_string(6476005376ull + 32ull * (5 * 4096 + 2 * 11008) * 4));
}

TEST(QuantizationPlan, BnbConfigIsRead) {
    std::string config = edited_config("llama-2-7b", "quantization_config",
                                       R"({"quant_method": "bitsandbytes", "load_in_4bit": true,
                                          "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true})");
    analysis a = analyze_config("llama-2-7b-bnb", config);
    analysis plain = analyze_preset("llama-2-7b");
    EXPECT_EQ(weights(a, "").bytes, weights(plain, "nf4").bytes);
    // --quant overrides the config.
    EXPECT_EQ(weights(a, "int8").bytes, weights(plain, "int8").bytes);
}

// DeepSeek-V3's own config.json: quant_method fp8, weight_block_size [128, 128]; its checkpoint stores an
// fp32 weight_scale_inv per 128x128 tile, i.e. 8 + 32/16384 = 8.002 bits per quantized weight.
TEST(QuantizationPlan, Fp8_DeepSeekV3_BlockScales) {
    analysis a = analyze_preset("deepseek-v3");
    auto item = plan_weights(a, workload{});
    ASSERT_TRUE(item.ok()) << item.err().message;
    EXPECT_EQ(input(*item, "quant"), "fp8-block128");
    EXPECT_NEAR(std::stod(input(*item, "quantized_bits_per_weight")), 8.002, 0.0005);
}

TEST(QuantizationPlan, AwqAndCompressedTensorsConfigs) {
    analysis a = analyze_config(
        "llama-awq",
        edited_config("llama-2-7b", "quantization_config",
                      R"({"quant_method": "awq", "bits": 4, "group_size": 128, "version": "gemm"})"));
    plan_item awq = weights(a, "");
    EXPECT_EQ(input(awq, "quant"), "awq-4bit-128g");
    // AWQ stores no g_idx, GPTQ stores one int32 per input row: the difference is 4 x sum of input sizes.
    analysis plain = analyze_preset("llama-2-7b");
    uint64_t rows = 32ull * (4 * 4096 + 2 * 4096 + 11008);
    EXPECT_EQ(weights(plain, "gptq-4bit-128g").bytes - awq.bytes, rows * 4);

    analysis ct = analyze_config(
        "llama-w4a16", edited_config("llama-2-7b", "quantization_config",
                                     R"({"quant_method": "compressed-tensors", "format": "pack-quantized",
            "ignore": ["lm_head"], "config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 128,
                        "symmetric": true}}}})"));
    EXPECT_EQ(input(weights(ct, ""), "quant"), "w4a16-128g");
}

TEST(QuantizationPlan, HeadModifierQuantizesTheHead) {
    analysis a = analyze_preset("llama-2-7b");
    plan_item kept = weights(a, "gptq-4bit-128g");
    plan_item head = weights(a, "gptq-4bit-128g+head");
    EXPECT_EQ(input(head, "lm_head"), "quantized");
    EXPECT_LT(head.bytes, kept.bytes);
    EXPECT_EQ(std::stoull(input(head, "quantized_tensors")),
              std::stoull(input(kept, "quantized_tensors")) + 1);
}

TEST(QuantizationPlan, RejectsUnknownFormatsNamingTheClosest) {
    analysis a = analyze_preset("llama-2-7b");
    workload w;
    w.quant = "q4_k_x";
    auto r = plan_weights(a, w);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, error_code::bad_request);
    EXPECT_EQ(r.err().path, "quant");
    EXPECT_NE(r.err().message.find("\"q4_k_x\""), std::string::npos) << r.err().message;
    EXPECT_NE(r.err().message.find("q4_k_m"), std::string::npos) << r.err().message;
    // Issue 17: the closest few names and where the full list is, not every format.
    EXPECT_NE(r.err().message.find("docs/quantization.md"), std::string::npos) << r.err().message;

    for (const char* bad : {"gptq-5bit-128g", "awq-8bit-128g", "gptq-4bit-0g", "nf4+tail", ""}) {
        w.quant = bad;
        if (w.quant.empty()) continue;
        auto e = plan_weights(a, w);
        ASSERT_FALSE(e.ok()) << bad;
        EXPECT_EQ(e.err().code, error_code::bad_request) << bad;
    }
}

// Llama-2-7B's MLP input is 11008 wide: 11008 = 2^8 x 43, so groups of 1024 do not divide down_proj.
TEST(QuantizationPlan, GroupSizeMustDivideTheInputSize) {
    analysis a = analyze_preset("llama-2-7b");
    workload w;
    w.quant = "gptq-4bit-1024g";
    auto r = plan_weights(a, w);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, error_code::not_divisible);
    EXPECT_EQ(r.err().message,
              "quant: group size 1024 of gptq-4bit-1024g does not divide the input size 11008 of "
              "model.layers.0.mlp.down_proj.weight");
}

TEST(QuantizationPlan, ConfigErrorsNameTheKey) {
    analysis a = analyze_config(
        "m", edited_config("llama-2-7b", "quantization_config", R"({"quant_method": "hqq", "nbits": 4})"));
    auto r = plan_weights(a, workload{});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, error_code::unsupported);
    EXPECT_EQ(r.err().path, "quantization_config.quant_method");
    EXPECT_NE(r.err().message.find("\"hqq\""), std::string::npos) << r.err().message;

    analysis b = analyze_config(
        "m", edited_config("llama-2-7b", "quantization_config", R"({"quant_method": "gptq", "bits": 5})"));
    auto rb = plan_weights(b, workload{});
    ASSERT_FALSE(rb.ok());
    EXPECT_EQ(rb.err().message, "quantization_config.bits: expected 2, 3, 4 or 8, got 5");
}

TEST(QuantizationPlan, EveryPresetPlansEveryFormat) {
    for (const char* preset : {"llama-3.1-8b", "qwen3-30b-a3b", "mixtral-8x7b-v0.1", "gpt2", "t5-small",
                               "deepseek-v2-lite", "gemma-3-4b", "phi-3-mini-4k"}) {
        analysis a = analyze_preset(preset);
        for (const char* q : {"int8", "nf4", "fp4-no-dq", "fp8", "fp8-channel", "fp8-block128", "q4_k_m",
                              "q8_0", "q2_k", "iq4_xs", "gptq-4bit-pc"}) {
            workload w;
            w.quant = q;
            auto r = plan_weights(a, w);
            ASSERT_TRUE(r.ok()) << preset << " " << q << ": " << r.err().message;
            EXPECT_GT(r->bytes, 0u);
            EXPECT_LT(r->bytes, a.counts.total * 4 + 1) << preset << " " << q;
        }
    }
}

} // namespace
} // namespace modelplan
