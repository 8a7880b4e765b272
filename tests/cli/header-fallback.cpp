// The commands on a model whose model_type has no family table (docs/checkpoints.md, "Models without a
// family"): params, skeleton, plan, fit and place read it from the checkpoint headers beside its config.json
// (a folder of shards with an index, one .safetensors file, or a GGUF file); a config alone is an error that
// says what to add. The checkpoints are written here for an invented model_type ("zorblax"): the expected
// counts and bytes are the sums of what the test wrote, the KV cache the generic formula worked out by hand.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "../support/checkpoint-writer.h"
#include "cli-fixture.h"

namespace {

using namespace modelplan::test;
namespace tf = modelplan::test_files;

// hidden 64, 4 heads of 16 with 2 key/value heads, FFN 96, vocabulary 128, 2 layers.
const char* zorblax_config = R"({"model_type": "zorblax", "architectures": ["ZorblaxForCausalLM"],
    "torch_dtype": "bfloat16", "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "hidden_size": 64, "intermediate_size": 96, "vocab_size": 128, "max_position_embeddings": 4096})";

struct written {
    std::vector<tf::safetensors_file> shards{1};
    std::vector<std::string> names;
    uint64_t elements = 0, bytes = 0;
    void add(size_t shard, const std::string& name, const std::string& dtype, std::vector<uint64_t> shape) {
        if (shards.size() <= shard) shards.resize(shard + 1);
        uint64_t n = 1;
        for (uint64_t d : shape) n *= d;
        elements += n;
        bytes += n * tf::safetensors_bits(dtype) / 8;
        names.push_back(name);
        shards[shard].add(name, dtype, std::move(shape));
    }
};

// The model in `shard_count` shards (layer l in shard l % shard_count), with a parameter no family has.
written zorblax(size_t shard_count) {
    written w;
    w.add(0, "model.embed_tokens.weight", "BF16", {128, 64});
    for (int l = 0; l < 2; ++l) {
        size_t s = static_cast<size_t>(l) % shard_count;
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(s, p + "input_layernorm.weight", "F32", {64});
        w.add(s, p + "self_attn.q_proj.weight", "BF16", {64, 64});
        w.add(s, p + "self_attn.k_proj.weight", "BF16", {32, 64});
        w.add(s, p + "self_attn.v_proj.weight", "BF16", {32, 64});
        w.add(s, p + "self_attn.o_proj.weight", "BF16", {64, 64});
        w.add(s, p + "zorb_mixer.lambda_q", "F32", {4});
        w.add(s, p + "post_attention_layernorm.weight", "F32", {64});
        w.add(s, p + "mlp.gate_proj.weight", "BF16", {96, 64});
        w.add(s, p + "mlp.up_proj.weight", "BF16", {96, 64});
        w.add(s, p + "mlp.down_proj.weight", "BF16", {64, 96});
    }
    w.add(shard_count - 1, "model.norm.weight", "F32", {64});
    w.add(shard_count - 1, "lm_head.weight", "BF16", {128, 64});
    return w;
}

class header_fallback_cli : public cli_fixture {
  protected:
    // A folder with config.json and the model in one file, or in shards with their index.
    std::string write_model(const std::string& folder, size_t shard_count) {
        model_ = zorblax(shard_count);
        write(folder + "/config.json", zorblax_config);
        if (shard_count == 1) {
            write(folder + "/model.safetensors", model_.shards[0].bytes());
            return path(folder);
        }
        std::string map;
        for (size_t s = 0; s < shard_count; ++s) {
            std::string shard = "model-0000" + std::to_string(s + 1) + "-of-0000" +
                                std::to_string(shard_count) + ".safetensors";
            write(folder + "/" + shard, model_.shards[s].bytes());
            for (const auto& t : model_.shards[s].tensors)
                map += (map.empty() ? "\"" : ", \"") + t.name + "\": \"" + shard + "\"";
        }
        write(folder + "/model.safetensors.index.json", R"({"metadata": {"total_size": )" +
                                                            std::to_string(model_.bytes) +
                                                            R"(}, "weight_map": {)" + map + "}}");
        return path(folder);
    }
    written model_;
};

const rapidjson::Value* item(const rapidjson::Document& d, const char* name) {
    for (const auto& i : d["plan"]["items"].GetArray())
        if (std::string(i["name"].GetString()) == name) return &i;
    return nullptr;
}

// --checkpoint-weights (docs/checkpoints.md, "A family's weights from its checkpoint"): a Llama of the same
// widths as transformers' LlamaForCausalLM names its tensors, its norms stored in F32 while the config says
// bfloat16.
TEST_F(header_fallback_cli, checkpoint_weights_are_the_bytes_the_folder_stores) {
    written w;
    w.add(0, "model.embed_tokens.weight", "BF16", {128, 64});
    for (int l = 0; l < 2; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(0, p + "input_layernorm.weight", "F32", {64});
        w.add(0, p + "self_attn.q_proj.weight", "BF16", {64, 64});
        w.add(0, p + "self_attn.k_proj.weight", "BF16", {32, 64});
        w.add(0, p + "self_attn.v_proj.weight", "BF16", {32, 64});
        w.add(0, p + "self_attn.o_proj.weight", "BF16", {64, 64});
        w.add(0, p + "post_attention_layernorm.weight", "F32", {64});
        w.add(0, p + "mlp.gate_proj.weight", "BF16", {96, 64});
        w.add(0, p + "mlp.up_proj.weight", "BF16", {96, 64});
        w.add(0, p + "mlp.down_proj.weight", "BF16", {64, 96});
    }
    w.add(0, "model.norm.weight", "F32", {64});
    w.add(0, "lm_head.weight", "BF16", {128, 64});
    write("llama/config.json", R"({"model_type": "llama", "architectures": ["LlamaForCausalLM"],
        "torch_dtype": "bfloat16", "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
        "hidden_size": 64, "intermediate_size": 96, "vocab_size": 128, "max_position_embeddings": 4096,
        "tie_word_embeddings": false})");
    write("llama/model.safetensors", w.shards[0].bytes());
    auto family = run("plan " + path("llama") + " --json");
    ASSERT_EQ(family.status, 0) << family.err;
    EXPECT_EQ((*item(json(family), "weights"))["bytes"].GetUint64(),
              w.elements * 2); // bfloat16: 2 bytes each
    auto stored = run("plan " + path("llama") + " --checkpoint-weights --json");
    ASSERT_EQ(stored.status, 0) << stored.err;
    EXPECT_EQ((*item(json(stored), "weights"))["bytes"].GetUint64(), w.bytes);
    EXPECT_GT(w.bytes, w.elements * 2);
    // A preset has no checkpoint beside it.
    auto preset = run("plan llama-3.1-8b --checkpoint-weights");
    EXPECT_EQ(preset.status, 2);
    EXPECT_NE(preset.err.find("--checkpoint-weights: llama-3.1-8b has no checkpoint beside it"),
              std::string::npos)
        << preset.err;
}

