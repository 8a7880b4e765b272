// `modelplan serve`: the vLLM plan on the command line: JSON shape, exit statuses, the command parsed back,
// bad knobs named by their flags.
#include <algorithm>
#include <fstream>
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

// Each flag of a command from `words[from]` on is one the engine accepts, and its value (the next word,
// unless the flag is in `switches`, whose knob must be true) equals the JSON knob of the same name.
template <class Knobs>
void expect_flags_match_knobs(const std::vector<std::string>& w, size_t from,
                              const std::vector<std::string>& accepted,
                              const std::vector<std::string>& switches,
                              const std::vector<std::string>& skipped, const Knobs& knobs, double tolerance) {
    for (size_t i = from; i < w.size(); ++i) {
        ASSERT_NE(std::find(accepted.begin(), accepted.end(), w[i]), accepted.end()) << w[i];
        std::string field = w[i].substr(2);
        std::replace(field.begin(), field.end(), '-', '_');
        if (std::find(switches.begin(), switches.end(), w[i]) != switches.end()) {
            ASSERT_TRUE(knobs.HasMember(field.c_str())) << field;
            EXPECT_TRUE(knobs[field.c_str()].GetBool()) << field;
            continue;
        }
        ASSERT_LT(i + 1, w.size());
        const std::string value = w[++i];
        if (std::find(skipped.begin(), skipped.end(), field) != skipped.end()) continue;
        ASSERT_TRUE(knobs.HasMember(field.c_str())) << field;
        const auto& k = knobs[field.c_str()];
        if (k.IsString())
            EXPECT_EQ(value, k.GetString()) << field;
        else if (k.IsUint64())
            EXPECT_EQ(std::stoull(value), k.GetUint64()) << field;
        else
            EXPECT_NEAR(std::stod(value), k.GetDouble(), tolerance) << field;
    }
}

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
    expect_flags_match_knobs(w, 3, accepted, {"--enforce-eager"}, {}, d["knobs"], 0.005);
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
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --engine tgi"), "--engine");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --tp-size 2"),
                     "--tp-size: not a vLLM flag (vLLM's is --tensor-parallel-size)");
    expect_bad_input(run("llama-3.1-8b --tensor-parallel-size 2"), "--gpu");
    expect_bad_input(run("llama-3.1-8b --gpu nosuchgpu"), "nosuchgpu");
    // Llama-3.1-8B has 32 layers (config num_hidden_layers).
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --pipeline-parallel-size 40"),
                     "--pipeline-parallel-size: 40 stages, but the model has only 32 layers");
}

