// Inference memory plan: KV cache against engines' measured capacities, and the plan's structure.
#include <cmath>

#include "modelplan/memory.h"
#include "modelplan/text.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

const plan_item& item(const memory_plan& p, const std::string& name) {
    for (const auto& i : p.items)
        if (i.name == name) return i;
    ADD_FAILURE() << "no item " << name;
    static plan_item none;
    return none;
}

memory_plan plan_of(const std::string& preset, workload w = {}) {
    auto p = plan_memory(analyze_preset(preset), w);
    EXPECT_TRUE(p.ok()) << preset;
    return p.ok() ? *p : memory_plan{};
}

// Bytes per token per sequence, worked by hand from the published configs (2 x layers x KV heads x head_dim x
// 2 bytes; MLA: the latent and the rotary key). The tokens vLLM fits in its logged KV pools with these
// figures are checked in tests/data/reference/memory-figures.tsv (kv_pool_tokens, with the logs). vLLM v0.19
// sizes sliding-window layers like full ones, as our per-token figure does (the plan's kv_cache item caps
// them at the window; see docs/memory.md).
TEST(memory, kv_bytes_per_token) {
    struct per_token {
        const char* preset;
        uint64_t bytes;
        dtype kv = dtype::bf16; // the dtype vLLM ran with (--dtype; gemma-2-9b's config says float32)
    };
    for (const per_token& m : {
             per_token{"llama-3.1-8b",     131072},
             per_token{"qwen2.5-7b",       57344 },
             per_token{"qwen3-8b",         147456},
             per_token{"deepseek-v2-lite", 31104 }, // MLA latent
             per_token{"phi-4",            204800},
             per_token{"phi-2",            327680, dtype::f16},
             per_token{"gemma-2-9b",                  344064            },
    }) {
        workload w;
        w.kv_dtype = m.kv;
        EXPECT_EQ(plan_of(m.preset, w).kv_bytes_per_token, m.bytes) << m.preset;
    }
}

TEST(memory, kv_cache_scales_with_batch_and_seq) {
    workload w;
    w.batch = 4;
    w.seq = 8192;
    memory_plan p = plan_of("llama-3.1-8b", w);
    EXPECT_EQ(item(p, "kv_cache").bytes, 131072ULL * 8192 * 4);
    EXPECT_EQ(p.kv_bytes_by_layer.size(), 32u);
}

// Mistral-7B-v0.1 slides a 4096-token window on every layer: a longer sequence caches no more.
TEST(memory, sliding_window_caps_the_cache) {
    workload short_seq, long_seq;
    short_seq.seq = 4096;
    long_seq.seq = 32768;
    EXPECT_EQ(item(plan_of("mistral-7b-v0.1", long_seq), "kv_cache").bytes,
              item(plan_of("mistral-7b-v0.1", short_seq), "kv_cache").bytes);
    // Gemma 2 alternates: sliding layers are capped, global ones grow.
    workload g_short, g_long;
    g_short.seq = 4096;
    g_long.seq = 8192;
    uint64_t a = item(plan_of("gemma-2-2b", g_short), "kv_cache").bytes;
    uint64_t b = item(plan_of("gemma-2-2b", g_long), "kv_cache").bytes;
    EXPECT_EQ(b, a + a / 2); // 13 of 26 layers double, 13 stay at the 4096 window
}

// Multi-head latent attention caches one latent of kv_lora_rank plus the shared rotary key per token and
// layer (512 + 64 in DeepSeek-V2-Lite's published config), independent of the 16 heads; vLLM measured
// 31,102 bytes per token (43.61 GiB for 1,505,552 tokens, llm-d sweep).
TEST(memory, mla_caches_the_latent) {
    memory_plan p = plan_of("deepseek-v2-lite");
    EXPECT_EQ(p.kv_bytes_per_token, (512u + 64u) * 2u * 27u);
}

// Encoder-decoder: the encoder caches nothing; each decoder layer caches its own tokens and the encoder's.
TEST(memory, encoder_decoder_cross_attention) {
    workload w;
    w.seq = 100;
    w.encoder_seq = 400;
    memory_plan p = plan_of("t5-small", w);
    analysis a = analyze_preset("t5-small");
    uint64_t per_token = 2 * a.spec.n_kv_heads * a.spec.head_dim * 4; // F32 checkpoint
    EXPECT_EQ(p.kv_bytes_by_layer[0], 0u);                            // encoder block 0
    EXPECT_EQ(p.kv_bytes_by_layer[6], per_token * (100 + 400));
    EXPECT_EQ(item(p, "kv_cache").bytes, 6 * per_token * 500);
}

TEST(memory, encoders_have_no_cache) {
    EXPECT_EQ(item(plan_of("bert-base-uncased"), "kv_cache").bytes, 0u);
}

