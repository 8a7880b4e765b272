// Models without a family table, read from checkpoint headers (header-model.h, docs/checkpoints.md "Models
// without a family"). The checkpoints are generated here for an invented model_type ("zorblax", which no
// table will ever have): every expected count and byte is the sum of what the test itself wrote into the file
// (elements from the shapes, bytes from the writer's own table of bits per dtype, tests/support), and the KV
// cache is the generic formula worked out by hand: 2 (keys and values) x num_key_value_heads x head_dim x
// bytes per element, per cached token and layer.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/gguf.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/safetensors.h"

namespace modelplan::test {
namespace {

using test_files::safetensors_file;

// A safetensors file and, beside it, what the test wrote into it.
struct written {
    safetensors_file file;
    std::vector<std::string> names, dtypes;
    std::vector<std::vector<uint64_t>> shapes;
    uint64_t elements = 0, bytes = 0;

    written& add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape) {
        uint64_t n = 1;
        for (uint64_t d : shape) n *= d;
        elements += n;
        bytes += n * test_files::safetensors_bits(dtype) / 8;
        names.push_back(name);
        dtypes.push_back(dtype);
        shapes.push_back(shape);
        file.add(name, dtype, std::move(shape));
        return *this;
    }
};

checkpoint parsed(const safetensors_file& f, const std::string& name = "model.safetensors") {
    auto r = parse_safetensors_header(f.header_bytes(), f.file_size(), name);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    return r.ok() && r->parsed ? *r->parsed : checkpoint{};
}

// The invented model: hidden 64, 4 heads of 16, 2 key/value heads, FFN 96, vocabulary 128; Llama-like names
// plus a mixer parameter no family has.
constexpr uint64_t hidden = 64, heads = 4, kv_heads = 2, head_dim = 16, ffn = 96, vocab = 128;

written zorblax(uint64_t layers, bool head = true) {
    written w;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden});
    for (uint64_t l = 0; l < layers; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(p + "input_layernorm.weight", "F32", {hidden})
            .add(p + "self_attn.q_proj.weight", "BF16", {heads * head_dim, hidden})
            .add(p + "self_attn.k_proj.weight", "BF16", {kv_heads * head_dim, hidden})
            .add(p + "self_attn.v_proj.weight", "BF16", {kv_heads * head_dim, hidden})
            .add(p + "self_attn.o_proj.weight", "BF16", {hidden, heads * head_dim})
            .add(p + "zorb_mixer.lambda_q", "F32", {heads})
            .add(p + "post_attention_layernorm.weight", "F32", {hidden})
            .add(p + "mlp.gate_proj.weight", "BF16", {ffn, hidden})
            .add(p + "mlp.up_proj.weight", "BF16", {ffn, hidden})
            .add(p + "mlp.down_proj.weight", "BF16", {hidden, ffn});
    }
    w.add("model.norm.weight", "F32", {hidden});
    if (head) w.add("lm_head.weight", "BF16", {vocab, hidden});
    return w;
}

// The config of the invented model: the generic keys, three layers of three kinds (layer_types).
const std::string zorblax_config = R"({
  "model_type": "zorblax", "architectures": ["ZorblaxForCausalLM"], "torch_dtype": "bfloat16",
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
  "intermediate_size": 96, "vocab_size": 128, "max_position_embeddings": 1024,
  "layer_types": ["full_attention", "sliding_attention", "linear_attention"], "sliding_window": 256
})";

analysis from_headers(const checkpoint& ck, const std::string* config, const config_options& options = {}) {
    auto a = analyze_checkpoint("zorblax", ck, config, options, "zorblax/");
    EXPECT_TRUE(a.ok()) << (a.ok() ? "" : a.err().message);
    return a.ok() ? std::move(*a) : analysis{};
}

bool has_note(const analysis& a, const std::string& item, const std::string& part = "") {
    if (!a.from_headers) return false;
    for (const generic_note& n : a.from_headers->notes)
        if (n.item == item && n.note.find(part) != std::string::npos) return true;
    return false;
}

const plan_item* item_of(const memory_plan& p, const std::string& name) {
    for (const auto& i : p.items)
        if (i.name == name) return &i;
    return nullptr;
}

TEST(header_fallback, skeleton_is_the_checkpoint_as_written) {
    written w = zorblax(3);
    analysis a = from_headers(parsed(w.file), &zorblax_config);
    ASSERT_TRUE(a.from_headers);
    EXPECT_EQ(a.spec.family, -1);
    EXPECT_EQ(a.spec.model_type, "zorblax");
    EXPECT_EQ(a.spec.architecture, "ZorblaxForCausalLM");
    ASSERT_EQ(a.sk.tensors.size(), w.names.size());
    for (size_t i = 0; i < w.names.size(); ++i) {
        EXPECT_EQ(a.sk.tensors[i].name, w.names[i]);
        EXPECT_EQ(a.sk.tensors[i].shape, w.shapes[i]) << w.names[i];
        EXPECT_EQ(a.from_headers->stored_dtype[i], w.dtypes[i]) << w.names[i];
    }
    EXPECT_EQ(a.counts.total, w.elements);
    EXPECT_EQ(a.counts.active, w.elements);
    EXPECT_EQ(a.counts.weight_bytes, w.bytes);
    // embedding = the token embedding and the untied head: 2 x vocab x hidden.
    EXPECT_EQ(a.counts.embedding, 2 * vocab * hidden);
    EXPECT_EQ(a.counts.by_layer.size(), 3u);
}

TEST(header_fallback, roles_are_guessed_from_names_and_said_so) {
    analysis a = from_headers(parsed(zorblax(1).file), &zorblax_config);
    auto role_of = [&](const std::string& name) {
        for (const auto& t : a.sk.tensors)
            if (t.name == name) return t.what;
        ADD_FAILURE() << name;
        return role::embed;
    };
    EXPECT_EQ(role_of("model.layers.0.self_attn.q_proj.weight"), role::attn_q);
    EXPECT_EQ(role_of("model.layers.0.self_attn.k_proj.weight"), role::attn_k);
    EXPECT_EQ(role_of("model.layers.0.mlp.down_proj.weight"), role::ffn_down);
    EXPECT_EQ(role_of("model.norm.weight"), role::output_norm);
    EXPECT_EQ(role_of("lm_head.weight"), role::lm_head);
    EXPECT_EQ(role_of("model.layers.0.zorb_mixer.lambda_q"), role::unclassified);
    EXPECT_TRUE(has_note(a, "roles", "1 unclassified"));
    for (const char* item : {"skeleton", "roles", "layers", "kv_cache", "activations", "weights"})
        EXPECT_TRUE(has_note(a, item)) << item;
    EXPECT_TRUE(has_note(a, "skeleton", "model_type \"zorblax\" has no family table"));
}

