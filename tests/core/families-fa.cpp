// The 2025 families of issue 13 (glm4, glm4_moe, DeepSeek-V3 under another model_type, minimax_m2, ernie4_5,
// ernie4_5_moe, bailing_moe, hunyuan_v1_dense/moe, seed_oss) against published figures, and their names
// against the names published checkpoints use. Every expected number and name comes from outside the project;
// the sources are named beside each and in tests/data/SOURCES-FA.md.
#include <cmath>
#include <fstream>
#include <set>

#include "test-util.h"

namespace modelplan::test {
namespace {

// Every preset of this file has its published total tested below (published-counts.cpp checks that every
// preset has one).
const bool registered = register_published_totals(
    {"glm-4-9b-0414", "glm-4-32b-0414", "glm-4.5", "glm-4.5-air", "glm-4.6", "kimi-k2-instruct", "minimax-m2",
     "ernie-4.5-0.3b", "ernie-4.5-21b-a3b", "ernie-4.5-300b-a47b", "ling-mini-2.0", "ling-flash-2.0",
     "ling-1t", "hunyuan-7b", "hunyuan-a13b", "seed-oss-36b"});

// A published figure in billions with its last digit: ours must lie within one unit of that digit, the
// project's rule for rounded figures (cards round and truncate inconsistently; published-counts.cpp).
void expect_rounds_to(uint64_t exact, double billions, double last_digit, const std::string& what) {
    double ours = static_cast<double>(exact) / 1e9;
    EXPECT_LE(std::fabs(ours - billions), last_digit + 1e-9) << what << ": ours " << exact;
}

struct rounded_figure {
    const char* preset;
    double billions;   // the published figure
    double last_digit; // its precision, in billions
    enum {
        total,                          // the model's parameters (MTP layers apart)
        stored,                         // every stored tensor: total + MTP layers
        active,                         // used per token
        active_without_embedding,       // active less the input embedding and the untied head
        active_without_input_embedding, // active less the input embedding only (DeepSeek's convention)
    } what;
    const char* source;
};

// clang-format off
const rounded_figure figures[] = {
    // Hugging Face model pages, "Model size" of the safetensors files (every stored tensor: MTP layers included).
    {"glm-4-9b-0414",       9.4,    0.1,  rounded_figure::stored, "HF page zai-org/GLM-4-9B-0414: 9.4B params"},
    {"glm-4.5",             358.34, 0.01, rounded_figure::stored, "Hub safetensors count of zai-org/GLM-4.5 as a model catalogue copies it: 358.34B"},
    {"glm-4.6",             358.34, 0.01, rounded_figure::stored, "GLM-4.5's Hub count: GLM-4.6 has the same shapes (transformers: both use Glm4Moe)"},
    {"glm-4.5-air",         110,    1,    rounded_figure::stored, "HF pages of GLM-4.5-Air copies (unsloth/GLM-4.5-Air): 110B params"},
    {"minimax-m2",          229,    1,    rounded_figure::total,  "HF page MiniMaxAI/MiniMax-M2: 229B params (FP8 scales add < 0.02B)"},
    {"hunyuan-7b",          7.5,    0.1,  rounded_figure::total,  "HF page tencent/Hunyuan-7B-Instruct: 7.5B params"},
    // Model cards: total and activated parameters.
    {"glm-4.5",             32,     1,    rounded_figure::active_without_embedding, "GLM-4.5 card: 32 billion active parameters"},
    {"glm-4.5-air",         106,    1,    rounded_figure::total,  "GLM-4.5-Air card: 106 billion total parameters"},
    {"glm-4.5-air",         12,     1,    rounded_figure::active_without_embedding, "GLM-4.5-Air card: 12 billion active parameters"},
    {"kimi-k2-instruct",    1000,   100,  rounded_figure::total,  "Kimi-K2 card: 1T total parameters"},
    {"kimi-k2-instruct",    32,     1,    rounded_figure::active_without_input_embedding, "Kimi-K2 card: 32B activated parameters (DeepSeek-V3's convention)"},
    {"minimax-m2",          230,    10,   rounded_figure::total,  "MiniMax-M2 card: 230 billion total parameters"},
    {"minimax-m2",          10,     1,    rounded_figure::active_without_embedding, "MiniMax-M2 card: 10 billion active parameters"},
    {"ernie-4.5-0.3b",      0.36,   0.01, rounded_figure::total,  "ERNIE-4.5-0.3B card: 0.36B parameters"},
    {"ernie-4.5-21b-a3b",   21,     1,    rounded_figure::total,  "ERNIE 4.5 cards: 21B total parameters"},
    {"ernie-4.5-21b-a3b",   3,      1,    rounded_figure::active, "ERNIE 4.5 cards: 3B activated per token"},
    {"ernie-4.5-300b-a47b", 300,    10,   rounded_figure::total,  "ERNIE 4.5 cards: 300B total parameters"},
    {"ernie-4.5-300b-a47b", 47,     1,    rounded_figure::active, "ERNIE 4.5 cards: 47B activated per token"},
    {"ling-mini-2.0",       16,     1,    rounded_figure::total,  "Ling-mini-2.0 card: 16B total parameters"},
    {"ling-mini-2.0",       1.4,    0.1,  rounded_figure::active, "Ling-mini-2.0 card: 1.4B activated per token"},
    {"ling-mini-2.0",       0.789,  0.001, rounded_figure::active_without_embedding, "Ling-mini-2.0 card: 789M non-embedding activated"},
    {"ling-flash-2.0",      100,    10,   rounded_figure::total,  "Ling-flash-2.0 card: 100B total parameters"},
    {"ling-flash-2.0",      6.1,    0.1,  rounded_figure::active, "Ling-flash-2.0 card: 6.1B activated"},
    {"ling-flash-2.0",      4.8,    0.1,  rounded_figure::active_without_embedding, "Ling-flash-2.0 card: 4.8B non-embedding activated"},
    {"ling-1t",             1000,   100,  rounded_figure::total,  "Ling-1T card: 1 trillion total parameters"},
    {"ling-1t",             50,     10,   rounded_figure::active, "Ling-1T card: about 50 billion active per token"},
    {"hunyuan-a13b",        80,     1,    rounded_figure::total,  "Hunyuan-A13B card: 80 billion total parameters"},
    {"hunyuan-a13b",        13,     1,    rounded_figure::active, "Hunyuan-A13B card: 13 billion active parameters"},
    {"seed-oss-36b",        36,     1,    rounded_figure::total,  "Seed-OSS-36B card: 36B parameters"},
    {"glm-4-32b-0414",      32,     1,    rounded_figure::total,  "GLM-4-32B-0414 card: 32 billion parameters"},
};
// clang-format on

uint64_t pick(const analysis& a, decltype(rounded_figure::what) what) {
    switch (what) {
    case rounded_figure::total: return a.counts.total;
    case rounded_figure::stored: return a.counts.total + a.counts.mtp;
    case rounded_figure::active: return a.counts.active;
    case rounded_figure::active_without_embedding: return a.counts.active - a.counts.embedding;
    case rounded_figure::active_without_input_embedding:
        return a.counts.active - a.counts.by_role[static_cast<size_t>(role::embed)];
    }
    return 0;
}

TEST(families_fa, published_figures) {
    for (const auto& f : figures) {
        analysis a = analyze_preset(f.preset);
        expect_rounds_to(pick(a, f.what), f.billions, f.last_digit,
                         std::string(f.preset) + " (" + f.source + ")");
    }
}

// Configs declaring a modelled class under a model_type of their own are that family's model: Kimi-K2's
// "kimi_k2" config names DeepseekV3ForCausalLM (the architecture decides).
TEST(families_fa, architecture_decides_the_family) {
    analysis kimi = analyze_preset("kimi-k2-instruct");
    EXPECT_EQ(kimi.spec.model_type, "deepseek_v3");
    EXPECT_EQ(kimi.spec.architecture, "DeepseekV3ForCausalLM");
    EXPECT_TRUE(kimi.spec.has_mla());
    // Ling 2.0's remote-code class.
    EXPECT_EQ(analyze_preset("ling-mini-2.0").spec.architecture, "BailingMoeV2ForCausalLM");
    // An unknown model_type naming no modelled class is still an error.
    auto bad =
        analyze("x", edited_config("kimi-k2-instruct", "architectures", "[\"NoSuchForCausalLM\"]"), {});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.err().code, error_code::unknown_model_type);
}

// GLM-4.5's next-token-prediction layer (model.layers.92) is stored after the 92 layers and counted apart, as
// DeepSeek-V3's is: its decoder layer plus embed_tokens, enorm, hnorm, eh_proj and shared_head.{norm,head}.
TEST(families_fa, glm_mtp_layer_counted_apart) {
    analysis a = analyze_preset("glm-4.5");
    ASSERT_EQ(a.spec.layers.size(), 93u);
    EXPECT_TRUE(a.spec.is_mtp_layer(92));
    bool has_eh_proj = false;
    for (const auto& t : a.sk.tensors) has_eh_proj |= t.name == "model.layers.92.eh_proj.weight";
    EXPECT_TRUE(has_eh_proj);
}

// Names the published checkpoints use (excerpts of their index weight_maps and loaders' name lists; the files
// hold the names, tests/data/SOURCES-FA.md where each comes from). Every listed name must be a skeleton
// parameter, or a tied alias when the checkpoint omits the head.
TEST(families_fa, published_names_are_in_the_skeleton) {
    struct listed {
        const char* file;
        const char* preset;
    };
    for (auto [file, preset] : {
             listed{"glm-4-9b-0414.names.txt",       "glm-4-9b-0414" },
             listed{"hunyuan-7b-instruct.names.txt", "hunyuan-7b"    },
             listed{"ernie-4.5-0.3b.names.txt",      "ernie-4.5-0.3b"},
             listed{"ling-2.0.names.txt",            "ling-mini-2.0" },
    }) {
        SCOPED_TRACE(file);
        std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/" + file);
        ASSERT_TRUE(in.good());
        analysis a = analyze_preset(preset);
        std::set<std::string> names;
        for (const auto& t : a.sk.tensors) names.insert(t.name);
        size_t checked = 0;
        for (std::string name; std::getline(in, name);) {
            if (name.empty() || name[0] == '#') continue;
            EXPECT_TRUE(names.count(name)) << name << " is not a skeleton parameter";
            ++checked;
        }
        EXPECT_GT(checked, 0u);
    }
}

// The tied heads of Hunyuan-7B and ERNIE-4.5-0.3B are not stored (their indexes end with model.norm.weight).
TEST(families_fa, tied_heads_are_aliases) {
    for (const char* preset : {"hunyuan-7b", "ernie-4.5-0.3b"}) {
        analysis a = analyze_preset(preset);
        ASSERT_EQ(a.sk.aliases.size(), 1u) << preset;
        EXPECT_EQ(a.sk.aliases[0].name, "lm_head.weight");
    }
}

// Bad values of the new families' keys are errors naming the key and the value.
TEST(families_fa, bad_values_name_their_key) {
    struct bad_case {
        const char* preset;
        const char* key;
        const char* json;
        error_code code;
        const char* in_message;
    };
    for (const auto& c : {
             bad_case{"ling-mini-2.0",     "num_nextn_predict_layers", "20",                          error_code::out_of_range,
                      "num_nextn_predict_layers (20) must be below num_hidden_layers (20)"                                                                                            },
             bad_case{"ling-mini-2.0",     "architectures",            "[\"BailingMoeForCausalLM\"]",
                      error_code::unknown_model_type,                                                                           "\"BailingMoeForCausalLM\" (Ling 1.x) is not modelled"},
             bad_case{"hunyuan-a13b",      "num_experts",              "[64, 64, 32]",                error_code::wrong_type,
                      "num_experts[2]: expected the same positive integer for every layer, got 32"                                                                                    },
             bad_case{"hunyuan-a13b",      "moe_topk",                 "65",                          error_code::out_of_range,
                      "moe_topk (65) must not exceed num_experts (64)"                                                                                                                },
             bad_case{"minimax-m2",        "rotary_dim",               "256",                         error_code::out_of_range,
                      "rotary_dim (256) exceeds head_dim (128)"                                                                                                                       },
             bad_case{"ernie-4.5-21b-a3b", "moe_k",                    "65",                          error_code::out_of_range,
                      "moe_k (65) must not exceed moe_num_experts (64)"                                                                                                               },
             bad_case{"glm-4.5",           "first_k_dense_replace",    "-1",                          error_code::out_of_range,
                      "first_k_dense_replace"                                                                                                                                         },
    }) {
        auto a = analyze(c.preset, edited_config(c.preset, c.key, c.json), {});
        ASSERT_FALSE(a.ok()) << c.preset << " " << c.key;
        EXPECT_EQ(a.err().code, c.code) << a.err().message;
        EXPECT_NE(a.err().message.find(c.in_message), std::string::npos) << a.err().message;
    }
}

} // namespace
} // namespace modelplan::test
