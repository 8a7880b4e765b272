// llama.cpp serving plans (docs/serving.md, "llama.cpp"; sources in models/SOURCES-SERVE.md): layers, slots,
// offload and the verdict. The buffer sizes and cells of published llama.cpp start-up logs ("model buffer
// size", "KV buffer size", the cache's "size = X MiB (N cells, ...)", "compute buffer size") are checked,
// each with its tolerance, in tests/data/reference/serve-logs.tsv by tests/core/accuracy.cpp
// (docs/accuracy.md).
#include <gtest/gtest.h>

#include "modelplan/serve.h"
#include "test-util.h"

namespace modelplan {
namespace {

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

// Llama-3.2-3B-Instruct Q4_K_M: every layer on the GPU, as the published llama-cli log (build 4984) says.
TEST(ServeLlamacpp, Llama32_3bAllLayersOnTheGpu) {
    analysis a = test::analyze_preset("llama-3.2-3b");
    serve_plan p = plan_of(a, {
                                  {"quant",    "q4_k_m"},
                                  {"ctx_size", "2048"  },
                                  {"parallel", "1"     }
    });
    ASSERT_EQ(p.ranks.size(), 1u);
    EXPECT_EQ(p.n_gpu_layers, 29u); // "offloaded 29/29 layers to GPU"
    EXPECT_TRUE(p.starts);
}

// Qwen3-4B Q4_K_M, a context of 8,192: llama-server's unified cache over 4 slots, as in the published 2026
// llama-server log. Qwen/Qwen3-4B's config.json as published.
TEST(ServeLlamacpp, Qwen3_4bUnifiedCache) {
    analysis a = from_config("qwen3-4b", R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
        "hidden_size": 2560, "intermediate_size": 9728, "num_hidden_layers": 36, "num_attention_heads": 32,
        "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
        "rope_theta": 1000000, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "torch_dtype": "bfloat16"})");
    serve_plan p = plan_of(a, {
                                  {"quant",    "q4_k_m"},
                                  {"ctx_size", "8192"  }
    });
    ASSERT_EQ(p.ranks.size(), 1u);
    EXPECT_TRUE(p.kv_unified);
    EXPECT_EQ(p.n_parallel, 4u);
}

// gpt-oss (24 layers, 12 full and 12 sliding over 128 tokens, 8 KV heads x 64), a context of 131,072, one
// slot: a full cache of 131,072 cells over 12 layers and a sliding one over the other 12 (the published log's
// sizes and cells: serve-logs.tsv).
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