TEST(header_fallback, kv_cache_from_the_generic_keys_layer_by_layer) {
    written w = zorblax(3);
    analysis a = from_headers(parsed(w.file), &zorblax_config);
    workload load;
    load.batch = 2;
    load.seq = 512;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    // Per token and layer: 2 x 2 KV heads x 16 x 2 bytes (bf16) = 128 bytes. Layer 0 (full attention) caches
    // all 512 tokens, layer 1 (sliding, window 256) 256 of them, layer 2 (linear attention) none.
    const uint64_t per_token = 2 * kv_heads * head_dim * 2;
    EXPECT_EQ(p->kv_bytes_by_layer, (std::vector<uint64_t>{per_token * 512 * 2, per_token * 256 * 2, 0}));
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, per_token * (512 + 256) * 2);
    EXPECT_EQ(p->kv_bytes_per_token, 2 * per_token);
    EXPECT_EQ(item_of(*p, "weights")->bytes, w.bytes);
    EXPECT_TRUE(has_note(a, "kv_cache", "num_key_value_heads 2"));
    EXPECT_TRUE(has_note(a, "kv_cache", "\"linear_attention\""));
    // The plan's JSON says where it comes from and notes each estimated item.
    std::string json = plan_json(a, *p);
    rapidjson::Document d;
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError());
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    EXPECT_TRUE(d["generic"].IsArray());
    for (const auto& item : d["plan"]["items"].GetArray()) {
        std::string name = item["name"].GetString();
        EXPECT_EQ(item.HasMember("note"), name != "overhead") << name;
    }
}

TEST(header_fallback, other_attention_kinds_count_every_token_and_say_so) {
    // A chunked attention layer (Llama 4's name) keeps at most a chunk, but a generic reading cannot know it:
    // every token counts, an upper bound. Layer 0 full, layer 1 chunked: 2 x 2 x 16 x 2 bytes x 100 tokens
    // each.
    const std::string config = R"({"model_type": "zorblax", "num_hidden_layers": 2, "num_attention_heads": 4,
                                   "num_key_value_heads": 2, "hidden_size": 64, "torch_dtype": "bfloat16",
                                   "layer_types": ["full_attention", "chunked_attention"]})";
    analysis a = from_headers(parsed(zorblax(2).file), &config);
    workload load;
    load.seq = 100;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 2u * 2 * 16 * 2 * 100 * 2);
    EXPECT_TRUE(has_note(a, "kv_cache", "\"chunked_attention\" layers are counted with full attention"));
}

TEST(header_fallback, head_dim_from_hidden_size_and_kv_heads_default_to_heads) {
    // Without num_key_value_heads and head_dim, PretrainedConfig's meaning: every head keeps its keys and
    // values, head_dim = hidden_size / num_attention_heads.
    const std::string config = R"({"model_type": "zorblax", "num_hidden_layers": 2, "num_attention_heads": 4,
                                   "hidden_size": 64, "torch_dtype": "float16"})";
    analysis a = from_headers(parsed(zorblax(2).file), &config);
    workload load;
    load.seq = 100;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    // 2 (keys and values) x 4 heads x 16 x 2 bytes (fp16), for 100 tokens in each of the 2 layers.
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 2u * 4 * (64 / 4) * 2 * 100 * 2);
    EXPECT_TRUE(has_note(a, "kv_cache", "no num_key_value_heads"));
}

TEST(header_fallback, without_generic_keys_the_kv_cache_is_not_estimated) {
    written w = zorblax(2);
    analysis a = from_headers(parsed(w.file), nullptr);
    auto p = plan_memory(a, workload{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 0u);
    EXPECT_EQ(item_of(*p, "weights")->bytes, w.bytes);
    EXPECT_TRUE(has_note(a, "kv_cache", "not estimated"));
    // Widths come from the shapes then, and say so: the embedding's columns and rows.
    EXPECT_EQ(a.spec.hidden, hidden);
    EXPECT_EQ(a.spec.vocab, vocab);
    EXPECT_TRUE(has_note(a, "activations", "inferred from the shapes"));
}

TEST(header_fallback, tied_head_of_a_causal_lm_without_lm_head) {
    analysis a = from_headers(parsed(zorblax(1, false).file), &zorblax_config);
    ASSERT_EQ(a.sk.aliases.size(), 1u);
    EXPECT_EQ(a.sk.aliases[0].name, "lm_head.weight");
    EXPECT_EQ(a.sk.aliases[0].target, "model.embed_tokens.weight");
    EXPECT_EQ(a.counts.embedding, vocab * hidden);
    EXPECT_TRUE(has_note(a, "roles", "tied"));
}

TEST(header_fallback, quantized_groups_fold_into_their_parameters) {
    // One projection stored as AutoGPTQ writes it, 4 bits in groups of 32 (tests/core/quantized.cpp gives the
    // buffer shapes): qweight int32 [in / 8, out], qzeros int32 [in / 32, out / 8], scales fp16 [in / 32,
    // out], g_idx int32 [in]. The logical parameter is [out, in].
    written w;
    const std::string q = "model.layers.0.self_attn.q_proj";
    const uint64_t in = hidden, out = heads * head_dim;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden})
        .add(q + ".g_idx", "I32", {in})
        .add(q + ".qweight", "I32", {in / 8, out})
        .add(q + ".qzeros", "I32", {in / 32, out / 8})
        .add(q + ".scales", "F16", {in / 32, out})
        .add("model.norm.weight", "F32", {hidden});
    analysis a = from_headers(parsed(w.file), &zorblax_config);
    ASSERT_EQ(a.sk.tensors.size(), 3u);
    const tensor_info& t = a.sk.tensors[1];
    EXPECT_EQ(t.name, q + ".weight");
    EXPECT_EQ(t.shape, (std::vector<uint64_t>{out, in}));
    EXPECT_EQ(t.what, role::attn_q);
    EXPECT_EQ(a.from_headers->stored_dtype[1], "gptq-int4");
    EXPECT_EQ(a.from_headers->stored_bytes[1],
              in * 4 + in / 8 * out * 4 + in / 32 * out / 8 * 4 + in / 32 * out * 2);
    EXPECT_EQ(a.counts.total, vocab * hidden + out * in + hidden);
    EXPECT_EQ(a.counts.weight_bytes, w.bytes); // every stored byte is a weight's
    EXPECT_TRUE(has_note(a, "skeleton", "1 quantized groups folded"));
    // Already quantized: a quantization format is not applied again.
    workload nf4;
    nf4.quant = "nf4";
    auto p = plan_memory(a, nf4);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.err().path, "quant");
}

