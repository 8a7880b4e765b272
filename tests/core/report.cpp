// The JSON API that the wasm module exposes: requests in, stable JSON out, errors as objects.
#include "test-util.h"

#include <map>
#include <string>

namespace modelplan::test {
namespace {

rapidjson::Document parse(const std::string& text) {
    rapidjson::Document d;
    d.Parse(text.c_str());
    EXPECT_FALSE(d.HasParseError()) << text.substr(0, 200);
    return d;
}

TEST(report, params_request_by_preset_name) {
    rapidjson::Document d = parse(handle_request("params", R"({"model": "mixtral-8x7b-v0.1"})"));
    ASSERT_TRUE(d.IsObject());
    EXPECT_STREQ(d["model"].GetString(), "mixtral-8x7b-v0.1");
    EXPECT_STREQ(d["model_type"].GetString(), "mixtral");
    EXPECT_STREQ(d["architecture"].GetString(), "MixtralForCausalLM");
    EXPECT_EQ(d["params"]["total"].GetUint64(),
              46'702'792'704ULL); // published total (see published-counts.cpp)
    EXPECT_TRUE(d["params"]["by_role"].HasMember("ffn_router"));
    EXPECT_EQ(d["params"]["by_layer"].Size(), 32u);
}

TEST(report, config_given_inline_as_object_or_text) {
    std::string text = preset_config("llama-3.2-1b");
    rapidjson::Document as_text = parse(handle_request(
        "params", "{\"config\": " + [&] {
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            w.String(text.c_str());
            return std::string(sb.GetString());
        }() + ", \"name\": \"mine\"}"));
    rapidjson::Document as_object = parse(handle_request("params", "{\"config\": " + text + "}"));
    EXPECT_STREQ(as_text["model"].GetString(), "mine");
    EXPECT_STREQ(as_object["model"].GetString(), "config.json");
    EXPECT_EQ(as_text["params"]["total"].GetUint64(), 1'235'814'400ULL); // published total
    EXPECT_EQ(as_object["params"]["total"].GetUint64(), 1'235'814'400ULL);
}

TEST(report, skeleton_json_shape) {
    rapidjson::Document d =
        parse(handle_request("skeleton", R"({"model": "llama-3.2-1b", "dtype": "fp16"})"));
    ASSERT_TRUE(d["tensors"].IsArray());
    const auto& first = d["tensors"][0];
    EXPECT_STREQ(first["name"].GetString(), "model.embed_tokens.weight");
    EXPECT_EQ(first["shape"][0].GetUint64(), 128256u); // vocab_size of the published config
    EXPECT_STREQ(first["dtype"].GetString(), "F16");
    EXPECT_EQ(first["elements"].GetUint64(), 128256u * 2048u);
    EXPECT_EQ(first["bytes"].GetUint64(), 128256u * 2048u * 2u); // fp16: 2 bytes an element
    EXPECT_TRUE(first["layer"].IsNull());
    EXPECT_STREQ(d["aliases"]["lm_head.weight"].GetString(), "model.embed_tokens.weight");
    EXPECT_EQ(d["buffers"].Size(), 16u);
}

TEST(report, errors_are_objects_with_code_message_path) {
    struct bad {
        const char* command;
        const char* request;
        const char* code;
    };
    const bad cases[] = {
        {"params",     "{",                                            "json_syntax"  },
        {"params",     "[]",                                           "bad_request"  },
        {"params",     "{}",                                           "bad_request"  },
        {"params",     R"({"model": "lama-3.1-8b"})",                  "unknown_model"},
        {"params",     R"({"model": "llama-3.1-8b", "config": {}})",   "bad_request"  },
        {"params",     R"({"model": "llama-3.1-8b", "dtype": "fp7"})", "unknown_dtype"},
        {"params",     R"({"config": 5})",                             "bad_request"  },
        {"params",     R"({"config": {"model_type": "llama"}})",       "missing_key"  },
        {"frobnicate", "{}",                                           "bad_request"  },
    };
    for (const auto& c : cases) {
        rapidjson::Document d = parse(handle_request(c.command, c.request));
        ASSERT_TRUE(d.IsObject() && d.HasMember("error")) << c.request;
        EXPECT_STREQ(d["error"]["code"].GetString(), c.code) << c.request;
        EXPECT_GT(d["error"]["message"].GetStringLength(), 10u) << c.request;
        EXPECT_TRUE(d["error"]["path"].IsString());
    }
    rapidjson::Document d = parse(handle_request("params", R"({"model": "lama-3.1-8b"})"));
    EXPECT_NE(std::string(d["error"]["message"].GetString()).find("did you mean \"llama-3.1-8b\"?"),
              std::string::npos);
}

// A config object nested a million levels deep inside a request is read in place, never re-serialized
// recursively, so it cannot exhaust the (small, in wasm) stack.
TEST(report, deeply_nested_request_is_rejected_not_crashed) {
    std::string deep =
        R"({"config": {"model_type": )" + std::string(1000000, '[') + std::string(1000000, ']') + "}}";
    rapidjson::Document d = parse(handle_request("params", deep));
    ASSERT_TRUE(d.HasMember("error"));
    EXPECT_STREQ(d["error"]["code"].GetString(), "wrong_type");
}

TEST(report, presets_json_lists_every_preset) {
    rapidjson::Document d = parse(presets_json());
    EXPECT_STREQ(d["default"].GetString(), default_preset().name);
    EXPECT_EQ(d["presets"].Size(), presets().size());
    for (const auto& p : d["presets"].GetArray()) EXPECT_FALSE(p.HasMember("error")) << p["name"].GetString();
}

// The kinds `presets` groups by, against what the model cards say of these models: Mixtral-8x7B is a sparse
// mixture of experts (mistral.ai, "Mixtral of experts"); Gemma 3 4B takes images
// (Gemma3ForConditionalGeneration with a SigLIP encoder, Gemma 3 technical report); T5 is an encoder-decoder
// (Raffel et al. 2020); BERT an encoder; DeepSeek-V3 is MoE with one multi-token-prediction module
// (DeepSeek-V3 report, section 2.2); Llama 3.1 8B is a dense decoder.
TEST(report, presets_json_names_each_models_kinds) {
    rapidjson::Document d = parse(presets_json());
    std::map<std::string, std::string> kinds;
    for (const auto& p : d["presets"].GetArray()) {
        std::string joined;
        for (const auto& k : p["kinds"].GetArray())
            joined += std::string(joined.empty() ? "" : ",") + k.GetString();
        kinds[p["name"].GetString()] = joined;
    }
    EXPECT_EQ(kinds["mixtral-8x7b-v0.1"], "moe");
    EXPECT_EQ(kinds["gemma-3-4b"], "vision-language");
    EXPECT_EQ(kinds["t5-small"], "encoder-decoder");
    EXPECT_EQ(kinds["bert-base-uncased"], "encoder");
    EXPECT_EQ(kinds["deepseek-v3"], "moe,mtp");
    EXPECT_EQ(kinds["llama-3.1-8b"], "");
    // Mamba has no attention (Gu & Dao 2023); Falcon-H1 runs attention and Mamba-2 side by side in each layer
    // (Falcon-H1 technical report, "parallel hybrid"); Jamba interleaves attention and Mamba layers with MoE
    // (Lieber et al. 2024); Qwen3-Next mixes gated DeltaNet and gated attention, MoE, and an MTP module (Qwen
    // blog, September 2025).
    EXPECT_EQ(kinds["mamba-130m"], "state-space");
    EXPECT_EQ(kinds["falcon-h1-7b-instruct"], "hybrid");
    EXPECT_EQ(kinds["jamba-v0.1"], "moe,hybrid");
    EXPECT_EQ(kinds["qwen3-next-80b-a3b"], "moe,hybrid,mtp");
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

// The analysis cache the wasm module keeps between calls: same answers with and without it, reused only
// while the model part of the request is the same.
TEST(report, analysis_cache_reuses_the_model_only_while_it_is_the_same) {
    analysis_cache cache;
    std::string first = R"({"model": "qwen3-8b", "batch": 2})";
    EXPECT_EQ(handle_request("plan", first, &cache), handle_request("plan", first));
    ASSERT_TRUE(cache.value);
    const analysis* kept = cache.value.get();
    std::string workload_changed = R"({"model": "qwen3-8b", "batch": 8, "seq": 1024})";
    EXPECT_EQ(handle_request("plan", workload_changed, &cache), handle_request("plan", workload_changed));
    EXPECT_EQ(cache.value.get(), kept) << "same model: the analysis is reused";
    std::string dtype_changed = R"({"model": "qwen3-8b", "dtype": "fp32"})";
    EXPECT_EQ(handle_request("params", dtype_changed, &cache), handle_request("params", dtype_changed));
    EXPECT_NE(cache.value.get(), kept) << "dtype changed: analysed again";
    EXPECT_EQ(cache.value->spec.weight_dtype, dtype::f32);
    std::string other = R"({"model": "gpt2"})";
    EXPECT_EQ(handle_request("skeleton", other, &cache), handle_request("skeleton", other));
    EXPECT_EQ(cache.value->model, "gpt2");
    // A bad request leaves the cache as it was.
    EXPECT_NE(handle_request("params", R"({"model": "nosuchmodel"})", &cache).find("\"error\""),
              std::string::npos);
    EXPECT_EQ(cache.value->model, "gpt2");
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

TEST(report, analysis_cache_with_a_config_nested_a_million_levels_deep) {
    analysis_cache cache;
    std::string deep =
        "{\"config\": {\"model_type\": " + std::string(1000000, '[') + std::string(1000000, ']') + "}}";
    std::string out = handle_request("params", deep, &cache);
    EXPECT_NE(out.find("\"wrong_type\""), std::string::npos) << out.substr(0, 200);
    EXPECT_FALSE(cache.value);
}

} // namespace
} // namespace modelplan::test
