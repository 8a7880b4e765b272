// SGLang serving plans against published start-up logs (docs/serving.md, "SGLang"; sources in
// models/SOURCES-SERVE.md). Each log gives, per GPU: "Load weight end ... avail mem=A GB, mem usage=W GB"
// (GiB: free memory after loading, and what loading took) and "KV Cache is allocated. #tokens: N". The free
// memory before loading is A + W. From these, SGLang's own rule (rest = free x fraction - weights; tokens =
// rest / cell) gives the fraction the run used, which the tests compare with the default our plan picks for
// that GPU, TP size and version.
//
// Tolerances:
// - cell (bytes per token): exact; computed here by hand from the published config.
// - the default mem_fraction_static: 0.002 (0.004 for the 3.23 GiB run): the fraction implied by the log
//   carries the log's rounding to 0.01 GiB of A and W, divided by the free memory;
// - weights: 0.3 GiB. "mem usage" is a difference of free memory, so it also counts what loading leaves in
//   torch's caching allocator and library workspaces: +0.08 to +0.27 GiB over the tensors' bytes in these
//   logs (docs/serving.md, "Known gaps"). This is the one figure with an unmodelled part.
// - KV pool: given the log's free memory, the predicted pool differs from the logged one by our weights error
//   and no more (0.01 GiB for the log's rounding, plus the fraction's tolerance times the free memory): the
//   rule itself is exact.
#include <cmath>

#include <gtest/gtest.h>

#include "modelplan/serve.h"
#include "test-util.h"

namespace modelplan {
namespace {

constexpr double gib = 1073741824.0;

// Qwen/QwQ-32B's config.json (Qwen2ForCausalLM, the Qwen2.5-32B geometry): the values as published.
const char* const qwq_32b = R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 5120, "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 40,
  "num_key_value_heads": 8, "vocab_size": 152064, "max_position_embeddings": 40960, "rope_theta": 1000000.0,
  "rms_norm_eps": 1e-05, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";

struct sglang_log {
    const char* what;
    const char* model; // "qwq-32b" or "qwen3-0.6b": the configs here
    const char* gpu;
    const char* version;
    uint64_t tp;
    double avail_gib, usage_gib; // "Load weight end ... avail mem=A GB, mem usage=W GB"
    uint64_t tokens;             // "KV Cache is allocated. #tokens: N"
    uint64_t cell;               // bytes per token per GPU, by hand from the config
    double fraction_tolerance;
};

// clang-format off
const sglang_log logs[] = {
    // didier-durand/llms-in-clouds, docs/sglang.md @ b001c8690e894d234cf3a2e2345d259173acf293: Qwen/QwQ-32B on a
    // g6.12xlarge (4 x NVIDIA L4), sglang 0.4.3.post4, --tensor-parallel-size 4, no --mem-fraction-static
    // (server_args shows the default 0.85). Cell: 8 KV heads / 4 x 128 x 2 x 64 layers x 2 bytes = 65,536.
    {"QwQ-32B, 4 x L4, 0.4.3", "qwq-32b", "l4", "0.4.3", 4, 6.09, 15.54, 46611, 65536, 0.002},
    // Qwen3-0.6B, 2025-05-02 (sglang 0.4.6), TP 1, a GPU mostly taken by another process (3.23 GiB free at
    // load begin); code-index file 9542409931 (a public GitHub log). Cell: 8 x 128 x 2 x 28 x 2 = 114,688.
    {"Qwen3-0.6B, 3.23 GiB free, 0.4.6", "qwen3-0.6b", "h100-80gb", "0.4.6", 1, 2.03, 1.20, 15387, 114688, 0.004},
    // Qwen3-0.6B on an RTX 5080 (nvidia-smi: 16,303 MiB), 2025-08-08 (sglang 0.4.10 to 0.5.0: PR #7054's
    // reserve), TP 1; code-index file 47444754202 (a public README, "MinerU images for Blackwell").
    {"Qwen3-0.6B, RTX 5080, 0.5.0", "qwen3-0.6b", "custom:16303MiB", "0.5.0", 1, 13.91, 1.25, 104273, 114688, 0.002},
};
// clang-format on

// Qwen/Qwen3-0.6B's config.json, as published.
const char* const qwen3_06b = R"({"architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
  "hidden_size": 1024, "intermediate_size": 3072, "num_hidden_layers": 28, "num_attention_heads": 16,
  "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 151936, "max_position_embeddings": 40960,
  "rope_theta": 1000000, "rms_norm_eps": 1e-06, "tie_word_embeddings": true, "torch_dtype": "bfloat16"})";