TEST(header_fallback, experts_and_active_parameters) {
    // Two layers of 4 routed experts, 2 per token (num_experts_per_tok): a token skips 2 experts per layer.
    written w;
    const uint64_t expert_ffn = 32;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden});
    uint64_t one_expert = 0;
    for (int l = 0; l < 2; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(p + "self_attn.q_proj.weight", "BF16", {heads * head_dim, hidden})
            .add(p + "mlp.gate.weight", "BF16", {4, hidden});
        for (int e = 0; e < 4; ++e) {
            std::string x = p + "mlp.experts." + std::to_string(e) + ".";
            w.add(x + "gate_proj.weight", "BF16", {expert_ffn, hidden})
                .add(x + "up_proj.weight", "BF16", {expert_ffn, hidden})
                .add(x + "down_proj.weight", "BF16", {hidden, expert_ffn});
        }
    }
    one_expert = 3 * expert_ffn * hidden;
    const std::string config = R"({"model_type": "zorblax", "num_hidden_layers": 2, "num_attention_heads": 4,
                                   "hidden_size": 64, "num_experts_per_tok": 2})";
    analysis a = from_headers(parsed(w.file), &config);
    EXPECT_EQ(a.spec.n_experts, 4u);
    EXPECT_EQ(a.counts.total, w.elements);
    EXPECT_EQ(a.counts.active, w.elements - 2 * (4 - 2) * one_expert);
    EXPECT_TRUE(a.spec.is_moe_layer(0) && a.spec.is_moe_layer(1));
    EXPECT_EQ(a.spec.expert_intermediate, expert_ffn); // from the experts' shapes
    size_t experts = 0;
    for (const auto& t : a.sk.tensors) experts += t.expert != no_index && t.what == role::ffn_up_exp ? 1 : 0;
    EXPECT_EQ(experts, 8u);
}

TEST(header_fallback, an_expert_number_past_the_maximum_is_an_error) {
    written w;
    w.add("model.layers.0.mlp.experts.70000.up_proj.weight", "BF16", {8, 8});
    auto a = analyze_checkpoint("zorblax", parsed(w.file), nullptr, {}, "x");
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.err().code, error_code::out_of_range);
}

TEST(header_fallback, tensor_parallel_splits_by_guessed_roles) {
    analysis a = from_headers(parsed(zorblax(3).file), &zorblax_config);
    workload load;
    load.seq = 64;
    auto p = plan_parallel(a, load, 2, 1, {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    bool q_split = false;
    for (const auto& s : p->splits)
        if (s.pattern == "model.layers.{layer}.self_attn.q_proj.weight") {
            q_split = true;
            EXPECT_EQ(s.rank_shape, (std::vector<uint64_t>{heads * head_dim / 2, hidden}));
            EXPECT_EQ(s.tensors, 3u);
        }
    EXPECT_TRUE(q_split);
    EXPECT_EQ(p->kv_heads_per_rank, 1u);
}

TEST(header_fallback, sharded_checkpoint_with_its_index) {
    written w1, w2;
    w1.add("model.embed_tokens.weight", "BF16", {vocab, hidden})
        .add("model.layers.0.self_attn.q_proj.weight", "BF16", {64, 64});
    w2.add("model.layers.1.self_attn.q_proj.weight", "BF16", {64, 64})
        .add("model.norm.weight", "F32", {hidden});
    const std::string a_name = "model-00001-of-00002.safetensors",
                      b_name = "model-00002-of-00002.safetensors";
    std::string index = R"({"metadata": {"total_size": )" + std::to_string(w1.bytes + w2.bytes) +
                        R"(}, "weight_map": {"model.embed_tokens.weight": ")" + a_name +
                        R"(", "model.layers.0.self_attn.q_proj.weight": ")" + a_name +
                        R"(", "model.layers.1.self_attn.q_proj.weight": ")" + b_name +
                        R"(", "model.norm.weight": ")" + b_name + R"("}})";
    auto set = select_checkpoint_files({"model.safetensors.index.json", a_name, b_name, "config.json"},
                                       checkpoint_names_from::folder);
    ASSERT_TRUE(set.ok());
    auto parsed_index = parse_safetensors_index(index, set->index);
    ASSERT_TRUE(parsed_index.ok()) << parsed_index.err().message;
    add_index_shards(*set, *parsed_index);
    auto ck = assemble_checkpoint(*set, {parsed(w1.file, a_name), parsed(w2.file, b_name)}, &*parsed_index);
    ASSERT_TRUE(ck.ok()) << ck.err().message;
    const std::string config = R"({"model_type": "zorblax", "num_hidden_layers": 2})";
    analysis a = from_headers(*ck, &config);
    EXPECT_EQ(a.counts.total, w1.elements + w2.elements);
    EXPECT_EQ(a.counts.weight_bytes, w1.bytes + w2.bytes);
    EXPECT_TRUE(has_note(a, "skeleton", "in 2 files"));
}

TEST(header_fallback, gguf_file_of_an_unknown_architecture) {
    // llama.cpp's names and metadata keys (ggml docs/gguf.md) under an architecture no table has. GGUF
    // dimensions are written innermost first; bytes per tensor are elements / block x bytes per block
    // (ggml-common.h's block layouts, in tests/support/checkpoint-writer.h).
    using namespace test_files;
    gguf_file f;
    f.kv_str("general.architecture", "zorb")
        .kv_u32("zorb.block_count", 2)
        .kv_u32("zorb.embedding_length", 64)
        .kv_u32("zorb.attention.head_count", 4)
        .kv_u32("zorb.attention.head_count_kv", 1)
        .kv_u32("zorb.attention.key_length", 16)
        .kv_u32("zorb.context_length", 512)
        .kv_str_array("tokenizer.ggml.tokens", std::vector<std::string>(100, "t"));
    uint64_t elements = 0, bytes = 0;
    std::vector<std::string> names;
    auto add = [&](const std::string& name, std::vector<uint64_t> ne, const ggml_type_fact& type) {
        uint64_t n = 1;
        for (uint64_t d : ne) n *= d;
        elements += n;
        bytes += n / type.block * type.type_size;
        names.push_back(name);
        f.tensor(name, std::move(ne), type);
    };
    add("token_embd.weight", {64, 100}, ggml_f16);
    for (int l = 0; l < 2; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        add(b + "attn_norm.weight", {64}, ggml_f32);
        add(b + "attn_q.weight", {64, 64}, ggml_q8_0);
        add(b + "attn_k.weight", {64, 16}, ggml_q8_0);
        add(b + "attn_v.weight", {64, 16}, ggml_q8_0);
        add(b + "attn_output.weight", {64, 64}, ggml_q8_0);
        add(b + "ffn_up.weight", {256, 64}, ggml_q4_k);
        add(b + "ffn_down.weight", {256, 64}, ggml_q4_k);
    }
    add("output_norm.weight", {64}, ggml_f32);
    std::string file = f.bytes();
    auto r = parse_gguf(file, file.size(), "zorb.gguf");
    ASSERT_TRUE(r.ok() && r->parsed) << (r.ok() ? "need more" : r.err().message);
    analysis a = from_headers(*r->parsed, nullptr);
    ASSERT_TRUE(a.from_headers);
    EXPECT_EQ(a.spec.model_type, "zorb");
    ASSERT_EQ(a.sk.tensors.size(), names.size());
    for (size_t i = 0; i < names.size(); ++i) EXPECT_EQ(a.sk.tensors[i].name, names[i]);
    EXPECT_EQ(a.sk.tensors[2].shape, (std::vector<uint64_t>{64, 64})); // PyTorch order, outermost first
    EXPECT_EQ(a.from_headers->stored_dtype[2], "Q8_0");
    EXPECT_EQ(a.sk.tensors[2].what, role::attn_q); // llama.cpp's name for it
    EXPECT_EQ(a.counts.total, elements);
    EXPECT_EQ(a.counts.weight_bytes, bytes);
    // No output.weight: llama.cpp ties the head to token_embd.
    ASSERT_EQ(a.sk.aliases.size(), 1u);
    EXPECT_EQ(a.sk.aliases[0].name, "output.weight");
    // KV from the metadata, in F16 (llama.cpp's default cache type): 2 x 1 x 16 x 2 bytes per token and
    // layer.
    workload load;
    load.seq = 300;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 2 * 1 * 16 * 2 * 300 * 2u);
    EXPECT_EQ(item_of(*p, "weights")->bytes, bytes);
    EXPECT_TRUE(has_note(a, "kv_cache", "zorb.attention.head_count_kv 1"));
    EXPECT_TRUE(has_note(a, "dtype", "F16"));
}

