// `modelplan inspect` end to end: exit codes (0 ok, 1 verification failed, 2 bad input), stdout/stderr
// discipline, human and JSON output, every kind of PATH. Checkpoints are written by
// tests/support/checkpoint-writer.h with Hugging Face LlamaForCausalLM tensor names (as in
// tests/data/mistral-7b-v0.1.weight_map.txt).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/checkpoint-writer.h"
#include "cli-fixture.h"

namespace {

using namespace modelplan::test;
namespace tf = modelplan::test_files;

// A small Llama: hidden 64, 4 heads (2 KV heads) of 16, FFN 128, 2 layers, vocabulary 100, untied head.
const char* tiny_config = R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
    "intermediate_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 2,
    "vocab_size": 100, "tie_word_embeddings": false, "torch_dtype": "bfloat16"})";

struct tensor {
    std::string name;
    std::vector<uint64_t> shape;
};

std::vector<tensor> tiny_tensors() {
    std::vector<tensor> t = {
        {"model.embed_tokens.weight", {100, 64}}
    };
    for (int l = 0; l < 2; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        t.push_back({
            p + "self_attn.q_proj.weight", {64, 64}
        });
        t.push_back({
            p + "self_attn.k_proj.weight", {32, 64}
        });
        t.push_back({
            p + "self_attn.v_proj.weight", {32, 64}
        });
        t.push_back({
            p + "self_attn.o_proj.weight", {64, 64}
        });
        t.push_back({
            p + "mlp.gate_proj.weight", {128, 64}
        });
        t.push_back({
            p + "mlp.up_proj.weight", {128, 64}
        });
        t.push_back({
            p + "mlp.down_proj.weight", {64, 128}
        });
        t.push_back({p + "input_layernorm.weight", {64}});
        t.push_back({p + "post_attention_layernorm.weight", {64}});
    }
    t.push_back({"model.norm.weight", {64}});
    t.push_back({
        "lm_head.weight", {100, 64}
    });
    return t;
}
// 100 x 64 embedding and head, 2 layers of 64 x 64 x 2 + 32 x 64 x 2 + 3 x 128 x 64 + 2 x 64, final norm 64.
constexpr uint64_t tiny_params = 2 * 100 * 64 + 2 * (2 * 64 * 64 + 2 * 32 * 64 + 3 * 128 * 64 + 2 * 64) + 64;

tf::safetensors_file safetensors_of(const std::vector<tensor>& tensors) {
    tf::safetensors_file f;
    f.metadata = {
        {"format", "pt"}
    };
    for (const auto& t : tensors) f.add(t.name, "BF16", t.shape);
    return f;
}

class inspect_cli : public cli_fixture {
  protected:
    inspect_cli() : cli_fixture("inspect ") {}
};

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST_F(inspect_cli, folder_with_config_verifies) {
    write("m/config.json", tiny_config);
    write("m/model.safetensors", safetensors_of(tiny_tensors()).bytes());
    run_result r = run(path("m"));
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    EXPECT_EQ(r.err, "");
    EXPECT_HAS(r.out, "safetensors file, 1 file, 21 tensors");
    EXPECT_HAS(r.out, "model.layers.1.mlp.down_proj.weight");
    EXPECT_HAS(r.out, "[64, 128]");
    EXPECT_HAS(r.out, "86,848"); // tiny_params
    EXPECT_HAS(r.out, "(LlamaForCausalLM, from config.json in the folder): OK");
    EXPECT_HAS(r.out, "format = pt");
}

