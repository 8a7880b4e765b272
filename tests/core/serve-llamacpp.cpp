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

// ---- -ot / --override-tensor (llama.cpp common/arg.cpp and src/llama-model-loader.cpp; docs/serving.md)

serve_tensor_override override_of(const serve_plan& p, size_t i = 0) {
    return i < p.tensor_overrides.size() ? p.tensor_overrides[i] : serve_tensor_override{};
}

error plan_error(const analysis& a, std::initializer_list<std::pair<const char*, const char*>> knobs,
                 uint64_t gpus = 1) {
    serve_request r;
    r.engine = "llama.cpp";
    r.gpu = "rtx-4090";
    r.gpus = gpus;
    for (auto [name, value] : knobs)
        if (auto e = set_serve_option(r, name, value, name)) return *e;
    auto p = plan_serve(a, r);
    EXPECT_FALSE(p.ok());
    return p.ok() ? error{} : p.err();
}

// --cpu-moe is llama.cpp's own override of the expert tensors to the CPU (PR #14992/#15077: "these options
// work by adding the necessary tensor overrides"), so -ot exps=CPU (the pattern users write, a substring of
// blk.N.ffn_{gate,up,down}_exps.weight) places exactly the same bytes. Qwen3-30B-A3B has 48 layers with three
// stacked expert tensors each in llama.cpp's GGUF: 144 tensors. The KV cache stays with its layer's device
// (src/llama-kv-cache.cpp: model.dev_layer(il)), so it does not move.
TEST(ServeLlamacpp, OverrideExpertsToTheCpuIsCpuMoe) {
    analysis moe = test::analyze_preset("qwen3-30b-a3b");
    serve_plan all = plan_of(moe, {
                                      {"quant",    "q4_k_m"},
                                      {"ctx_size", "4096"  }
    });
    serve_plan cpu_moe = plan_of(moe, {
                                          {"quant",    "q4_k_m"},
                                          {"ctx_size", "4096"  },
                                          {"cpu_moe",  "true"  }
    });
    serve_plan ot =
        plan_of(moe, {
                         {"quant",           "q4_k_m"  },
                         {"ctx_size",        "4096"    },
                         {"override_tensor", "exps=CPU"}
    });
    ASSERT_EQ(ot.ranks.size(), 1u);
    EXPECT_EQ(ot.ranks[0].weights_bytes, cpu_moe.ranks[0].weights_bytes);
    EXPECT_EQ(ot.host_weights_bytes, cpu_moe.host_weights_bytes);
    EXPECT_LT(ot.ranks[0].weights_bytes, all.ranks[0].weights_bytes / 4); // experts are most of the model
    EXPECT_EQ(ot.ranks[0].kv_cache_bytes, all.ranks[0].kv_cache_bytes);
    EXPECT_EQ(ot.host_kv_bytes, 0u);
    ASSERT_EQ(ot.tensor_overrides.size(), 1u);
    EXPECT_EQ(override_of(ot).tensors, 144u);
    EXPECT_EQ(override_of(ot).moved_bytes, all.ranks[0].weights_bytes - ot.ranks[0].weights_bytes);
    EXPECT_EQ(override_of(ot).bytes, override_of(ot).moved_bytes);
    EXPECT_NE(ot.command.find(" -ot 'exps=CPU'"), std::string::npos) << ot.command;
}

// The same split as a published -ngl run, written as patterns: Qwen3-30B-A3B Q4_K_M with -ngl 30 keeps blocks
// 0-17 and the output layer (output.weight, output_norm.weight) in host memory and logs "CUDA0 model buffer
// size = 10750.86 MiB", "CPU_Mapped model buffer size = 6940.48 MiB"
// (https://github.com/ggml-org/llama.cpp/issues/13729, build b5466). Every layer offloaded with -ot sending
// blocks 0-17 and ^output to the CPU holds the same tensors where that run held them. The pattern "output"
// alone would also take every blk.N.attn_output (regex_search finds it anywhere in the name), hence the
// anchor. Tolerance 0.01 MiB: the log's rounding.
TEST(ServeLlamacpp, OverridesReproduceAPublishedSplit) {
    analysis moe = test::analyze_preset("qwen3-30b-a3b");
    serve_plan p = plan_of(moe, {
                                    {"quant",           "q4_k_m"                                 },
                                    {"ctx_size",        "4096"                                   },
                                    {"override_tensor", "blk\\.([0-9]|1[0-7])\\.=CPU,^output=CPU"}
    });
    ASSERT_EQ(p.ranks.size(), 1u);
    const double mib = 1048576.0;
    EXPECT_NEAR(static_cast<double>(p.ranks[0].weights_bytes) / mib, 10750.86, 0.01);
    EXPECT_NEAR(static_cast<double>(p.host_weights_bytes) / mib, 6940.48, 0.01);
    // 18 blocks' tensors, and output.weight and output_norm.weight.
    EXPECT_EQ(override_of(p, 1).tensors, 2u);
    serve_plan loose =
        plan_of(moe, {
                         {"quant",           "q4_k_m"    },
                         {"ctx_size",        "4096"      },
                         {"override_tensor", "output=CPU"}
    });
    EXPECT_EQ(override_of(loose).tensors, 48u + 2u); // every attn_output too
}

