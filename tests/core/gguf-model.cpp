// GGUF architecture metadata -> model_spec, GGUF tensor names -> Hugging Face names, and GGUF files verified
// against their own metadata. Key and tensor names: ggml docs/gguf.md and llama.cpp's LLM_KV_NAMES /
// LLM_TENSOR_NAMES (llama architecture); Hugging Face names: transformers' LlamaForCausalLM, Qwen2/Qwen3 and
// MixtralForCausalLM state_dict names (as in tests/data/mistral-7b-v0.1.weight_map.txt).
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/gguf.h"
#include "modelplan/report.h"
#include "modelplan/verify.h"

namespace modelplan::test {
namespace {

using test_files::gguf_file;
namespace tf = test_files;

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

checkpoint parse_ok(const gguf_file& f) {
    std::string file = f.bytes();
    auto r = parse_gguf(file, file.size(), "m.gguf");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    if (!r.ok() || !r->parsed) return {};
    return *r->parsed;
}

// A small Llama-shaped model: hidden 64, 4 heads of 16 (2 KV heads), FFN 128, vocabulary 100, 2 layers.
struct tiny {
    uint64_t hidden = 64, heads = 4, kv_heads = 2, head_dim = 16, ffn = 128, vocab = 100, layers = 2;
    uint64_t experts = 0, experts_used = 0;
    bool tied = false, qkv_bias = false, qk_norm = false, merged_experts = true;
    std::string arch = "llama";

    gguf_file file() const {
        gguf_file f;
        f.kv_str("general.architecture", arch)
            .kv_str("general.name", "tiny")
            .kv_u32(arch + ".block_count", static_cast<uint32_t>(layers))
            .kv_u32(arch + ".embedding_length", static_cast<uint32_t>(hidden))
            .kv_u32(arch + ".feed_forward_length", static_cast<uint32_t>(ffn))
            .kv_u32(arch + ".attention.head_count", static_cast<uint32_t>(heads))
            .kv_u32(arch + ".attention.head_count_kv", static_cast<uint32_t>(kv_heads))
            .kv_u32(arch + ".context_length", 256)
            .kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f)
            .kv_f32(arch + ".rope.freq_base", 10000.0f)
            .kv_str_array("tokenizer.ggml.tokens", std::vector<std::string>(vocab, "t"));
        if (qk_norm) f.kv_u32(arch + ".attention.key_length", static_cast<uint32_t>(head_dim));
        if (experts)
            f.kv_u32(arch + ".expert_count", static_cast<uint32_t>(experts))
                .kv_u32(arch + ".expert_used_count", static_cast<uint32_t>(experts_used));
        const uint64_t q = heads * head_dim, kv = kv_heads * head_dim;
        f.tensor("token_embd.weight", {hidden, vocab}, tf::ggml_q8_0);
        for (uint64_t l = 0; l < layers; ++l) {
            std::string b = "blk." + std::to_string(l) + ".";
            f.tensor(b + "attn_norm.weight", {hidden}, tf::ggml_f32)
                .tensor(b + "attn_q.weight", {hidden, q}, tf::ggml_q8_0)
                .tensor(b + "attn_k.weight", {hidden, kv}, tf::ggml_q8_0)
                .tensor(b + "attn_v.weight", {hidden, kv}, tf::ggml_q8_0)
                .tensor(b + "attn_output.weight", {q, hidden}, tf::ggml_q8_0)
                .tensor(b + "ffn_norm.weight", {hidden}, tf::ggml_f32);
            if (qkv_bias)
                f.tensor(b + "attn_q.bias", {q}, tf::ggml_f32)
                    .tensor(b + "attn_k.bias", {kv}, tf::ggml_f32)
                    .tensor(b + "attn_v.bias", {kv}, tf::ggml_f32);
            if (qk_norm)
                f.tensor(b + "attn_q_norm.weight", {head_dim}, tf::ggml_f32)
                    .tensor(b + "attn_k_norm.weight", {head_dim}, tf::ggml_f32);
            if (!experts) {
                f.tensor(b + "ffn_gate.weight", {hidden, ffn}, tf::ggml_q8_0)
                    .tensor(b + "ffn_up.weight", {hidden, ffn}, tf::ggml_q8_0)
                    .tensor(b + "ffn_down.weight", {ffn, hidden}, tf::ggml_q8_0);
                continue;
            }
            f.tensor(b + "ffn_gate_inp.weight", {hidden, experts}, tf::ggml_f32);
            if (merged_experts) {
                f.tensor(b + "ffn_gate_exps.weight", {hidden, ffn, experts}, tf::ggml_q8_0)
                    .tensor(b + "ffn_down_exps.weight", {ffn, hidden, experts}, tf::ggml_q8_0)
                    .tensor(b + "ffn_up_exps.weight", {hidden, ffn, experts}, tf::ggml_q8_0);
            } else {
                for (uint64_t e = 0; e < experts; ++e) {
                    std::string x = "." + std::to_string(e) + ".weight";
                    f.tensor(b + "ffn_gate" + x, {hidden, ffn}, tf::ggml_q8_0)
                        .tensor(b + "ffn_down" + x, {ffn, hidden}, tf::ggml_q8_0)
                        .tensor(b + "ffn_up" + x, {hidden, ffn}, tf::ggml_q8_0);
                }
            }
        }
        f.tensor("output_norm.weight", {hidden}, tf::ggml_f32);
        if (!tied) f.tensor("output.weight", {hidden, vocab}, tf::ggml_q8_0);
        return f;
    }