// A Mamba GGUF file (llama.cpp's names and LLM_KV_SSM_* keys; no family reads GGUF Mamba): the recurrent
// state comes from the shapes, in F32 as llama.cpp keeps it. Mamba-2.8B's dimensions (d_model 2560, 64
// layers, d_inner 5120, d_state 16, d_conv 4, dt_rank 160): llama.cpp's Mamba PR (ggml-org/llama.cpp#5328,
// compilade, 2024-03-07) states that one sequence of "Mamba 3B" takes 23.75 MiB, i.e. 24,903,680 bytes. Only
// the header is passed to the parser, with the file size the data would make.
TEST(header_fallback, gguf_mamba_state_as_llama_cpp_keeps_it) {
    using namespace test_files;
    gguf_file f;
    f.kv_str("general.architecture", "mamba")
        .kv_u32("mamba.block_count", 64)
        .kv_u32("mamba.embedding_length", 2560)
        .kv_u32("mamba.context_length", 1048576)
        .kv_u32("mamba.ssm.conv_kernel", 4)
        .kv_u32("mamba.ssm.inner_size", 5120)
        .kv_u32("mamba.ssm.state_size", 16)
        .kv_u32("mamba.ssm.time_step_rank", 160);
    f.tensor("token_embd.weight", {2560, 50280}, ggml_f16);
    for (int l = 0; l < 64; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        f.tensor(b + "attn_norm.weight", {2560}, ggml_f32)
            .tensor(b + "ssm_in.weight", {2560, 10240}, ggml_f16)
            .tensor(b + "ssm_conv1d.weight", {4, 5120}, ggml_f32)
            .tensor(b + "ssm_conv1d.bias", {5120}, ggml_f32)
            .tensor(b + "ssm_x.weight", {5120, 192}, ggml_f16)
            .tensor(b + "ssm_dt.weight", {160, 5120}, ggml_f16)
            .tensor(b + "ssm_dt.bias", {5120}, ggml_f32)
            .tensor(b + "ssm_a", {16, 5120}, ggml_f32)
            .tensor(b + "ssm_d", {5120}, ggml_f32)
            .tensor(b + "ssm_out.weight", {5120, 2560}, ggml_f16);
    }
    f.tensor("output_norm.weight", {2560}, ggml_f32);
    const std::string header = f.header();
    auto r = parse_gguf(header, header.size() + f.data_size(), "mamba-2.8b.gguf");
    ASSERT_TRUE(r.ok() && r->parsed) << (r.ok() ? "need more" : r.err().message);
    analysis a = from_headers(*r->parsed, nullptr);
    workload one;
    auto p = plan_memory(a, one);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(p->state_bytes_per_sequence, 24'903'680u); // 23.75 MiB
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 0u);       // no attention layer
    workload four = one;
    four.batch = 4;
    auto p4 = plan_memory(a, four);
    ASSERT_TRUE(p4.ok());
    EXPECT_EQ(item_of(*p4, "recurrent_state")->bytes, 4u * 24'903'680u);
    EXPECT_TRUE(has_note(a, "recurrent_state", "F32"));
}