// Weights are the skeleton's bytes; KV dtype and attention implementation change what they should.
TEST(memory, items_follow_the_inputs) {
    memory_plan base = plan_of("qwen3-8b");
    EXPECT_EQ(item(base, "weights").bytes, 16'381'470'720ULL); // Qwen3-8B index total_size
    workload fp8;
    fp8.kv_dtype = dtype::f8_e4m3;
    EXPECT_EQ(item(plan_of("qwen3-8b", fp8), "kv_cache").bytes * 2, item(base, "kv_cache").bytes);
    workload eager;
    eager.attention = attention_impl::eager;
    EXPECT_GT(item(plan_of("qwen3-8b", eager), "activations").bytes, item(base, "activations").bytes);
    workload none, overhead;
    none.overhead_bytes = 0;
    overhead.overhead_bytes = 512ull << 20;
    EXPECT_EQ(plan_of("qwen3-8b", overhead).total_bytes,
              plan_of("qwen3-8b", none).total_bytes + (512ull << 20));
    // The default overhead (transformers' "Model training anatomy" guide's 1,343 MB after initializing CUDA)
    // is checked in tests/data/reference/memory-figures.tsv (overhead_mib).
    uint64_t sum = 0;
    for (const auto& i : base.items) sum += i.bytes;
    EXPECT_EQ(sum, base.total_bytes);
}

// accelerate's estimate-memory figures for bert-base-cased (bert-base-uncased's config with vocab_size
// 28,996, as a BertModel) are checked in tests/data/reference/memory-figures.tsv (weights_mib, loaded_mib).

// llama.cpp's KV cache types: q8_0 stores 32 values in 34 bytes, q4_0 in 18 (ggml-common.h block_q8_0,
// block_q4_0): Llama-3.1-8B's 65,536 values per token become 69,632 and 36,864 bytes.
TEST(memory, block_quantized_kv_cache) {
    workload q8, q4;
    ASSERT_FALSE(set_workload_option(q8, "kv_dtype", "q8_0", "--kv-dtype"));
    ASSERT_FALSE(set_workload_option(q4, "kv_dtype", "q4_0", "--kv-dtype"));
    EXPECT_EQ(plan_of("llama-3.1-8b", q8).kv_bytes_per_token, 65536u / 32 * 34);
    EXPECT_EQ(plan_of("llama-3.1-8b", q4).kv_bytes_per_token, 65536u / 32 * 18);
}

// FlashAttention-2 runs fp16/bf16 with head_dim up to 256 (its README): naming it explicitly with fp32
// weights is an error, not a silent fallback.
TEST(memory, explicit_flash_attention_with_fp32_is_refused) {
    workload flash;
    flash.attention = attention_impl::flash;
    auto p = plan_memory(analyze_preset("t5-small"), flash); // F32 checkpoint
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.err().message,
              "attention: flash cannot run with fp32 weights; use dtype bf16 or fp16, or attention sdpa");
    EXPECT_EQ(p.err().path, "attention");
    EXPECT_TRUE(plan_memory(analyze_preset("llama-3.1-8b"), flash).ok());
}

TEST(memory, mtp_layers_load_on_request) {
    auto a = analyze("deepseek-v3", edited_config("deepseek-v3", "quantization_config", ""), {});
    ASSERT_TRUE(a.ok());
    workload with_mtp;
    with_mtp.include_mtp = true;
    auto without = plan_memory(*a, workload{});
    auto with = plan_memory(*a, with_mtp);
    ASSERT_TRUE(without.ok() && with.ok());
    uint64_t mtp_bytes = 0; // BF16 tensors, plus the router's F32 score-correction bias
    for (const auto& t : a->sk.tensors)
        if (t.layer != no_index && a->spec.layers[t.layer].stack == layer_stack::mtp)
            mtp_bytes += t.elements * dtype_bytes(t.type);
    EXPECT_EQ(item(*with, "weights").bytes - item(*without, "weights").bytes, mtp_bytes);
    EXPECT_EQ(mtp_bytes, a->counts.mtp * 2 + 256 * 2); // 256 routed experts' biases at 4 bytes instead of 2
}

TEST(memory, sequence_beyond_the_context_warns) {
    workload w;
    w.seq = 200000;
    memory_plan p = plan_of("llama-3.1-8b", w);
    ASSERT_EQ(p.warnings.size(), 1u);
    EXPECT_NE(p.warnings[0].find("max_position_embeddings (131072)"), std::string::npos) << p.warnings[0];
    EXPECT_NE(p.warnings[0].find("llama3"), std::string::npos);
}

TEST(memory, sizes_parse_in_binary_and_decimal_units) {
    EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
    EXPECT_EQ(parse_size("1.5GiB"), 3ull << 29);
    EXPECT_EQ(parse_size("24GB"), 24'000'000'000ULL);
    EXPECT_EQ(parse_size("1000"), 1000u);
    EXPECT_FALSE(parse_size("lots"));
    EXPECT_FALSE(parse_size("-1GiB"));
    EXPECT_FALSE(parse_size("1e400GB"));
}

} // namespace
} // namespace modelplan::test