analysis model_of(const std::string& name) {
    auto a = analyze(name, name == "qwq-32b" ? qwq_32b : qwen3_06b, {});
    EXPECT_TRUE(a.ok()) << name << ": " << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

serve_request request_for(const sglang_log& l, bool free_from_log) {
    serve_request r;
    r.engine = "sglang";
    r.engine_version = l.version;
    r.gpu = l.gpu;
    EXPECT_FALSE(set_serve_option(r, "tp-size", std::to_string(l.tp), "tp"));
    if (free_from_log) {
        char free[64];
        std::snprintf(free, sizeof free, "%.2fGiB", l.avail_gib + l.usage_gib);
        EXPECT_FALSE(set_serve_option(r, "free-memory", free, "free"));
    }
    return r;
}

TEST(ServeSglang, DefaultFractionAndCellMatchLogs) {
    for (const auto& l : logs) {
        SCOPED_TRACE(l.what);
        analysis a = model_of(l.model);
        auto p = plan_serve(a, request_for(l, true));
        ASSERT_TRUE(p.ok()) << p.err().message;
        EXPECT_EQ(p->kv_bytes_per_token, l.cell);
        // The fraction the run used: rest = tokens x cell; rest = (A + W) x f - W.
        const double free = l.avail_gib + l.usage_gib;
        const double rest = static_cast<double>(l.tokens) * static_cast<double>(l.cell) / gib;
        const double implied = (rest + l.usage_gib) / free;
        EXPECT_NEAR(p->mem_fraction_static, implied, l.fraction_tolerance);
    }
}

TEST(ServeSglang, PoolFollowsTheRuleGivenTheLogsFreeMemory) {
    for (const auto& l : logs) {
        SCOPED_TRACE(l.what);
        analysis a = model_of(l.model);
        auto p = plan_serve(a, request_for(l, true));
        ASSERT_TRUE(p.ok()) << p.err().message;
        ASSERT_TRUE(p->starts) << p->error;
        // (Our weights against "mem usage", and max_running_requests: serve-logs.tsv.)
        const double weights = static_cast<double>(p->ranks[0].weights_bytes) / gib;
        const double predicted_kv = static_cast<double>(p->kv_tokens) * static_cast<double>(l.cell) / gib;
        const double logged_kv = static_cast<double>(l.tokens) * static_cast<double>(l.cell) / gib;
        // Our pool is larger by what our weights miss of "mem usage", and by nothing else but the log's
        // rounding (0.01 GiB) and that of the fraction (its tolerance above, times the free memory).
        EXPECT_NEAR(predicted_kv - logged_kv, l.usage_gib - weights,
                    0.01 + l.fraction_tolerance * (l.avail_gib + l.usage_gib));
    }
}

// The three generations of the default fraction, by SGLang's server_args.py (values worked by hand from the
// rules in docs/serving.md): the table on the TP size, PR #7054's reserve, PR #10975's reserve.
TEST(ServeSglang, DefaultFractionByVersion) {
    analysis a = test::analyze_preset("qwen2.5-7b");
    auto fraction = [&](const char* version, const char* gpu, uint64_t tp) {
        serve_request r;
        r.engine = "sglang";
        r.engine_version = version;
        r.gpu = gpu;
        r.sglang.tp_size = tp;
        auto p = plan_serve(a, r);
        EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.err().message);
        return p.ok() ? p->mem_fraction_static : 0.0;
    };
    EXPECT_DOUBLE_EQ(fraction("0.4.6", "h100-80gb", 1), 0.88);
    EXPECT_DOUBLE_EQ(fraction("0.4.6", "h100-80gb", 2), 0.87);
    EXPECT_DOUBLE_EQ(fraction("0.4.6", "h100-80gb", 4), 0.85);
    // 81,559 MiB, reserve (9.5 + 1 / 2) x 1024 = 10,240 MiB: (81,559 - 10,240) / 81,559 = 0.8744.
    EXPECT_DOUBLE_EQ(fraction("0.4.7", "h100-80gb", 1), 0.874);
    // 24,576 MiB (< 35 GiB), reserve (2.8 + 0.1) x 1024 = 2,969.6 MiB: 0.8792.
    EXPECT_DOUBLE_EQ(fraction("0.5.2", "rtx-3090", 1), 0.879);
    // PR #10975, H100: 512 + 8,192 x 1.5 + 256 x 2 + 1 / 8 x 1024 = 13,440 MiB: (81,559 - 13,440) / 81,559.
    EXPECT_DOUBLE_EQ(fraction("0.5.3", "h100-80gb", 1), 0.835);
    // L40S, 46,068 MiB (< 60 GiB): 512 + 4,096 x 1.5 + 32 x 2 + 128 = 6,848 MiB: 0.8513.
    EXPECT_DOUBLE_EQ(fraction("0.5.3", "l40s", 1), 0.851);
    // TP 4 on H100: graphs up to 512: 512 + 12,288 + 1,024 + 512 = 14,336 MiB: 0.8242.
    EXPECT_DOUBLE_EQ(fraction("0.5.3", "h100-80gb", 4), 0.824);
}

