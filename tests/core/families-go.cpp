// gpt_oss and llama4 (issue 13, section 1): published totals, the real checkpoints' names, MXFP4 storage as
// the checkpoint stores it, sliding and chunked attention layers, GGUF names. Every expected figure comes
// from outside the project; sources in tests/data/SOURCES-GO.md and models/SOURCES-GO.md.
#include <cmath>
#include <fstream>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/device-map.h"
#include "modelplan/gguf.h"
#include "modelplan/placement.h"
#include "modelplan/quantization.h"
#include "modelplan/safetensors.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

using test_files::safetensors_file;

std::string input(const plan_item& item, const std::string& name) {
    for (const auto& i : item.inputs)
        if (i.name == name) return i.value;
    return "";
}

const tensor_info* tensor_named(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The routed experts' weights (not their biases): what MXFP4 stores and what huggingface.js counts as U8.
uint64_t expert_weight_elements(const analysis& a) {
    uint64_t n = 0;
    for (const auto& t : a.sk.tensors)
        if (holds_stacked_experts(t) && t.shape.size() == 3) n += t.elements;
    return n;
}

uint64_t role_elements(const analysis& a, role r) {
    return a.counts.by_role[static_cast<size_t>(r)];
}

// ---- gpt-oss ---------------------------------------------------------------------------------------------

// huggingface.js, packages/hub/src/lib/parse-safetensors-metadata.spec.ts: the Hub's headers of
// openai/gpt-oss-20b (rev bbf09307) count {BF16: 1,804,459,584, U8: 19,110,297,600} = 20,914,757,184 with the
// packed blocks counted unpacked and the 597,196,800 block scales left out (the Hub counted them:
// 21,511,953,984); openai/gpt-oss-120b (rev b5c939de) {BF16: 2,167,371,072, U8: 114,661,785,600} =
// 116,829,156,672, with 3,583,180,800 scales (120,412,337,472 counting them). Ollama's
// general.parameter_count of gpt-oss:20b is 20,914,757,184 too.
TEST(gpt_oss, published_totals_with_and_without_block_scales) {
    struct row {
        const char* preset;
        uint64_t total, bf16, u8, with_scales;
    };
    for (const row& r : {
             row{"gpt-oss-20b",  20'914'757'184ULL,  1'804'459'584ULL, 19'110'297'600ULL,  21'511'953'984ULL},
             row{"gpt-oss-120b", 116'829'156'672ULL, 2'167'371'072ULL, 114'661'785'600ULL,
                 120'412'337'472ULL                                                                         },
    }) {
        SCOPED_TRACE(r.preset);
        analysis a = analyze_preset(r.preset);
        EXPECT_EQ(a.counts.total, r.total);
        EXPECT_EQ(expert_weight_elements(a), r.u8);
        EXPECT_EQ(a.counts.total - expert_weight_elements(a), r.bf16);
        // One E8M0 scale per block of 32 weights.
        EXPECT_EQ(a.counts.total + expert_weight_elements(a) / 32, r.with_scales);
    }
}

// OpenAI's gpt-oss model card (arXiv 2508.10925, table 1): 3.61B active parameters for gpt-oss-20b and 5.13B
// for gpt-oss-120b, counting the unembedding but not the embedding (4 of 32 and 4 of 128 experts a token).
TEST(gpt_oss, active_parameters_of_the_model_card) {
    for (auto [preset, card] : {
             std::pair{"gpt-oss-20b",  3.61e9},
             std::pair{"gpt-oss-120b", 5.13e9}
    }) {
        analysis a = analyze_preset(preset);
        double active = static_cast<double>(a.counts.active - role_elements(a, role::embed));
        EXPECT_LT(std::abs(active - card), 0.005e9) << preset << ": " << active;
    }
}

// GptOssConfig: attention biases on, sinks per head, sliding window 128 on even layers (layer_types), every
// layer MoE with a biased router; weights in bfloat16 (the MXFP4 quantizer's dtype, the config names none).
TEST(gpt_oss, layers_and_tensors) {
    analysis a = analyze_preset("gpt-oss-20b");
    const model_spec& s = a.spec;
    EXPECT_EQ(s.architecture, "GptOssForCausalLM");
    EXPECT_EQ(s.weight_dtype, dtype::bf16);
    ASSERT_EQ(s.layers.size(), 24u);
    for (uint64_t i = 0; i < 24; ++i) {
        EXPECT_EQ(s.layer(i).attn, i % 2 == 0 ? attn_kind::sliding : attn_kind::full) << i;
        EXPECT_EQ(s.layer(i).window, i % 2 == 0 ? 128u : 0u) << i;
        EXPECT_TRUE(s.is_moe_layer(i)) << i;
    }
    auto shape = [&](const char* name) {
        const tensor_info* t = tensor_named(a, name);
        EXPECT_TRUE(t) << name;
        return t ? t->shape : std::vector<uint64_t>{};
    };
    // transformers GptOssExperts / GptOssTopKRouter / GptOssAttention parameter shapes.
    EXPECT_EQ(shape("model.layers.3.self_attn.sinks"), std::vector<uint64_t>({64}));
    EXPECT_EQ(shape("model.layers.3.self_attn.o_proj.bias"), std::vector<uint64_t>({2880}));
    EXPECT_EQ(shape("model.layers.3.mlp.router.bias"), std::vector<uint64_t>({32}));
    EXPECT_EQ(shape("model.layers.3.mlp.experts.gate_up_proj"), std::vector<uint64_t>({32, 2880, 5760}));
    EXPECT_EQ(shape("model.layers.3.mlp.experts.gate_up_proj_bias"), std::vector<uint64_t>({32, 5760}));
    EXPECT_EQ(shape("model.layers.3.mlp.experts.down_proj"), std::vector<uint64_t>({32, 2880, 2880}));
    EXPECT_EQ(shape("model.layers.3.mlp.experts.down_proj_bias"), std::vector<uint64_t>({32, 2880}));
    // No layer_types: GptOssConfig makes even layers sliding.
    auto sparse = analyze("g", edited_config("gpt-oss-20b", "layer_types", ""), {});
    ASSERT_TRUE(sparse.ok());
    EXPECT_EQ(sparse->spec.layer(0).attn, attn_kind::sliding);
    EXPECT_EQ(sparse->spec.layer(1).attn, attn_kind::full);
}

std::vector<std::string> read_names(const std::string& file) {
    std::ifstream in(std::string(MODELPLAN_TEST_DATA) + "/" + file);
    EXPECT_TRUE(in.good()) << file;
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

checkpoint parse_header(const safetensors_file& f) {
    auto r = parse_safetensors_header(f.header_bytes(), f.file_size(), "model.safetensors");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    if (!r.ok() || !r->parsed) return {};
    return *r->parsed;
}

// openai/gpt-oss-20b's model.safetensors.index.json (459 names; metadata.total_size 13,761,264,768 bytes): a
// header with every listed tensor, the MXFP4 pairs in Mxfp4GptOssExperts' layout (blocks U8 [experts, out,
// in / 32, 16], scales U8 [experts, out, in / 32]) and the rest BF16, verifies against the skeleton name for
// name; its bytes are the index's total_size, and so are the plan's weights.
TEST(gpt_oss, real_index_names_verify_and_the_plan_stores_mxfp4_as_the_checkpoint) {
    analysis a = analyze_preset("gpt-oss-20b");
    std::vector<std::string> names = read_names("gpt-oss-20b.weight_map.txt");
    ASSERT_EQ(names.size(), 459u);
    safetensors_file f;
    for (const std::string& name : names) {
        bool blocks = ends_with(name, "_blocks"), scales = ends_with(name, "_scales");
        std::string base = blocks || scales ? name.substr(0, name.size() - 7) : name;
        const tensor_info* t = tensor_named(a, base);
        ASSERT_TRUE(t) << name << " is not a skeleton tensor";
        if (blocks || scales) {
            ASSERT_EQ(t->shape.size(), 3u) << name;
            uint64_t experts = t->shape[0], in = t->shape[1], out = t->shape[2];
            if (blocks) f.add(name, "U8", {experts, out, in / 32, 16});
            if (scales) f.add(name, "U8", {experts, out, in / 32});
        } else {
            f.add(name, "BF16", t->shape);
        }
    }
    auto in = inspect("model.safetensors", parse_header(f), a, "preset");
    ASSERT_TRUE(in.ok());
    ASSERT_TRUE(in->verify);
    EXPECT_TRUE(in->verify->ok);
    EXPECT_TRUE(in->verify->missing.empty()) << in->verify->missing.front().name;
    EXPECT_TRUE(in->verify->unexpected.empty()) << in->verify->unexpected.front().name;
    EXPECT_TRUE(in->verify->mismatched.empty()) << in->verify->mismatched.front().name;
    EXPECT_EQ(in->view.quantized.size(), 48u); // gate_up_proj and down_proj in each of 24 layers
    EXPECT_EQ(in->view.totals.params, 20'914'757'184ULL);
    EXPECT_EQ(in->view.totals.bytes, 13'761'264'768ULL); // the index's metadata.total_size
    EXPECT_EQ(in->view.quantized[0].scheme, "mxfp4");
    EXPECT_EQ(in->view.quantized[0].group_size, 32u);

    workload w;
    auto item = plan_weights(a, w);
    ASSERT_TRUE(item.ok()) << item.err().message;
    EXPECT_EQ(item->bytes, 13'761'264'768ULL);
    EXPECT_EQ(input(*item, "quant"), "mxfp4");
    EXPECT_EQ(input(*item, "quantized_tensors"), "48");
    // "MXFP4 format (4.25 bits)": the model card's figure, blocks and scales together.
    EXPECT_EQ(input(*item, "quantized_bits_per_weight"), "4.250");
}

// Mxfp4Config(dequantize=True) loads the experts in bfloat16: the plan stores every tensor at its dtype.
TEST(gpt_oss, dequantized_mxfp4_is_planned_at_the_model_dtype) {
    std::string config = edited_config("gpt-oss-20b", "quantization_config",
                                       R"({"quant_method": "mxfp4", "dequantize": true})");
    auto a = analyze("g", config, {});
    ASSERT_TRUE(a.ok());
    workload w;
    auto item = plan_weights(*a, w);
    ASSERT_TRUE(item.ok());
    EXPECT_EQ(item->bytes, 2 * 20'914'757'184ULL);
}

// A malformed pair is left as stored tensors with a note naming it.
TEST(gpt_oss, malformed_mxfp4_pair_is_noted) {
    safetensors_file f;
    f.add("model.layers.0.mlp.experts.down_proj_blocks", "U8", {4, 8, 3, 16})
        .add("model.layers.0.mlp.experts.down_proj_scales", "U8", {4, 8, 2});
    std::vector<std::string> notes;
    auto groups = find_quantized_groups(parse_header(f), &notes);
    EXPECT_TRUE(groups.empty());
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("model.layers.0.mlp.experts.down_proj_blocks"), std::string::npos) << notes[0];
}

// The KV cache of a sliding layer holds its window (transformers' DynamicSlidingWindowLayer).
TEST(gpt_oss, sliding_layers_cache_their_window) {
    analysis a = analyze_preset("gpt-oss-20b");
    workload w;
    w.seq = 8192;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok());
    const uint64_t per_token = 2 * 8 * 64 * 2; // keys and values, 8 KV heads of 64, bf16
    EXPECT_EQ(p->bytes.kv_cache, per_token * (12 * 8192 + 12 * 128));
}

// experts_on_cpu moves stacked experts as their module (model.layers.N.mlp.experts, what transformers'
// device_map names), leaving attention, router and cache on the GPU.
TEST(gpt_oss, stacked_experts_go_to_the_cpu_as_a_module) {
    analysis a = analyze_preset("gpt-oss-20b");
    workload w;
    place_options o;
    o.experts_on_cpu = true;
    auto p = place_model(a, w, *parse_devices("cuda:0=24GiB,cpu=64GiB"), o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_TRUE(p->fits);
    auto devices = assign_devices(a.sk, p->map);
    ASSERT_TRUE(devices.ok()) << devices.err().message;
    bool module_entry = false;
    for (const auto& e : p->map.entries) module_entry |= e.module == "model.layers.7.mlp.experts";
    EXPECT_TRUE(module_entry);
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (holds_stacked_experts(t)) EXPECT_EQ((*devices)[i], "cpu") << t.name;
        if (t.what == role::attn_q || t.what == role::ffn_router)
            EXPECT_EQ((*devices)[i], "cuda:0") << t.name;
    }
}

// ---- Llama 4 ---------------------------------------------------------------------------------------------

// Published totals: meta-llama/Llama-4-Scout-17B-16E(-Instruct) safetensors 108,641,793,536 BF16 parameters
// (the Hub API's count, "109B (Total)" on the model card); Llama-4-Maverick-17B-128E-Instruct 401,583,781,376
// (Fireworks' billing export documents parameter_count 401583781376 for llama4-maverick-instruct-basic;
// "400B (Total)" on the model card).
TEST(llama4, published_totals) {
    EXPECT_EQ(analyze_preset("llama-4-scout-17b-16e").counts.total, 108'641'793'536ULL);
    EXPECT_EQ(analyze_preset("llama-4-scout-17b-16e-instruct").counts.total, 108'641'793'536ULL);
    EXPECT_EQ(analyze_preset("llama-4-maverick-17b-128e-instruct").counts.total, 401'583'781'376ULL);
}

// "17B (Activated)" for both (model card): the text model with one routed and the shared expert a token.
TEST(llama4, active_parameters_round_to_17b) {
    for (const char* preset : {"llama-4-scout-17b-16e-instruct", "llama-4-maverick-17b-128e-instruct"}) {
        analysis a = analyze_preset(preset);
        uint64_t text_active =
            a.counts.active - role_elements(a, role::vision) - role_elements(a, role::projector);
        EXPECT_EQ((text_active + 500'000'000) / 1'000'000'000, 17u) << preset << ": " << text_active;
    }
    analysis text = analyze_preset("llama-4-scout-17b-16e-text");
    EXPECT_EQ(text.spec.architecture, "Llama4ForCausalLM");
    EXPECT_EQ((text.counts.active + 500'000'000) / 1'000'000'000, 17u) << text.counts.active;
    // The vision tower and projector are all that the multimodal checkpoint adds to the text model.
    analysis scout = analyze_preset("llama-4-scout-17b-16e-instruct");
    EXPECT_EQ(scout.counts.total - text.counts.total,
              role_elements(scout, role::vision) + role_elements(scout, role::projector));
}

// The checkpoint names as vLLM's TPU backend loads them (vllm-project/tpu-inference, models/jax/llama4.py for
// the text model, llama_guard_4.py for the vision tower and projector), with "layers.*" for the layer index:
// the skeleton's names are exactly these patterns.
TEST(llama4, checkpoint_name_patterns) {
    const std::set<std::string> expected = {
        "language_model.model.embed_tokens.weight",
        "language_model.lm_head.weight",
        "language_model.model.norm.weight",
        "language_model.model.layers.*.input_layernorm.weight",
        "language_model.model.layers.*.post_attention_layernorm.weight",
        "language_model.model.layers.*.self_attn.q_proj.weight",
        "language_model.model.layers.*.self_attn.k_proj.weight",
        "language_model.model.layers.*.self_attn.v_proj.weight",
        "language_model.model.layers.*.self_attn.o_proj.weight",
        "language_model.model.layers.*.feed_forward.router.weight",
        "language_model.model.layers.*.feed_forward.experts.down_proj",
        "language_model.model.layers.*.feed_forward.experts.gate_up_proj",
        "language_model.model.layers.*.feed_forward.shared_expert.down_proj.weight",
        "language_model.model.layers.*.feed_forward.shared_expert.gate_proj.weight",
        "language_model.model.layers.*.feed_forward.shared_expert.up_proj.weight",
        "language_model.model.layers.*.feed_forward.down_proj.weight",
        "language_model.model.layers.*.feed_forward.up_proj.weight",
        "language_model.model.layers.*.feed_forward.gate_proj.weight",
        "vision_model.patch_embedding.linear.weight",
        "vision_model.class_embedding",
        "vision_model.positional_embedding_vlm",
        "vision_model.layernorm_pre.weight",
        "vision_model.layernorm_pre.bias",
        "vision_model.layernorm_post.weight",
        "vision_model.layernorm_post.bias",
        "vision_model.model.layers.*.input_layernorm.weight",
        "vision_model.model.layers.*.input_layernorm.bias",
        "vision_model.model.layers.*.post_attention_layernorm.weight",
        "vision_model.model.layers.*.post_attention_layernorm.bias",
        "vision_model.model.layers.*.self_attn.q_proj.weight",
        "vision_model.model.layers.*.self_attn.k_proj.weight",
        "vision_model.model.layers.*.self_attn.v_proj.weight",
        "vision_model.model.layers.*.self_attn.o_proj.weight",
        "vision_model.model.layers.*.self_attn.q_proj.bias",
        "vision_model.model.layers.*.self_attn.k_proj.bias",
        "vision_model.model.layers.*.self_attn.v_proj.bias",
        "vision_model.model.layers.*.self_attn.o_proj.bias",
        "vision_model.model.layers.*.mlp.fc1.weight",
        "vision_model.model.layers.*.mlp.fc1.bias",
        "vision_model.model.layers.*.mlp.fc2.weight",
        "vision_model.model.layers.*.mlp.fc2.bias",
        "vision_model.vision_adapter.mlp.fc1.weight",
        "vision_model.vision_adapter.mlp.fc2.weight",
        "multi_modal_projector.linear_1.weight",
    };
    analysis a = analyze_preset("llama-4-maverick-17b-128e-instruct"); // MoE and dense layers
    std::set<std::string> patterns;
    for (const auto& t : a.sk.tensors) {
        std::string n = t.name;
        size_t at = n.find("layers.");
        if (at != std::string::npos) {
            size_t end = n.find('.', at + 7);
            n = n.substr(0, at + 7) + "*" + n.substr(end);
        }
        patterns.insert(n);
    }
    EXPECT_EQ(patterns, expected);
}

// Shapes (transformers Llama4TextExperts, Llama4VisionModel): Scout's experts and vision tower.
TEST(llama4, shapes) {
    analysis a = analyze_preset("llama-4-scout-17b-16e-instruct");
    auto shape = [&](const std::string& name) {
        const tensor_info* t = tensor_named(a, name);
        EXPECT_TRUE(t) << name;
        return t ? t->shape : std::vector<uint64_t>{};
    };
    const std::string l0 = "language_model.model.layers.0.feed_forward.";
    EXPECT_EQ(shape(l0 + "experts.gate_up_proj"), std::vector<uint64_t>({16, 5120, 16384}));
    EXPECT_EQ(shape(l0 + "experts.down_proj"), std::vector<uint64_t>({16, 8192, 5120}));
    EXPECT_EQ(shape(l0 + "router.weight"), std::vector<uint64_t>({16, 5120}));
    EXPECT_EQ(shape(l0 + "shared_expert.down_proj.weight"), std::vector<uint64_t>({5120, 8192}));
    // (336 / 14)^2 patches and the class token; an unfold patch embedding of 3 x 14 x 14 inputs.
    EXPECT_EQ(shape("vision_model.positional_embedding_vlm"), std::vector<uint64_t>({577, 1408}));
    EXPECT_EQ(shape("vision_model.patch_embedding.linear.weight"), std::vector<uint64_t>({1408, 588}));
    EXPECT_EQ(shape("vision_model.vision_adapter.mlp.fc1.weight"), std::vector<uint64_t>({4096, 5632}));
    EXPECT_EQ(shape("multi_modal_projector.linear_1.weight"), std::vector<uint64_t>({5120, 4096}));
}

// Scout: every layer MoE; Maverick: MoE on odd layers (interleave_moe_layer_step 2), dense SwiGLU of 16384 on
// the others. Both: RoPE layers attend in chunks of 8192, every fourth layer is NoPE with full attention.
TEST(llama4, moe_and_chunked_layers) {
    analysis scout = analyze_preset("llama-4-scout-17b-16e-instruct");
    analysis maverick = analyze_preset("llama-4-maverick-17b-128e-instruct");
    for (uint64_t i = 0; i < 48; ++i) {
        EXPECT_TRUE(scout.spec.is_moe_layer(i)) << i;
        EXPECT_EQ(maverick.spec.is_moe_layer(i), i % 2 == 1) << i;
        for (const analysis* a : {&scout, &maverick}) {
            bool nope = (i + 1) % 4 == 0;
            EXPECT_EQ(a->spec.layer(i).attn, nope ? attn_kind::full : attn_kind::chunked) << i;
            EXPECT_EQ(a->spec.layer(i).window, nope ? 0u : 8192u) << i;
        }
    }
    EXPECT_EQ(maverick.spec.intermediate, 16384u);
    // An explicit no_rope_layers list (Llama4TextConfig: 1 = RoPE) and layer_types win over the interval.
    std::string text = preset_config("llama-4-scout-17b-16e-text");
    std::string ones = "[1";
    for (int i = 1; i < 48; ++i) ones += i == 5 ? ",0" : ",1";
    auto listed = analyze("t", edit_key(text, "no_rope_layers", ones + "]"), {});
    ASSERT_TRUE(listed.ok()) << listed.err().message;
    EXPECT_EQ(listed->spec.layer(3).attn, attn_kind::chunked);
    EXPECT_EQ(listed->spec.layer(5).attn, attn_kind::full);
    auto bad = analyze("t", edit_key(text, "no_rope_layers", "[1, 2]"), {});
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("no_rope_layers"), std::string::npos) << bad.err().message;
}

// Chunked layers cache at most attention_chunk_size tokens (transformers' DynamicCache gives chunked layers a
// sliding-window layer of attention_chunk_size); the 12 NoPE layers cache everything.
TEST(llama4, chunked_layers_cache_the_chunk) {
    analysis a = analyze_preset("llama-4-scout-17b-16e-text");
    workload w;
    w.seq = 65536;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok());
    const uint64_t per_token = 2 * 8 * 128 * 2; // keys and values, 8 KV heads of 128, bf16
    EXPECT_EQ(p->bytes.kv_cache, per_token * (12 * 65536 + 36 * 8192));
    bool listed = false;
    for (const auto& item : p->items)
        if (item.name == "kv_cache") listed = input(item, "chunked_attention_layers") == "36";
    EXPECT_TRUE(listed);
}

// Bad input names the key and the value.
TEST(llama4, errors_name_the_key) {
    auto no_vision = analyze("m", edited_config("llama-4-scout-17b-16e-instruct", "vision_config", ""), {});
    ASSERT_FALSE(no_vision.ok());
    EXPECT_EQ(no_vision.err().code, error_code::missing_key);
    EXPECT_NE(no_vision.err().message.find("vision_config"), std::string::npos) << no_vision.err().message;
    std::string text = preset_config("llama-4-scout-17b-16e-text");
    auto moe = analyze("t", edit_key(text, "moe_layers", "[0, 48]"), {});
    ASSERT_FALSE(moe.ok());
    EXPECT_NE(moe.err().message.find("moe_layers[1]"), std::string::npos) << moe.err().message;
    EXPECT_NE(moe.err().message.find("48"), std::string::npos) << moe.err().message;
    auto types = analyze("t", edit_key(text, "layer_types", R"(["sliding_attention"])"), {});
    ASSERT_FALSE(types.ok());
    EXPECT_NE(types.err().message.find("layer_types"), std::string::npos) << types.err().message;
    auto oss = analyze("g", edited_config("gpt-oss-20b", "num_experts_per_tok", "33"), {});
    ASSERT_FALSE(oss.ok());
    EXPECT_NE(oss.err().message.find("num_experts_per_tok"), std::string::npos) << oss.err().message;
}

// ---- GGUF ------------------------------------------------------------------------------------------------

const gguf_stored_tensor* stored(const gguf_layout& l, const std::string& name) {
    for (const auto& t : l.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

// llama.cpp's convert_hf_to_gguf.py: GptOssModel (architecture gpt-oss) splits gate_up_proj and its bias into
// ffn_gate_exps and ffn_up_exps, writes sinks as attn_sinks and post_attention_layernorm as
// post_attention_norm; Llama4Model (llama4) splits gate_up_proj by halves, transposes the experts to
// [experts, out, in] and leaves the vision tower to its mmproj file.
TEST(llama4, gguf_names_of_gpt_oss_and_llama4) {
    auto oss = gguf_layout_of(analyze_preset("gpt-oss-20b").spec, analyze_preset("gpt-oss-20b").sk);
    ASSERT_TRUE(oss.ok()) << oss.err().message;
    EXPECT_EQ(oss->arch, "gpt-oss");
    for (const char* name :
         {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_down_exps.weight"}) {
        ASSERT_TRUE(stored(*oss, name)) << name;
        EXPECT_EQ(stored(*oss, name)->shape, std::vector<uint64_t>({32, 2880, 2880})) << name;
    }
    ASSERT_TRUE(stored(*oss, "blk.0.ffn_up_exps.bias"));
    EXPECT_EQ(stored(*oss, "blk.0.ffn_up_exps.bias")->shape, std::vector<uint64_t>({32, 2880}));
    EXPECT_TRUE(stored(*oss, "blk.0.ffn_down_exps.bias"));
    EXPECT_TRUE(stored(*oss, "blk.0.ffn_gate_inp.bias"));
    ASSERT_TRUE(stored(*oss, "blk.0.attn_sinks.weight"));
    EXPECT_EQ(stored(*oss, "blk.0.attn_sinks.weight")->shape, std::vector<uint64_t>({64}));
    EXPECT_TRUE(stored(*oss, "blk.0.post_attention_norm.weight"));
    EXPECT_FALSE(stored(*oss, "blk.0.ffn_norm.weight"));

    analysis maverick = analyze_preset("llama-4-maverick-17b-128e-instruct");
    auto l4 = gguf_layout_of(maverick.spec, maverick.sk);
    ASSERT_TRUE(l4.ok()) << l4.err().message;
    EXPECT_EQ(l4->arch, "llama4");
    ASSERT_TRUE(stored(*l4, "blk.1.ffn_gate_exps.weight"));
    EXPECT_EQ(stored(*l4, "blk.1.ffn_gate_exps.weight")->shape, std::vector<uint64_t>({128, 8192, 5120}));
    EXPECT_EQ(stored(*l4, "blk.1.ffn_up_exps.weight")->shape, std::vector<uint64_t>({128, 8192, 5120}));
    EXPECT_EQ(stored(*l4, "blk.1.ffn_down_exps.weight")->shape, std::vector<uint64_t>({128, 5120, 8192}));
    EXPECT_TRUE(stored(*l4, "blk.1.ffn_gate_inp.weight"));
    EXPECT_TRUE(stored(*l4, "blk.1.ffn_up_shexp.weight"));
    EXPECT_TRUE(stored(*l4, "blk.0.ffn_gate.weight")); // dense layer
    EXPECT_TRUE(stored(*l4, "blk.0.ffn_norm.weight"));
    EXPECT_TRUE(stored(*l4, "output.weight"));
    for (const auto& name : l4->left_out)
        EXPECT_TRUE(name.rfind("vision_model.", 0) == 0 || name.rfind("multi_modal_projector.", 0) == 0)
            << name;
}

} // namespace
} // namespace modelplan::test
