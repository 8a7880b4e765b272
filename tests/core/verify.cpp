// Checkpoint versus skeleton. Checkpoints are safetensors headers written by
// tests/support/checkpoint-writer.h with a preset's tensor names and shapes; only the header bytes exist in
// memory, the file size includes the data (the parser works from a prefix), so full-size models cost nothing.
// Published figures used: Llama-3.1-8B has 8,030,261,248 parameters (Meta; tests/core/published-counts.cpp),
// hidden size 4096 and intermediate size 14336 (its config.json); Llama-3.2-1B ties its head to the
// embedding.
#include <algorithm>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/safetensors.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

using test_files::safetensors_file;

// One stored tensor: name, dtype, shape.
struct stored {
    std::string name, dtype;
    std::vector<uint64_t> shape;
};

std::vector<stored> tensors_of(const skeleton& sk) {
    std::vector<stored> out;
    for (const auto& t : sk.tensors) out.push_back({t.name, dtype_name(t.type), t.shape});
    return out;
}

checkpoint checkpoint_of(const std::vector<stored>& tensors) {
    safetensors_file f;
    for (const auto& t : tensors) f.add(t.name, t.dtype, t.shape);
    std::string header = f.header_bytes();
    auto r = parse_safetensors_header(header, f.file_size(), "model.safetensors");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    if (!r.ok() || !r->parsed) return {};
    return *r->parsed;
}

inspection inspect_against(const std::string& preset, const std::vector<stored>& tensors) {
    auto in = inspect("model.safetensors", checkpoint_of(tensors), analyze_preset(preset), "--config");
    EXPECT_TRUE(in.ok());
    return in.ok() ? std::move(*in) : inspection{};
}

std::vector<stored> without(std::vector<stored> tensors, const std::string& name) {
    tensors.erase(
        std::remove_if(tensors.begin(), tensors.end(), [&](const stored& t) { return t.name == name; }),
        tensors.end());
    return tensors;
}

std::vector<stored> renamed(std::vector<stored> tensors, const std::string& from, const std::string& to) {
    for (auto& t : tensors)
        if (t.name.compare(0, from.size(), from) == 0) t.name = to + t.name.substr(from.size());
    return tensors;
}

