// The eagle3 family (EAGLE-3 speculative heads, core/src/model/families/eagle.cpp) against published head
// configs: no preset holds a head, so its configs are here, as SpecForge publishes them for training
// (sgl-project/SpecForge configs/llama3-70B-ealge3.json and configs/qwen3-32b-eagle3.json, keys and values as
// published, whitespace ours).
#include <gtest/gtest.h>

#include "modelplan/report.h"
#include "test-util.h"

namespace modelplan {
namespace {

const char* const llama3_70b_eagle3 = R"({
  "architectures": ["LlamaForCausalLMEagle3"], "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009],
  "head_dim": 128, "hidden_act": "silu", "hidden_size": 8192, "initializer_range": 0.02,
  "intermediate_size": 28672, "max_position_embeddings": 4096, "model_type": "llama", "num_attention_heads": 64,
  "num_key_value_heads": 8, "num_hidden_layers": 1, "pad_token_id": 0, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                   "original_max_position_embeddings": 4096, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "float16",
  "transformers_version": "4.28.1", "use_cache": true, "vocab_size": 128256, "draft_vocab_size": 32000})";

const char* const qwen3_32b_eagle3 = R"({
  "architectures": ["LlamaForCausalLMEagle3"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 80, "hidden_act": "silu", "hidden_size": 5120,
  "initializer_range": 0.02, "intermediate_size": 25600, "max_position_embeddings": 40960,
  "max_window_layers": 64, "model_type": "llama", "num_attention_heads": 64, "num_hidden_layers": 1,
  "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000,
  "sliding_window": null, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "transformers_version": "4.51.0", "use_cache": true, "use_sliding_window": false, "vocab_size": 151936,
  "draft_vocab_size": 32000})";

const tensor_info* find_tensor(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

// The class, not the model_type ("llama"), picks the family; the names are the head's checkpoint names (a
// published EAGLE-3 head's tensor list, NVIDIA/TensorRT-LLM#6158: d2t (32000,) int64, fc.weight, ...; vLLM's
// llama_eagle3.py reads midlayer.*, fc, norm, lm_head, d2t and t2d). Counted by hand for the 70B head:
// fc 8,192 x 3 x 8,192 = 201,326,592; q 8,192 x 16,384 = 134,217,728; k, v 1,024 x 16,384 =
// 16,777,216 each; o 8,192^2 = 67,108,864; MLP 3 x 8,192 x 28,672 = 704,643,072; three norms in the layer and
// the final one 4 x 8,192 = 32,768; lm_head 32,000 x 8,192 = 262,144,000: 1,403,027,456 parameters; no
// embed_tokens (the target's).
TEST(FamiliesEagle, Eagle3HeadByItsClass) {
    auto a = analyze("llama3-70B-eagle3", llama3_70b_eagle3, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_EQ(a->spec.model_type, "eagle3");
    EXPECT_EQ(a->spec.architecture, "LlamaForCausalLMEagle3");
    EXPECT_EQ(a->counts.total, 1403027456u);
    EXPECT_EQ(find_tensor(*a, "embed_tokens.weight"), nullptr);
    const tensor_info* q = find_tensor(*a, "midlayer.self_attn.q_proj.weight");
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(q->shape, (std::vector<uint64_t>{8192, 16384}));
    const tensor_info* head = find_tensor(*a, "lm_head.weight");
    ASSERT_NE(head, nullptr);
    EXPECT_EQ(head->shape, (std::vector<uint64_t>{32000, 8192}));
    ASSERT_EQ(a->sk.buffers.size(), 2u);
    EXPECT_EQ(a->sk.buffers[0].name, "d2t");
    EXPECT_EQ(a->sk.buffers[0].shape, (std::vector<uint64_t>{32000}));
    EXPECT_EQ(a->sk.buffers[1].name, "t2d");
    EXPECT_EQ(a->sk.buffers[1].shape, (std::vector<uint64_t>{128256}));
}

// Qwen3-32B's head: head_dim 80 (5,120 / 64), so q has 64 x 80 = 5,120 rows over 2 x 5,120; fc 5,120 x 15,360
// = 78,643,200; q 5,120 x 10,240 = 52,428,800; k, v 640 x 10,240 = 6,553,600 each; o 5,120 x 5,120 =
// 26,214,400; MLP 3 x 5,120 x 25,600 = 393,216,000; norms 4 x 5,120 = 20,480; lm_head 32,000 x 5,120 =
// 163,840,000: 727,470,080.
TEST(FamiliesEagle, Eagle3HeadOfQwen3) {
    auto a = analyze("qwen3-32b-eagle3", qwen3_32b_eagle3, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_EQ(a->counts.total, 727470080u);
}

// A config without the class stays a Llama (EAGLE-1 heads and yuhuili's EAGLE-3 configs say
// LlamaForCausalLM); a draft vocabulary larger than the vocabulary, or a head of two layers, is refused
// naming the key.
TEST(FamiliesEagle, Eagle3Refusals) {
    std::string text = llama3_70b_eagle3;
    std::string plain = text;
    plain.replace(plain.find("LlamaForCausalLMEagle3"), 22, "LlamaForCausalLM");
    auto llama = analyze("plain", plain, {});
    ASSERT_TRUE(llama.ok()) << llama.err().message;
    EXPECT_EQ(llama->spec.model_type, "llama");
    std::string big = text;
    big.replace(big.find("\"draft_vocab_size\": 32000"), 25, "\"draft_vocab_size\": 200000");
    auto e = analyze("big", big, {});
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.err().path, "draft_vocab_size");
    std::string two = text;
    two.replace(two.find("\"num_hidden_layers\": 1"), 22, "\"num_hidden_layers\": 2");
    auto t = analyze("two", two, {});
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.err().path, "num_hidden_layers");
}

} // namespace
} // namespace modelplan