// Mamba-2 in GGUF: llama.cpp stores A as [heads, 1] (ne {1, heads}) and the convolution over d_inner + 2 x
// groups x d_state channels. llama.cpp's per-layer sizes (llama_hparams n_embd_r = (d_conv - 1) x conv
// channels, n_embd_s = d_state x d_inner, both F32): 8 heads of 16 (d_inner 128), d_state 32, 1 group: conv
// channels 128 + 64 = 192, 3 x 192 x 4 + 32 x 128 x 4 = 2,304 + 16,384 = 18,688 bytes per layer and sequence.
TEST(header_fallback, gguf_mamba2_heads_from_a_column) {
    using namespace test_files;
    gguf_file f;
    f.kv_str("general.architecture", "mamba2")
        .kv_u32("mamba2.block_count", 2)
        .kv_u32("mamba2.embedding_length", 64)
        .kv_u32("mamba2.ssm.conv_kernel", 4)
        .kv_u32("mamba2.ssm.inner_size", 128)
        .kv_u32("mamba2.ssm.state_size", 32)
        .kv_u32("mamba2.ssm.group_count", 1)
        .kv_u32("mamba2.ssm.time_step_rank", 8);
    f.tensor("token_embd.weight", {64, 100}, ggml_f32);
    for (int l = 0; l < 2; ++l) {
        std::string b = "blk." + std::to_string(l) + ".";
        f.tensor(b + "attn_norm.weight", {64}, ggml_f32)
            .tensor(b + "ssm_in.weight", {64, 128 + 192 + 8}, ggml_f32)
            .tensor(b + "ssm_conv1d.weight", {4, 192}, ggml_f32)
            .tensor(b + "ssm_conv1d.bias", {192}, ggml_f32)
            .tensor(b + "ssm_dt.bias", {8}, ggml_f32)
            .tensor(b + "ssm_a", {1, 8}, ggml_f32)
            .tensor(b + "ssm_d", {1, 8}, ggml_f32)
            .tensor(b + "ssm_norm.weight", {128}, ggml_f32)
            .tensor(b + "ssm_out.weight", {128, 64}, ggml_f32);
    }
    const std::string bytes = f.bytes();
    auto r = parse_gguf(bytes, bytes.size(), "mamba2.gguf");
    ASSERT_TRUE(r.ok() && r->parsed) << (r.ok() ? "need more" : r.err().message);
    analysis a = from_headers(*r->parsed, nullptr);
    auto p = plan_memory(a, workload{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(p->state_bytes_per_sequence, 2u * 18'688u);
    EXPECT_TRUE(has_note(a, "recurrent_state", "8 heads (Mamba-2)"));
}

// A real checkpoint's tensor list under a model_type no table has: Qwen3-30B-A3B's 18,867 tensors (all BF16,
// tests/data/qwen3-30b-a3b.tensors.tsv, SOURCES-C.md) with its published config.json (models/qwen3-30b-a3b)
// renamed "zorblax_moe". The headers alone give the published figures: 30,532,122,624 elements and the
// index's total_size of 61,064,245,248 bytes. Active: 8 of 128 experts per token, each 3 x 768 x 2048 in 48
// layers. And the plan equals the qwen3_moe family's own for the same workload, item by item.
TEST(header_fallback, a_real_checkpoint_list_gives_its_published_totals) {
    std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/qwen3-30b-a3b.tensors.tsv");
    ASSERT_TRUE(in.good());
    safetensors_file f;
    size_t tensors = 0;
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        size_t tab = line.find('\t');
        std::vector<uint64_t> shape;
        std::stringstream dims(line.substr(tab + 1));
        for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoull(d));
        f.add(line.substr(0, tab), "BF16", shape);
        ++tensors;
    }
    ASSERT_EQ(tensors, 18867u);
    auto preset = find_preset("qwen3-30b-a3b");
    ASSERT_TRUE(preset.ok());
    rapidjson::Document config;
    config.Parse(preset->config_json);
    config["model_type"].SetString("zorblax_moe");
    rapidjson::StringBuffer text;
    rapidjson::Writer<rapidjson::StringBuffer> writer(text);
    config.Accept(writer);
    const std::string renamed = text.GetString();
    analysis a = from_headers(parsed(f), &renamed);
    ASSERT_TRUE(a.from_headers);
    EXPECT_EQ(a.counts.total, 30532122624u);
    EXPECT_EQ(a.counts.weight_bytes, 61064245248u);
    EXPECT_EQ(a.counts.active, 30532122624ull - 48ull * (128 - 8) * (3 * 768 * 2048));
    EXPECT_TRUE(has_note(a, "roles", " 0 unclassified"));

    auto family = analyze("qwen3-30b-a3b", preset->config_json, {});
    ASSERT_TRUE(family.ok());
    workload load;
    load.batch = 4;
    load.seq = 8192;
    auto mine = plan_memory(a, load), theirs = plan_memory(*family, load);
    ASSERT_TRUE(mine.ok() && theirs.ok());
    ASSERT_EQ(mine->items.size(), theirs->items.size());
    for (size_t i = 0; i < mine->items.size(); ++i) {
        EXPECT_EQ(mine->items[i].name, theirs->items[i].name);
        EXPECT_EQ(mine->items[i].bytes, theirs->items[i].bytes) << mine->items[i].name;
    }
    // 2 x 4 KV heads x 128 x 2 bytes x 48 layers x 8192 tokens x 4 sequences.
    EXPECT_EQ(mine->bytes.kv_cache, 2ull * 4 * 128 * 2 * 48 * 8192 * 4);
}

TEST(header_fallback, config_only_error_says_what_to_add_and_what_is_close) {
    const std::string config = R"({"model_type": "qwen9_zeta", "num_hidden_layers": 2})";
    auto a = analyze("config.json", config, {});
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.err().code, error_code::unknown_model_type);
    EXPECT_TRUE(lacks_family(a.err()));
    const std::string& m = a.err().message;
    EXPECT_NE(m.find("add its checkpoint's headers (model.safetensors.index.json with its shards, the "
                     ".safetensors files, or a .gguf file)"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("close model types: qwen"), std::string::npos) << m;
    auto close = close_model_types("qwen9_zeta");
    ASSERT_FALSE(close.empty());
    for (const std::string& name : close) EXPECT_EQ(name.rfind("qwen", 0), 0u) << name;
    // A config without model_type has no family either.
    auto none = analyze("config.json", R"({"num_hidden_layers": 2})", {});
    ASSERT_FALSE(none.ok());
    EXPECT_TRUE(lacks_family(none.err()));
    // Any other error is no reason to read headers.
    auto bad = analyze("config.json", R"({"model_type": "llama", "hidden_size": "x"})", {});
    ASSERT_FALSE(bad.ok());
    EXPECT_FALSE(lacks_family(bad.err()));
}

TEST(header_fallback, a_family_config_ignores_the_headers) {
    auto p = find_preset("llama-3.2-1b");
    ASSERT_TRUE(p.ok());
    const std::string config = p->config_json;
    auto a = analyze_checkpoint("llama", parsed(zorblax(1).file), &config, {}, "x");
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_FALSE(a->from_headers);
    EXPECT_EQ(a->spec.model_type, "llama");
}

TEST(header_fallback, bad_generic_keys_are_errors_naming_the_key) {
    const std::string config = R"({"model_type": "zorblax", "num_attention_heads": "four"})";
    auto a = analyze_checkpoint("zorblax", parsed(zorblax(1).file), &config, {}, "x");
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.err().code, error_code::wrong_type);
    EXPECT_EQ(a.err().path, "num_attention_heads");
    config_options head;
    head.head = head_kind::causal_lm;
    auto h = analyze_checkpoint("zorblax", parsed(zorblax(1).file), &zorblax_config, head, "x");
    ASSERT_FALSE(h.ok());
    EXPECT_EQ(h.err().path, "head");
}

TEST(header_fallback, requests_name_the_held_checkpoint) {
    held_checkpoint held{"zorblax.safetensors", parsed(zorblax(3).file)};
    std::string request = R"({"config": )" + zorblax_config + R"(, "checkpoint": "zorblax.safetensors"})";
    rapidjson::Document d;
    d.Parse(handle_request("params", request, nullptr, &held).c_str());
    ASSERT_TRUE(d.IsObject() && d.HasMember("params")) << handle_request("params", request, nullptr, &held);
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    EXPECT_EQ(d["params"]["total"].GetUint64(), zorblax(3).elements);
    EXPECT_TRUE(d["head"].IsNull());
    // Without the config: the headers alone.
    d.Parse(handle_request("skeleton", R"({"checkpoint": "zorblax.safetensors"})", nullptr, &held).c_str());
    ASSERT_TRUE(d.HasMember("tensors"));
    EXPECT_EQ(d["tensors"].Size(), zorblax(3).names.size());
    // A label that is not held is an error naming the field.
    d.Parse(handle_request("plan", R"({"checkpoint": "other"})", nullptr, &held).c_str());
    ASSERT_TRUE(d.HasMember("error"));
    EXPECT_STREQ(d["error"]["path"].GetString(), "checkpoint");
    // Without a checkpoint the config alone is the error that says what to add.
    d.Parse(handle_request("params", R"({"config": )" + zorblax_config + "}").c_str());
    EXPECT_STREQ(d["error"]["code"].GetString(), "unknown_model_type");
}

