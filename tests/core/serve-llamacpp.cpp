// llama.cpp serving plans against published llama.cpp start-up logs (docs/serving.md, "llama.cpp"; sources in
// models/SOURCES-SERVE.md). llama.cpp prints "model buffer size", "KV buffer size", the cache's "size = X MiB
// (N cells, L layers, S/T seqs)" and "compute buffer size" per device, in MiB with two decimals.
//
// Tolerances:
// - model and KV buffers: 0.01 MiB (the log's rounding): the stored bytes of the tensors on each device and
// the
//   cache's cells x rows are computed exactly (for a model that is not a GGUF file, after llama-quantize's
//   per-tensor mix, docs/quantization.md);
// - cells: exact;
// - compute buffers: 15%: an estimate (one ubatch's logits in f32), against two logs only.
#include <cmath>

#include <gtest/gtest.h>

#include "modelplan/serve.h"
#include "test-util.h"

namespace modelplan {
namespace {

constexpr double mib = 1048576.0;

serve_plan plan_of(const analysis& a, std::initializer_list<std::pair<const char*, const char*>> knobs,
                   const char* gpu = "rtx-4090") {
    serve_request r;
    r.engine = "llama.cpp";
    r.gpu = gpu;
    for (auto [name, value] : knobs) EXPECT_FALSE(set_serve_option(r, name, value, name)) << name;
    auto p = plan_serve(a, r);
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.err().message);
    return p.ok() ? *p : serve_plan{};
}

analysis from_config(const char* name, const char* config) {
    auto a = analyze(name, config, {});
    EXPECT_TRUE(a.ok()) << name << ": " << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

// Llama-3.2-3B-Instruct Q4_K_M, every layer on the GPU: "Vulkan0 model buffer size = 1918.35 MiB",
// "CPU_Mapped model buffer size = 308.23 MiB" (a published llama-cli log, build 4984; code-index file
// 67225666884), and with a 2,048-token context "CUDA0 KV buffer size = 224.00 MiB", "CUDA0 compute buffer
// size = 284.90 MiB" (a published llama.cpp CUDA log quoted in a public parser's documentation; code-index
// file 54573746480).
TEST(ServeLlamacpp, Llama32_3bQ4KmBuffers) {
    analysis a = test::analyze_preset("llama-3.2-3b");
    serve_plan p = plan_of(a, {
                                  {"quant",    "q4_k_m"},
                                  {"ctx_size", "2048"  },
                                  {"parallel", "1"     }
    });
    ASSERT_EQ(p.ranks.size(), 1u);
    EXPECT_EQ(p.n_gpu_layers, 29u); // "offloaded 29/29 layers to GPU"
    EXPECT_NEAR(p.ranks[0].weights_bytes / mib, 1918.35, 0.01);
    EXPECT_NEAR(p.host_weights_bytes / mib, 308.23, 0.01);
    EXPECT_NEAR(p.ranks[0].kv_cache_bytes / mib, 224.00, 0.01);
    EXPECT_NEAR(p.ranks[0].activation_peak_bytes / mib / 284.90, 1.0, 0.15);
    EXPECT_TRUE(p.starts);
}

// Qwen3-4B Q4_K_M, a context of 8,192 in llama-server's unified cache: "CUDA0 model buffer size = 2375.91
// MiB", "CPU_Mapped model buffer size = 304.28 MiB", "CUDA0 KV buffer size = 1152.00 MiB" (a published 2026
// llama-server log; code-index file 71453436919). Qwen/Qwen3-4B's config.json as published.
TEST(ServeLlamacpp, Qwen3_4bQ4KmBuffers) {
    analysis a = from_config("qwen3-4b", R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
        "rope_theta": 1000000, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "torch_dtype": "bfloat16"})");
    serve_plan p = plan_of(a, {
                                  {"quant",    "q4_k_m"},
                                  {"ctx_size", "8192"  }
    });
    ASSERT_EQ(p.ranks.size(), 1u);
    EXPECT_NEAR(p.ranks[0].weights_bytes / mib, 2375.91, 0.01);
    EXPECT_NEAR(p.host_weights_bytes / mib, 304.28, 0.01);
    EXPECT_NEAR(p.ranks[0].kv_cache_bytes / mib, 1152.00, 0.01);
    EXPECT_TRUE(p.kv_unified);
    EXPECT_EQ(p.n_parallel, 4u);
}

// A Qwen2.5-3B-shaped model (36 layers, n_embd_k_gqa 256) with a 4,096-token context: "CUDA0 KV buffer size =
// 144.00 MiB", "K (f16): 72.00 MiB", "CUDA0 compute buffer size = 300.75 MiB" (SciSharp/LLamaSharp#1099,
// build 4701). Qwen/Qwen2.5-3B's config.json as published.
TEST(ServeLlamacpp, Qwen25_3bCacheAndComputeBuffer) {
    analysis a = from_config("qwen2.5-3b", R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
        "hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36, "num_attention_heads": 16,
        "num_key_value_heads": 2, "vocab_size": 151936, "max_position_embeddings": 32768,
        "tie_word_embeddings": true, "torch_dtype": "bfloat16"})");
    serve_plan p = plan_of(a,
                           {
                               {"quant",    "q4_k_m"},
                               {"ctx_size", "4096"  },
                               {"parallel", "1"     }
    },
                           "rtx-4080-super");
    EXPECT_NEAR(p.ranks[0].kv_cache_bytes / mib, 144.00, 0.01);
    EXPECT_NEAR(p.k_bytes_total / mib, 72.00, 0.01);
    EXPECT_NEAR(p.ranks[0].activation_peak_bytes / mib / 300.75, 1.0, 0.15);
}