// First match wins, in the order given (llama-model-loader.cpp: the loop over the overrides breaks at the
// first std::regex_search hit): an earlier pattern shadows a later one for the tensors both match, whatever
// the later one says; and a pattern that matches nothing changes nothing.
TEST(ServeLlamacpp, OverrideFirstMatchWinsAndNoMatchChangesNothing) {
    analysis moe = test::analyze_preset("qwen3-30b-a3b");
    auto with = [&](const char* ot) {
        return plan_of(moe, {
                                {"quant",           "q4_k_m"},
                                {"ctx_size",        "4096"  },
                                {"override_tensor", ot      }
        });
    };
    serve_plan experts = with("exps=CPU");
    serve_plan up = with("ffn_up_exps=CPU");
    serve_plan up_first = with("ffn_up_exps=CUDA0,exps=CPU");
    serve_plan up_second = with("exps=CPU,ffn_up_exps=CUDA0");
    EXPECT_EQ(up_first.host_weights_bytes, experts.host_weights_bytes - override_of(up).moved_bytes);
    EXPECT_EQ(override_of(up_first).tensors, 48u);
    EXPECT_EQ(override_of(up_first).moved_bytes, 0u); // they were on CUDA0 anyway
    EXPECT_EQ(override_of(up_first, 1).tensors, 96u);
    EXPECT_EQ(up_second.host_weights_bytes, experts.host_weights_bytes);
    EXPECT_EQ(override_of(up_second, 1).tensors, 0u);

    serve_plan none = plan_of(moe, {
                                       {"quant",    "q4_k_m"},
                                       {"ctx_size", "4096"  }
    });
    // --n-cpu-moe's own patterns come after -ot's in the command (PR #15077: "If you use --override-tensor
    // before these options, your overrides will take priority"): layer 0's up experts stay on the GPU.
    serve_plan ncmoe = plan_of(moe, {
                                        {"quant",     "q4_k_m"},
                                        {"ctx_size",  "4096"  },
                                        {"n_cpu_moe", "1"     }
    });
    serve_plan both = plan_of(moe, {
                                       {"quant",           "q4_k_m"                     },
                                       {"ctx_size",        "4096"                       },
                                       {"n_cpu_moe",       "1"                          },
                                       {"override_tensor", "blk\\.0\\.ffn_up_exps=CUDA0"}
    });
    EXPECT_EQ(override_of(both).tensors, 1u);
    EXPECT_GT(override_of(both).moved_bytes, 0u);
    EXPECT_EQ(both.host_weights_bytes, ncmoe.host_weights_bytes - override_of(both).moved_bytes);
    EXPECT_GT(both.host_weights_bytes, none.host_weights_bytes); // layer 0's gate and down experts
    EXPECT_LT(both.command.find(" -ot "), both.command.find(" --n-cpu-moe 1")) << both.command;
    serve_plan nothing = with("ffn_gate_up_exps=CPU");
    EXPECT_EQ(nothing.ranks[0].weights_bytes, none.ranks[0].weights_bytes);
    EXPECT_EQ(nothing.host_weights_bytes, none.host_weights_bytes);
    EXPECT_EQ(override_of(nothing).tensors, 0u);
    bool said = false;
    for (const auto& n : nothing.notes) said = said || n.find("matches no tensor") != std::string::npos;
    EXPECT_TRUE(said);
    // Repeated -ot values keep their order: the command gives them as one comma-separated list.
    serve_request r;
    r.engine = "llama.cpp";
    r.gpu = "rtx-4090";
    ASSERT_FALSE(set_serve_option(r, "override_tensor", "ffn_up_exps=CUDA0", "-ot"));
    ASSERT_FALSE(set_serve_option(r, "override_tensor", "exps=CPU", "-ot"));
    ASSERT_FALSE(set_serve_option(r, "quant", "q4_k_m", "quant"));
    ASSERT_FALSE(set_serve_option(r, "ctx_size", "4096", "c"));
    auto twice = plan_serve(moe, r);
    ASSERT_TRUE(twice.ok());
    EXPECT_EQ(twice->host_weights_bytes, up_first.host_weights_bytes);
    EXPECT_NE(twice->command.find(" -ot 'ffn_up_exps=CUDA0,exps=CPU'"), std::string::npos) << twice->command;
}