// ---- A family's weights as its checkpoint stores them ("checkpoint_weights", docs/checkpoints.md)

// A Llama of the same widths, as transformers' LlamaForCausalLM names its tensors, with its norms kept in F32
// (as some converters write them) while the config says bfloat16: the checkpoint's bytes differ from the
// family's.
written tiny_llama_checkpoint(bool complete = true) {
    written w;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden});
    for (uint64_t l = 0; l < 2; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(p + "input_layernorm.weight", "F32", {hidden})
            .add(p + "self_attn.q_proj.weight", "BF16", {heads * head_dim, hidden})
            .add(p + "self_attn.k_proj.weight", "BF16", {kv_heads * head_dim, hidden})
            .add(p + "self_attn.v_proj.weight", "BF16", {kv_heads * head_dim, hidden})
            .add(p + "self_attn.o_proj.weight", "BF16", {hidden, heads * head_dim})
            .add(p + "post_attention_layernorm.weight", "F32", {hidden})
            .add(p + "mlp.gate_proj.weight", "BF16", {ffn, hidden})
            .add(p + "mlp.up_proj.weight", "BF16", {ffn, hidden});
        if (complete || l == 0) w.add(p + "mlp.down_proj.weight", "BF16", {hidden, ffn});
    }
    w.add("model.norm.weight", "F32", {hidden}).add("lm_head.weight", "BF16", {vocab, hidden});
    return w;
}
const std::string tiny_llama_config = R"({
  "model_type": "llama", "architectures": ["LlamaForCausalLM"], "torch_dtype": "bfloat16",
  "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
  "intermediate_size": 96, "vocab_size": 128, "max_position_embeddings": 1024, "tie_word_embeddings": false
})";

uint64_t weights_item(const rapidjson::Document& plan) {
    for (const auto& item : plan["plan"]["items"].GetArray())
        if (std::string(item["name"].GetString()) == "weights") return item["bytes"].GetUint64();
    return 0;
}

TEST(checkpoint_weights, a_family_plan_takes_the_bytes_its_checkpoint_stores) {
    written w = tiny_llama_checkpoint();
    held_checkpoint held{"model.safetensors", parsed(w.file)};
    const std::string config =
        R"({"config": )" + tiny_llama_config + R"(, "checkpoint": "model.safetensors")";
    rapidjson::Document family, stored, skeleton;
    family.Parse(handle_request("plan", config + "}", nullptr, &held).c_str());
    ASSERT_TRUE(family.HasMember("plan")) << handle_request("plan", config + "}", nullptr, &held);
    // The family alone: every tensor in the config's bfloat16 (2 bytes an element), the headers unused.
    EXPECT_EQ(weights_item(family), w.elements * 2);
    EXPECT_FALSE(family.HasMember("source"));
    // With checkpoint_weights: the bytes written, F32 norms included.
    const std::string request = config + R"(, "checkpoint_weights": true})";
    stored.Parse(handle_request("plan", request, nullptr, &held).c_str());
    ASSERT_TRUE(stored.HasMember("plan")) << handle_request("plan", request, nullptr, &held);
    EXPECT_EQ(weights_item(stored), w.bytes);
    EXPECT_GT(w.bytes, w.elements * 2);
    // The skeleton says each tensor's bytes the same way.
    skeleton.Parse(handle_request("skeleton", request, nullptr, &held).c_str());
    uint64_t sum = 0;
    for (const auto& t : skeleton["tensors"].GetArray()) sum += t["bytes"].GetUint64();
    EXPECT_EQ(sum, w.bytes);
    // The analysis cache tells the two requests apart.
    analysis_cache cache;
    EXPECT_EQ(handle_request("plan", request, &cache, &held),
              handle_request("plan", request, nullptr, &held));
    EXPECT_EQ(handle_request("plan", config + "}", &cache, &held),
              handle_request("plan", config + "}", nullptr, &held));
}

TEST(checkpoint_weights, a_checkpoint_of_another_model_or_none_is_an_error_naming_the_key) {
    held_checkpoint held{"model.safetensors", parsed(tiny_llama_checkpoint(false).file)};
    rapidjson::Document d;
    d.Parse(handle_request("plan",
                           R"({"config": )" + tiny_llama_config +
                               R"(, "checkpoint": "model.safetensors", "checkpoint_weights": true})",
                           nullptr, &held)
                .c_str());
    ASSERT_TRUE(d.HasMember("error"));
    EXPECT_STREQ(d["error"]["path"].GetString(), "checkpoint_weights");
    EXPECT_NE(std::string(d["error"]["message"].GetString()).find("model.layers.1.mlp.down_proj.weight"),
              std::string::npos);
    d.Parse(handle_request("plan", R"({"config": )" + tiny_llama_config + R"(, "checkpoint_weights": true})")
                .c_str());
    ASSERT_TRUE(d.HasMember("error"));
    EXPECT_STREQ(d["error"]["path"].GetString(), "checkpoint_weights");
}

// ---- Recurrent mixers read from the headers (issue 13 section 2: "KV and recurrent-state memory come from
// the generic config keys when they are present").
//
// An invented hybrid ("zorblax_h") laid out as Granite 4.0-H checkpoints name their tensors (the
// model.layers.{i}.mamba.* names of tests/core/families-ssm.cpp, granite_hybrid_names_match_the_checkpoint,
// and models/SOURCES-SSM.md), with Mamba-2's shapes as transformers' Mamba2Mixer makes them: conv_dim =
// d_inner + 2 x n_groups x d_state, conv1d.weight [conv_dim, 1, d_conv], in_proj [d_inner + conv_dim + heads,
// hidden], A_log / D / dt_bias [heads], norm.weight [d_inner], out_proj [hidden, d_inner]. Widths: hidden 64,
// 4 Mamba heads of 16 (d_inner 64), n_groups 1, d_state 8 -> conv_dim 64 + 2 x 8 = 80, d_conv 4; layers 0 and
// 2 Mamba, layer 1 attention (4 heads of 16, 2 KV heads).
constexpr uint64_t m_heads = 4, m_head_dim = 16, m_inner = m_heads * m_head_dim, m_state = 8, m_groups = 1,
                   m_kernel = 4, m_conv = m_inner + 2 * m_groups * m_state;