// gpt-oss (24 layers, 12 full and 12 sliding over 128 tokens, 8 KV heads x 64), a context of 131,072, one
// slot: "creating non-SWA KV cache, size = 131072 cells", "size = 3072.00 MiB (131072 cells, 12 layers, 1/1
// seqs), K (f16): 1536.00 MiB", "creating SWA KV cache, size = 768 cells", "size = 18.00 MiB (768 cells, 12
// layers" (a published llama.cpp log on Ascend NPUs, mid-2025; code-index file 44321302313).
TEST(ServeLlamacpp, GptOssSlidingWindowCache) {
    analysis a = test::analyze_preset("gpt-oss-20b");
    serve_plan p = plan_of(a,
                           {
                               {"ctx_size", "131072"},
                               {"parallel", "1"     }
    },
                           "h100-80gb");
    EXPECT_EQ(p.max_model_len, 131072u);
    EXPECT_EQ(p.full_layers, 12u);
    EXPECT_EQ(p.swa_layers, 12u);
    EXPECT_EQ(p.swa_cells, 768u);
    EXPECT_NEAR((p.k_bytes_total + p.v_bytes_total) / mib, 3072.00, 0.01);
    EXPECT_NEAR(p.k_bytes_total / mib, 1536.00, 0.01);
    EXPECT_NEAR((p.swa_k_bytes + p.swa_v_bytes) / mib, 18.00, 0.01);
}

// gemma-3-270m with -c 1024: 3 slots (no unified cache) give 1,536 cells and 27.0 MiB, 4 slots 1,024 cells
// and 18.0 MiB: the context divided by the slots and padded to 256 (unslothai/unsloth#7530, build 10107). The
// config as google/gemma-3-270m publishes it (a full layer after every five sliding ones, window 512).
TEST(ServeLlamacpp, SlotsDivideThePaddedContext) {
    analysis a =
        from_config("gemma-3-270m", R"({"architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
        "hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 18, "num_attention_heads": 4,
        "num_key_value_heads": 1, "head_dim": 256, "vocab_size": 262144, "max_position_embeddings": 32768,
        "sliding_window": 512, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
        "query_pre_attn_scalar": 256, "torch_dtype": "bfloat16",
        "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
          "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention",
          "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention",
          "sliding_attention", "sliding_attention", "sliding_attention", "full_attention"]})");
    for (auto [slots, cells, total_mib] : {
             std::tuple<const char*, uint64_t, double>{"3", 1536, 27.0},
             std::tuple<const char*, uint64_t, double>{"4", 1024, 18.0}
    }) {
        serve_plan p = plan_of(a, {
                                      {"ctx_size", "1024"},
                                      {"parallel", slots }
        });
        EXPECT_EQ(p.n_ctx, cells) << slots;
        const double all = (p.k_bytes_total + p.v_bytes_total + p.swa_k_bytes + p.swa_v_bytes) / mib;
        EXPECT_NEAR(all, total_mib, 0.01) << slots;
    }
}

