// The GPU catalog, runnability checks, inverse solves and roofline bounds.
#include <set>

#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

gpu_row gpu(const std::string& name) {
    auto g = find_gpu(name);
    EXPECT_TRUE(g.ok()) << name;
    return g.ok() ? *g : gpu_row{};
}

TEST(devices, catalog_has_unique_keys_and_memory) {
    EXPECT_GE(gpu_catalog().size(), 25u); // issue 4: at least 25 GPUs
    std::set<std::string> keys;
    for (const auto& g : gpu_catalog()) {
        EXPECT_TRUE(keys.insert(g.key).second) << g.key;
        EXPECT_GT(g.memory_mib, 0u) << g.key;
    }
    // nvidia-smi on an H100 SXM reports 81559 MiB, on an RTX 4090 24564 MiB (models/SOURCES-GPU.md).
    EXPECT_EQ(gpu("h100-80gb").memory_bytes(), 81559ull << 20);
    EXPECT_EQ(gpu("rtx-4090").memory_bytes(), 24564ull << 20);
}

TEST(devices, forgiving_lookup) {
    EXPECT_EQ(gpu("H100 80GB").key, "h100-80gb");
    EXPECT_EQ(gpu("NVIDIA GeForce RTX 4090").key, "rtx-4090");
    EXPECT_EQ(gpu("a100_40gb").key, "a100-40gb");
    auto ambiguous = find_gpu("H100");
    ASSERT_FALSE(ambiguous.ok());
    EXPECT_EQ(ambiguous.err().message,
              "gpu: \"H100\" is ambiguous: h100-80gb, h100-pcie-80gb, h100-nvl-94gb"); // the request field:
                                                                                       // the CLI says --gpu
    auto typo = find_gpu("rtx-4909");
    ASSERT_FALSE(typo.ok());
    EXPECT_NE(typo.err().message.find("did you mean \"rtx-4090\"?"), std::string::npos) << typo.err().message;
}

// Turing and Volta have no bfloat16; fp8 needs Ada or Hopper; FlashAttention-2 needs Ampere and 16-bit types.
TEST(devices, checks_say_what_cannot_run) {
    analysis llama = analyze_preset("llama-3.1-8b"); // BF16 weights
    workload w;
    device_check t4 = check_workload(llama, w, gpu("t4"));
    ASSERT_FALSE(t4.errors.empty());
    EXPECT_NE(t4.errors[0].find("no bfloat16 support"), std::string::npos);
    EXPECT_TRUE(check_workload(llama, w, gpu("a100-80gb")).errors.empty());
    workload fp8;
    fp8.kv_dtype = dtype::f8_e4m3;
    EXPECT_FALSE(check_workload(llama, fp8, gpu("a100-80gb")).errors.empty());
    EXPECT_TRUE(check_workload(llama, fp8, gpu("h100-80gb")).errors.empty());
    workload long_seq;
    long_seq.seq = 200000;
    EXPECT_FALSE(check_workload(llama, long_seq, gpu("h100-80gb")).warnings.empty());
    auto fp32 = analyze("t5", preset_config("t5-small"), {}); // F32 checkpoint
    ASSERT_TRUE(fp32.ok());
    EXPECT_FALSE(check_workload(*fp32, w, gpu("a100-80gb")).warnings.empty()); // flash needs fp16/bf16
}

// The solves are consistent with the plan: the answer fits and one more does not.
TEST(devices, inverse_solves_are_tight) {
    analysis a = analyze_preset("llama-3.1-8b");
    gpu_row card = gpu("rtx-4090");
    workload w;
    w.batch = 2;
    auto f = solve_fit(a, w, card);
    ASSERT_TRUE(f.ok());
    ASSERT_GT(f->max_seq, 0u);
    auto total = [&](uint64_t batch, uint64_t seq) {
        workload t = w;
        t.batch = batch;
        t.seq = seq;
        return plan_memory(a, t)->total_bytes;
    };
    EXPECT_LE(total(2, f->max_seq), card.memory_bytes());
    EXPECT_GT(total(2, f->max_seq + 1), card.memory_bytes());
    EXPECT_LE(total(f->max_batch, default_seq(a.spec)), card.memory_bytes());
    EXPECT_GT(total(f->max_batch + 1, default_seq(a.spec)), card.memory_bytes());
    EXPECT_TRUE(f->fits);
    EXPECT_EQ(f->gpus_needed, 1u);
    // 405B parameters in BF16 need far more than one H100: at least total / memory of them.
    auto big = solve_fit(analyze_preset("llama-3.1-405b"), workload{}, gpu("h100-80gb"));
    ASSERT_TRUE(big.ok());
    EXPECT_FALSE(big->fits);
    EXPECT_GE(big->gpus_needed * (81559ull << 20), big->total_bytes);
    EXPECT_LT((big->gpus_needed - 1) * (81559ull << 20), big->total_bytes);
}

TEST(devices, roofline_bounds) {
    analysis dense = analyze_preset("llama-3.1-8b");
    gpu_row h100 = gpu("h100-80gb");
    workload w;
    auto p = plan_memory(dense, w);
    ASSERT_TRUE(p.ok());
    roofline r = estimate_roofline(dense, w, *p, h100);
    // Batch 1 decode cannot beat bandwidth / weights: 3,350 GB/s / 16.06 GB = 208.6 tokens/s.
    EXPECT_LT(r.decode_tokens_per_s, 3350e9 / 16'060'522'496.0);
    EXPECT_GT(r.decode_tokens_per_s, 0.9 * 3350e9 / 16'060'522'496.0);
    // Kaplan et al. 2020: training compute 6 N per token (N = 8,030,261,248, published).
    EXPECT_DOUBLE_EQ(r.training_flops, 6.0 * 8'030'261'248.0 * 4096.0);
    // MoE decode reads only the active experts: Mixtral moves ~12.9/46.7 of its weights per token.
    analysis moe = analyze_preset("mixtral-8x7b-v0.1");
    auto mp = plan_memory(moe, w);
    ASSERT_TRUE(mp.ok());
    roofline mr = estimate_roofline(moe, w, *mp, h100);
    EXPECT_LT(mr.bytes_per_decode_step, 2 * 13'000'000'000ull + mp->items[1].bytes);
}

TEST(devices, plan_with_a_gpu_reports_a_verdict) {
    analysis a = analyze_preset("qwen2.5-7b");
    workload w;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok());
    attach_device(a, w, gpu("rtx-4090"), *p);
    ASSERT_TRUE(p->device.has_value());
    EXPECT_TRUE(p->device->fits);
    EXPECT_EQ(p->device->headroom_bytes, static_cast<int64_t>((24564ull << 20) - p->total_bytes));
}

} // namespace
} // namespace modelplan::test