TEST_F(inspect_cli, json_output) {
    write("m/config.json", tiny_config);
    tf::safetensors_file f = safetensors_of(tiny_tensors());
    write("m/model.safetensors", f.bytes());
    run_result r = run(path("m") + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    rapidjson::Document d = json(r);
    EXPECT_EQ(d["params"]["total"].GetUint64(), tiny_params);
    EXPECT_EQ(d["bytes"].GetUint64(), 2 * tiny_params); // BF16
    ASSERT_EQ(d["tensors"].Size(), 21u);
    const auto& first = d["tensors"][0];
    EXPECT_STREQ(first["name"].GetString(), "model.embed_tokens.weight");
    EXPECT_EQ(first["offsets"][0].GetUint64(), f.header_bytes().size());
    EXPECT_EQ(first["offsets"][1].GetUint64(), f.header_bytes().size() + 100 * 64 * 2);
    EXPECT_TRUE(d["verify"]["ok"].GetBool());
    EXPECT_EQ(d["verify"]["missing"].Size(), 0u);
    EXPECT_STREQ(d["model"]["source"].GetString(), "config.json in the folder");
}

TEST_F(inspect_cli, missing_and_mismatched_tensors_fail_with_status_1) {
    write("m/config.json", tiny_config);
    std::vector<tensor> tensors = tiny_tensors();
    tensors.erase(tensors.begin() + 3); // model.layers.0.self_attn.v_proj.weight
    tensors[5].shape = {128, 65};       // model.layers.0.mlp.up_proj.weight
    write("m/model.safetensors", safetensors_of(tensors).bytes());
    run_result r = run(path("m"));
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_HAS(r.out, "FAILED");
    EXPECT_HAS(r.out, "missing (1)");
    EXPECT_HAS(r.out, "model.layers.0.self_attn.v_proj.weight");
    EXPECT_HAS(r.out, "shape mismatches (1)");
    EXPECT_HAS(r.out, "[128, 65]");

    run_result j = run(path("m") + " --json");
    EXPECT_EQ(j.status, 1);
    rapidjson::Document d = json(j);
    EXPECT_FALSE(d["verify"]["ok"].GetBool());
    EXPECT_STREQ(d["verify"]["missing"][0]["name"].GetString(), "model.layers.0.self_attn.v_proj.weight");
    EXPECT_STREQ(d["verify"]["mismatched"][0]["name"].GetString(), "model.layers.0.mlp.up_proj.weight");
    EXPECT_EQ(d["verify"]["mismatched"][0]["expected"][1].GetUint64(), 64u);
    EXPECT_EQ(d["verify"]["mismatched"][0]["actual"][1].GetUint64(), 65u);
}

TEST_F(inspect_cli, prefix_suggestion_in_human_output) {
    std::vector<tensor> tensors = tiny_tensors();
    for (auto& t : tensors)
        if (t.name.rfind("model.", 0) == 0) t.name = "transformer." + t.name.substr(6);
    write("m.safetensors", safetensors_of(tensors).bytes());
    write("config.json", tiny_config);
    run_result r = run(path("m.safetensors") + " --config " + path("config.json"));
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.out,
               "suggestion: 20 unexpected tensors become missing ones when \"transformer.\" is read as "
               "\"model.\"");
}

TEST_F(inspect_cli, single_file_without_a_model_is_not_verified) {
    write("m.safetensors", safetensors_of(tiny_tensors()).bytes());
    write("config.json", tiny_config); // beside a single file, not used: only folders and indexes look
    run_result r = run(path("m.safetensors"));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_HAS(r.out, "not verified");
    rapidjson::Document d = json(run(path("m.safetensors") + " --json"));
    EXPECT_TRUE(d["verify"].IsNull());
}

TEST_F(inspect_cli, config_preset_that_does_not_match) {
    write("m.safetensors", safetensors_of(tiny_tensors()).bytes());
    run_result r = run(path("m.safetensors") + " --config llama-3.2-1b");
    EXPECT_EQ(r.status, 1);
    EXPECT_HAS(r.out, "verification against llama-3.2-1b (LlamaForCausalLM, from --config): FAILED");
    expect_bad_input(run(path("m.safetensors") + " --config llama-3.2-1"), "did you mean \"llama-3.2-1b\"?");
}

std::string index_of(const std::vector<tensor>& first, const std::vector<tensor>& second, uint64_t total) {
    std::string s = "{\"metadata\": {\"total_size\": " + std::to_string(total) + "}, \"weight_map\": {";
    bool comma = false;
    for (const auto& [list, shard] : {std::make_pair(&first, "model-00001-of-00002.safetensors"),
                                      std::make_pair(&second, "model-00002-of-00002.safetensors")})
        for (const auto& t : *list) {
            s += std::string(comma ? ", " : "") + "\"" + t.name + "\": \"" + shard + "\"";
            comma = true;
        }
    return s + "}}";
}