// Llama-3.2-3B ties its output to the embedding: llama.cpp keeps token_embd.weight in host memory (the
// published log's CPU_Mapped 308.23 MiB is exactly it) and creates the output layer's copy under the same
// name (src/llama-model.cpp: tn(LLM_TENSOR_TOKEN_EMBD) with TENSOR_DUPLICATED), on the GPU with the other
// 1918.35 MiB. -ot token_embd=CUDA0 therefore puts both on the GPU: 1918.35 + 308.23 MiB, and nothing in host
// memory.
TEST(ServeLlamacpp, OverrideTheTiedEmbeddingMovesBothCopies) {
    analysis a = test::analyze_preset("llama-3.2-3b");
    serve_plan p = plan_of(a, {
                                  {"quant",           "q4_k_m"          },
                                  {"ctx_size",        "2048"            },
                                  {"parallel",        "1"               },
                                  {"override_tensor", "token_embd=CUDA0"}
    });
    const double mib = 1048576.0;
    EXPECT_NEAR(static_cast<double>(p.ranks[0].weights_bytes) / mib, 1918.35 + 308.23, 0.02);
    EXPECT_EQ(p.host_weights_bytes, 0u);
    EXPECT_EQ(override_of(p).tensors, 1u);
}

// Every way a -ot value can be wrong is an error naming override_tensor and the value, never a crash; our own
// matcher refuses what is not regular, and a pattern that would make a backtracking matcher run for years
// is answered at once (util/regex-search.h).
TEST(ServeLlamacpp, OverrideBadValues) {
    analysis moe = test::analyze_preset("qwen3-30b-a3b");
    auto message = [&](const char* ot, uint64_t gpus = 1) {
        error e = plan_error(moe,
                             {
                                 {"override_tensor", ot}
        },
                             gpus);
        EXPECT_EQ(e.path, "override_tensor") << ot;
        return e.message;
    };
    auto has = [](const std::string& text, const char* part) { return text.find(part) != std::string::npos; };
    EXPECT_TRUE(has(message("blk\\.(=CPU"), "override_tensor: bad pattern \"blk\\\\.(\""))
        << message("blk\\.(=CPU");
    EXPECT_TRUE(has(message("exps[=CPU"), "missing ]"));
    EXPECT_TRUE(has(message("*exps=CPU"), "nothing to repeat"));
    EXPECT_TRUE(has(message("exps=cpu"), "unknown buffer type \"cpu\""));
    EXPECT_TRUE(has(message("exps=Vulkan0"), "unknown buffer type"));
    EXPECT_TRUE(has(message("exps=CUDA1"), "--gpus"));
    serve_request two;
    two.engine = "llama.cpp";
    two.gpu = "rtx-4090";
    two.gpus = 2;
    ASSERT_FALSE(set_serve_option(two, "override_tensor", "exps=CUDA1", "-ot"));
    auto on_second = plan_serve(moe, two);
    ASSERT_TRUE(on_second.ok()) << on_second.err().message;
    EXPECT_GT(on_second->ranks[1].weights_bytes, 4 * on_second->ranks[0].weights_bytes);
    EXPECT_TRUE(has(message("exps"), "no '='"));
    EXPECT_TRUE(has(message("exps=CPU,"), "no '='"));
    EXPECT_TRUE(has(message("=CPU"), "empty pattern"));
    EXPECT_TRUE(has(message("(?!blk\\.0\\.)exps=CPU"), "not supported"));
    EXPECT_TRUE(has(message("(exps)\\1=CPU"), "backreferences"));
    EXPECT_TRUE(has(message((std::string(300, 'a') + "=CPU").c_str()), "at most 256"));
    std::string deep(40, '(');
    deep += "x" + std::string(40, ')') + "=CPU";
    EXPECT_TRUE(has(message(deep.c_str()), "nested deeper"));
    // 65 entries: refused as they are read.
    serve_request r;
    std::string many;
    for (int i = 0; i < 65; ++i) many += std::string(i ? "," : "") + "blk\\." + std::to_string(i) + "\\.=CPU";
    auto e = set_serve_option(r, "override-tensor", many, "-ot");
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->path, "override_tensor");
    // Catastrophic for a backtracking matcher ((x+)+y against a long run of x), linear here.
    serve_plan slow = plan_of(moe, {
                                       {"override_tensor", "(.*)*(.*)*(.*)*(.*)*(.*)*(.*)*y=CPU"}
    });
    EXPECT_EQ(override_of(slow).tensors, 0u);
}

} // namespace
} // namespace modelplan
