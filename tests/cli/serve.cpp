// `modelplan serve`: the vLLM plan on the command line: JSON shape, exit statuses, the command parsed back,
// bad knobs named by their flags.
#include <algorithm>
#include <iterator>
#include <sstream>
#include <vector>

#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class serve : public cli_fixture {
  protected:
    serve() : cli_fixture("serve ") {}
};

// The llm-d-planner vLLM 0.19.0 log of Llama-3.1-8B-Instruct on two H100s at utilization 0.95 and
// max_model_len 8192 (models/SOURCES-SERVE.md): "Model loading took 7.51 GiB", "GPU KV cache size: 1,044,688
// tokens" (3% tolerance, as tests/core/serve-vllm.cpp justifies).
TEST_F(serve, json_has_the_ranks_and_the_logged_figures) {
    auto r = run("llama-3.1-8b --engine vllm --gpu h100-80gb --tensor-parallel-size 2 "
                 "--gpu-memory-utilization 0.95 --max-model-len 8192 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["engine"].GetString(), "vllm");
    EXPECT_TRUE(d["starts"].GetBool());
    ASSERT_EQ(d["ranks"].Size(), 2u);
    for (const auto& rank : d["ranks"].GetArray())
        for (const char* key : {"name", "total_bytes", "weights_bytes", "non_torch_bytes",
                                "activation_peak_bytes", "cudagraph_bytes", "kv_cache_bytes"})
            EXPECT_TRUE(rank.HasMember(key)) << key;
    double weights = d["ranks"][0]["weights_bytes"].GetUint64() / 1073741824.0;
    EXPECT_NEAR(weights, 7.51, 0.075);
    EXPECT_NEAR(d["kv_tokens"].GetUint64() / 1044688.0, 1.0, 0.03);
    EXPECT_TRUE(d["max_concurrency"].IsNumber());
}

// Every flag of the command is one `vllm serve` accepts, with the plan's values.
TEST_F(serve, command_parses_back_to_the_plan) {
    auto r = run("llama-3.1-8b --gpu h100-80gb --tensor-parallel-size 2 --max-model-len 16384 "
                 "--kv-cache-dtype fp8 --enforce-eager --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    std::istringstream words(d["command"].GetString());
    std::vector<std::string> w{std::istream_iterator<std::string>(words),
                               std::istream_iterator<std::string>()};
    ASSERT_GE(w.size(), 3u);
    EXPECT_EQ(w[0], "vllm");
    EXPECT_EQ(w[1], "serve");
    EXPECT_EQ(w[2], "meta-llama/Llama-3.1-8B");
    const std::vector<std::string> accepted = {"--tensor-parallel-size",   "--pipeline-parallel-size",
                                               "--gpu-memory-utilization", "--max-model-len",
                                               "--max-num-seqs",           "--max-num-batched-tokens",
                                               "--kv-cache-dtype",         "--block-size",
                                               "--quantization",           "--dtype",
                                               "--enforce-eager"};
    const auto& knobs = d["knobs"];
    for (size_t i = 3; i < w.size(); ++i) {
        ASSERT_NE(std::find(accepted.begin(), accepted.end(), w[i]), accepted.end()) << w[i];
        if (w[i] == "--enforce-eager") {
            EXPECT_TRUE(knobs["enforce_eager"].GetBool());
            continue;
        }
        ASSERT_LT(i + 1, w.size());
        std::string field = w[i].substr(2);
        std::replace(field.begin(), field.end(), '-', '_');
        const std::string value = w[++i];
        ASSERT_TRUE(knobs.HasMember(field.c_str())) << field;
        const auto& k = knobs[field.c_str()];
        if (k.IsString())
            EXPECT_EQ(value, k.GetString()) << field;
        else if (k.IsUint64())
            EXPECT_EQ(std::stoull(value), k.GetUint64()) << field;
        else
            EXPECT_NEAR(std::stod(value), k.GetDouble(), 0.005) << field;
    }
}

// Qwen2.5-72B's weights (67.8 GiB per GPU at T = 2 in the llm-d-planner log) leave no cache at the default
// utilization 0.9 (71.27 GiB of 79.19): vLLM's error, exit 3, the answer still printed.
TEST_F(serve, does_not_start_exits_3_with_the_error_and_fixes) {
    auto r = run("qwen2.5-72b --gpu h100-80gb --tensor-parallel-size 2");
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_NE(r.out.find("No available memory for the cache blocks"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fix            --tensor-parallel-size 4"), std::string::npos) << r.out;
}

TEST_F(serve, bad_knobs_name_their_flags) {
    expect_bad_input(
        run("llama-3.1-8b --gpu h100-80gb --tensor-parallel-size 3"),
        "--tensor-parallel-size: Total number of attention heads (32) must be divisible by tensor "
        "parallel size (3)");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --gpu-memory-utilization 1.5"),
                     "--gpu-memory-utilization");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --gpu-memory-utilization half"),
                     "--gpu-memory-utilization");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --max-model-len 262144"), "--max-model-len");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --kv-cache-dtype int3"), "--kv-cache-dtype");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --engine sglang"), "--engine");
    expect_bad_input(run("llama-3.1-8b --tensor-parallel-size 2"), "--gpu");
    expect_bad_input(run("llama-3.1-8b --gpu nosuchgpu"), "nosuchgpu");
    // Llama-3.1-8B has 32 layers (config num_hidden_layers).
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --pipeline-parallel-size 40"),
                     "--pipeline-parallel-size: 40 stages, but the model has only 32 layers");
}

TEST_F(serve, help_names_the_vllm_flags) {
    auto r = run("--help");
    ASSERT_EQ(r.status, 0);
    for (const char* flag :
         {"--tensor-parallel-size", "--gpu-memory-utilization", "--max-model-len", "--max-num-seqs",
          "--max-num-batched-tokens", "--kv-cache-dtype", "--enforce-eager"})
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

} // namespace
} // namespace modelplan::test
