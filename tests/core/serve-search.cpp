// The inverse questions of `serve` (docs/serving.md, "Inverse questions"), each answer checked here by
// planning again with plan_serve: the layout found holds the target and every smaller one does not; the
// longest context holds the target and one token more does not; every sweep cell is the plan of its knobs.
#include <gtest/gtest.h>

#include "modelplan/serve.h"
#include "test-util.h"

namespace modelplan {
namespace {

serve_request vllm_on(const char* gpu, uint64_t len) {
    serve_request r;
    r.gpu = gpu;
    r.vllm.max_model_len = len;
    return r;
}

TEST(ServeSearch, SmallestLayoutHoldsTheTargetAndNoSmallerOneDoes) {
    analysis a = test::analyze_preset("llama-3.1-70b");
    serve_request r = vllm_on("h100-80gb", 32768);
    serve_search_request q;
    q.target_concurrency = 16;
    auto s = search_serve(a, r, q);
    ASSERT_TRUE(s.ok()) << s.err().message;
    ASSERT_TRUE(s->found_layout);
    serve_request found = r;
    found.vllm.tensor_parallel_size = s->tp;
    found.vllm.pipeline_parallel_size = s->pp;
    auto p = plan_serve(a, found);
    ASSERT_TRUE(p.ok());
    EXPECT_TRUE(p->starts);
    EXPECT_GE(p->max_concurrency, 16.0);
    EXPECT_EQ(s->gpus, s->tp * s->pp);
    for (uint64_t g = 1; g < s->gpus; ++g)
        for (uint64_t tp = 1; tp <= g; ++tp) {
            if (g % tp) continue;
            serve_request t = r;
            t.vllm.tensor_parallel_size = tp;
            t.vllm.pipeline_parallel_size = g / tp;
            auto smaller = plan_serve(a, t);
            if (!smaller) continue; // a layout vLLM refuses
            EXPECT_FALSE(smaller->starts && smaller->max_concurrency >= 16.0)
                << "TP " << tp << " PP " << g / tp;
        }
}

TEST(ServeSearch, LongestContextIsTheLastThatHolds) {
    analysis a = test::analyze_preset("llama-3.1-8b");
    serve_request r = vllm_on("a100-40gb", 8192);
    serve_search_request q;
    q.target_concurrency = 12;
    q.longest_context = true;
    auto s = search_serve(a, r, q);
    ASSERT_TRUE(s.ok()) << s.err().message;
    ASSERT_GT(s->longest_context, 0u);
    for (auto [len, holds] : {
             std::pair<uint64_t, bool>{s->longest_context,     true },
              {s->longest_context + 1, false}
    }) {
        serve_request t = r;
        t.vllm.max_model_len = len;
        auto p = plan_serve(a, t);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->starts && p->max_concurrency >= 12.0, holds) << len;
    }
    // SGLang: its pool over the context.
    serve_request g;
    g.engine = "sglang";
    g.gpu = "a100-40gb";
    auto sg = search_serve(a, g, q);
    ASSERT_TRUE(sg.ok());
    ASSERT_GT(sg->longest_context, 0u);
    for (auto [len, holds] : {
             std::pair<uint64_t, bool>{sg->longest_context,     true },
              {sg->longest_context + 1, false}
    }) {
        serve_request t = g;
        t.sglang.context_length = len;
        auto p = plan_serve(a, t);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->starts && p->max_concurrency >= 12.0, holds) << len;
    }
}

TEST(ServeSearch, SweepCellsAreThePlansOfTheirKnobs) {
    analysis a = test::analyze_preset("qwen2.5-7b");
    serve_request r = vllm_on("l40s", 8192);
    serve_search_request q;
    q.sweep = true;
    auto s = search_serve(a, r, q);
    ASSERT_TRUE(s.ok());
    // Qwen2.5-7B has 28 heads (config): TP 8 does not divide them, so its row is left out.
    EXPECT_EQ(s->sweep_tps, (std::vector<uint64_t>{1, 2, 4}));
    ASSERT_EQ(s->sweep.size(), s->sweep_tps.size() * s->sweep_contexts.size());
    for (const auto& c : s->sweep) {
        serve_request t = r;
        t.vllm.tensor_parallel_size = c.tp;
        t.vllm.max_model_len = c.context;
        auto p = plan_serve(a, t);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(c.starts, p->starts);
        if (c.starts) EXPECT_DOUBLE_EQ(c.concurrency, p->max_concurrency);
    }
}

TEST(ServeSearch, LlamacppSlotsAndGpus) {
    analysis a = test::analyze_preset("llama-3.1-70b");
    serve_request r;
    r.engine = "llama.cpp";
    r.gpu = "rtx-4090";
    r.llamacpp.quant = "q4_k_m";
    r.llamacpp.ctx_size = 8192;
    serve_search_request q;
    q.target_concurrency = 4;
    auto s = search_serve(a, r, q);
    ASSERT_TRUE(s.ok()) << s.err().message;
    ASSERT_TRUE(s->found_layout);
    // 4 slots of 8,192 cells on s->gpus cards starts; on one card fewer it does not.
    for (auto [gpus, starts] : {
             std::pair<uint64_t, bool>{s->gpus,     true },
              {s->gpus - 1, false}
    }) {
        serve_request t = r;
        t.gpus = gpus;
        t.llamacpp.parallel = 4;
        t.llamacpp.ctx_size = 4 * 8192;
        auto p = plan_serve(a, t);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->starts, starts) << gpus;
    }
    serve_search_request bad;
    bad.target_concurrency = -1;
    EXPECT_FALSE(search_serve(a, r, bad).ok());
}

} // namespace
} // namespace modelplan
