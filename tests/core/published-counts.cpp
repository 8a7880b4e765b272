// Parameter counts against published figures. Each expected number comes from outside this project; the
// source is named beside it. "HF API safetensors.total" is the parameter count the Hugging Face Hub reports
// for the repository's safetensors files; "index total_size" is model.safetensors.index.json's
// metadata.total_size, which for an all-BF16 checkpoint is 2 bytes per parameter.
#include <cmath>

#include "test-util.h"

namespace modelplan::test {
namespace {

struct published {
    const char* preset;
    const char* head; // the class the figure counts, when not the config's own: "none" = the bare base model
    uint64_t total;
    const char* source;
};

// clang-format off
const published published_totals[] = {
    // Figures given in the foundation issue, also keras-hub's presets ("params": 6738415616 for llama2_7b_en).
    // The HF API reports 6,738,417,664 for Llama-2-7b-hf: that includes 32 x 64 rotary inv_freq buffer elements
    // the checkpoint stores, which we list as buffers (see skeleton-names.cpp).
    {"llama-2-7b", nullptr,         6'738'415'616ULL,   "keras-hub llama2_7b_en params"},
    {"llama-3.1-8b", nullptr,       8'030'261'248ULL,   "keras-hub llama3.1_8b params; HF API safetensors.total"},
    {"mistral-7b-v0.1", nullptr,    7'241'732'096ULL,   "index total_size 14483464192 / 2; keras-hub mistral_7b_en"},
    {"mixtral-8x7b-v0.1", nullptr,  46'702'792'704ULL,  "keras-hub mixtral_8_7b_en; HF API safetensors.total (Instruct)"},
    // Found for this project; see tests/data/SOURCES.md.
    {"llama-3.2-1b", nullptr,       1'235'814'400ULL,   "HF API safetensors.total (BF16 1235814400); GPTQModel tests"},
    {"llama-3.1-70b", nullptr,      70'553'706'496ULL,  "HF API safetensors.total; index total_size 141107412992 / 2"},
    {"llama-3.1-405b", nullptr,     405'853'388'800ULL, "HF API safetensors.total at revision b906e4dc"},
    {"mixtral-8x22b-v0.1", nullptr, 140'620'634'112ULL, "checkpoint payload 281241268224 bytes / 2 (BF16)"},
    {"qwen2.5-0.5b", nullptr,       494'032'768ULL,     "model.safetensors: 494,032,768 BF16 parameters; keras-hub qwen2.5_0.5b_en"},
    {"qwen2.5-7b", nullptr,         7'615'616'512ULL,   "index total_size 15231233024 / 2 (Qwen2.5-7B-Instruct, same weights shape)"},
    {"qwen3-8b", nullptr,           8'190'735'360ULL,   "HF API safetensors.total; keras-hub qwen3_8b_en params"},
    {"smollm2-135m", nullptr,       134'515'008ULL,     "134,515,008 BF16 scalars in model.safetensors"},
    {"tinyllama-1.1b", nullptr,     1'100'048'384ULL,   "sum(p.numel() for p in model.parameters()) printed in the TinyLlama repo"},
    // Issue 3's families; sources in models/SOURCES-*.md and tests/data/SOURCES-*.md.
    {"llama-3.2-3b", nullptr,       3'212'749'824ULL,   "HF API BF16 parameter count (Llama-3.2-3B-Instruct, same shapes)"},
    {"gemma-2b", nullptr,           2'506'172'416ULL,   "keras-hub gemma_2b_en params; gemma-2b-it index total_size 5012344832 / 2"},
    {"gemma-7b", nullptr,           8'537'680'896ULL,   "keras-hub gemma_7b_en params"},
    {"gemma-2-2b", nullptr,         2'614'341'888ULL,   "keras-hub gemma2_2b_en params"},
    {"gemma-2-9b", nullptr,         9'241'705'984ULL,   "keras-hub gemma2_9b_en params"},
    {"gemma-3-1b", nullptr,         999'885'952ULL,     "keras-hub gemma3_1b params"},
    {"gemma-3-4b", nullptr,         4'300'079'472ULL,   "sum(p.numel()) of Gemma3ForConditionalGeneration asserted in test code; medgemma-4b index total_size 8600158944 / 2 (vision tower included)"},
    {"phi-2", nullptr,              2'779'683'840ULL,   "index total_size 5559367680 / 2"},
    {"phi-3-mini-4k", nullptr,      3'821'079'552ULL,   "index total_size 7642159104 / 2; keras-hub phi3_mini_4k_instruct_en"},
    {"phi-3.5-mini", nullptr,       3'821'079'552ULL,   "Phi-3-mini-128k index total_size 7642159104 / 2 (identical shapes; no figure for 3.5 itself)"},
    {"phi-4", nullptr,              14'659'507'200ULL,  "GGUF general.parameter_count of microsoft/phi-4 conversions; NVIDIA NeMo num_parameters"},
    {"stablelm-2-1.6b", nullptr,    1'644'515'328ULL,   "StableLM 2 1.6B table: Parameters 1644515328"},
    {"olmo-1b", nullptr,            1'176'764'416ULL,   "OLMo-1B parameter count asserted in OLMo code bases"},
    {"olmo-2-7b", nullptr,          7'298'617'344ULL,   "index total_size 29194469376 / 4 (F32)"},
    {"qwen3-30b-a3b", nullptr,      30'532'122'624ULL,  "index total_size 61064245248 / 2; keras-hub preset params"},
    {"deepseek-v3", nullptr,        671'026'419'200ULL, "DeepSeek-V3 \"671B\" main model: header sums of the published FP8 checkpoint without layer 61 (MTP) and scales"},
    {"gpt2", nullptr,               124'439'808ULL,     "GPT2LMHeadModel<all params:124439808> (tied head once); issue anchor"},
    {"gpt2-medium", nullptr,        354'823'168ULL,     "model registry num_parameters 354823168 for gpt2-medium"},
    {"pythia-160m", nullptr,        162'322'944ULL,     "Pythia model card table: 160M, 162,322,944"},
    {"pythia-1.4b", nullptr,        1'414'647'808ULL,   "Pythia model card table: 1.4B, 1,414,647,808"},
    {"opt-125m", nullptr,           125'239'296ULL,     "\"The original model has 125239296 parameters\" (pruning tutorial)"},
    {"opt-350m", nullptr,           331'196'416ULL,     "--n_elements 331196416  # OPT-350M (benchmark)"},
    {"bert-base-uncased", "none",   109'482'240ULL,     "BertModel.from_pretrained(\"bert-base-uncased\") = 109482240 (test); issue anchor"},
    {"roberta-base", nullptr,       124'697'433ULL,     "Hub safetensors F32 count of roberta-base (RobertaForMaskedLM, tied decoder once; I64 514 is position_ids)"},
    {"roberta-base", "none",        124'645'632ULL,     "roberta-base RobertaModel 124645632"},
    {"qwen2.5-72b", nullptr,        72'706'203'648ULL,  "keras-hub Qwen2.5-72B-Instruct params; Instruct index total_size / 2 (same shapes)"},
    {"bloom-560m", nullptr,         559'214'592ULL,     "Hub safetensors F16 count of bigscience/bloom-560m (huggingface_hub test); keras-hub bloom preset"},
    {"deepseek-v2-lite", nullptr,   15'706'484'224ULL,  "header sums of DeepSeek-V2-Lite-Chat's safetensors (5,291 tensors, BF16; same architecture)"},
    {"flan-t5-base", nullptr,       247'577'856ULL,     "keras-hub t5_1.1_base params; Hub F32 count of google/flan-t5-base (untied head)"},
    {"qwen1.5-moe-a2.7b", nullptr,  14'315'784'192ULL,  "index total_size 28631568384 / 2 (BF16); keras-hub preset params"},
    {"t5-small", nullptr,           60'506'624ULL,      "keras-hub t5 small params 60506624; DeepSpeed total_numel=60506624; issue anchor"},
    // Group GO (issue 13); sources in models/SOURCES-GO.md and tests/data/SOURCES-GO.md, more in families-go.cpp.
    {"gpt-oss-20b", nullptr,        20'914'757'184ULL,  "huggingface.js parse-safetensors-metadata spec: BF16 + U8 blocks unpacked, scales not counted"},
    {"gpt-oss-120b", nullptr,       116'829'156'672ULL, "huggingface.js parse-safetensors-metadata spec (openai/gpt-oss-120b rev b5c939de)"},
    {"llama-4-scout-17b-16e", nullptr, 108'641'793'536ULL, "Hub safetensors.parameters.BF16 of Llama-4-Scout-17B-16E(-Instruct); card 109B"},
    {"llama-4-scout-17b-16e-instruct", nullptr, 108'641'793'536ULL, "Hub safetensors.parameters.BF16; card 109B"},
    {"llama-4-maverick-17b-128e-instruct", nullptr, 401'583'781'376ULL, "Fireworks docs billing export parameter_count; card 400B"},
};
// clang-format on

TEST(published_counts, every_preset_has_a_published_total) {
    for (const preset& p : presets()) {
        bool found = false;
        for (const auto& pub : published_totals) found |= std::string(pub.preset) == p.name;
        // Presets whose only published figure needs its own arithmetic, tested below.
        for (const char* special :
             {"falcon-7b-instruct", "falcon-40b", "starcoder2-3b",
              "llama-4-scout-17b-16e-text"}) // Scout less its vision tower: families-go.cpp
            found |= p.name == std::string(special);
        found |= presets_with_totals_elsewhere().count(p.name) > 0; // tested in families-*.cpp
        EXPECT_TRUE(found) << p.name << " has no published total in this test";
    }
}

analysis analyze_with_head(const char* preset, const char* head) {
    config_options options;
    if (head) options.head = parse_head_kind(head);
    auto a = analyze(preset, preset_config(preset), options);
    if (!a.ok()) ADD_FAILURE() << preset << ": " << a.err().message;
    return a.ok() ? std::move(*a) : analysis{};
}

TEST(published_counts, totals_equal_published_figures) {
    for (const auto& pub : published_totals) {
        analysis a = analyze_with_head(pub.preset, pub.head);
        EXPECT_EQ(a.counts.total, pub.total) << pub.preset << " (" << pub.source << ")";
        EXPECT_EQ(a.counts.total, a.counts.embedding + a.counts.non_embedding) << pub.preset;
    }
}

// Dense models: every parameter is active.
TEST(published_counts, dense_models_are_fully_active) {
    for (const char* name : {"llama-3.1-8b", "qwen2.5-7b", "qwen3-8b", "mistral-7b-v0.1"}) {
        analysis a = analyze_preset(name);
        EXPECT_EQ(a.counts.active, a.counts.total) << name;
    }
}

// A model card's rounded figure ("7.61B") matches when our exact count is within one unit of its last digit:
// the cards round inconsistently (Qwen2.5-7B's 7.6156B is printed as 7.61B, its 6.5256B as 6.53B).
void expect_near_published(uint64_t exact, double published_billions, double last_digit, const char* what) {
    double ours = static_cast<double>(exact) / 1e9;
    EXPECT_LE(std::fabs(ours - published_billions), last_digit) << what << ": ours " << exact;
}

// Mixtral-8x7B: "12.9B active parameters" (Mistral AI, "Mixtral of experts" announcement and model card);
// Mixtral-8x22B: "39B active parameters out of a total of 141B" (Mistral AI blog, April 2024).
TEST(published_counts, mixtral_active_parameters) {
    expect_near_published(analyze_preset("mixtral-8x7b-v0.1").counts.active, 12.9, 0.1,
                          "Mixtral-8x7B active");
    expect_near_published(analyze_preset("mixtral-8x22b-v0.1").counts.active, 39, 1, "Mixtral-8x22B active");
    expect_near_published(analyze_preset("mixtral-8x22b-v0.1").counts.total, 141, 1, "Mixtral-8x22B total");
}

// Qwen2.5 model cards: "Number of Parameters: 7.61B; Number of Paramaters (Non-Embedding): 6.53B"
// (Qwen2.5-7B) and "0.49B; (Non-Embedding): 0.36B" (Qwen2.5-0.5B, tied embeddings). Qwen counts an untied
// output head as embedding, which is the definition we use; counting only the input embedding would
// give 7.07B for the 7B.
TEST(published_counts, qwen_non_embedding_counts) {
    analysis q7 = analyze_preset("qwen2.5-7b");
    expect_near_published(q7.counts.total, 7.61, 0.01, "Qwen2.5-7B total");
    expect_near_published(q7.counts.non_embedding, 6.53, 0.01, "Qwen2.5-7B non-embedding");
    analysis q05 = analyze_preset("qwen2.5-0.5b");
    expect_near_published(q05.counts.total, 0.49, 0.01, "Qwen2.5-0.5B total");
    expect_near_published(q05.counts.non_embedding, 0.36, 0.01, "Qwen2.5-0.5B non-embedding");
}

// Qwen3-8B model card: "Number of Parameters: 8.2B".
TEST(published_counts, qwen3_card_total) {
    expect_near_published(analyze_preset("qwen3-8b").counts.total, 8.2, 0.1, "Qwen3-8B total");
}

TEST(published_counts, by_role_and_by_layer_add_up_to_the_total) {
    for (const preset& p : presets()) {
        analysis a = analyze_preset(p.name);
        uint64_t roles = 0, layers = a.counts.outside_layers;
        for (uint64_t n : a.counts.by_role) roles += n;
        for (uint64_t n : a.counts.by_layer) layers += n;
        EXPECT_EQ(roles, a.counts.total) << p.name;
        EXPECT_EQ(layers, a.counts.total + a.counts.mtp) << p.name; // by_layer includes MTP layers
        EXPECT_EQ(a.counts.by_layer.size(), a.spec.layers.size()) << p.name;
    }
}

// The weight bytes of the BF16 checkpoints equal their published index total_size (buffers excluded).
TEST(published_counts, weight_bytes_equal_index_total_size) {
    EXPECT_EQ(analyze_preset("mistral-7b-v0.1").counts.weight_bytes, 14'483'464'192ULL); // index total_size
    EXPECT_EQ(analyze_preset("llama-3.1-70b").counts.weight_bytes, 141'107'412'992ULL);  // index total_size
    EXPECT_EQ(analyze_preset("qwen3-8b").counts.weight_bytes, 16'381'470'720ULL);        // index total_size
}

// Falcon-7B's checkpoint stores lm_head.weight although the model ties it: 7,217,189,760 elements (a
// benchmark table's model_size for tiiuae/falcon-7b; the two BF16 shards, 9.95 GB + 4.48 GB, agree). The
// skeleton counts the tied head once and lists lm_head.weight as an alias of the embedding.
// Falcon-40B likewise: index total_size 83,671,941,120 bytes / 2 = 41,835,970,560, an architecture card's
// "total_parameters: 41835970560".
TEST(published_counts, falcon_checkpoint_duplicates_the_tied_head) {
    for (auto [preset, stored] : {
             std::pair{"falcon-7b-instruct", 7'217'189'760ULL },
             std::pair{"falcon-40b",         41'835'970'560ULL}
    }) {
        analysis a = analyze_preset(preset);
        ASSERT_EQ(a.sk.aliases.size(), 1u) << preset;
        EXPECT_EQ(a.sk.aliases[0].name, "lm_head.weight");
        EXPECT_EQ(a.counts.total + a.counts.by_role[static_cast<size_t>(role::embed)], stored) << preset;
    }
}

// The legacy RefinedWebModel config of falcon-7b (n_head, n_layer, multi_query) describes the same model as
// the falcon one: same names, same count.
TEST(published_counts, falcon_legacy_model_type_is_the_same_model) {
    std::string legacy =
        edit_key(edit_key(preset_config("falcon-7b-instruct"), "model_type", "\"RefinedWebModel\""),
                 "architectures", "[\"RWForCausalLM\"]");
    legacy = edit_key(edit_key(legacy, "n_head", "71"), "num_attention_heads", "");
    legacy = edit_key(edit_key(legacy, "n_layer", "32"), "num_hidden_layers", "");
    auto a = analyze("legacy", legacy, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_EQ(a->counts.total + a->counts.by_role[static_cast<size_t>(role::embed)], 7'217'189'760ULL);
    EXPECT_EQ(a->sk.tensors.size(), analyze_preset("falcon-7b-instruct").sk.tensors.size());
}

// DeepSeek-V3's multi-token-prediction layer (model.layers.61) is stored in the checkpoint but not part of
// the 671B model: 13,463,426,304 elements (header sums of the published checkpoint; "671B main + 14B MTP").
TEST(published_counts, deepseek_v3_mtp_is_counted_apart) {
    analysis a = analyze_preset("deepseek-v3");
    EXPECT_EQ(a.counts.mtp, 13'463'426'304ULL);
    expect_near_published(a.counts.active, 37, 1, "DeepSeek-V3 activated (README: 37B)");
    expect_near_published(a.counts.total + a.counts.mtp, 684.5, 0.1, "DeepSeek-V3 stored, without scales");
}

// StarCoder2-3B: only a rounded figure exists, the single F32 model.safetensors of 12.1 GB (HF file list):
// 12.1e9 / 4 bytes = 3.025B parameters, +-0.0125B for the rounding of "12.1".
TEST(published_counts, starcoder2_3b_file_size) {
    expect_near_published(analyze_preset("starcoder2-3b").counts.total, 3.025, 0.0125, "StarCoder2-3B");
}

// Qwen1.5-MoE-A2.7B: "2.7B activated parameters" (model card and name).
TEST(published_counts, qwen2_moe_active) {
    expect_near_published(analyze_preset("qwen1.5-moe-a2.7b").counts.active, 2.7, 0.05,
                          "Qwen1.5-MoE-A2.7B active");
}

// DeepSeek counts activated parameters without the input embedding (a lookup, not a matmul): V3's
// README_WEIGHTS gives 36.7B activated, V2-Lite's README "2.4B activated". Mistral and Qwen count it in (the
// Mixtral and Qwen MoE tests above); our `active` does too, so DeepSeek's figure is ours minus embed_tokens.
TEST(published_counts, deepseek_activated_without_embedding) {
    for (auto [preset, figure] : {
             std::pair{"deepseek-v2-lite", 2.4 },
             std::pair{"deepseek-v3",      36.7}
    }) {
        analysis a = analyze_preset(preset);
        uint64_t embed = a.counts.by_role[static_cast<size_t>(role::embed)];
        expect_near_published(a.counts.active - embed, figure, 0.1, preset);
    }
}

// Qwen3-30B-A3B: "3.3B activated" (model card).
TEST(published_counts, qwen3_moe_active) {
    expect_near_published(analyze_preset("qwen3-30b-a3b").counts.active, 3.3, 0.1, "Qwen3-30B-A3B active");
}

TEST(published_counts, dtype_override_changes_bytes_not_counts) {
    config_options fp32;
    fp32.weight_dtype = dtype::f32;
    auto a = analyze("llama-3.1-8b", preset_config("llama-3.1-8b"), fp32);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->counts.total, 8'030'261'248ULL);
    EXPECT_EQ(a->counts.weight_bytes, 4 * 8'030'261'248ULL);
    EXPECT_EQ(a->sk.tensors.front().type, dtype::f32);
}

} // namespace
} // namespace modelplan::test
