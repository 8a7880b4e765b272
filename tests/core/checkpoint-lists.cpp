// Skeleton names (and shapes, where the list has them) against real checkpoints' tensor lists: the weight_map
// of a published model.safetensors.index.json, or the tensors of a published safetensors header. Every
// skeleton parameter must be in the checkpoint, and every checkpoint tensor must be a skeleton parameter, a
// tied alias or a documented buffer ("modulo documented buffers and aliases"). Sources of each list:
// tests/data/SOURCES*.md.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "test-util.h"

namespace modelplan::test {
namespace {

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

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

struct list_case {
    const char* list;                // file in tests/data
    const char* preset;              // the model it belongs to: a preset, or a config file in tests/data
    const char* head;                // head to build (the checkpoint's layout), or null for the config's own
    const char* skip_suffix;         // checkpoint-only tensors to leave out (quantization scales), or null
    size_t expected_count;           // names in the list, as its source reports them
    bool tf_layernorm_names = false; // TensorFlow-era LayerNorm.gamma/beta, renamed on load to weight/bias
    const char* ignored_prefix = nullptr; // stored tensors the class ignores on load (transformers'
                                          // _keys_to_ignore_on_load_unexpected), or null
};

// clang-format off
const list_case cases[] = {
    {"mistral-7b-v0.1.weight_map.txt", "mistral-7b-v0.1", nullptr, nullptr, 291},
    {"gemma-2b.weight_map.txt",        "gemma-2b",        nullptr, nullptr, 164},   // tied head not stored
    {"phi-2.weight_map.txt",           "phi-2",           nullptr, nullptr, 453},
    {"phi-3-mini-4k.weight_map.txt",   "phi-3-mini-4k",   nullptr, nullptr, 195},
    {"olmo-2-7b.weight_map.txt",       "olmo-2-7b",       nullptr, nullptr, 355},
    // openai-community/gpt2 was saved from GPT2Model (no "transformer." prefix) with the causal masks.
    {"gpt2.tensors.tsv",               "gpt2",            "none",  nullptr, 160},
    // Qwen3-Coder-30B-A3B-Instruct's header: the same architecture and shapes as Qwen3-30B-A3B.
    {"qwen3-30b-a3b.tensors.tsv",      "qwen3-30b-a3b",   nullptr, nullptr, 18867},
    // DeepSeek-R1's FP8 header (same architecture as V3): layer 61 is the MTP module; the
    // weight_scale_inv tensors are FP8 block scales, which belong to the checkpoint format, not the model.
    {"deepseek-v3.tensors.tsv",        "deepseek-v3",     nullptr, ".weight_scale_inv", 91991},
    {"qwen2.5-7b.weight_map.txt",      "qwen2.5-7b",      nullptr, nullptr, 339},
    // bigscience/bloom-560m was saved from BloomModel (no "transformer." prefix, tied head not stored).
    {"bloom-560m.tensors.tsv",         "bloom-560m",      "none",  nullptr, 293},
    // DeepSeek-V2-Lite-Chat's header (same architecture as V2-Lite): first layer dense, no query latent.
    {"deepseek-v2-lite.tensors.tsv",   "deepseek-v2-lite", nullptr, nullptr, 5291},
    {"llama-3.2-3b.weight_map.txt",    "llama-3.2-3b",    nullptr, nullptr, 254},   // tied head not stored
    {"mixtral-8x7b-v0.1.weight_map.txt", "mixtral-8x7b-v0.1", nullptr, nullptr, 995},
    // Models outside the presets, each with its own published config in tests/data.
    {"llama-2-7b-chat.weight_map.txt", "llama-2-7b-chat.config.json", nullptr, nullptr, 291},
    {"reflection-llama-3.1-70b.weight_map.txt", "reflection-llama-3.1-70b.config.json", nullptr, nullptr, 723},
    {"qwen1.5-moe-a2.7b.weight_map.txt", "qwen1.5-moe-a2.7b.config.json", nullptr, nullptr, 4659},
    {"medgemma-27b-it.weight_map.txt", "medgemma-27b-it.config.json", nullptr, nullptr, 1247},
    {"falcon-180b-chat.weight_map.txt", "falcon-180b-chat.config.json", nullptr, nullptr, 644},
    // tiiuae/falcon-40b with its RefinedWeb config; the checkpoint stores the tied lm_head.
    {"falcon-40b.weight_map.txt",      "falcon-40b.config.json", nullptr, nullptr, 484},
    // RedPajama-INCITE-7B-Base (gpt_neox) saved with the per-layer mask and inv_freq buffers.
    {"redpajama-incite-7b-base.weight_map.txt", "redpajama-incite-7b-base.config.json", nullptr, nullptr, 484},
    // Qwen3-4B (tied head not stored), from a loader that hard-codes every tensor's byte range in the real shards.
    {"qwen3-4b.weight_map.txt",        "qwen3-4b.config.json", nullptr, nullptr, 398},
    // t5-small's pytorch_model.bin keys (T5Model's keys, less the two embed_tokens aliases, plus the unused
    // cross-attention relative bias that transformers reports as unexpected).
    {"t5-small.weight_map.txt",        "t5-small",        nullptr, nullptr, 132},
    // bert-base-uncased's pytorch_model.bin: BertForPreTraining with TF-era gamma/beta names, which transformers
    // renames on load (layers 1-10 of the list are expanded from the printed layer-0 pattern, see SOURCES-E).
    {"bert-base-uncased.weight_map.txt", "bert-base-uncased", "pretraining", nullptr, 207, true},
    // Lists rebuilt from converters' outputs and printed dumps (sources and caveats: tests/data/SOURCES-H.md).
    // google/gemma-2-2b-it, from Ollama's converter fixture renamed back (tied head not stored).
    {"gemma-2-2b-it.weight_map.txt",   "gemma-2-2b",      nullptr, nullptr, 288},
    // bigcode/starcoder2-3b, from llama.cpp's conversion log (483 tensors; tied head not stored).
    {"starcoder2-3b.weight_map.txt",   "starcoder2-3b",   nullptr, nullptr, 483},
    // stabilityai/stablelm-2-zephyr-1_6b (the preset's config), from llama.cpp's conversion log, in part.
    {"stablelm-2-zephyr-1_6b.weight_map.txt", "stablelm-2-1.6b", nullptr, nullptr, 340},
    // roberta-large's pytorch_model.bin, from a printed key dump (397 keys); it stores the pooler, which
    // RobertaForMaskedLM ignores on load.
    {"roberta-large.tensors.tsv",      "roberta-large.config.json", nullptr, nullptr, 397, false, "roberta.pooler."},
    // google/gemma-3-1b-it's safetensors header as a converter's manifest records it (SOURCES-I; tied head).
    {"gemma-3-1b-it.tensors.tsv",      "gemma-3-1b",      nullptr, nullptr, 340},
    // facebook/opt-350m's pytorch_model.bin, by a loader's strict key-and-shape contract (SOURCES-I). The file
    // was saved from the bare OPTModel ("decoder.*", no "model." prefix; transformers adds the prefix on load
    // into OPTForCausalLM), with project_in/project_out and the tied head not stored.
    {"opt-350m.tensors.tsv",           "opt-350m",        "none",  nullptr, 388},
};

// transformers' load-time rename of TensorFlow-era LayerNorm parameter names.
std::string modern_name(std::string name) {
    for (auto [old_tail, new_tail] : {std::pair{".gamma", ".weight"}, std::pair{".beta", ".bias"}})
        if (ends_with(name, old_tail)) return name.substr(0, name.size() - std::string(old_tail).size()) + new_tail;
    return name;
}

std::string config_of(const std::string& model) {
    if (!ends_with(model, ".config.json")) return preset_config(model);
    std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/" + model);
    EXPECT_TRUE(in.good()) << model;
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}
// clang-format on

void check_list(const list_case& c, const std::string& config) {
    SCOPED_TRACE(c.list);
    std::vector<listed_tensor> listed = read_list(c.list);
    EXPECT_EQ(listed.size(), c.expected_count);
    config_options options;
    if (c.head) options.head = parse_head_kind(c.head);
    auto a = analyze(c.preset, config, options);
    ASSERT_TRUE(a.ok()) << a.err().message;

    std::map<std::string, const tensor_info*> params;
    for (const auto& t : a->sk.tensors) params[t.name] = &t;
    std::set<std::string> aliases, buffers;
    for (const auto& al : a->sk.aliases) aliases.insert(al.name);
    for (const auto& b : a->sk.buffers) buffers.insert(b.name);

    std::set<std::string> seen;
    size_t unexplained = 0, shape_mismatches = 0;
    for (auto t : listed) {
        if (c.skip_suffix && ends_with(t.name, c.skip_suffix)) continue;
        if (c.ignored_prefix && t.name.rfind(c.ignored_prefix, 0) == 0) continue;
        if (c.tf_layernorm_names) t.name = modern_name(t.name);
        seen.insert(t.name);
        auto it = params.find(t.name);
        if (it == params.end()) {
            if (!aliases.count(t.name) && !buffers.count(t.name) && unexplained++ < 5)
                ADD_FAILURE() << "checkpoint tensor not in the skeleton: " << t.name;
            continue;
        }
        if (!t.shape.empty() && t.shape != it->second->shape && shape_mismatches++ < 5)
            ADD_FAILURE() << "shape of " << t.name << " differs from the checkpoint";
    }
    size_t missing = 0;
    for (const auto& p : params)
        if (!seen.count(p.first) && missing++ < 5)
            ADD_FAILURE() << "skeleton tensor not in the checkpoint: " << p.first;
    EXPECT_EQ(unexplained + shape_mismatches + missing, 0u);
}

TEST(checkpoint_lists, skeletons_match_published_tensor_lists) {
    for (const auto& c : cases) check_list(c, config_of(c.preset));
}

// allenai/OLMo-7B-0724-hf's index (226 names: lm_head, embed_tokens and 7 projections in each of 32 layers,
// no norm tensors). Its config.json was not found; the names depend only on the layer count (32, as the index
// shows) and on the head being untied (lm_head.weight is stored), so OLMo-1B-hf's config with those two
// values builds the same names.
TEST(checkpoint_lists, olmo_7b_names) {
    std::string config = edit_key(edit_key(preset_config("olmo-1b"), "num_hidden_layers", "32"),
                                  "tie_word_embeddings", "false");
    check_list({"olmo-7b-0724.weight_map.txt", "olmo-1b", nullptr, nullptr, 226}, config);
}

} // namespace
} // namespace modelplan::test