// The V0 engine on the command line: Qwen2.5-32B-Instruct on two L40S at T = 2, V0 v0.7.1
// (vllm-project/vllm#15815): "# CUDA blocks: 3947, # CPU blocks: 2048" (the pool 3% as the V0 rows of
// tests/data/reference/serve-logs.tsv allow); the command selects V0 from 0.8 on; an unmodelled version is
// refused with the list.
TEST_F(serve, vllm_v0_engine_version) {
    // Qwen2.5-32B-Instruct's config.json (its geometry; tests/data/reference/configs/qwen2.5-32b.json).
    const std::string config =
        write("qwen2.5-32b/config.json",
              R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 5120,
                  "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 40,
                  "num_key_value_heads": 8, "vocab_size": 152064, "max_position_embeddings": 32768,
                  "rope_theta": 1000000.0, "rms_norm_eps": 1e-06, "tie_word_embeddings": false,
                  "torch_dtype": "bfloat16"})")
            .string();
    auto r =
        run(config + " --gpu l40s --tensor-parallel-size 2 --max-model-len 10000 --engine-version 0.7.1-v0");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("vLLM 0.7.1-v0"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("# CPU blocks: 2048"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Maximum concurrency for 10000 tokens per request: "), std::string::npos) << r.out;
    r = run(config +
            " --gpu l40s --tensor-parallel-size 2 --max-model-len 10000 --engine-version 0.7.1-v0 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["engine_version"].GetString(), "0.7.1-v0");
    EXPECT_NEAR(d["num_gpu_blocks"].GetUint64() / 3947.0, 1.0, 0.03);
    EXPECT_EQ(d["num_cpu_blocks"].GetUint64(), 2048u); // "# CPU blocks: 2048"
    r = run(config +
            " --gpu l40s --tensor-parallel-size 2 --max-model-len 10000 --engine-version 0.8-v0 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(std::string(json(r)["command"].GetString()).rfind("VLLM_USE_V1=0 vllm serve ", 0), 0u);
    expect_bad_input(run(config + " --gpu l40s --engine-version 0.13"), "--engine-version");
}

// --speculative-config's "model" is resolved as MODEL is: a preset by name, or a local folder with its
// config.json (an EAGLE-3 head in SpecForge's LlamaForCausalLMEagle3 form, the dimensions of
// NVIDIA/TensorRT-LLM#6158's head for Llama-3.1-8B). The drafter's weights join the rank's, its layers the
// KV cache (figures by hand in tests/core/serve-vllm.cpp); an unknown draft names the flag.
TEST_F(serve, speculative_config_resolves_the_draft_like_the_model) {
    auto r = run("llama-3.1-8b --gpu h100-80gb --max-model-len 32768 --json --speculative-config "
                 "'{\"model\": \"llama-3.2-1b\", \"num_speculative_tokens\": 4}'");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["knobs"]["speculative_method"].GetString(), "draft_model");
    EXPECT_EQ(d["knobs"]["draft_layers"].GetUint64(), 16u);
    EXPECT_EQ(d["kv_bytes_per_token"].GetUint64(), 163840u);
    EXPECT_EQ(d["ranks"][0]["draft_bytes"].GetUint64(), 2471628800u + 16777216u);
    EXPECT_NE(std::string(d["command"].GetString()).find("\"model\":\"meta-llama/Llama-3.2-1B\""),
              std::string::npos);

    write("head/config.json",
          R"({"architectures": ["LlamaForCausalLMEagle3"], "hidden_size": 4096, "intermediate_size": 14336,
              "max_position_embeddings": 131072, "model_type": "llama", "num_attention_heads": 32,
              "num_hidden_layers": 1, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 500000.0,
              "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                               "original_max_position_embeddings": 8192, "rope_type": "llama3"},
              "tie_word_embeddings": false, "torch_dtype": "bfloat16", "draft_vocab_size": 32000,
              "vocab_size": 128256})");
    auto e = run("llama-3.1-8b --gpu h100-80gb --max-model-len 32768 --speculative-config '{\"model\": \"" +
                 path("head") + "\", \"num_speculative_tokens\": 3}'");
    ASSERT_EQ(e.status, 0) << e.err;
    EXPECT_NE(e.out.find("drafter        eagle3"), std::string::npos) << e.out;
    EXPECT_NE(e.out.find("0.79 GiB of the weights, 1 layer(s)"), std::string::npos) << e.out; // 849,635,328 B

    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --speculative-config "
                         "'{\"model\": \"no-such-draft\", \"num_speculative_tokens\": 2}'"),
                     "--speculative-config: model \"no-such-draft\"");
    expect_bad_input(run("llama-3.1-8b --gpu h100-80gb --speculative-config "
                         "'{\"model\": \"qwen2.5-0.5b\", \"num_speculative_tokens\": 2}'"),
                     "Target and draft model should have the same vocabulary size");
}

TEST_F(serve, help_names_the_vllm_flags) {
    auto r = run("--help");
    ASSERT_EQ(r.status, 0);
    for (const char* flag :
         {"--tensor-parallel-size", "--gpu-memory-utilization", "--max-model-len", "--max-num-seqs",
          "--max-num-batched-tokens", "--kv-cache-dtype", "--enforce-eager"})
        EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
}