TEST_F(inspect_cli, sharded_checkpoint_with_index) {
    std::vector<tensor> all = tiny_tensors();
    std::vector<tensor> first(all.begin(), all.begin() + 10), second(all.begin() + 10, all.end());
    write("m/config.json", tiny_config);
    write("m/model-00001-of-00002.safetensors", safetensors_of(first).bytes());
    write("m/model-00002-of-00002.safetensors", safetensors_of(second).bytes());
    write("m/model.safetensors.index.json", index_of(first, second, 2 * tiny_params));
    for (const std::string& target : {path("m"), path("m/model.safetensors.index.json")}) {
        run_result r = run(target);
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_HAS(r.out, "sharded safetensors, 2 files, 21 tensors");
        EXPECT_HAS(r.out, "model-00002-of-00002.safetensors");
        EXPECT_HAS(r.out, ": OK");
    }
    // A wrong total_size is a warning; a missing shard is an error.
    write("m/model.safetensors.index.json", index_of(first, second, 5));
    run_result warned = run(path("m"));
    EXPECT_EQ(warned.status, 0);
    EXPECT_HAS(warned.out, "index metadata.total_size is 5 bytes, but the shards' tensors hold 173,696");
    fs::remove(dir_ / "m/model-00002-of-00002.safetensors");
    expect_bad_input(run(path("m")), "model-00002-of-00002.safetensors: no such file (a shard named by "
                                     "model.safetensors.index.json)");
}

TEST_F(inspect_cli, folder_of_safetensors_without_index) {
    std::vector<tensor> all = tiny_tensors();
    write("m/a.safetensors", safetensors_of({all.begin(), all.begin() + 5}).bytes());
    write("m/b.safetensors", safetensors_of({all.begin() + 5, all.end()}).bytes());
    run_result r = run(path("m") + " --config " + path("m/../c.json"));
    expect_bad_input(r, "no such file or folder");
    write("c.json", tiny_config);
    r = run(path("m") + " --config " + path("c.json"));
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_HAS(r.out, "safetensors files, 2 files, 21 tensors");
}

// GGUF: verified against its own architecture metadata.
TEST_F(inspect_cli, gguf_file) {
    tf::gguf_file g;
    g.kv_str("general.architecture", "llama")
        .kv_str("general.name", "tiny")
        .kv_u32("llama.block_count", 1)
        .kv_u32("llama.embedding_length", 64)
        .kv_u32("llama.feed_forward_length", 256)
        .kv_u32("llama.attention.head_count", 4)
        .kv_u32("llama.attention.head_count_kv", 2)
        .kv_u32("llama.vocab_size", 100);
    g.tensor("token_embd.weight", {64, 100}, tf::ggml_q8_0)
        .tensor("blk.0.attn_norm.weight", {64}, tf::ggml_f32)
        .tensor("blk.0.attn_q.weight", {64, 64}, tf::ggml_q8_0)
        .tensor("blk.0.attn_k.weight", {64, 32}, tf::ggml_q8_0)
        .tensor("blk.0.attn_v.weight", {64, 32}, tf::ggml_q8_0)
        .tensor("blk.0.attn_output.weight", {64, 64}, tf::ggml_q8_0)
        .tensor("blk.0.ffn_norm.weight", {64}, tf::ggml_f32)
        .tensor("blk.0.ffn_gate.weight", {64, 256}, tf::ggml_q4_0)
        .tensor("blk.0.ffn_up.weight", {64, 256}, tf::ggml_q4_0)
        .tensor("blk.0.ffn_down.weight", {256, 64}, tf::ggml_q6_k) // rows of one 256-element block
        .tensor("output_norm.weight", {64}, tf::ggml_f32);
    write("tiny.gguf", g.bytes());
    run_result r = run(path("tiny.gguf"));
    ASSERT_EQ(r.status, 0) << r.err << r.out;
    EXPECT_HAS(r.out, "GGUF file, 1 file, 11 tensors");
    EXPECT_HAS(r.out, "Q6_K");
    EXPECT_HAS(r.out, "verification against tiny (LlamaForCausalLM, from GGUF metadata): OK");
    rapidjson::Document d = json(run(path("tiny.gguf") + " --json"));
    EXPECT_STREQ(d["format"].GetString(), "gguf");
    EXPECT_EQ(d["tensors"][0]["shape"][0].GetUint64(), 100u); // [vocab, hidden], PyTorch order
    EXPECT_TRUE(d["verify"]["ok"].GetBool());
    EXPECT_STREQ(d["metadata"]["general.name"].GetString(), "tiny");

    // An unsupported architecture is read and listed, not verified.
    tf::gguf_file other;
    other.kv_str("general.architecture", "phi3");
    other.tensor("token_embd.weight", {64, 100}, tf::ggml_f16);
    write("other.gguf", other.bytes());
    run_result o = run(path("other.gguf"));
    EXPECT_EQ(o.status, 0) << o.err;
    EXPECT_HAS(o.out, "not verified: GGUF general.architecture \"phi3\" is not supported");
}