TEST_F(header_fallback_cli, params_of_a_folder_with_shards_and_index) {
    std::string dir = write_model("zorblax", 2);
    auto r = run("params " + dir + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.err, "");
    auto d = json(r);
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    EXPECT_STREQ(d["model_type"].GetString(), "zorblax");
    EXPECT_EQ(d["params"]["total"].GetUint64(), model_.elements);
    EXPECT_EQ(d["weight_bytes"].GetUint64(), model_.bytes);
    EXPECT_EQ(d["tensors"].GetUint64(), model_.names.size());
    EXPECT_GE(d["generic"].Size(), 5u);
    // The table says it too.
    auto text = run("params " + dir);
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_NE(text.out.find("read from checkpoint headers"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("generic parts"), std::string::npos) << text.out;
    EXPECT_NE(text.out.find("  kv_cache: estimated from the generic keys"), std::string::npos) << text.out;
}

TEST_F(header_fallback_cli, skeleton_lists_the_names_as_stored) {
    std::string dir = write_model("zorblax", 1);
    auto r = run("skeleton " + dir + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    ASSERT_EQ(d["tensors"].Size(), model_.names.size());
    for (rapidjson::SizeType i = 0; i < d["tensors"].Size(); ++i)
        EXPECT_EQ(d["tensors"][i]["name"].GetString(), model_.names[i]);
    auto summary = run("skeleton " + dir + " --summary");
    ASSERT_EQ(summary.status, 0) << summary.err;
    EXPECT_NE(summary.out.find("model.layers.{layer}.zorb_mixer.lambda_q"), std::string::npos) << summary.out;
    EXPECT_NE(summary.out.find("unclassified"), std::string::npos) << summary.out;
}

TEST_F(header_fallback_cli, plan_notes_each_estimated_item) {
    std::string dir = write_model("zorblax", 2);
    auto r = run("plan " + dir + " --seq 1000 --batch 3 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    // 2 x 2 KV heads x 16 x 2 bytes (bf16) per token and layer; 2 layers, 1000 tokens, 3 sequences.
    EXPECT_EQ((*item(d, "kv_cache"))["bytes"].GetUint64(), 2u * 2 * 16 * 2 * 2 * 1000 * 3);
    EXPECT_EQ((*item(d, "weights"))["bytes"].GetUint64(), model_.bytes);
    EXPECT_TRUE(item(d, "kv_cache")->HasMember("note"));
    EXPECT_TRUE(item(d, "activations")->HasMember("note"));
    auto text = run("plan " + dir);
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_NE(text.out.find("  note: estimated from the generic keys"), std::string::npos) << text.out;
}

TEST_F(header_fallback_cli, fit_and_place_accept_the_folder) {
    std::string dir = write_model("zorblax", 1);
    auto fit = run("fit " + dir + " --gpu rtx-4090 --json");
    ASSERT_EQ(fit.status, 0) << fit.err;
    EXPECT_STREQ(json(fit)["source"].GetString(), "checkpoint headers");
    auto place = run("place " + dir + " --gpu rtx-4090 --gpus 2 --json");
    ASSERT_EQ(place.status, 0) << place.err;
    auto d = json(place);
    EXPECT_TRUE(d["fits"].GetBool());
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    uint64_t weights = 0;
    for (const auto& dev : d["devices"].GetArray())
        for (const auto& i : dev["items"].GetArray())
            if (std::string(i["name"].GetString()) == "weights") weights += i["bytes"].GetUint64();
    EXPECT_EQ(weights, model_.bytes);
    auto tp = run("place " + dir + " --gpu rtx-4090 --tp 2 --json");
    ASSERT_EQ(tp.status, 0) << tp.err;
    EXPECT_STREQ(json(tp)["source"].GetString(), "checkpoint headers");
}

TEST_F(header_fallback_cli, a_gguf_file_of_an_unknown_architecture) {
    tf::gguf_file f;
    f.kv_str("general.architecture", "zorb")
        .kv_u32("zorb.block_count", 1)
        .kv_u32("zorb.attention.head_count", 2)
        .kv_u32("zorb.attention.key_length", 32)
        .kv_u32("zorb.embedding_length", 64);
    f.tensor("token_embd.weight", {64, 50}, tf::ggml_f16)
        .tensor("blk.0.attn_q.weight", {64, 64}, tf::ggml_q8_0)
        .tensor("output.weight", {64, 50}, tf::ggml_q8_0);
    write("zorb.gguf", f.bytes());
    auto r = run("plan " + path("zorb.gguf") + " --seq 10 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    // token_embd F16: 3,200 x 2; attn_q and output Q8_0: 34 bytes per 32 values.
    EXPECT_EQ((*item(d, "weights"))["bytes"].GetUint64(),
              50u * 64 * 2 + 64 * 64 / 32 * 34 + 50 * 64 / 32 * 34);
    // 2 x 2 heads (no head_count_kv) x 32 x 2 bytes (F16) x 10 tokens, one layer.
    EXPECT_EQ((*item(d, "kv_cache"))["bytes"].GetUint64(), 2u * 2 * 32 * 2 * 10);
}

// serve --engine llama.cpp on a GGUF file: llama-server's layer rule applied to the file's own tensors. With
// -ngl 1 of 2 blocks, blk.1 goes to the GPU and blk.0, the embedding and the output stay in host memory; with
// every layer (-ngl 3: 2 blocks and the output) only the embedding stays. Sizes from the types written here.
TEST_F(header_fallback_cli, llamacpp_places_a_gguf_files_tensors_by_layer) {
    tf::gguf_file f;
    f.kv_str("general.architecture", "zorb")
        .kv_u32("zorb.block_count", 2)
        .kv_u32("zorb.attention.head_count", 2)
        .kv_u32("zorb.attention.key_length", 32)
        .kv_u32("zorb.embedding_length", 64);
    f.tensor("token_embd.weight", {64, 50}, tf::ggml_f16)
        .tensor("blk.0.attn_q.weight", {64, 64}, tf::ggml_q8_0)
        .tensor("blk.1.attn_q.weight", {64, 64}, tf::ggml_f16)
        .tensor("output.weight", {64, 50}, tf::ggml_q8_0);
    write("zorb2.gguf", f.bytes());
    const uint64_t embd = 50 * 64 * 2, blk0 = 64 * 64 / 32 * 34, blk1 = 64 * 64 * 2, out = 50 * 64 / 32 * 34;
    auto one =
        run("serve " + path("zorb2.gguf") + " --engine llama.cpp --gpu rtx-4090 -ngl 1 -c 256 -np 1 --json");
    ASSERT_EQ(one.status, 0) << one.err;
    auto d = json(one);
    EXPECT_EQ(d["ranks"][0]["weights_bytes"].GetUint64(), blk1);
    EXPECT_EQ(d["knobs"]["host_weights_bytes"].GetUint64(), embd + blk0 + out);
    // One layer's cache each side: 2 heads x 32 x (K + V) x 2 bytes (f16) x 256 cells.
    EXPECT_EQ(d["ranks"][0]["kv_cache_bytes"].GetUint64(), 2u * 32 * 2 * 2 * 256);
    EXPECT_EQ(d["knobs"]["host_kv_bytes"].GetUint64(), 2u * 32 * 2 * 2 * 256);
    auto all =
        run("serve " + path("zorb2.gguf") + " --engine llama.cpp --gpu rtx-4090 -ngl 3 -c 256 -np 1 --json");
    ASSERT_EQ(all.status, 0) << all.err;
    auto e = json(all);
    EXPECT_EQ(e["ranks"][0]["weights_bytes"].GetUint64(), blk0 + blk1 + out);
    EXPECT_EQ(e["knobs"]["host_weights_bytes"].GetUint64(), embd);
    EXPECT_NE(std::string(e["command"].GetString()).find("llama-server -m " + path("zorb2.gguf")),
              std::string::npos);
    expect_bad_input(
        run("serve " + path("zorb2.gguf") + " --engine llama.cpp --gpu rtx-4090 --quant q4_k_m -c 256"),
        "--quant");
}

TEST_F(header_fallback_cli, config_alone_says_what_to_add) {
    write("alone/config.json", zorblax_config);
    for (const char* command : {"params", "plan", "place"}) {
        auto r = run(std::string(command) + " " + path("alone"));
        expect_bad_input(r, "unknown model_type \"zorblax\"");
        EXPECT_NE(r.err.find("add its checkpoint's headers"), std::string::npos) << r.err;
    }
    auto file = run("params " + path("alone/config.json"));
    expect_bad_input(file, "model.safetensors.index.json with its shards");
}

TEST_F(header_fallback_cli, inspect_lists_a_checkpoint_whose_config_has_no_family) {
    std::string dir = write_model("zorblax", 1);
    auto r = run("inspect " + dir + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_TRUE(d["verify"].IsNull());
    bool said = false;
    for (const auto& w : d["warnings"].GetArray())
        said = said || std::string(w.GetString()).find("not verified") != std::string::npos;
    EXPECT_TRUE(said) << r.out.substr(0, 400);
}

// A hybrid of an invented model_type laid out as Granite 4.0-H checkpoints name their Mamba-2 layers
// (model.layers.{i}.mamba.*; models/SOURCES-SSM.md), shapes as transformers' Mamba2Mixer makes them: 4 heads
// of 16 (d_inner 64), n_groups 1, d_state 8, conv_dim 64 + 2 x 1 x 8 = 80, d_conv 4. Layer 0 Mamba, layer 1
// attention.
TEST_F(header_fallback_cli, plan_of_a_hybrid_estimates_its_recurrent_state) {
    tf::safetensors_file f;
    f.add("model.embed_tokens.weight", "BF16", {128, 64});
    f.add("model.layers.0.mamba.in_proj.weight", "BF16", {64 + 80 + 4, 64});
    f.add("model.layers.0.mamba.conv1d.weight", "BF16", {80, 1, 4});
    f.add("model.layers.0.mamba.conv1d.bias", "BF16", {80});
    f.add("model.layers.0.mamba.dt_bias", "F32", {4});
    f.add("model.layers.0.mamba.A_log", "F32", {4});
    f.add("model.layers.0.mamba.D", "F32", {4});
    f.add("model.layers.0.mamba.norm.weight", "F32", {64});
    f.add("model.layers.0.mamba.out_proj.weight", "BF16", {64, 64});
    f.add("model.layers.1.self_attn.q_proj.weight", "BF16", {64, 64});
    f.add("model.layers.1.self_attn.k_proj.weight", "BF16", {32, 64});
    f.add("model.layers.1.self_attn.v_proj.weight", "BF16", {32, 64});
    f.add("model.layers.1.self_attn.o_proj.weight", "BF16", {64, 64});
    f.add("model.norm.weight", "F32", {64});
    write("hybrid/model.safetensors", f.bytes());
    write("hybrid/config.json", R"({"model_type": "zorblax_h", "torch_dtype": "bfloat16",
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
        "layer_types": ["mamba", "attention"], "mamba_d_state": 8, "mamba_d_head": 16})");
    auto r = run("plan " + path("hybrid") + " --seq 100 --batch 3 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    // docs/memory.md, per Mamba layer and sequence: (conv_kernel - 1) x conv channels x 2 bytes (bf16) +
    // heads x head_dim x d_state x 2 bytes = 3 x 80 x 2 + 4 x 16 x 8 x 2 = 480 + 1,024 = 1,504; 3 sequences.
    const auto* state = item(d, "recurrent_state");
    ASSERT_NE(state, nullptr) << r.out;
    EXPECT_EQ((*state)["bytes"].GetUint64(), 1504u * 3);
    EXPECT_NE(std::string((*state)["note"].GetString()).find("mamba_d_state 8"), std::string::npos);
    // KV only in layer 1: 2 x 2 KV heads x 16 x 2 bytes x 100 tokens x 3 sequences.
    EXPECT_EQ((*item(d, "kv_cache"))["bytes"].GetUint64(), 2u * 2 * 16 * 2 * 100 * 3);
    auto text = run("plan " + path("hybrid"));
    ASSERT_EQ(text.status, 0) << text.err;
    EXPECT_NE(text.out.find("  note: estimated for the 1 layer with a Mamba (mixer./mamba.) mixer"),
              std::string::npos)
        << text.out;
}

} // namespace
