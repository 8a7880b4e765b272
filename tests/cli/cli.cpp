// The modelplan program end to end: exit codes, stdout/stderr discipline, human and JSON output, MODEL paths.
#include <string>

#include "cli-fixture.h"

namespace {

using namespace modelplan::test;

class cli : public cli_fixture {};

TEST_F(cli, params_json_of_a_preset) {
    run_result r = run("params llama-3.1-8b --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_EQ(d["params"]["total"].GetUint64(), 8'030'261'248ULL); // published total, Llama-3.1-8B
}

TEST_F(cli, human_params_use_separators_and_binary_units) {
    run_result r = run("params llama-3.1-8b");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("8,030,261,248"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("GiB"), std::string::npos);
    EXPECT_EQ(r.out.find(" GB"), std::string::npos) << "binary sizes must not be labelled GB";
}

TEST_F(cli, default_model_when_omitted) {
    run_result r = run("params --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("\"model\": \"llama-3.1-8b\""), std::string::npos);
}

TEST_F(cli, model_as_file_or_folder) {
    // Mistral-7B-v0.1's published config values (models/SOURCES.md), written as a user would have them.
    std::string config = R"({"architectures": ["MistralForCausalLM"], "hidden_size": 4096,
        "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
        "vocab_size": 32000})";
    fs::path file = write("mistral/config.json", config);
    for (const std::string& arg : {file.string(), file.parent_path().string()}) {
        run_result r = run("params " + arg + " --json");
        ASSERT_EQ(r.status, 0) << r.err;
        rapidjson::Document d;
        d.Parse(r.out.c_str());
        EXPECT_EQ(d["params"]["total"].GetUint64(), 7'241'732'096ULL); // published total, Mistral-7B-v0.1
        EXPECT_EQ(std::string(d["model"].GetString()), arg);
    }
}

TEST_F(cli, unknown_preset_suggests) {
    expect_bad_input(run("params llama-3.1-8 --json"), "did you mean \"llama-3.1-8b\"?");
}

TEST_F(cli, missing_file) {
    expect_bad_input(run("params " + (dir_ / "nope/config.json").string()), "no such file");
}

TEST_F(cli, folder_without_config) {
    fs::create_directories(dir_ / "empty");
    expect_bad_input(run("skeleton " + (dir_ / "empty").string()), "folder holds no config.json");
}

TEST_F(cli, malformed_config_reports_position) {
    fs::path p = write("bad.json", "{\n  \"model_type\": \"llama\"\n  \"hidden_size\": 1\n}");
    expect_bad_input(run("params " + p.string() + " --json"), "line 3, column 3");
}

TEST_F(cli, empty_and_binary_files) {
    expect_bad_input(run("params " + write("empty.json", "").string()), "not valid JSON");
    expect_bad_input(run("params " + write("bin.json", std::string("\x00\xff\xfe\x01garbage", 11)).string()),
                     "not valid JSON");
}

TEST_F(cli, invalid_config_names_the_key) {
    fs::path p = write("c.json", R"({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 2,
        "num_attention_heads": 32, "num_key_value_heads": 5, "intermediate_size": 11008, "vocab_size": 32000})");
    expect_bad_input(run("params " + p.string()),
                     "num_attention_heads (32) must be divisible by num_key_value_heads (5)");
}

TEST_F(cli, usage_errors) {
    expect_bad_input(run("frobnicate"), "unknown command");
    expect_bad_input(run("params --bogus"), "unknown option --bogus");
    expect_bad_input(run("params llama-3.1-8b qwen3-8b"), "more than one MODEL");
    expect_bad_input(run("params --dtype"), "--dtype needs a value");
    expect_bad_input(run("params --dtype fp7"), "--dtype: unknown dtype \"fp7\"");
}

TEST_F(cli, help_everywhere) {
    for (const std::string& c : {"", "params ", "skeleton ", "presets "}) {
        run_result r = run(c + "--help");
        EXPECT_EQ(r.status, 0) << c;
        EXPECT_NE(r.out.find("usage: modelplan"), std::string::npos) << c;
    }
}