    // Parameters by hand: embedding, per layer q, k, v, o, two norms and the FFN, final norm, untied head.
    uint64_t params() const {
        const uint64_t q = heads * head_dim, kv = kv_heads * head_dim;
        uint64_t layer = hidden * q * 2 + hidden * kv * 2 + 2 * hidden;
        if (qkv_bias) layer += q + 2 * kv;
        if (qk_norm) layer += 2 * head_dim;
        layer += experts ? hidden * experts + experts * 3 * hidden * ffn : 3 * hidden * ffn;
        return vocab * hidden + layers * layer + hidden + (tied ? 0 : vocab * hidden);
    }
};

inspection inspect_gguf(const gguf_file& f) {
    checkpoint ck = parse_ok(f);
    auto a = analyze("m.gguf", gguf_model_spec(ck));
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    auto in = inspect("m.gguf", ck, a.ok() ? std::optional<analysis>(*a) : std::nullopt, "GGUF metadata");
    EXPECT_TRUE(in.ok());
    return in.ok() ? std::move(*in) : inspection{};
}

void expect_verified(const inspection& in, uint64_t params) {
    ASSERT_TRUE(in.verify);
    const verify_report& r = *in.verify;
    EXPECT_TRUE(r.ok);
    EXPECT_TRUE(r.missing.empty()) << r.missing.front().name;
    EXPECT_TRUE(r.unexpected.empty()) << r.unexpected.front().name;
    EXPECT_TRUE(r.mismatched.empty()) << r.mismatched.front().name;
    EXPECT_TRUE(r.dtype_differences.empty()) << "GGUF types are not compared with the config's dtype";
    EXPECT_EQ(r.found_params, params);
    EXPECT_EQ(r.expected_params, params);
    EXPECT_EQ(in.view.totals.params, params);
}

// Llama-3.2-1B's published config values as llama.cpp writes them (no output.weight: the head is tied). The
// count is the published one (HF API safetensors.total, 1,235,814,400; tests/core/published-counts.cpp).
TEST(gguf_model, llama_3_2_1b_metadata_gives_the_published_count) {
    gguf_file f;
    f.kv_str("general.architecture", "llama")
        .kv_u32("general.file_type", 32) // LLAMA_FTYPE_MOSTLY_BF16
        .kv_u32("llama.block_count", 16)
        .kv_u32("llama.context_length", 131072)
        .kv_u32("llama.embedding_length", 2048)
        .kv_u32("llama.feed_forward_length", 8192)
        .kv_u32("llama.attention.head_count", 32)
        .kv_u32("llama.attention.head_count_kv", 8)
        .kv_u32("llama.attention.key_length", 64)
        .kv_f32("llama.rope.freq_base", 500000.0f)
        .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
        .kv_u32("llama.vocab_size", 128256);
    checkpoint ck = parse_ok(f);
    auto spec = gguf_model_spec(ck);
    ASSERT_TRUE(spec.ok()) << spec.err().message;
    EXPECT_EQ(spec->model_type, "llama");
    EXPECT_EQ(spec->hidden, 2048u);
    EXPECT_EQ(spec->n_layers, 16u);
    EXPECT_EQ(spec->n_kv_heads, 8u);
    EXPECT_EQ(spec->head_dim, 64u);
    EXPECT_EQ(spec->vocab, 128256u);
    EXPECT_EQ(spec->max_positions, 131072u);
    EXPECT_TRUE(spec->tie_embeddings());
    EXPECT_EQ(spec->weight_dtype, dtype::bf16);
    EXPECT_DOUBLE_EQ(spec->rope.theta, 500000.0);
    auto a = analyze("llama-3.2-1b.gguf", std::move(spec));
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_EQ(a->counts.total, 1'235'814'400ULL);
}

TEST(gguf_model, llama_file_verifies_against_its_own_metadata) {
    tiny t;
    inspection in = inspect_gguf(t.file());
    expect_verified(in, t.params());
    ASSERT_TRUE(in.model);
    EXPECT_EQ(in.model->spec.vocab, 100u); // the length of tokenizer.ggml.tokens
    EXPECT_FALSE(in.model->spec.tie_embeddings());
}

// llama.cpp keeps norms in F32 in an F16 file (general.file_type 1): GGUF types are not compared with the
// dtype the metadata implies.
TEST(gguf_model, gguf_types_are_not_dtype_differences) {
    tiny t;
    gguf_file f = t.file();
    f.kv_u32("general.file_type", 1); // LLAMA_FTYPE_MOSTLY_F16
    inspection in = inspect_gguf(f);
    EXPECT_EQ(in.model->spec.weight_dtype, dtype::f16);
    expect_verified(in, t.params());
}

TEST(gguf_model, tied_head_when_output_weight_is_absent) {
    tiny t;
    t.tied = true;
    inspection in = inspect_gguf(t.file());
    expect_verified(in, t.params());
    EXPECT_TRUE(in.model->spec.tie_embeddings());
}

TEST(gguf_model, mixtral_merged_experts_split_per_expert) {
    tiny t;
    t.experts = 4;
    t.experts_used = 2;
    inspection in = inspect_gguf(t.file());
    EXPECT_EQ(in.model->spec.model_type, "mixtral");
    EXPECT_EQ(in.model->spec.n_experts, 4u);
    expect_verified(in, t.params());
    // 4 experts x 3 projections x 2 layers logical tensors from 3 x 2 stored ones.
    size_t experts = 0;
    for (const auto& l : in.view.tensors)
        if (l.name.find(".experts.") != std::string::npos) ++experts;
    EXPECT_EQ(experts, 24u);
}

TEST(gguf_model, mixtral_per_expert_tensors_of_older_conversions) {
    tiny t;
    t.experts = 4;
    t.experts_used = 2;
    t.merged_experts = false;
    expect_verified(inspect_gguf(t.file()), t.params());
}

TEST(gguf_model, qwen2_biases_and_qwen3_norms) {
    tiny q2;
    q2.arch = "qwen2";
    q2.qkv_bias = true;
    inspection in2 = inspect_gguf(q2.file());
    EXPECT_EQ(in2.model->spec.model_type, "qwen2");
    expect_verified(in2, q2.params());

    tiny q3;
    q3.arch = "qwen3";
    q3.qk_norm = true;
    inspection in3 = inspect_gguf(q3.file());
    EXPECT_EQ(in3.model->spec.model_type, "qwen3");
    expect_verified(in3, q3.params());
}

// A GGUF file whose tensors contradict its metadata fails verification like a safetensors checkpoint.
TEST(gguf_model, wrong_tensor_shape_is_reported) {
    tiny t;
    gguf_file f = t.file();
    f.tensor("blk.1.attn_q_extra.weight", {64}, tf::ggml_f32);
    inspection in = inspect_gguf(f);
    ASSERT_TRUE(in.verify);
    EXPECT_FALSE(in.verify->ok);
    ASSERT_EQ(in.verify->unexpected.size(), 1u);
    EXPECT_EQ(in.verify->unexpected[0].name, "blk.1.attn_q_extra.weight");
}

// Llama 3 GGUF files store rope_freqs.weight (rope scaling factors): a buffer, not an unexpected tensor.
TEST(gguf_model, rope_freqs_is_a_buffer) {
    tiny t;
    gguf_file f = t.file();
    f.tensor("rope_freqs.weight", {8}, tf::ggml_f32);
    inspection in = inspect_gguf(f);
    ASSERT_TRUE(in.verify);
    EXPECT_TRUE(in.verify->ok);
    EXPECT_EQ(in.verify->buffers_present, 1u);
    EXPECT_EQ(in.view.totals.buffer_elements, 8u);
    EXPECT_EQ(in.view.totals.params, t.params());
}

TEST(gguf_model, names_map_to_hugging_face) {
    const std::pair<const char*, const char*> names[] = {
        {"token_embd.weight",         "model.embed_tokens.weight"                                 },
        {"output_norm.weight",        "model.norm.weight"                                         },
        {"output.weight",             "lm_head.weight"                                            },
        {"blk.0.attn_norm.weight",    "model.layers.0.input_layernorm.weight"                     },
        {"blk.12.attn_q.weight",      "model.layers.12.self_attn.q_proj.weight"                   },
        {"blk.12.attn_q.bias",        "model.layers.12.self_attn.q_proj.bias"                     },
        {"blk.3.attn_k.weight",       "model.layers.3.self_attn.k_proj.weight"                    },
        {"blk.3.attn_v.weight",       "model.layers.3.self_attn.v_proj.weight"                    },
        {"blk.3.attn_output.weight",  "model.layers.3.self_attn.o_proj.weight"                    },
        {"blk.3.attn_q_norm.weight",  "model.layers.3.self_attn.q_norm.weight"                    },
        {"blk.3.attn_k_norm.weight",  "model.layers.3.self_attn.k_norm.weight"                    },
        {"blk.3.ffn_norm.weight",     "model.layers.3.post_attention_layernorm.weight"            },
        {"blk.3.ffn_gate.weight",     "model.layers.3.mlp.gate_proj.weight"                       },
        {"blk.3.ffn_up.weight",       "model.layers.3.mlp.up_proj.weight"                         },
        {"blk.3.ffn_down.weight",     "model.layers.3.mlp.down_proj.weight"                       },
        {"blk.3.ffn_gate_inp.weight", "model.layers.3.block_sparse_moe.gate.weight"               },
        {"blk.3.ffn_gate.7.weight",   "model.layers.3.block_sparse_moe.experts.7.w1.weight"       },
        {"blk.3.ffn_down.7.weight",   "model.layers.3.block_sparse_moe.experts.7.w2.weight"       },
        {"blk.3.ffn_up.7.weight",     "model.layers.3.block_sparse_moe.experts.7.w3.weight"       },
        {"blk.3.ffn_up_exps.weight",  "model.layers.3.block_sparse_moe.experts.{expert}.w3.weight"},
    };
    for (const auto& [gguf, hf] : names) {
        auto mapped = gguf_to_hf_name("llama", gguf);
        ASSERT_TRUE(mapped) << gguf;
        EXPECT_EQ(*mapped, hf);
    }
    for (const char* unknown : {"blk.x.attn_q.weight", "blk..attn_q.weight", "blk.3.attn_qq.weight",
                                "rope_freqs", "blk.3.ffn_gate.7.bias", "blk.3"})
        EXPECT_FALSE(gguf_to_hf_name("llama", unknown)) << unknown;
    EXPECT_FALSE(gguf_to_hf_name("mamba", "token_embd.weight")); // an architecture we do not model
}

// ---- metadata that cannot make a model
// ----------------------------------------------------------------------

std::string spec_error(const gguf_file& f, error_code code) {
    checkpoint ck = parse_ok(f);
    auto spec = gguf_model_spec(ck);
    if (spec.ok()) {
        ADD_FAILURE() << "accepted";
        return "";
    }
    EXPECT_EQ(spec.err().code, code) << spec.err().message;
    return spec.err().message;
}

TEST(gguf_model_errors, architecture) {
    EXPECT_HAS(spec_error(gguf_file(), error_code::missing_key), "GGUF metadata has no general.architecture");
    gguf_file phi;
    phi.kv_str("general.architecture", "phi3");
    EXPECT_HAS(spec_error(phi, error_code::unsupported),
               "GGUF general.architecture \"phi3\" is not supported; supported: llama, qwen2, qwen3");
    gguf_file number;
    number.kv_u32("general.architecture", 1);
    EXPECT_HAS(spec_error(number, error_code::wrong_type),
               "GGUF metadata general.architecture: expected a string, got a uint32");
}

TEST(gguf_model_errors, keys_named_with_their_gguf_names) {
    tiny t;
    gguf_file no_layers;
    no_layers.kv_str("general.architecture", "llama").kv_u32("llama.embedding_length", 64);
    EXPECT_HAS(spec_error(no_layers, error_code::missing_key),
               "GGUF metadata has no llama.block_count (needed for num_hidden_layers)");

    gguf_file per_layer;
    per_layer.kv_str("general.architecture", "llama")
        .kv_u32("llama.embedding_length", 64)
        .kv_u32("llama.block_count", 2)
        .kv_u32_array("llama.attention.head_count", {4, 4});
    EXPECT_HAS(
        spec_error(per_layer, error_code::unsupported),
        "GGUF metadata llama.attention.head_count is an array (per-layer values), which is not supported");

    gguf_file text;
    text.kv_str("general.architecture", "llama").kv_str("llama.embedding_length", "64");
    EXPECT_HAS(spec_error(text, error_code::wrong_type),
               "GGUF metadata llama.embedding_length: expected an integer, got a string");

    gguf_file negative;
    negative.kv_str("general.architecture", "llama").kv_i32("llama.embedding_length", -64);
    EXPECT_HAS(spec_error(negative, error_code::out_of_range),
               "GGUF metadata llama.embedding_length must not be negative, got -64");

    // Validation of the config keys applies, with the GGUF origin in the message.
    t.kv_heads = 3;
    EXPECT_HAS(spec_error(t.file(), error_code::not_divisible),
               "GGUF metadata (read as config.json keys): num_attention_heads (4) must be divisible by "
               "num_key_value_heads (3)");

    tiny moe;
    moe.arch = "qwen2";
    moe.experts = 4;
    moe.experts_used = 2;
    EXPECT_HAS(spec_error(moe.file(), error_code::unsupported),
               "GGUF qwen2 with experts (qwen2.expert_count)");
}

TEST(gguf_model_errors, vocabulary_from_tokens_or_embedding) {
    gguf_file f;
    f.kv_str("general.architecture", "llama")
        .kv_u32("llama.block_count", 1)
        .kv_u32("llama.embedding_length", 64)
        .kv_u32("llama.feed_forward_length", 128)
        .kv_u32("llama.attention.head_count", 4);
    EXPECT_HAS(spec_error(f, error_code::missing_key),
               "GGUF metadata has neither llama.vocab_size nor tokenizer.ggml.tokens");
    f.tensor("token_embd.weight", {64, 77}, tf::ggml_f16);
    auto spec = gguf_model_spec(parse_ok(f));
    ASSERT_TRUE(spec.ok()) << spec.err().message;
    EXPECT_EQ(spec->vocab, 77u);
}

} // namespace
} // namespace modelplan::test