written zorblax_hybrid(bool mamba_1 = false) {
    written w;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden});
    for (uint64_t l = 0; l < 3; ++l) {
        std::string p = "model.layers." + std::to_string(l) + ".";
        w.add(p + "input_layernorm.weight", "F32", {hidden});
        if (l == 1) {
            w.add(p + "self_attn.q_proj.weight", "BF16", {heads * head_dim, hidden})
                .add(p + "self_attn.k_proj.weight", "BF16", {kv_heads * head_dim, hidden})
                .add(p + "self_attn.v_proj.weight", "BF16", {kv_heads * head_dim, hidden})
                .add(p + "self_attn.o_proj.weight", "BF16", {hidden, heads * head_dim});
        } else if (mamba_1) { // Mamba-1 (MambaMixer): A_log [d_inner, d_state], D [d_inner], x_proj, dt_proj
            w.add(p + "mamba.in_proj.weight", "BF16", {2 * m_inner, hidden})
                .add(p + "mamba.conv1d.weight", "BF16", {m_inner, 1, m_kernel})
                .add(p + "mamba.conv1d.bias", "BF16", {m_inner})
                .add(p + "mamba.x_proj.weight", "BF16", {4 + 2 * m_state, m_inner})
                .add(p + "mamba.dt_proj.weight", "BF16", {m_inner, 4})
                .add(p + "mamba.dt_proj.bias", "BF16", {m_inner})
                .add(p + "mamba.A_log", "F32", {m_inner, m_state})
                .add(p + "mamba.D", "F32", {m_inner})
                .add(p + "mamba.out_proj.weight", "BF16", {hidden, m_inner});
        } else {
            w.add(p + "mamba.in_proj.weight", "BF16", {m_inner + m_conv + m_heads, hidden})
                .add(p + "mamba.conv1d.weight", "BF16", {m_conv, 1, m_kernel})
                .add(p + "mamba.conv1d.bias", "BF16", {m_conv})
                .add(p + "mamba.dt_bias", "F32", {m_heads})
                .add(p + "mamba.A_log", "F32", {m_heads})
                .add(p + "mamba.D", "F32", {m_heads})
                .add(p + "mamba.norm.weight", "F32", {m_inner})
                .add(p + "mamba.out_proj.weight", "BF16", {hidden, m_inner});
        }
        w.add(p + "post_attention_layernorm.weight", "F32", {hidden})
            .add(p + "shared_mlp.input_linear.weight", "BF16", {2 * ffn, hidden})
            .add(p + "shared_mlp.output_linear.weight", "BF16", {hidden, ffn});
    }
    w.add("model.norm.weight", "F32", {hidden});
    return w;
}

// Its config: the generic keys, Granite 4.0-H's layer_types words and the mixer's keys (mamba_*).
const std::string zorblax_hybrid_config = R"({
  "model_type": "zorblax_h", "architectures": ["ZorblaxHybridForCausalLM"], "torch_dtype": "bfloat16",
  "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
  "vocab_size": 128, "layer_types": ["mamba", "attention", "mamba"], "tie_word_embeddings": true,
  "mamba_n_heads": 4, "mamba_d_head": 16, "mamba_d_state": 8, "mamba_n_groups": 1, "mamba_d_conv": 4
})";

TEST(header_fallback, mamba2_state_from_the_shapes_and_the_mixer_keys) {
    written w = zorblax_hybrid();
    analysis a = from_headers(parsed(w.file), &zorblax_hybrid_config);
    EXPECT_EQ(a.counts.total, w.elements);
    EXPECT_TRUE(a.spec.has_recurrent_state(0));
    EXPECT_FALSE(a.spec.has_recurrent_state(1));
    EXPECT_TRUE(a.spec.has_recurrent_state(2));
    workload load;
    load.batch = 2;
    load.seq = 300;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    // docs/memory.md, recurrent state per layer and sequence: (conv_kernel - 1) x conv channels x conv dtype
    // bytes + heads x head_dim x d_state x state dtype bytes; both dtypes bf16 (torch_dtype, no
    // mamba_ssm_dtype): (4 - 1) x 80 x 2 = 480 and 4 x 16 x 8 x 2 = 1,024, so 1,504 bytes per Mamba layer and
    // sequence; 2 Mamba layers x 2 sequences = 6,016 bytes.
    EXPECT_EQ(p->state_bytes_by_layer, (std::vector<uint64_t>{3008, 0, 3008}));
    EXPECT_EQ(p->state_bytes_per_sequence, 3008u);
    ASSERT_NE(item_of(*p, "recurrent_state"), nullptr);
    EXPECT_EQ(item_of(*p, "recurrent_state")->bytes, 6016u);
    // KV only in the attention layer: 2 x 2 KV heads x 16 x 2 bytes x 300 tokens x 2 sequences.
    EXPECT_EQ(p->kv_bytes_by_layer, (std::vector<uint64_t>{0, 2 * 2 * 16 * 2 * 300 * 2, 0}));
    // The notes say where each width came from.
    EXPECT_TRUE(has_note(a, "recurrent_state", "model.layers.0.mamba.conv1d.weight [80, 1, 4]"));
    EXPECT_TRUE(has_note(a, "recurrent_state", "model.layers.0.mamba.A_log [4]: 4 heads (Mamba-2)"));
    EXPECT_TRUE(has_note(a, "recurrent_state", "mamba_d_state 8"));
    EXPECT_TRUE(has_note(a, "kv_cache", "their recurrent state is the recurrent_state item"));
    EXPECT_FALSE(has_note(a, "kv_cache", "not estimated"));
    std::string json = plan_json(a, *p);
    rapidjson::Document d;
    d.Parse(json.c_str());
    ASSERT_FALSE(d.HasParseError());
    bool noted = false;
    for (const auto& item : d["plan"]["items"].GetArray())
        if (std::string(item["name"].GetString()) == "recurrent_state")
            noted =
                std::string(item["note"].GetString()).find("estimated for the 2 layers with a Mamba") == 0;
    EXPECT_TRUE(noted) << json;
    bool generic = false;
    for (const auto& n : d["generic"].GetArray())
        generic = generic || std::string(n["item"].GetString()) == "recurrent_state";
    EXPECT_TRUE(generic) << json;
}

TEST(header_fallback, mamba2_head_dim_from_out_proj_and_kv_from_the_tensors) {
    // Without mamba_d_head, d_inner is out_proj's input (64) and head_dim d_inner / heads = 16; without
    // layer_types, the Mamba layers (no attention tensors) cache no keys and values. Same figure as above for
    // one sequence: 2 x ((4 - 1) x 80 x 2 + 4 x 16 x 8 x 2) = 3,008 bytes.
    const std::string config = R"({"model_type": "zorblax_h", "torch_dtype": "bfloat16",
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
        "ssm_state_size": 8})";
    analysis a = from_headers(parsed(zorblax_hybrid().file), &config);
    workload load;
    load.seq = 100;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(item_of(*p, "recurrent_state")->bytes, 3008u);
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 2u * 2 * 16 * 2 * 100);
    EXPECT_TRUE(has_note(a, "recurrent_state", "head_dim d_inner / heads = 16"));
    EXPECT_TRUE(has_note(a, "kv_cache", "2 layers hold a recurrent mixer and no attention tensors"));
}