// SGLang: the QwQ-32B run on four L4s (didier-durand/llms-in-clouds docs/sglang.md, sglang 0.4.3.post4):
// "Load weight end ... avail mem=6.09 GB, mem usage=15.54 GB", "KV Cache is allocated. #tokens: 46611". Given
// its free memory (21.63 GiB), the plan's pool is larger than the log's by what its weights miss of "mem
// usage" (tests/core/serve-sglang.cpp); here the CLI's JSON, the log lines and the command.
TEST_F(serve, sglang_json_log_lines_and_command) {
    fs::create_directories(path("qwq"));
    std::ofstream(path("qwq/config.json"))
        << (R"({"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 5120,
                   "intermediate_size": 27648, "num_hidden_layers": 64, "num_attention_heads": 40,
                   "num_key_value_heads": 8, "vocab_size": 152064, "max_position_embeddings": 40960,
                   "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
    auto r = run(path("qwq") +
                 " --engine sglang --engine-version 0.4.3 --gpu l4 --tp 4 --free-memory 21.63GiB --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["engine"].GetString(), "sglang");
    EXPECT_STREQ(d["engine_version"].GetString(), "0.4.3");
    EXPECT_EQ(d["ranks"].Size(), 4u);
    EXPECT_DOUBLE_EQ(d["knobs"]["mem_fraction_static"].GetDouble(), 0.85); // the log's server_args
    EXPECT_EQ(d["knobs"]["chunked_prefill_size"].GetUint64(), 2048u);      // the log's server_args
    EXPECT_NEAR(d["kv_tokens"].GetUint64() / 46611.0, 1.0, 0.12);
    bool load_line = false;
    for (const auto& l : d["log_lines"].GetArray())
        load_line =
            load_line || std::string(l.GetString()).rfind("Load weight end. type=Qwen2ForCausalLM", 0) == 0;
    EXPECT_TRUE(load_line);
    std::istringstream words(d["command"].GetString());
    std::vector<std::string> w{std::istream_iterator<std::string>(words),
                               std::istream_iterator<std::string>()};
    ASSERT_GE(w.size(), 5u);
    EXPECT_EQ(w[0] + " " + w[1] + " " + w[2], "python -m sglang.launch_server");
    const std::vector<std::string> accepted = {"--model-path",           "--tp-size",
                                               "--mem-fraction-static",  "--context-length",
                                               "--kv-cache-dtype",       "--page-size",
                                               "--chunked-prefill-size", "--max-running-requests",
                                               "--cuda-graph-max-bs",    "--disable-cuda-graph",
                                               "--quantization",         "--dtype"};
    expect_flags_match_knobs(w, 3, accepted, {"--disable-cuda-graph"}, {"model_path"}, d["knobs"], 0.0005);
}

TEST_F(serve, sglang_bad_knobs_and_a_plan_that_does_not_start) {
    expect_bad_input(run("qwen2.5-7b --engine sglang --gpu h100-80gb --max-model-len 4096"),
                     "--max-model-len: not an SGLang flag (SGLang's is --context-length)");
    expect_bad_input(run("qwen2.5-7b --engine sglang --gpu h100-80gb --mem-fraction-static 1.2"),
                     "--mem-fraction-static");
    expect_bad_input(run("qwen2.5-7b --engine sglang --gpu h100-80gb --free-memory lots"), "--free-memory");
    expect_bad_input(run("qwen2.5-7b --engine sglang --gpu h100-80gb --tp 3"), "--tp-size");
    // Llama-3.1-70B's 131 GiB of weights on one 24 GB card: out of memory while loading; more GPUs fix it.
    auto r = run("llama-3.1-70b --engine sglang --gpu rtx-4090");
    EXPECT_EQ(r.status, 3) << r.err;
    EXPECT_NE(r.out.find("CUDA out of memory while loading the weights"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fix            --tp-size"), std::string::npos) << r.out;
}

// llama.cpp: Llama-3.2-3B-Instruct in Q4_K_M with every layer offloaded logs "CUDA0 model buffer size =
// 1918.36 MiB" and "CPU_Mapped model buffer size = 308.24 MiB" (tests/core/serve-llamacpp.cpp has the
// sources; 0.01 MiB: the log's rounding); llama-server's short flags are read.
TEST_F(serve, llamacpp_short_flags_json_and_command) {
    auto r =
        run("llama-3.2-3b --engine llama.cpp --gpu rtx-4090 --quant q4_k_m -c 2048 -np 2 -ctk q8_0 -ctv q8_0 "
            "-ngl 99 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["engine"].GetString(), "llama.cpp");
    EXPECT_NEAR(d["ranks"][0]["weights_bytes"].GetUint64() / 1048576.0, 1918.35, 0.015);
    EXPECT_NEAR(d["knobs"]["host_weights_bytes"].GetUint64() / 1048576.0, 308.23, 0.015);
    // -np 2 without -kvu: two streams of 1,024 cells; q8_0 rows: 34 bytes per 32 values.
    EXPECT_EQ(d["knobs"]["n_ctx_seq"].GetUint64(), 1024u);
    EXPECT_EQ(d["ranks"][0]["kv_cache_bytes"].GetUint64(), 28ull * 2 * 2048 * (1024 / 32 * 34));
    const std::string command = d["command"].GetString();
    EXPECT_EQ(command.rfind("llama-server -m ", 0), 0u) << command;
    for (const char* part : {" -ngl 29", " -c 2048", " -np 2", " -ctk q8_0", " -ctv q8_0"})
        EXPECT_NE(command.find(part), std::string::npos) << part << " in " << command;
    expect_bad_input(run("llama-3.2-3b --engine llama.cpp --gpu rtx-4090 -ctk q2"), "--cache-type-k");
    expect_bad_input(run("llama-3.2-3b --engine llama.cpp --gpu rtx-4090 --max-model-len 4096"),
                     "--max-model-len: not a llama.cpp flag (llama.cpp's is --ctx-size)");
}

// llama.cpp's -ot/--override-tensor on the command line: repeatable, in order; the command gives the entries
// as one comma-separated -ot (llama-server splits every -ot value at its commas, common/arg.cpp); -ot
// exps=CPU places what --cpu-moe places (llama.cpp implements --cpu-moe as that override); bad values are
// named by the flag.
TEST_F(serve, llamacpp_override_tensor) {
    const std::string base = "qwen3-30b-a3b --engine llama.cpp --gpu rtx-4090 --quant q4_k_m -c 4096 ";
    auto r = run(base + "-ot ffn_up_exps=CUDA0 --override-tensor 'exps=CPU' --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    const std::string command = d["command"].GetString();
    EXPECT_NE(command.find(" -ot 'ffn_up_exps=CUDA0,exps=CPU'"), std::string::npos) << command;
    const auto& entries = d["knobs"]["override_tensor"];
    ASSERT_TRUE(entries.IsArray());
    ASSERT_EQ(entries.Size(), 2u);
    EXPECT_STREQ(entries[1]["buffer_type"].GetString(), "CPU");
    EXPECT_EQ(entries[0]["tensors"].GetUint64(), 48u); // blk.0-47.ffn_up_exps.weight
    EXPECT_EQ(entries[1]["tensors"].GetUint64(), 96u); // the gate and down experts left
    auto ot = run(base + "-ot exps=CPU --json");
    auto cpu_moe = run(base + "--cpu-moe --json");
    ASSERT_EQ(ot.status, 0) << ot.err;
    ASSERT_EQ(cpu_moe.status, 0) << cpu_moe.err;
    EXPECT_EQ(json(ot)["ranks"][0]["weights_bytes"].GetUint64(),
              json(cpu_moe)["ranks"][0]["weights_bytes"].GetUint64());
    auto text = run(base + "-ot exps=CPU");
    EXPECT_NE(text.out.find("-ot exps=CPU: 144 GGUF tensors"), std::string::npos) << text.out;
    expect_bad_input(run(base + "-ot exps=cpu"), "--override-tensor: unknown buffer type \"cpu\"");
    expect_bad_input(run(base + "-ot 'blk\\.(=CPU'"), "--override-tensor: bad pattern \"blk\\\\.(\"");
    expect_bad_input(run(base + "-ot exps=CUDA1"), "--gpus");
    expect_bad_input(run(base + "-ot exps"), "--override-tensor: expected PATTERN=TYPE");
    expect_bad_input(run("qwen3-30b-a3b --gpu rtx-4090 -ot exps=CPU"), "not a vLLM flag");
}

// The inverse questions on the command line: the JSON's search object, whose smallest layout planned again
// with its flags holds the target (tests/core/serve-search.cpp checks the search itself).
TEST_F(serve, search_answers_plan_again) {
    auto r = run("qwen2.5-7b --gpu l40s --max-model-len 8192 --target-concurrency 80 --sweep --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    ASSERT_TRUE(d.HasMember("search"));
    const auto& layout = d["search"]["smallest_layout"];
    ASSERT_TRUE(layout["found"].GetBool());
    auto again = run(std::string("qwen2.5-7b --gpu l40s --max-model-len 8192 ") +
                     layout["flags"].GetString() + " --json");
    ASSERT_EQ(again.status, 0) << again.err;
    EXPECT_GE(json(again)["max_concurrency"].GetDouble(), 80.0);
    EXPECT_TRUE(d["search"]["sweep"]["cells"].IsArray());
    auto text = run("qwen2.5-7b --gpu l40s --longest-context");
    EXPECT_NE(text.out.find("longest context for 1.00 requests: --max-model-len"), std::string::npos)
        << text.out;
    expect_bad_input(run("qwen2.5-7b --gpu l40s --target-concurrency lots"), "--target-concurrency");
}

} // namespace
} // namespace modelplan::test
