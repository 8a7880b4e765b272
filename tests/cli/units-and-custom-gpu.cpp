// Issue 17 on the command line: a GPU of your own, sizes without a unit, quantization aliases, the values a
// plan used (defaults named), and a device map that cannot load is not written.
#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class cli17 : public cli_fixture {};

TEST_F(cli17, custom_gpu_is_accepted_wherever_a_catalog_name_is) {
    auto r = run("plan llama-3.1-8b --gpu custom:24GiB,bw=1008,tflops=165 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    const auto& dev = d["plan"]["devices"][0];
    EXPECT_STREQ(dev["gpu"].GetString(), "custom:24GiB,bw=1008,tflops=165");
    EXPECT_EQ(dev["memory_bytes"].GetUint64(), 24ull << 30);
    r = run("fit llama-3.1-8b --gpu custom:24");
    EXPECT_EQ(r.status, 0) << r.err;
    // Llama-3.1-8B in BF16 is 16.06 GB of weights (8.03B x 2): it fits 24 GiB unquantized.
    EXPECT_NE(r.out.find("none needed (fits unquantized)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("workload: batch 1, seq"), std::string::npos) << r.out;
    r = run("place llama-3.1-70b --quant q4 --gpu custom:24 --gpus 2 --cpu 64 --json");
    EXPECT_TRUE(r.status == 0 || r.status == 3) << r.err;
    auto p = json(r);
    ASSERT_TRUE(p.IsObject());
    ASSERT_EQ(p["devices"].Size(), 3u);
    EXPECT_EQ(p["devices"][2]["budget_bytes"].GetUint64(), 64ull << 30); // "64" = 64 GiB
    expect_bad_input(run("plan llama-3.1-8b --gpu custom:lots"), "custom:MEMORY");
    // Llama-3.1-70B in q4_k_m (about 40 GiB of weights) on one 24 GiB card fits only with the CPU's help.
    auto offload = run("place llama-3.1-70b --quant q4_k_m --gpu rtx-4090 --cpu 64");
    EXPECT_EQ(offload.status, 0) << offload.err;
    EXPECT_NE(offload.out.find("fits only with offload"), std::string::npos) << offload.out;
}

TEST_F(cli17, quantization_aliases_and_the_closest_names) {
    auto alias = run("plan llama-3.1-8b --quant awq --json");
    auto full = run("plan llama-3.1-8b --quant awq-4bit-128g --json");
    ASSERT_EQ(alias.status, 0) << alias.err;
    EXPECT_EQ(json(alias)["plan"]["total_bytes"].GetUint64(), json(full)["plan"]["total_bytes"].GetUint64());
    auto bad = run("plan llama-3.1-8b --quant awq-3bit");
    expect_bad_input(bad, "closest: ");
    EXPECT_LT(bad.err.size(), 300u) << bad.err; // a few names, not thirty
}

TEST_F(cli17, plan_names_the_values_in_use) {
    // DeepSeek-V3's config.json: "quantization_config": {"quant_method": "fp8", "weight_block_size": [128,
    // 128]}.
    auto r = run("plan deepseek-v3");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("seq 4096 (default)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("weights fp8-block128 (from config)"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("KV cache BF16 (compute dtype)"), std::string::npos) << r.out;
    auto placed = run("place deepseek-v3 --gpu h200-141gb --gpus 8");
    EXPECT_NE(placed.out.find("weights fp8-block128 (from config)"), std::string::npos) << placed.out;
    auto j = json(run("plan deepseek-v3 --json"));
    const auto& v = j["plan"]["in_use"];
    EXPECT_STREQ(v["quant"].GetString(), "fp8-block128");
    EXPECT_STREQ(v["quant_source"].GetString(), "config");
    EXPECT_EQ(v["seq"].GetUint64(), 4096u);
    EXPECT_TRUE(v["seq_default"].GetBool());
}

TEST_F(cli17, a_map_that_cannot_load_is_not_written) {
    // Llama-3.1-70B in BF16 is 141 GB of weights (70.6B parameters x 2): it cannot fit two 24 GiB cards.
    auto r = run("place llama-3.1-70b --gpu rtx-4090 --gpus 2 --device-map-out " + path("map.json"));
    EXPECT_EQ(r.status, 3);
    EXPECT_FALSE(fs::exists(path("map.json")));
    EXPECT_NE(r.err.find("not written"), std::string::npos) << r.err;
}

} // namespace
} // namespace modelplan::test
