// The families of issue 13, group B: smollm3, granite, granitemoe, phimoe, olmoe, olmo3, cohere, cohere2,
// exaone4, mt5, umt5, xlm-roberta, modernbert. Published totals, real checkpoints' tensor lists, a
// converter's GGUF layout, the per-layer facts each family models specially (NoPE layers, sliding windows,
// the first ModernBERT layer without attn_norm, UMT5's relative bias in every layer) and the config errors of
// the new keys. Every expected number comes from outside this project; sources in comments and in
// tests/data/SOURCES-FB.md.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "modelplan/gguf.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

struct published {
    const char* preset;
    uint64_t total;
    const char* source;
};

// clang-format off
const published exact_totals[] = {
    // "HF model id -> (license, exact params)... HF Hub API 2026-09-25: ... safetensors.total" (a licence audit's
    // KNOWN_MODELS table); the same figure for SmolLM3-3B in a guardrail cohort's arm registry at revision a07cc9a.
    {"smollm3-3b",           3'075'098'624ULL,  "Hub safetensors.total of HuggingFaceTB/SmolLM3-3B"},
    {"granite-3.3-8b",       8'170'864'640ULL,  "Hub safetensors.total of ibm-granite/granite-3.3-8b-instruct"},
    // The arm registry's params for ibm-granite/granite-guardian-3.2-3b-a800m (revision 3de033d), a fine-tune
    // with granite-3.x-3b-a800m's shapes.
    {"granite-3.1-3b-a800m", 3'298'793'472ULL,  "params of granite-guardian-3.2-3b-a800m (same shapes)"},
    // A harness asserting sum(p.numel() for p in model.parameters()) == 1334628352 after loading a checkpoint with
    // (layers, experts, top-k, hidden, intermediate, vocab) == (24, 32, 8, 1024, 512, 49155): granite-3.x-1b-a400m.
    {"granite-3.1-1b-a400m", 1'334'628'352ULL,  "sum of numel of the loaded GraniteMoeForCausalLM (24, 32, 8, 1024, 512, 49155)"},
    // A header-reading contract check of allenai/OLMoE-1B-7B-0924 @ 6d84c48: "tensorCount": 3219,
    // "parameterCount": 6919161856 (also the llama-bench model_n_params of its GGUF conversion).
    {"olmoe-1b-7b",          6'919'161'856ULL,  "parameterCount of OLMoE-1B-7B-0924's safetensors headers"},
    // A GGUF validator requiring sum(prod(dims)) == 7298011136 for Olmo-3-7B; an SFT throughput script's
    // "num_params=7298011136"; a plotting script's olmo3_32b_bits = 32233522176 * 16.
    {"olmo-3-7b",            7'298'011'136ULL,  "Olmo-3-7B parameter count (GGUF validator, MFU log)"},
    {"olmo-3-32b",           32'233'522'176ULL, "Olmo-3-32B parameter count (olmo3_32b_bits / 16)"},
    // An evaluation suite's model_sizes: "cohereforai/aya-expanse-8b": 8028033024. Aya Expanse 8B has Command
    // R7B's tensors (hidden 4096, 32 layers, 32/8 heads, FFN 14336, vocabulary 256000, tied, no q/k norms).
    {"command-r7b",          8'028'033'024ULL,  "model_sizes of cohereforai/aya-expanse-8b (same tensors)"},
    // Vocabulary-trimming experiments: param_size_full mt5-small {"embedding": 256114688, "full": 300176768}.
    {"mt5-small",            300'176'768ULL,    "lmqg param_size_full for mt5-small"},
    // A parameter-count script: "Reference numbers: models/mt5-base: 582401280".
    {"mt5-base",             582'401'280ULL,    "reference number for models/mt5-base"},
    // param_size_full xlm-roberta-base {"full": 278295186}; xlmr_params = [278295186, 560142482, ...].
    {"xlm-roberta-base",     278'295'186ULL,    "param_size_full of xlm-roberta-base; xlmr_params[0]"},
    {"xlm-roberta-large",    560'142'482ULL,    "xlmr_params[1]"},
    // The arm registry's params for answerdotai/ModernBERT-base @ 8949b90 and ModernBERT-large @ 45bb465 (also
    // a benchmark's "parameters": 149655232 for ModernBertForMaskedLM).
    {"modernbert-base",      149'655'232ULL,    "params of answerdotai/ModernBERT-base"},
    {"modernbert-large",     395'881'664ULL,    "params of answerdotai/ModernBERT-large"},
};
// clang-format on

const published_elsewhere registered{"smollm3-3b",
                                     "granite-3.3-8b",
                                     "granite-3.1-3b-a800m",
                                     "granite-3.1-1b-a400m",
                                     "olmoe-1b-7b",
                                     "olmo-3-7b",
                                     "olmo-3-32b",
                                     "command-r7b",
                                     "mt5-small",
                                     "mt5-base",
                                     "xlm-roberta-base",
                                     "xlm-roberta-large",
                                     "modernbert-base",
                                     "modernbert-large",
                                     "command-r",
                                     "exaone-4.0-32b",
                                     "phi-3.5-moe",
                                     "umt5-small"};

TEST(families_fb, totals_equal_published_figures) {
    for (const auto& pub : exact_totals) {
        analysis a = analyze_preset(pub.preset);
        EXPECT_EQ(a.counts.total, pub.total) << pub.preset << " (" << pub.source << ")";
    }
}

// Model cards' rounded figures: within one unit of their last digit.
void expect_near(uint64_t exact, double published_billions, double last_digit, const char* what) {
    EXPECT_LE(std::fabs(static_cast<double>(exact) / 1e9 - published_billions), last_digit)
        << what << ": ours " << exact;
}

TEST(families_fb, rounded_published_figures) {
    // "C4AI Command-R is a research release of a 35 billion parameter highly performant generative model."
    expect_near(analyze_preset("command-r").counts.total, 35, 0.05, "Command-R total");
    // EXAONE-4.0-32B model card: "Number of Parameters (without embeddings): 30.95B".
    expect_near(analyze_preset("exaone-4.0-32b").counts.non_embedding, 30.95, 0.005, "EXAONE 4.0 32B");
    // Phi-3.5-MoE: "16x3.8B parameters with 6.6B active parameters when using 2 experts" (model card); "41.9B
    // MoE" (a compression results table).
    analysis phi = analyze_preset("phi-3.5-moe");
    expect_near(phi.counts.total, 41.9, 0.05, "Phi-3.5-MoE total");
    expect_near(phi.counts.active, 6.6, 0.05, "Phi-3.5-MoE active");
    // OLMoE-1B-7B: "declared_active_parameters": "1.3B" (a pinned manifest of the model card).
    expect_near(analyze_preset("olmoe-1b-7b").counts.active, 1.3, 0.05, "OLMoE active");
    // google/umt5-small: model.safetensors and pytorch_model.bin both "1.23 GB" (F32) on the Hub's file list.
    expect_near(analyze_preset("umt5-small").counts.weight_bytes, 1.23, 0.005, "umt5-small F32 bytes");
}

// FacebookAI/xlm-roberta-base's Hub safetensors.total is 278,885,778 and xlm-roberta-large's 561,192,082 (the
// licence audit's table): the XLMRobertaForMaskedLM parameters plus the pooler the checkpoint stores, which
// the masked-LM class ignores on load.
TEST(families_fb, xlm_roberta_checkpoints_store_the_pooler) {
    for (auto [preset, hub] : {
             std::pair{"xlm-roberta-base",  278'885'778ULL},
             std::pair{"xlm-roberta-large", 561'192'082ULL}
    }) {
        config_options bare;
        bare.head = head_kind::none;
        auto model = analyze(preset, preset_config(preset), bare);
        ASSERT_TRUE(model.ok());
        uint64_t pooler = model->counts.by_role[static_cast<size_t>(role::pooler)];
        EXPECT_GT(pooler, 0u);
        EXPECT_EQ(analyze_preset(preset).counts.total + pooler, hub) << preset;
    }
}

// ---- tensor lists

struct listed_tensor {
    std::string name;
    std::vector<uint64_t> shape; // empty when the list has names only
};

std::vector<listed_tensor> read_list(const std::string& file) {
    std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/" + file);
    EXPECT_TRUE(in.good()) << file;
    std::vector<listed_tensor> out;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        listed_tensor t;
        size_t tab = line.find('\t');
        t.name = line.substr(0, tab);
        if (tab != std::string::npos) {
            std::stringstream dims(line.substr(tab + 1));
            for (std::string d; std::getline(dims, d, ',');) t.shape.push_back(std::stoull(d));
        }
        out.push_back(std::move(t));
    }
    return out;
}

// Every listed tensor is a skeleton parameter (with its shape, when listed) and every parameter is listed.
void expect_same_tensors(const analysis& a, const std::vector<listed_tensor>& listed) {
    std::map<std::string, std::vector<uint64_t>> ours;
    for (const auto& t : a.sk.tensors) ours[t.name] = t.shape;
    size_t reported = 0;
    for (const auto& t : listed) {
        auto it = ours.find(t.name);
        if (it == ours.end()) {
            EXPECT_LT(reported++, 5u) << "listed, not in the skeleton: " << t.name;
            continue;
        }
        if (!t.shape.empty()) EXPECT_EQ(it->second, t.shape) << t.name;
        ours.erase(it);
    }
    for (const auto& [name, shape] : ours)
        EXPECT_LT(reported++, 5u) << "in the skeleton, not listed: " << name;
    EXPECT_EQ(reported, 0u);
}

// allenai/OLMoE-1B-7B-0924: the contract a header checker compares, by set equality of names and shapes, with
// the real index and safetensors headers (reported "verified", 3219 tensors), expanded with the published
// config.
TEST(families_fb, olmoe_matches_the_checkpoint_headers) {
    std::vector<listed_tensor> listed = read_list("olmoe-1b-7b-0924.tensors.tsv");
    ASSERT_EQ(listed.size(), 3219u);
    expect_same_tensors(analyze_preset("olmoe-1b-7b"), listed);
}

// ModernBertForSequenceClassification loaded from answerdotai/ModernBERT-base: its named_parameters() as a
// fine-tuning script prints them (138 names; layer 0 has no attn_norm).
TEST(families_fb, modernbert_sequence_classifier_names) {
    std::vector<listed_tensor> listed = read_list("modernbert-base-seqcls.weight_map.txt");
    ASSERT_EQ(listed.size(), 138u);
    config_options options;
    options.head = head_kind::seq_cls;
    auto a = analyze("modernbert-base", preset_config("modernbert-base"), options);
    ASSERT_TRUE(a.ok());
    expect_same_tensors(*a, listed);
}

// Olmo-3-7B converted by llama.cpp: a GGUF validator requires general.architecture "olmo2" and exactly these
// 355 tensors with these shapes (GGUF order: ne[0] first).
TEST(families_fb, olmo3_converts_as_olmo2) {
    analysis a = analyze_preset("olmo-3-7b");
    auto layout = gguf_layout_of(a.spec, a.sk);
    ASSERT_TRUE(layout.ok()) << layout.err().message;
    EXPECT_EQ(layout->arch, "olmo2");
    std::map<std::string, std::vector<uint64_t>> ours;
    for (const auto& t : layout->tensors) ours[t.name] = t.shape;
    std::vector<listed_tensor> listed = read_list("olmo-3-7b.gguf-tensors.tsv");
    ASSERT_EQ(listed.size(), 355u);
    EXPECT_EQ(ours.size(), listed.size());
    for (auto t : listed) {
        std::reverse(t.shape.begin(), t.shape.end()); // outermost first, as parse_gguf reports
        auto it = ours.find(t.name);
        ASSERT_NE(it, ours.end()) << t.name;
        EXPECT_EQ(it->second, t.shape) << t.name;
    }
}

// Granite MoE in GGUF (ollama's granite3-moe:1b metadata: granitemoe.expert_count 32, expert_used_count 8,
// feed_forward_length 512): llama.cpp's GraniteMoeModel splits input_linear into gate and up experts.
TEST(families_fb, granitemoe_input_linear_splits_into_gate_and_up) {
    analysis a = analyze_preset("granite-3.1-1b-a400m");
    auto layout = gguf_layout_of(a.spec, a.sk);
    ASSERT_TRUE(layout.ok());
    EXPECT_EQ(layout->arch, "granitemoe");
    std::map<std::string, std::vector<uint64_t>> ours;
    for (const auto& t : layout->tensors) ours[t.name] = t.shape;
    EXPECT_EQ(ours["blk.0.ffn_gate_exps.weight"], std::vector<uint64_t>({32, 512, 1024}));
    EXPECT_EQ(ours["blk.0.ffn_up_exps.weight"], std::vector<uint64_t>({32, 512, 1024}));
    EXPECT_EQ(ours["blk.0.ffn_down_exps.weight"], std::vector<uint64_t>({32, 1024, 512}));
    EXPECT_EQ(ours["blk.0.ffn_gate_inp.weight"], std::vector<uint64_t>({32, 1024}));
}

// ---- what each family models specially

std::vector<uint64_t> layers_with(const analysis& a, bool (*pick)(const layer_spec&)) {
    std::vector<uint64_t> out;
    for (uint64_t il = 0; il < a.spec.layers.size(); ++il)
        if (pick(a.spec.layers[il])) out.push_back(il);
    return out;
}
bool is_nope(const layer_spec& l) {
    return (l.switches & sw_no_rope) != 0;
}
bool is_sliding(const layer_spec& l) {
    return l.attn == attn_kind::sliding;
}
std::vector<uint64_t> every_fourth(uint64_t layers) { // 3, 7, 11, ...
    std::vector<uint64_t> out;
    for (uint64_t il = 3; il < layers; il += 4) out.push_back(il);
    return out;
}

// SmolLM3-3B: no_rope_layers [1, 1, 1, 0, ...] (SmolLM3Config: 0 marks a NoPE layer); without the list,
// no_rope_layer_interval 4 gives the same layers. use_sliding_window is false: no sliding layer.
TEST(families_fb, smollm3_records_its_nope_layers) {
    analysis a = analyze_preset("smollm3-3b");
    EXPECT_EQ(layers_with(a, is_nope), every_fourth(36));
    EXPECT_TRUE(layers_with(a, is_sliding).empty());
    EXPECT_TRUE(a.spec.uses_rope(0));
    EXPECT_FALSE(a.spec.uses_rope(3));
    auto by_interval = analyze("s", edited_config("smollm3-3b", "no_rope_layers", ""), {});
    ASSERT_TRUE(by_interval.ok());
    EXPECT_EQ(layers_with(*by_interval, is_nope), every_fourth(36));
}

// Command R7B: "three layers with sliding window attention (window size 4096) and ROPE ... A fourth layer
// uses global attention without positional embeddings" (transformers' Cohere2 documentation).
TEST(families_fb, command_r7b_slides_three_layers_of_four_and_its_global_layers_have_no_rope) {
    analysis a = analyze_preset("command-r7b");
    EXPECT_EQ(layers_with(a, is_nope), every_fourth(32));
    EXPECT_EQ(layers_with(a, is_sliding).size(), 24u);
    for (uint64_t il : layers_with(a, is_sliding)) EXPECT_EQ(a.spec.layers[il].window, 4096u);
    // Cohere2's head_dim is hidden_size / num_attention_heads; norms are LayerNorms (weights only), tied
    // head.
    EXPECT_EQ(a.spec.head_dim, 128u);
    EXPECT_TRUE(a.spec.tie_embeddings());
}

// EXAONE 4.0 32B: "hybrid attention ... Local attention (sliding window attention) with Global attention
// (full attention) in a 3:1 ratio. We do not use RoPE ... for global attention" (model card, transformers
// docs).
TEST(families_fb, exaone4_hybrid_attention_with_global_nope) {
    analysis a = analyze_preset("exaone-4.0-32b");
    EXPECT_EQ(layers_with(a, is_nope), every_fourth(64));
    EXPECT_EQ(layers_with(a, is_sliding).size(), 48u);
    // Without a sliding window (EXAONE 4.0 1.2B: "Attention type: Global") every layer is global with RoPE.
    std::string global =
        edit_key(edited_config("exaone-4.0-32b", "sliding_window", "null"), "layer_types", "");
    auto g = analyze("g", edit_key(global, "sliding_window_pattern", "null"), {});
    ASSERT_TRUE(g.ok()) << g.err().message;
    EXPECT_TRUE(layers_with(*g, is_nope).empty());
    EXPECT_TRUE(layers_with(*g, is_sliding).empty());
}

// OLMo 3: layer_types, three sliding layers (4096) of every four; Olmo3Config builds the same pattern when
// layer_types is absent.
TEST(families_fb, olmo3_sliding_layers) {
    analysis a = analyze_preset("olmo-3-7b");
    EXPECT_EQ(layers_with(a, is_sliding).size(), 24u);
    auto by_default = analyze("o", edited_config("olmo-3-7b", "layer_types", ""), {});
    ASSERT_TRUE(by_default.ok());
    EXPECT_EQ(layers_with(*by_default, is_sliding), layers_with(a, is_sliding));
}

// ModernBERT: global attention every global_attn_every_n_layers (3) layers from layer 0, local (128 tokens)
// in the others; the first layer's attn_norm is nn.Identity (no parameter).
TEST(families_fb, modernbert_local_and_global_layers) {
    analysis a = analyze_preset("modernbert-base");
    std::vector<uint64_t> sliding = layers_with(a, is_sliding);
    EXPECT_EQ(sliding.size(), 14u);
    for (uint64_t il : sliding) EXPECT_NE(il % 3, 0u);
    EXPECT_EQ(a.spec.layers[1].window, 128u);
    std::set<std::string> names;
    for (const auto& t : a.sk.tensors) names.insert(t.name);
    EXPECT_FALSE(names.count("model.layers.0.attn_norm.weight"));
    EXPECT_TRUE(names.count("model.layers.1.attn_norm.weight"));
    EXPECT_TRUE(names.count("decoder.bias"));
}

// UMT5: every self-attention layer has its relative bias ("encoder: 8 bias tables, shape (32, 6) each" in
// google/umt5-small); mT5 (T5's rule) only the first of each stack.
TEST(families_fb, umt5_has_a_relative_bias_in_every_layer) {
    auto count_bias = [](const analysis& a) {
        size_t n = 0;
        for (const auto& t : a.sk.tensors)
            if (t.what == role::attn_rel_bias) {
                ++n;
                EXPECT_EQ(t.shape, std::vector<uint64_t>({32, 6})) << t.name;
            }
        return n;
    };
    EXPECT_EQ(count_bias(analyze_preset("umt5-small")), 16u);
    EXPECT_EQ(count_bias(analyze_preset("mt5-small")), 2u);
}

// Granite MoE stores each layer's experts stacked; a token uses num_experts_per_tok of them ("3b-a800m":
// about 800M active of 3.3B, IBM's naming).
TEST(families_fb, granitemoe_active_parameters_from_stacked_experts) {
    analysis a = analyze_preset("granite-3.1-3b-a800m");
    EXPECT_LT(a.counts.active, a.counts.total);
    expect_near(a.counts.active, 0.8, 0.1, "granite-3.1-3b-a800m active");
    // 32 layers x (40 - 8) experts x one expert's slice of input_linear and output_linear.
    const uint64_t one_expert = 3 * 512 * 1536;
    EXPECT_EQ(a.counts.total - a.counts.active, 32u * 32u * one_expert);
}

// Cohere with use_qk_norm (Command R+): a LayerNorm weight per head, [heads, head_dim] and [kv heads,
// head_dim].
TEST(families_fb, cohere_qk_norms_hold_a_row_per_head) {
    auto a = analyze("c", edited_config("command-r", "use_qk_norm", "true"), {});
    ASSERT_TRUE(a.ok());
    std::map<std::string, std::vector<uint64_t>> shapes;
    for (const auto& t : a->sk.tensors) shapes[t.name] = t.shape;
    EXPECT_EQ(shapes["model.layers.0.self_attn.q_norm.weight"], std::vector<uint64_t>({64, 128}));
    EXPECT_EQ(shapes["model.layers.0.self_attn.k_norm.weight"], std::vector<uint64_t>({64, 128}));
}

// Phi-3.5-MoE: biased attention and output head, LayerNorms with a bias.
TEST(families_fb, phimoe_biases) {
    analysis a = analyze_preset("phi-3.5-moe");
    std::set<std::string> names;
    for (const auto& t : a.sk.tensors) names.insert(t.name);
    for (const char* name :
         {"lm_head.bias", "model.norm.bias", "model.layers.0.input_layernorm.bias",
          "model.layers.0.self_attn.o_proj.bias", "model.layers.0.block_sparse_moe.gate.weight",
          "model.layers.31.block_sparse_moe.experts.15.w3.weight"})
        EXPECT_TRUE(names.count(name)) << name;
}

// ---- config errors of the new keys

error expect_error(const std::string& config) {
    auto a = analyze("x", config, {});
    EXPECT_FALSE(a.ok());
    return a.ok() ? error{} : a.err();
}

TEST(families_fb, bad_no_rope_layers_name_the_key) {
    error wrong = expect_error(edited_config("smollm3-3b", "no_rope_layers", "[1, 1, 1, 2]"));
    EXPECT_NE(wrong.message.find("no_rope_layers"), std::string::npos) << wrong.message;
    error entry = expect_error(
        edited_config("smollm3-3b", "no_rope_layers",
                      "[1,1,1,2,1,1,1,0,1,1,1,0,1,1,1,0,1,1,1,0,1,1,1,0,1,1,1,0,1,1,1,0,1,1,1,0]"));
    EXPECT_EQ(entry.code, error_code::wrong_type);
    EXPECT_NE(entry.message.find("no_rope_layers[3]"), std::string::npos) << entry.message;
    error not_list = expect_error(edited_config("smollm3-3b", "no_rope_layers", "4"));
    EXPECT_EQ(not_list.code, error_code::wrong_type);
}

TEST(families_fb, bad_sliding_window_pattern_names_the_key) {
    std::string config = edited_config("exaone-4.0-32b", "layer_types", "");
    error e =
        expect_error(config); // "LLLG" needs layer_types beside it (Exaone4Config computes with an integer)
    EXPECT_EQ(e.code, error_code::wrong_type);
    EXPECT_NE(e.message.find("sliding_window_pattern"), std::string::npos) << e.message;
    auto by_integer = analyze("e", edit_key(config, "sliding_window_pattern", "4"), {});
    ASSERT_TRUE(by_integer.ok());
    EXPECT_EQ(layers_with(*by_integer, is_sliding).size(), 48u);
}

TEST(families_fb, bad_modernbert_local_attention_names_the_key) {
    error e = expect_error(edited_config("modernbert-base", "local_attention", "0"));
    EXPECT_NE(e.message.find("local_attention"), std::string::npos) << e.message;
}

} // namespace
} // namespace modelplan::test