TEST_F(cli, skeleton_summary_and_full) {
    run_result summary = run("skeleton llama-3.2-1b --summary");
    ASSERT_EQ(summary.status, 0) << summary.err;
    EXPECT_NE(summary.out.find("model.layers.{layer}.self_attn.q_proj.weight"), std::string::npos);
    EXPECT_NE(summary.out.find("×16"), std::string::npos); // Llama-3.2-1B has 16 layers (published config)
    EXPECT_NE(summary.out.find("lm_head.weight -> model.embed_tokens.weight"), std::string::npos);
    run_result full = run("skeleton llama-3.2-1b");
    ASSERT_EQ(full.status, 0);
    EXPECT_NE(full.out.find("model.layers.15.mlp.down_proj.weight"), std::string::npos);
}

// bert-base-uncased's config names BertForMaskedLM; as BertModel it has 109,482,240 parameters (issue anchor,
// BertModel.from_pretrained test), and the MLM head leaves the pooler out.
TEST_F(cli, head_override) {
    run_result model = run("params bert-base-uncased --head none --json");
    ASSERT_EQ(model.status, 0) << model.err;
    rapidjson::Document d;
    d.Parse(model.out.c_str());
    EXPECT_EQ(d["params"]["total"].GetUint64(), 109'482'240ULL);
    EXPECT_STREQ(d["architecture"].GetString(), "BertModel");
    EXPECT_STREQ(d["head"].GetString(), "none");
    run_result mlm = run("skeleton bert-base-uncased --json");
    ASSERT_EQ(mlm.status, 0);
    EXPECT_EQ(mlm.out.find("bert.pooler.dense.weight"), std::string::npos);
    EXPECT_NE(mlm.out.find("\"cls.predictions.decoder.weight\": \"bert.embeddings.word_embeddings.weight\""),
              std::string::npos);
    expect_bad_input(run("params llama-3.1-8b --head masked-lm"),
                     "head \"masked-lm\" is not available for llama");
    expect_bad_input(run("params llama-3.1-8b --head=bogus"), "--head: unknown head \"bogus\"");
}

TEST_F(cli, unmodelled_class_is_named) {
    fs::path p = write("c.json", R"({"model_type": "llama", "architectures": ["LlamaForQuestionAnswering"],
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
        "vocab_size": 100})");
    expect_bad_input(run("params " + p.string()),
                     "class \"LlamaForQuestionAnswering\" is not modelled for llama");
    run_result forced = run("params " + p.string() + " --head causal-lm --json");
    EXPECT_EQ(forced.status, 0) << forced.err;
}

// Llama-3.1-8B in bf16 caches 131,072 bytes per token (tests/core/memory.cpp; vLLM's measured pools:
// tests/data/reference/memory-figures.tsv).
TEST_F(cli, plan_and_fit) {
    run_result plan = run("plan llama-3.1-8b --batch 2 --seq 1000 --gpu \"RTX 4090\" --json");
    ASSERT_EQ(plan.status, 0) << plan.err;
    rapidjson::Document d;
    d.Parse(plan.out.c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_EQ(d["plan"]["kv_bytes_per_token"].GetUint64(), 131072u);
    EXPECT_EQ(d["plan"]["items"][1]["bytes"].GetUint64(), 131072ull * 1000 * 2);
    EXPECT_STREQ(d["plan"]["devices"][0]["gpu"].GetString(), "rtx-4090");
    run_result fit = run("fit qwen2.5-7b --gpu a100-40gb --json");
    ASSERT_EQ(fit.status, 0) << fit.err;
    rapidjson::Document f;
    f.Parse(fit.out.c_str());
    EXPECT_TRUE(f["fits"].GetBool());
    EXPECT_GT(f["max_seq"].GetUint64(), 4096u);
    run_result gpus = run("gpus --json");
    ASSERT_EQ(gpus.status, 0);
    expect_bad_input(run("fit qwen2.5-7b"), "fit needs --gpu NAME");
    expect_bad_input(run("plan qwen2.5-7b --batch 0"), "--batch: expected a positive integer, got \"0\"");
    expect_bad_input(run("plan qwen2.5-7b --attn quick"), "--attn: expected one of sdpa, eager, flash");
    expect_bad_input(run("plan qwen2.5-7b --gpu H100"), "is ambiguous");
    expect_bad_input(run("plan qwen2.5-7b --overhead lots"), "--overhead: expected a size");
}

TEST_F(cli, presets_json) {
    run_result r = run("presets --json");
    ASSERT_EQ(r.status, 0);
    rapidjson::Document d;
    d.Parse(r.out.c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_GE(d["presets"].Size(), 7u);
}

} // namespace
