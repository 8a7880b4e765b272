// Skeleton names and shapes against real checkpoints. Sources are in tests/data/SOURCES.md.
#include <algorithm>
#include <fstream>
#include <set>

#include "test-util.h"

namespace modelplan::test {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path);
    EXPECT_TRUE(in.good()) << path;
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) lines.push_back(line);
    return lines;
}

std::set<std::string> names_of(const analysis& a) {
    std::set<std::string> names;
    for (const auto& t : a.sk.tensors) names.insert(t.name);
    return names;
}

const tensor_info* find(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

// mistralai/Mistral-7B-v0.1 model.safetensors.index.json weight_map keys (291 names).
TEST(skeleton_names, mistral_7b_equals_the_published_weight_map) {
    std::vector<std::string> expected =
        read_lines(std::string(MODELPLAN_TEST_DATA) + "/mistral-7b-v0.1.weight_map.txt");
    ASSERT_EQ(expected.size(), 291u);
    std::set<std::string> ours = names_of(analyze_preset("mistral-7b-v0.1"));
    std::set<std::string> theirs(expected.begin(), expected.end());
    std::vector<std::string> missing, extra;
    std::set_difference(theirs.begin(), theirs.end(), ours.begin(), ours.end(), std::back_inserter(missing));
    std::set_difference(ours.begin(), ours.end(), theirs.begin(), theirs.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty()) << "in the checkpoint, not in the skeleton: "
                                 << (missing.empty() ? "" : missing[0]);
    EXPECT_TRUE(extra.empty()) << "in the skeleton, not in the checkpoint: "
                               << (extra.empty() ? "" : extra[0]);
}

// Tensor counts of published checkpoints (index weight_map entries or safetensors header entries).
TEST(skeleton_names, tensor_counts_equal_published_checkpoints) {
    struct row {
        const char* preset;
        size_t tensors;
        const char* source;
    };
    const row rows[] = {
        {"llama-3.1-70b",      723,  "Llama-3.1-70B index: 723 keys, 80 layers"                          },
        {"qwen2.5-7b",         339,  "Qwen2.5-7B-Instruct index: 339 entries (same architecture)"        },
        {"qwen3-8b",           399,  "Qwen3-8B checkpoint inventory: 399 tensors"                        },
        {"mixtral-8x22b-v0.1", 1739, "Mixtral-8x22B-v0.1 checkpoint: 1739 tensor rows in 59 shards"      },
        {"qwen2.5-0.5b",       290,  "Qwen2.5-0.5B model.safetensors: 290 tensors (tied head not stored)"},
        {"smollm2-135m",       272,
         "SmolLM2-135M model.safetensors: 272 serialized tensors (tied head not stored)"                 },
    };
    for (const auto& r : rows)
        EXPECT_EQ(analyze_preset(r.preset).sk.tensors.size(), r.tensors) << r.preset << ": " << r.source;
}

// meta-llama/Llama-2-7b-hf's index total_size is 13,476,839,424 bytes: the FP16 weights plus the per-layer
// rotary inv_freq buffers it stores in F32. Our buffers account for exactly the difference.
TEST(skeleton_names, llama_2_buffers_explain_the_index_total_size) {
    analysis a = analyze_preset("llama-2-7b");
    ASSERT_EQ(a.sk.buffers.size(), 32u);
    EXPECT_EQ(a.sk.buffers[0].name, "model.layers.0.self_attn.rotary_emb.inv_freq");
    uint64_t buffer_bytes = 0;
    for (const auto& b : a.sk.buffers) buffer_bytes += b.elements * dtype_bytes(b.type);
    EXPECT_EQ(a.counts.weight_bytes + buffer_bytes, 13'476'839'424ULL);
}

// Llama 3.2 ties the head to the embedding: the checkpoint stores no lm_head.weight (1,235,814,400
// parameters counted once, see published-counts.cpp), and the name resolves through an alias.
TEST(skeleton_names, tied_head_is_an_alias) {
    analysis a = analyze_preset("llama-3.2-1b");
    EXPECT_EQ(find(a, "lm_head.weight"), nullptr);
    ASSERT_EQ(a.sk.aliases.size(), 1u);
    EXPECT_EQ(a.sk.aliases[0].name, "lm_head.weight");
    EXPECT_EQ(a.sk.aliases[0].target, "model.embed_tokens.weight");
    EXPECT_EQ(analyze_preset("llama-3.1-8b").sk.aliases.size(), 0u);
}

// Qwen2.5: "Attention QKV bias" (model card); no output-projection bias.
TEST(skeleton_names, qwen2_has_qkv_biases) {
    analysis a = analyze_preset("qwen2.5-7b");
    for (const char* n : {"q_proj", "k_proj", "v_proj"})
        EXPECT_NE(find(a, std::string("model.layers.27.self_attn.") + n + ".bias"), nullptr) << n;
    EXPECT_EQ(find(a, "model.layers.0.self_attn.o_proj.bias"), nullptr);
    // "28 for Q and 4 for KV" heads of 128 (model card; hidden 3584 / 28): K bias is 4 x 128.
    ASSERT_NE(find(a, "model.layers.0.self_attn.k_proj.bias"), nullptr);
    EXPECT_EQ(find(a, "model.layers.0.self_attn.k_proj.bias")->shape, std::vector<uint64_t>({512}));
}

// Qwen3 adds per-head q/k RMSNorm of head_dim (128) elements and has no biases.
TEST(skeleton_names, qwen3_has_qk_norms) {
    analysis a = analyze_preset("qwen3-8b");
    const tensor_info* qn = find(a, "model.layers.35.self_attn.q_norm.weight");
    ASSERT_NE(qn, nullptr);
    EXPECT_EQ(qn->shape, std::vector<uint64_t>({128}));
    EXPECT_NE(find(a, "model.layers.0.self_attn.k_norm.weight"), nullptr);
    EXPECT_EQ(find(a, "model.layers.0.self_attn.q_proj.bias"), nullptr);
}

TEST(skeleton_names, mixtral_experts_and_router) {
    analysis a = analyze_preset("mixtral-8x7b-v0.1");
    const tensor_info* router = find(a, "model.layers.31.block_sparse_moe.gate.weight");
    ASSERT_NE(router, nullptr);
    EXPECT_EQ(router->shape, std::vector<uint64_t>({8, 4096}));
    const tensor_info* w2 = find(a, "model.layers.0.block_sparse_moe.experts.7.w2.weight");
    ASSERT_NE(w2, nullptr);
    EXPECT_EQ(w2->shape, std::vector<uint64_t>({4096, 14336}));
    EXPECT_EQ(w2->expert, 7);
    EXPECT_EQ(w2->layer, 0);
    EXPECT_EQ(find(a, "model.layers.0.mlp.gate_proj.weight"), nullptr);
}

} // namespace
} // namespace modelplan::test