TEST(ServeSglang, BadKnobsAndTheVerdict) {
    analysis a = test::analyze_preset("qwen2.5-7b");
    serve_request r;
    r.engine = "sglang";
    r.gpu = "h100-80gb";
    // vLLM's flag under SGLang: refused, naming SGLang's.
    serve_request v = r;
    ASSERT_FALSE(set_serve_option(v, "max-model-len", "4096", "--max-model-len"));
    auto e = plan_serve(a, v);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.err().path, "max_model_len");
    EXPECT_NE(e.err().message.find("--context-length"), std::string::npos) << e.err().message;
    // 28 heads on 3 GPUs.
    serve_request t = r;
    t.sglang.tp_size = 3;
    e = plan_serve(a, t);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.err().path, "tp_size");
    // A context beyond the config's without rope scaling.
    serve_request c = r;
    c.sglang.context_length = 262144;
    e = plan_serve(a, c);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.err().message.find("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN"), std::string::npos);
    for (double bad : {0.0, 1.0, -0.5}) {
        serve_request f = r;
        f.sglang.mem_fraction_static = bad;
        e = plan_serve(a, f);
        ASSERT_FALSE(e.ok()) << bad;
        EXPECT_EQ(e.err().path, "mem_fraction_static");
    }
    serve_request k = r;
    k.sglang.kv_cache_dtype = "fp8";
    EXPECT_EQ(plan_serve(a, k).err().path, "kv_cache_dtype");
    serve_request ver = r;
    ver.engine_version = "1.2.3";
    EXPECT_EQ(plan_serve(a, ver).err().path, "engine_version");

    // A fraction below the weights' share: SGLang's "Not enough memory", and fixes that start when planned.
    serve_request low = r;
    low.sglang.mem_fraction_static = 0.15; // 0.15 x 78.49 GiB < 14.2 GiB of weights
    auto p = plan_serve(a, low);
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->starts);
    EXPECT_EQ(p->error.rfind("Not enough memory. Please try to increase --mem-fraction-static.", 0), 0u)
        << p->error;
    ASSERT_FALSE(p->fixes.empty());
    for (const auto& fix : p->fixes) {
        serve_request again = low;
        const std::string flag = fix.substr(2, fix.find(' ') - 2);
        ASSERT_FALSE(set_serve_option(again, flag, fix.substr(fix.find(' ') + 1), flag)) << fix;
        auto q = plan_serve(a, again);
        ASSERT_TRUE(q.ok()) << fix;
        EXPECT_TRUE(q->starts) << fix;
    }
    // The command parsed back: every flag one launch_server takes, with the plan's values.
    auto ok = plan_serve(a, r);
    ASSERT_TRUE(ok.ok());
    const std::string& cmd = ok->command;
    EXPECT_EQ(cmd.rfind("python -m sglang.launch_server --model-path Qwen/Qwen2.5-7B ", 0), 0u) << cmd;
    EXPECT_NE(cmd.find("--tp-size 1 --mem-fraction-static 0.835 --context-length 131072"), std::string::npos)
        << cmd;
}

} // namespace
} // namespace modelplan