TEST(verify, llama_3_1_8b_checkpoint_from_headers_alone) {
    analysis a = analyze_preset("llama-3.1-8b");
    inspection in = inspect_against("llama-3.1-8b", tensors_of(a.sk));
    ASSERT_TRUE(in.verify);
    EXPECT_TRUE(in.verify->ok);
    EXPECT_EQ(in.verify->matched, a.sk.tensors.size());
    EXPECT_EQ(in.view.totals.params, 8'030'261'248ULL);    // Meta's published count
    EXPECT_EQ(in.view.totals.bytes, 2 * 8'030'261'248ULL); // BF16: 2 bytes each
    EXPECT_EQ(in.verify->found_params, in.verify->expected_params);
    ASSERT_EQ(in.view.totals.params_by_dtype.size(), 1u);
    EXPECT_EQ(in.view.totals.params_by_dtype[0].first, "BF16");
}

TEST(verify, missing_tensor) {
    analysis a = analyze_preset("llama-3.1-8b");
    inspection in =
        inspect_against("llama-3.1-8b", without(tensors_of(a.sk), "model.layers.3.mlp.up_proj.weight"));
    ASSERT_TRUE(in.verify);
    EXPECT_FALSE(in.verify->ok);
    ASSERT_EQ(in.verify->missing.size(), 1u);
    EXPECT_EQ(in.verify->missing[0].name, "model.layers.3.mlp.up_proj.weight");
    EXPECT_EQ(in.verify->missing[0].shape, (std::vector<uint64_t>{14336, 4096}));
    EXPECT_EQ(in.verify->missing[0].dtype, "BF16");
    EXPECT_TRUE(in.verify->unexpected.empty());
    EXPECT_EQ(in.verify->expected_params - in.verify->found_params, 14336ULL * 4096);
}

// The load error this project exists to prevent: "size mismatch for model.layers.3.mlp.up_proj.weight".
TEST(verify, shape_mismatch) {
    analysis a = analyze_preset("llama-3.1-8b");
    std::vector<stored> tensors = tensors_of(a.sk);
    for (auto& t : tensors)
        if (t.name == "model.layers.3.mlp.up_proj.weight") t.shape = {14336, 4095};
    inspection in = inspect_against("llama-3.1-8b", tensors);
    ASSERT_TRUE(in.verify);
    EXPECT_FALSE(in.verify->ok);
    ASSERT_EQ(in.verify->mismatched.size(), 1u);
    const verify_mismatch& m = in.verify->mismatched[0];
    EXPECT_EQ(m.name, "model.layers.3.mlp.up_proj.weight");
    EXPECT_EQ(m.expected, (std::vector<uint64_t>{14336, 4096}));
    EXPECT_EQ(m.actual, (std::vector<uint64_t>{14336, 4095}));
    EXPECT_TRUE(in.verify->missing.empty());
}

TEST(verify, unexpected_tensor_and_all_problems_at_once) {
    analysis a = analyze_preset("llama-3.2-1b");
    std::vector<stored> tensors = without(tensors_of(a.sk), "model.norm.weight");
    tensors.push_back({"model.layers.0.mlp.extra.weight", "BF16", {4}});
    tensors[1].shape = {1, 1};
    inspection in = inspect_against("llama-3.2-1b", tensors);
    ASSERT_TRUE(in.verify);
    EXPECT_FALSE(in.verify->ok);
    ASSERT_EQ(in.verify->missing.size(), 1u);
    EXPECT_EQ(in.verify->missing[0].name, "model.norm.weight");
    ASSERT_EQ(in.verify->unexpected.size(), 1u);
    EXPECT_EQ(in.verify->unexpected[0].name, "model.layers.0.mlp.extra.weight");
    EXPECT_EQ(in.verify->unexpected[0].file, "model.safetensors");
    ASSERT_EQ(in.verify->mismatched.size(), 1u);
    EXPECT_EQ(in.verify->mismatched[0].name, tensors[1].name);
}

// A base-model state_dict (LlamaModel) has no "model." prefix: the report suggests the renaming.
TEST(verify, prefix_suggestion_model_vs_none) {
    analysis a = analyze_preset("llama-3.2-1b");
    inspection in = inspect_against("llama-3.2-1b", renamed(tensors_of(a.sk), "model.", ""));
    ASSERT_TRUE(in.verify);
    EXPECT_FALSE(in.verify->ok);
    ASSERT_FALSE(in.verify->suggestions.empty());
    const prefix_suggestion& s = in.verify->suggestions[0];
    EXPECT_EQ(s.checkpoint_prefix, "");
    EXPECT_EQ(s.skeleton_prefix, "model.");
    EXPECT_EQ(s.count, a.sk.tensors.size()); // Llama-3.2-1B is tied: every stored name starts with "model."
    EXPECT_EQ(s.example_skeleton, "model." + s.example_checkpoint);
}

TEST(verify, prefix_suggestion_transformer_vs_model) {
    analysis a = analyze_preset("llama-3.1-8b");
    inspection in = inspect_against("llama-3.1-8b", renamed(tensors_of(a.sk), "model.", "transformer."));
    ASSERT_TRUE(in.verify);
    ASSERT_FALSE(in.verify->suggestions.empty());
    const prefix_suggestion& s = in.verify->suggestions[0];
    EXPECT_EQ(s.checkpoint_prefix, "transformer.");
    EXPECT_EQ(s.skeleton_prefix, "model.");
    EXPECT_EQ(s.count, a.sk.tensors.size() - 1); // all but lm_head.weight
}

// Llama-3.2-1B ties lm_head.weight to the embedding: a checkpoint may store it or not.
TEST(verify, tied_head_present_or_absent) {
    analysis a = analyze_preset("llama-3.2-1b");
    inspection absent = inspect_against("llama-3.2-1b", tensors_of(a.sk));
    ASSERT_TRUE(absent.verify);
    EXPECT_TRUE(absent.verify->ok);
    EXPECT_TRUE(absent.verify->aliases_present.empty());

    std::vector<stored> with_head = tensors_of(a.sk);
    with_head.push_back({"lm_head.weight", "BF16", a.sk.tensors.front().shape});
    inspection present = inspect_against("llama-3.2-1b", with_head);
    ASSERT_TRUE(present.verify);
    EXPECT_TRUE(present.verify->ok);
    EXPECT_EQ(present.verify->aliases_present, std::vector<std::string>{"lm_head.weight"});

    with_head.back().shape = {5, 5};
    inspection wrong = inspect_against("llama-3.2-1b", with_head);
    ASSERT_TRUE(wrong.verify);
    EXPECT_FALSE(wrong.verify->ok);
    ASSERT_EQ(wrong.verify->mismatched.size(), 1u);
    EXPECT_EQ(wrong.verify->mismatched[0].name, "lm_head.weight");
}

TEST(verify, untied_head_must_be_stored) {
    analysis a = analyze_preset("llama-3.1-8b");
    inspection in = inspect_against("llama-3.1-8b", without(tensors_of(a.sk), "lm_head.weight"));
    ASSERT_TRUE(in.verify);
    ASSERT_EQ(in.verify->missing.size(), 1u);
    EXPECT_EQ(in.verify->missing[0].name, "lm_head.weight");
}

// Checkpoints converted with older transformers store rotary inv_freq per layer (head_dim / 2 = 64 for 128).
TEST(verify, rotary_buffers_are_not_parameters) {
    analysis a = analyze_preset("llama-2-7b");
    std::vector<stored> tensors = tensors_of(a.sk);
    for (int l = 0; l < 32; ++l)
        tensors.push_back(
            {"model.layers." + std::to_string(l) + ".self_attn.rotary_emb.inv_freq", "F32", {64}});
    inspection in = inspect_against("llama-2-7b", tensors);
    ASSERT_TRUE(in.verify);
    EXPECT_TRUE(in.verify->ok);
    EXPECT_EQ(in.verify->buffers_present, 32u);
    EXPECT_EQ(in.view.totals.params, 6'738'415'616ULL); // keras-hub llama2_7b_en (published-counts.cpp)
    EXPECT_EQ(in.view.totals.buffer_elements, 32u * 64);

    tensors.back().shape = {65};
    inspection wrong = inspect_against("llama-2-7b", tensors);
    ASSERT_TRUE(wrong.verify);
    ASSERT_EQ(wrong.verify->mismatched.size(), 1u);
    EXPECT_EQ(wrong.verify->mismatched[0].name, "model.layers.31.self_attn.rotary_emb.inv_freq");
}

// from_pretrained casts stored dtypes to torch_dtype: reported, not a failure.
TEST(verify, dtype_differences_do_not_fail) {
    analysis a = analyze_preset("llama-3.2-1b");
    std::vector<stored> tensors = tensors_of(a.sk);
    tensors[0].dtype = "F32";
    inspection in = inspect_against("llama-3.2-1b", tensors);
    ASSERT_TRUE(in.verify);
    EXPECT_TRUE(in.verify->ok);
    ASSERT_EQ(in.verify->dtype_differences.size(), 1u);
    EXPECT_EQ(in.verify->dtype_differences[0].name, tensors[0].name);
    EXPECT_EQ(in.verify->dtype_differences[0].expected, "BF16");
    EXPECT_EQ(in.verify->dtype_differences[0].actual, "F32");
}

TEST(verify, no_model_no_verification) {
    auto in = inspect("x.safetensors",
                      checkpoint_of({
                          {"a", "F16", {2, 3}}
    }),
                      std::nullopt, "");
    ASSERT_TRUE(in.ok());
    EXPECT_FALSE(in->verify);
    EXPECT_EQ(in->view.totals.params, 6u);
    EXPECT_EQ(in->view.totals.bytes, 12u);
}

// docs/json.md "inspect": the keys and their types.
TEST(inspect_json, stable_keys) {
    analysis a = analyze_preset("llama-3.2-1b");
    std::vector<stored> tensors = without(tensors_of(a.sk), "model.norm.weight");
    tensors[1].shape = {1, 1};
    tensors.push_back({"extra", "U8", {3}});
    std::string text = inspect_json(inspect_against("llama-3.2-1b", tensors));
    rapidjson::Document d;
    d.Parse(text.c_str());
    ASSERT_FALSE(d.HasParseError()) << text.substr(0, 200);
    EXPECT_STREQ(d["format"].GetString(), "safetensors");
    EXPECT_EQ(d["files"][0]["size"].GetUint64(),
              d["files"][0]["header_bytes"].GetUint64() + d["bytes"].GetUint64());
    const auto& t0 = d["tensors"][0];
    EXPECT_STREQ(t0["name"].GetString(), "model.embed_tokens.weight");
    EXPECT_EQ(t0["shape"][0].GetUint64(), 128256u); // Llama-3.2-1B vocab_size
    EXPECT_STREQ(t0["dtype"].GetString(), "BF16");
    EXPECT_STREQ(t0["file"].GetString(), "model.safetensors");
    EXPECT_EQ(t0["offsets"][0].GetUint64(), d["files"][0]["header_bytes"].GetUint64());
    EXPECT_EQ(t0["offsets"][1].GetUint64() - t0["offsets"][0].GetUint64(), 128256u * 2048 * 2);
    EXPECT_TRUE(d["params"]["total"].IsUint64());
    EXPECT_TRUE(d["quantized"].IsArray());
    EXPECT_TRUE(d["warnings"].IsArray());
    EXPECT_STREQ(d["model"]["name"].GetString(), "llama-3.2-1b");
    EXPECT_EQ(d["model"]["params"].GetUint64(), 1'235'814'400ULL);
    const auto& v = d["verify"];
    EXPECT_FALSE(v["ok"].GetBool());
    EXPECT_STREQ(v["missing"][0]["name"].GetString(), "model.norm.weight");
    EXPECT_EQ(v["missing"][0]["shape"][0].GetUint64(), 2048u);
    EXPECT_STREQ(v["unexpected"][0]["name"].GetString(), "extra");
    EXPECT_TRUE(v["unexpected"][0]["stored"].IsNull());
    EXPECT_STREQ(v["mismatched"][0]["name"].GetString(), tensors[1].name.c_str());
    EXPECT_EQ(v["mismatched"][0]["actual"].Size(), 2u);
    EXPECT_EQ(v["params"]["expected"].GetUint64(), 1'235'814'400ULL);
    EXPECT_TRUE(v["suggestions"].IsArray());

    auto none = inspect("x.safetensors",
                        checkpoint_of({
                            {"a", "F16", {2}}
    }),
                        std::nullopt, "");
    ASSERT_TRUE(none.ok());
    rapidjson::Document n;
    n.Parse(inspect_json(*none).c_str());
    EXPECT_TRUE(n["verify"].IsNull());
    EXPECT_TRUE(n["model"].IsNull());
}

// Strings that are not UTF-8 (GGUF does not check) come out as valid JSON.
TEST(inspect_json, invalid_utf8_is_replaced) {
    checkpoint ck = checkpoint_of({
        {"a", "F16", {2}}
    });
    ck.metadata.push_back({"k", std::string("bad \xff byte")});
    auto in = inspect("x", ck, std::nullopt, "");
    ASSERT_TRUE(in.ok());
    std::string text = inspect_json(*in);
    EXPECT_NE(text.find("bad \xEF\xBF\xBD byte"), std::string::npos);
    EXPECT_TRUE(valid_utf8(text));
}

} // namespace
} // namespace modelplan::test