TEST(ServeLlamacpp, LayersSplitOffloadAndTheVerdict) {
    analysis a = test::analyze_preset("llama-3.1-70b");
    // 70B in Q4_K_M (about 40 GiB) does not fit one 24 GB card: cudaMalloc fails; fewer layers or two cards
    // fix it.
    serve_plan one = plan_of(a, {
                                    {"quant",    "q4_k_m"},
                                    {"ctx_size", "8192"  }
    });
    EXPECT_FALSE(one.starts);
    EXPECT_NE(one.error.find("cudaMalloc failed: out of memory"), std::string::npos) << one.error;
    ASSERT_FALSE(one.fixes.empty());
    // -ngl 40 of 80 blocks: the last 40 on the GPU, the other 40 (and the embedding) in host memory, with
    // their KV cache: half the 80 layers' cache each side.
    serve_plan half = plan_of(a, {
                                     {"quant",        "q4_k_m"},
                                     {"ctx_size",     "8192"  },
                                     {"n_gpu_layers", "40"    }
    });
    EXPECT_EQ(half.ranks[0].kv_cache_bytes, static_cast<int64_t>(half.host_kv_bytes));
    EXPECT_GT(half.host_weights_bytes, half.ranks[0].weights_bytes / 2);
    // Two GPUs: llama.cpp splits the 81 layers (80 blocks and the output layer, counted last) at the equal
    // fractions: blocks 0-40 on the first (il / 81 < 1 / 2), 41-79 and the
    // output on the second, which also holds the head's compute buffer.
    serve_request two;
    two.engine = "llama.cpp";
    two.gpu = "rtx-4090";
    two.gpus = 2;
    ASSERT_FALSE(set_serve_option(two, "quant", "q4_k_m", "quant"));
    ASSERT_FALSE(set_serve_option(two, "ctx_size", "8192", "c"));
    auto p2 = plan_serve(a, two);
    ASSERT_TRUE(p2.ok());
    ASSERT_EQ(p2->ranks.size(), 2u);
    EXPECT_EQ(p2->ranks[0].kv_cache_bytes * 39, p2->ranks[1].kv_cache_bytes * 41);
    EXPECT_GT(p2->ranks[1].activation_peak_bytes, p2->ranks[0].activation_peak_bytes);
    // MoE experts of the first layers in host memory: the GPU's buffer shrinks by exactly their bytes.
    analysis moe = test::analyze_preset("qwen3-30b-a3b");
    serve_plan all = plan_of(moe, {
                                      {"quant",    "q4_k_m"},
                                      {"ctx_size", "4096"  }
    });
    serve_plan cpu10 = plan_of(moe, {
                                        {"quant",     "q4_k_m"},
                                        {"ctx_size",  "4096"  },
                                        {"n_cpu_moe", "10"    }
    });
    EXPECT_EQ(all.ranks[0].weights_bytes - cpu10.ranks[0].weights_bytes,
              cpu10.host_weights_bytes - all.host_weights_bytes);
    EXPECT_GT(cpu10.host_weights_bytes, all.host_weights_bytes);
}

TEST(ServeLlamacpp, BadKnobs) {
    analysis a = test::analyze_preset("llama-3.2-3b");
    serve_request r;
    r.engine = "llama.cpp";
    r.gpu = "rtx-4090";
    serve_request t = r;
    ASSERT_FALSE(set_serve_option(t, "cache-type-k", "q3_k", "ctk"));
    EXPECT_EQ(plan_serve(a, t).err().path, "cache_type_k");
    serve_request v = r;
    ASSERT_FALSE(set_serve_option(v, "max-model-len", "4096", "max-model-len"));
    auto e = plan_serve(a, v);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.err().message.find("--ctx-size"), std::string::npos) << e.err().message;
    serve_request np = r;
    ASSERT_FALSE(set_serve_option(np, "parallel", "0", "np"));
    EXPECT_EQ(plan_serve(a, np).err().path, "parallel");
    EXPECT_TRUE(set_serve_option(r, "n-gpu-layers", "many", "ngl").has_value());
}

} // namespace
} // namespace modelplan