TEST(header_fallback, mamba2_without_d_state_keeps_the_state_unestimated) {
    // Mamba-2's d_state is not in any one shape (conv_dim mixes it with n_groups): without a key it is said
    // so.
    const std::string config = R"({"model_type": "zorblax_h", "torch_dtype": "bfloat16",
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
        "layer_types": ["mamba", "attention", "mamba"]})";
    analysis a = from_headers(parsed(zorblax_hybrid().file), &config);
    auto p = plan_memory(a, workload{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(item_of(*p, "recurrent_state"), nullptr);
    EXPECT_FALSE(a.spec.has_recurrent_state(0));
    EXPECT_TRUE(has_note(a, "recurrent_state", "not estimated (0 bytes)"));
    EXPECT_TRUE(has_note(a, "recurrent_state", "d_state (mamba_d_state"));
    EXPECT_TRUE(has_note(a, "kv_cache", "any state they keep is not estimated"));
}

TEST(header_fallback, mamba1_state_from_the_shapes_alone) {
    // No config at all: A_log [d_inner 64, d_state 8] and conv1d.weight [64, 1, 4] give the state. Dtypes:
    // BF16, the float type most parameters are stored in. Per Mamba layer and sequence (docs/memory.md,
    // Mamba: d_inner x d_state): (4 - 1) x 64 x 2 + 64 x 8 x 2 = 384 + 1,024 = 1,408 bytes; 2 layers.
    analysis a = from_headers(parsed(zorblax_hybrid(true).file), nullptr);
    auto p = plan_memory(a, workload{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_NE(item_of(*p, "recurrent_state"), nullptr);
    EXPECT_EQ(item_of(*p, "recurrent_state")->bytes, 2u * 1408);
    EXPECT_TRUE(has_note(a, "recurrent_state", "d_inner 64, d_state 8 (Mamba-1)"));
}

TEST(header_fallback, gated_deltanet_state_from_a_log_and_the_linear_keys) {
    // Qwen3-Next's linear-attention layout (tests/core/families-ssm.cpp, qwen3_next_names_match_the_listing:
    // model.layers.{i}.linear_attn.{A_log, conv1d.weight, dt_bias, in_proj_ba, in_proj_qkvz, norm, out_proj})
    // with Qwen3NextGatedDeltaNet's shapes: key_dim = key heads x key head_dim, value_dim = value heads x
    // value head_dim, conv1d [2 x key_dim + value_dim, 1, kernel], in_proj_qkvz [2 x key_dim + 2 x value_dim,
    // hidden], in_proj_ba [2 x value heads, hidden], A_log and dt_bias [value heads], norm [value head_dim].
    // Here 2 key heads of 8, 4 value heads of 16, kernel 4: conv_dim 2 x 16 + 64 = 96. docs/memory.md, per
    // layer and sequence: (4 - 1) x 96 x 2 bytes + 4 value heads x 8 x 16 x 2 bytes = 576 + 1,024 = 1,600;
    // layer 0 linear, layer 1 attention; batch 3.
    written w;
    w.add("model.embed_tokens.weight", "BF16", {vocab, hidden});
    const std::string l0 = "model.layers.0.linear_attn.";
    w.add(l0 + "conv1d.weight", "BF16", {96, 1, 4})
        .add(l0 + "in_proj_qkvz.weight", "BF16", {2 * 16 + 2 * 64, hidden})
        .add(l0 + "in_proj_ba.weight", "BF16", {2 * 4, hidden})
        .add(l0 + "dt_bias", "BF16", {4})
        .add(l0 + "A_log", "F32", {4})
        .add(l0 + "norm.weight", "F32", {16})
        .add(l0 + "out_proj.weight", "BF16", {hidden, 64});
    w.add("model.layers.1.self_attn.q_proj.weight", "BF16", {heads * head_dim, hidden})
        .add("model.layers.1.self_attn.k_proj.weight", "BF16", {kv_heads * head_dim, hidden})
        .add("model.layers.1.self_attn.v_proj.weight", "BF16", {kv_heads * head_dim, hidden})
        .add("model.layers.1.self_attn.o_proj.weight", "BF16", {hidden, heads * head_dim});
    const std::string config = R"({"model_type": "zorblax_n", "torch_dtype": "bfloat16",
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "hidden_size": 64,
        "layer_types": ["linear_attention", "full_attention"], "linear_num_key_heads": 2,
        "linear_key_head_dim": 8, "linear_value_head_dim": 16, "linear_conv_kernel_dim": 4})";
    analysis a = from_headers(parsed(w.file), &config);
    workload load;
    load.batch = 3;
    load.seq = 10;
    auto p = plan_memory(a, load);
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_NE(item_of(*p, "recurrent_state"), nullptr);
    EXPECT_EQ(item_of(*p, "recurrent_state")->bytes, 1600u * 3);
    EXPECT_TRUE(a.spec.layers[0].switches & sw_linear_attn);
    EXPECT_TRUE(has_note(a, "recurrent_state", "gated DeltaNet"));
    EXPECT_TRUE(has_note(a, "recurrent_state", "linear_key_head_dim 8"));
    // KV only in layer 1: 2 x 2 KV heads x 16 x 2 bytes x 10 tokens x 3 sequences.
    EXPECT_EQ(item_of(*p, "kv_cache")->bytes, 2u * 2 * 16 * 2 * 10 * 3);
}

TEST(header_fallback, mamba_ssm_dtype_sets_the_state_dtype) {
    // mamba_ssm_dtype float32 (as Nemotron-H and Granite 4.0-H configs may name it; docs/memory.md: the SSM
    // part takes it, the convolution part the KV dtype): per Mamba layer and sequence (4 - 1) x 80 x 2 bytes
    // + 4 x 16 x 8 x 4 bytes = 480 + 2,048 = 2,528; 2 Mamba layers, one sequence.
    std::string config = zorblax_hybrid_config;
    config.insert(config.rfind('}'), R"(, "mamba_ssm_dtype": "float32")");
    analysis a = from_headers(parsed(zorblax_hybrid().file), &config);
    auto p = plan_memory(a, workload{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_NE(item_of(*p, "recurrent_state"), nullptr);
    EXPECT_EQ(item_of(*p, "recurrent_state")->bytes, 2u * 2528);
    EXPECT_TRUE(has_note(a, "recurrent_state", "mamba_ssm_dtype \"float32\""));
}

TEST(header_fallback, a_mixer_key_past_the_maximum_is_an_error) {
    const std::string config = R"({"model_type": "zorblax_h", "mamba_d_state": 99999999999})";
    auto a = analyze_checkpoint("zorblax_h", parsed(zorblax_hybrid().file), &config, {}, "x");
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(a.err().code, error_code::out_of_range);
    EXPECT_EQ(a.err().path, "mamba_d_state");
}

} // namespace
} // namespace modelplan::test