TEST_F(inspect_cli, bad_input_exits_2_with_nothing_on_stdout) {
    expect_bad_input(run(path("nope.safetensors")), "no such file or folder");
    expect_bad_input(run(path("short.safetensors")), "no such file");
    write("short.safetensors", std::string("\x40\x00\x00\x00\x00\x00\x00\x00{", 9));
    expect_bad_input(
        run(path("short.safetensors")),
        "short.safetensors: header length 64 runs past the end of the file: 72 bytes needed, the file "
        "has 9");
    write("polyglot.safetensors", safetensors_of(tiny_tensors()).bytes() + "trailing");
    expect_bad_input(run(path("polyglot.safetensors")), "the data must end exactly at the end of the file");
    write("hostile.gguf", "GGUF" + tf::le32(3) + tf::le64(1ull << 50) + tf::le64(1ull << 50));
    expect_bad_input(run(path("hostile.gguf")), "more than the file's 24 bytes can hold");
    write("bad-index/model.safetensors.index.json", R"({"weight_map": {"a": "../../etc/passwd"}})");
    expect_bad_input(run(path("bad-index")), "is not a plain file name in the index's folder");
    fs::create_directories(dir_ / "empty");
    expect_bad_input(run(path("empty")), "folder holds no .safetensors");
    write("bad-config/config.json", "{\"model_type\": \"llama\"}");
    write("bad-config/model.safetensors", safetensors_of(tiny_tensors()).bytes());
    expect_bad_input(run(path("bad-config")), "missing required key hidden_size");
}

TEST_F(inspect_cli, usage) {
    expect_bad_input(run(""), "inspect needs a PATH");
    expect_bad_input(run("a b"), "more than one PATH given (a, b)");
    expect_bad_input(run("a --bogus"), "unknown option --bogus");
    expect_bad_input(run("a --config"), "--config needs a value");
    run_result help = run("--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_HAS(help.out, "usage: modelplan inspect PATH [--config MODEL] [--json]");
}

// A full-size checkpoint as a sparse file: SmolLM2-135M's 134,515,008 BF16 parameters (published, see
// tests/core/published-counts.cpp) take 269 MB that are never written nor read; only the header is.
TEST_F(inspect_cli, full_size_sparse_checkpoint_reads_only_the_header) {
    // SmolLM2-135M's published config: hidden 576, intermediate 1536, 9 heads and 3 KV heads of 64, 30
    // layers, vocabulary 49152, tied embeddings.
    std::vector<tensor> t = {
        {"model.embed_tokens.weight", {49152, 576}}
    };
    for (int l = 0; l < 30; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        t.push_back({
            p + "self_attn.q_proj.weight", {576, 576}
        });
        t.push_back({
            p + "self_attn.k_proj.weight", {192, 576}
        });
        t.push_back({
            p + "self_attn.v_proj.weight", {192, 576}
        });
        t.push_back({
            p + "self_attn.o_proj.weight", {576, 576}
        });
        t.push_back({
            p + "mlp.gate_proj.weight", {1536, 576}
        });
        t.push_back({
            p + "mlp.up_proj.weight", {1536, 576}
        });
        t.push_back({
            p + "mlp.down_proj.weight", {576, 1536}
        });
        t.push_back({p + "input_layernorm.weight", {576}});
        t.push_back({p + "post_attention_layernorm.weight", {576}});
    }
    t.push_back({"model.norm.weight", {576}});
    tf::safetensors_file f = safetensors_of(t);
    fs::path file = write("model.safetensors", f.header_bytes());
    fs::resize_file(file, f.file_size());
    run_result r = run(file.string() + " --config smollm2-135m --json");
    ASSERT_EQ(r.status, 0) << r.err;
    rapidjson::Document d = json(r);
    EXPECT_EQ(d["params"]["total"].GetUint64(), 134'515'008ULL);
    EXPECT_EQ(d["bytes"].GetUint64(), 2 * 134'515'008ULL);
    EXPECT_TRUE(d["verify"]["ok"].GetBool());
}

} // namespace
