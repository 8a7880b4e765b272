// Vision-language families (issue 13, group VL): published totals, the real checkpoints' tensor names, the
// vision towers' shapes. Every expected figure comes from outside the project; sources in
// models/SOURCES-VL.md ("find_string id" = a hit in the public-code index that does not name its repository).
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "test-util.h"

namespace modelplan::test {
namespace {

const published_elsewhere registered{"qwen2.5-vl-7b-instruct",
                                     "qwen2.5-vl-3b-instruct",
                                     "qwen2-vl-7b-instruct",
                                     "qwen2-vl-2b-instruct",
                                     "qwen2-vl-72b-instruct",
                                     "qwen3-vl-8b-instruct",
                                     "qwen3-vl-4b-instruct",
                                     "qwen3-vl-30b-a3b-instruct",
                                     "qwen2.5-vl-72b-instruct",
                                     "mistral-small-3.1-24b-instruct-2503",
                                     "mistral-small-3.2-24b-instruct-2506",
                                     "llava-1.5-7b",
                                     "llava-v1.6-mistral-7b",
                                     "idefics3-8b-llama3",
                                     "smolvlm2-2.2b-instruct",
                                     "qwen3-vl-2b-instruct"};

const tensor_info* tensor_named(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

struct total_row {
    const char* preset;
    uint64_t total;
};

// Qwen3-VL-2B-Instruct 2,127,532,032: ModelScope model_size (find_string id 71478742831).
// Qwen2.5-VL-7B-Instruct 8,292,166,656: the Hub's numParameters (find_string id 33908990598), ModelScope
// model_size (find_string id 71478742831), a model card's "总参数: 8,292,166,656" with index total_size
// 16,584,333,312 B BF16 (find_string id 55292638637). Qwen2.5-VL-3B-Instruct 3,754,622,976 and
// Qwen3-VL-4B-Instruct 4,437,815,808: ModelScope model_size (find_string id 71478742831).
// Qwen2-VL-7B-Instruct 8,291,375,616, -2B 2,208,985,600 and -72B 73,405,560,320: a benchmark's table of Hub
// parameter counts (find_string id 12439498600); MTEB's n_parameters=2208985600 for the 2B (find_string id
// 54072930181). Qwen3-VL-8B-Instruct 8,767,123,696: the Hub API
// "safetensors":{"parameters":{"BF16":8767123696}} (find_string id 62872967919), Fireworks paramCount
// (find_string id 66729435508). Qwen3-VL-30B-A3B-Instruct 31,070,754,032: Fireworks paramCount of
// qwen3-vl-30b-a3b-instruct (find_string id 66729435508).
TEST(qwen_vl, published_totals) {
    for (const total_row& r : {
             total_row{"qwen2.5-vl-7b-instruct",    8'292'166'656ULL },
             total_row{"qwen2.5-vl-3b-instruct",    3'754'622'976ULL },
             total_row{"qwen2-vl-7b-instruct",      8'291'375'616ULL },
             total_row{"qwen2-vl-2b-instruct",      2'208'985'600ULL },
             total_row{"qwen2-vl-72b-instruct",     73'405'560'320ULL},
             total_row{"qwen3-vl-8b-instruct",      8'767'123'696ULL },
             total_row{"qwen3-vl-4b-instruct",      4'437'815'808ULL },
             total_row{"qwen3-vl-2b-instruct",      2'127'532'032ULL },
             total_row{"qwen3-vl-30b-a3b-instruct", 31'070'754'032ULL},
    }) {
        SCOPED_TRACE(r.preset);
        analysis a = analyze_preset(r.preset);
        EXPECT_EQ(a.counts.total, r.total);
    }
}

// Qwen2.5-VL-7B-Instruct's vision tower: 676,550,144 parameters ("视觉模块 (visual) 总参数: 676550144"
// printed after freezing `model.visual`, find_string id 49095663873).
TEST(qwen_vl, qwen2_5_vl_visual_total) {
    analysis a = analyze_preset("qwen2.5-vl-7b-instruct");
    uint64_t visual = 0;
    for (const auto& t : a.sk.tensors)
        if (t.name.rfind("visual.", 0) == 0) visual += t.elements;
    EXPECT_EQ(visual, 676'550'144ULL);
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

// Qwen2.5-VL-72B-Instruct: no exact published total was found. Its language model has Qwen2.5-72B's shapes
// (72,706,203,648: published-counts.cpp); its tower is the 7B's (676,550,144, above) but for the merger's
// output layer, 8192 instead of 3584 rows of 5120 weights and a bias: (8192 - 3584) x 5121 more.
TEST(qwen_vl, qwen2_5_vl_72b_from_published_parts) {
    analysis a = analyze_preset("qwen2.5-vl-72b-instruct");
    uint64_t visual = 0;
    for (const auto& t : a.sk.tensors)
        if (t.name.rfind("visual.", 0) == 0) visual += t.elements;
    EXPECT_EQ(visual, 676'550'144ULL + (8192 - 3584) * 5121ULL);
    EXPECT_EQ(a.counts.total - visual, 72'706'203'648ULL);
}

// The exact key space of Qwen2.5-VL-7B-Instruct's safetensors checkpoint as a loader validates it
// (find_string id 58756862798: "_QWEN2_5_VL_EXPECTED_TENSOR_COUNT = 729", the root keys with shapes, the 12
// suffixes of each of the 28 language layers and of each of the 32 visual blocks, lm_head.weight (152064,
// 3584)).
TEST(qwen_vl, qwen2_5_vl_names_and_shapes_match_the_checkpoint) {
    using shape = std::vector<uint64_t>;
    std::map<std::string, shape> expected = {
        {"model.embed_tokens.weight",      {152064, 3584}      },
        {"model.norm.weight",              {3584}              },
        {"lm_head.weight",                 {152064, 3584}      },
        {"visual.merger.ln_q.weight",      {1280}              },
        {"visual.merger.mlp.0.bias",       {5120}              },
        {"visual.merger.mlp.0.weight",     {5120, 5120}        },
        {"visual.merger.mlp.2.bias",       {3584}              },
        {"visual.merger.mlp.2.weight",     {3584, 5120}        },
        {"visual.patch_embed.proj.weight", {1280, 3, 2, 14, 14}},
    };
    const std::map<std::string, shape> layer = {
        {"input_layernorm.weight",          {3584}       },
        {"mlp.down_proj.weight",            {3584, 18944}},
        {"mlp.gate_proj.weight",            {18944, 3584}},
        {"mlp.up_proj.weight",              {18944, 3584}},
        {"post_attention_layernorm.weight", {3584}       },
        {"self_attn.k_proj.bias",           {512}        },
        {"self_attn.k_proj.weight",         {512, 3584}  },
        {"self_attn.o_proj.weight",         {3584, 3584} },
        {"self_attn.q_proj.bias",           {3584}       },
        {"self_attn.q_proj.weight",         {3584, 3584} },
        {"self_attn.v_proj.bias",           {512}        },
        {"self_attn.v_proj.weight",         {512, 3584}  },
    };
    const std::map<std::string, shape> block = {
        {"attn.proj.bias",       {1280}      },
        {"attn.proj.weight",     {1280, 1280}},
        {"attn.qkv.bias",        {3840}      },
        {"attn.qkv.weight",      {3840, 1280}},
        {"mlp.down_proj.bias",   {1280}      },
        {"mlp.down_proj.weight", {1280, 3420}},
        {"mlp.gate_proj.bias",   {3420}      },
        {"mlp.gate_proj.weight", {3420, 1280}},
        {"mlp.up_proj.bias",     {3420}      },
        {"mlp.up_proj.weight",   {3420, 1280}},
        {"norm1.weight",         {1280}      },
        {"norm2.weight",         {1280}      },
    };
    for (int i = 0; i < 28; ++i)
        for (const auto& [suffix, s] : layer)
            expected["model.layers." + std::to_string(i) + "." + suffix] = s;
    for (int i = 0; i < 32; ++i)
        for (const auto& [suffix, s] : block)
            expected["visual.blocks." + std::to_string(i) + "." + suffix] = s;
    ASSERT_EQ(expected.size(), 729u);

    analysis a = analyze_preset("qwen2.5-vl-7b-instruct");
    std::map<std::string, shape> ours;
    for (const auto& t : a.sk.tensors) ours[t.name] = t.shape;
    EXPECT_EQ(ours, expected);
    // Index total_size 16,584,333,312 bytes of BF16 (find_string id 55292638637).
    EXPECT_EQ(a.counts.weight_bytes, 16'584'333'312ULL);
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

uint64_t under(const analysis& a, const std::string& prefix) {
    uint64_t n = 0;
    for (const auto& t : a.sk.tensors)
        if (t.name.rfind(prefix, 0) == 0) n += t.elements;
    return n;
}

// Mistral-Small-3.1-24B-Instruct-2503 and 3.2-24B-Instruct-2506: 24,011,361,280 (keras-hub's mistral3 preset
// "params": 24011361280, find_string id 61107991196; a registry row for 3.2, id 70911651117; budget audits of
// 3.2, ids 67433018963, 67545458665). llava-1.5-7b-hf: 7,063,427,072 (a test asserting count_parameters of
// LlavaForConditionalGeneration, find_string id 4065502446; "sum(p.numel() ...) # 7063427072", id
// 53760140093). SmolVLM2-2.2B-Instruct: 2,246,784,880 ("published_parameter_count", id 70075187812).
TEST(vl_families, published_totals) {
    for (const total_row& r : {
             total_row{"mistral-small-3.1-24b-instruct-2503", 24'011'361'280ULL},
             total_row{"mistral-small-3.2-24b-instruct-2506", 24'011'361'280ULL},
             total_row{"llava-1.5-7b",                        7'063'427'072ULL },
             total_row{"smolvlm2-2.2b-instruct",              2'246'784'880ULL },
    }) {
        SCOPED_TRACE(r.preset);
        EXPECT_EQ(analyze_preset(r.preset).counts.total, r.total);
    }
}

// llava-v1.6-mistral-7b-hf: no exact published figure was found. It is Mistral-7B (7,241,732,096,
// published-counts.cpp) with 64 more vocabulary rows in the embedding and the head (2 x 64 x 4096),
// llava-1.5's CLIP tower and projector (7,063,427,072 less Llama-2-7B's 6,738,415,616 and its own 64 extra
// rows x 2) and the 4096-wide image_newline.
TEST(vl_families, llava_next_from_published_parts) {
    const uint64_t extra_vocab = 2ULL * 64 * 4096;
    const uint64_t llava_tower_and_projector = 7'063'427'072ULL - (6'738'415'616ULL + extra_vocab);
    EXPECT_EQ(analyze_preset("llava-v1.6-mistral-7b").counts.total,
              7'241'732'096ULL + extra_vocab + llava_tower_and_projector + 4096);
}

// Idefics3-8B-Llama3: no exact published figure was found. Its text model is Llama-3.1-8B (8,030,261,248,
// published-counts.cpp) with 3 more vocabulary rows (128,259 vs 128,256) in the embedding and the head; its
// tower is SmolVLM2's (same widths and depth) with a 26 x 26 instead of 27 x 27 position table.
TEST(vl_families, idefics3_from_published_parts) {
    analysis idefics = analyze_preset("idefics3-8b-llama3");
    analysis smol = analyze_preset("smolvlm2-2.2b-instruct");
    EXPECT_EQ(under(idefics, "model.text_model.") + under(idefics, "lm_head."),
              8'030'261'248ULL + 2ULL * 3 * 4096);
    EXPECT_EQ(under(idefics, "model.vision_model."),
              under(smol, "model.vision_model.") - (729 - 676) * 1152ULL);
    // The connectors: pixel shuffle by 2 (Idefics3) and 3 (SmolVLM2) of the 1152-wide patches.
    EXPECT_EQ(under(idefics, "model.connector."), 4096ULL * 1152 * 4);
    EXPECT_EQ(under(smol, "model.connector."), 2048ULL * 1152 * 9);
}

// Names of the published layouts: Mistral 3 and LLaVA under vision_tower / multi_modal_projector /
// language_model (transformers 4.50's checkpoint names), Idefics3 and SmolVLM under model.* and lm_head.
// Mistral 3: a loader of Mistral-Small's HF checkpoint asserts merging_layer.weight (1024, 4096) (find_string
// id 55379581366); mergekit's mistral3 test names vision_tower.transformer.layers.1.attention.q_proj.weight,
// multi_modal_projector.patch_merger.merging_layer.weight, language_model.model.norm.weight and
// language_model.lm_head.weight (id 52932753861).
TEST(vl_families, checkpoint_layouts) {
    struct named {
        const char* preset;
        const char* name;
        std::vector<uint64_t> shape;
    };
    for (const named& n : {
             named{
                   "mistral-small-3.1-24b-instruct-2503", "vision_tower.patch_conv.weight",                  {1024, 3, 14, 14}},
             named{"mistral-small-3.1-24b-instruct-2503",
                   "vision_tower.transformer.layers.23.feed_forward.gate_proj.weight",                       {4096, 1024}     },
             named{"mistral-small-3.1-24b-instruct-2503",
                   "multi_modal_projector.patch_merger.merging_layer.weight",                                {1024, 4096}     },
             named{"mistral-small-3.1-24b-instruct-2503",
                   "multi_modal_projector.linear_1.weight",                                                  {5120, 1024}     },
             named{"mistral-small-3.1-24b-instruct-2503", "language_model.lm_head.weight",                   {131072, 5120}   },
             named{"llava-1.5-7b",
                   "vision_tower.vision_model.embeddings.position_embedding.weight",                         {577, 1024}      },
             named{"llava-1.5-7b",                        "vision_tower.vision_model.pre_layrnorm.weight",   {1024}           },
             named{"llava-1.5-7b",                        "multi_modal_projector.linear_2.bias",             {4096}           },
             named{"llava-1.5-7b",                        "language_model.model.embed_tokens.weight",        {32064, 4096}    },
             named{"llava-v1.6-mistral-7b",               "image_newline",                                   {4096}           },
             named{"idefics3-8b-llama3",
                   "model.vision_model.embeddings.position_embedding.weight",                                {676, 1152}      },
             named{"idefics3-8b-llama3",                  "model.connector.modality_projection.proj.weight", {4096, 4608}     },
             named{"idefics3-8b-llama3",                  "lm_head.weight",                                  {128259, 4096}   },
             named{"smolvlm2-2.2b-instruct",
                   "model.text_model.layers.23.self_attn.o_proj.weight",                                     {2048, 2048}     },
    }) {
        SCOPED_TRACE(std::string(n.preset) + " " + n.name);
        analysis a = analyze_preset(n.preset);
        const tensor_info* t = tensor_named(a, n.name);
        ASSERT_TRUE(t);
        EXPECT_EQ(t->shape, n.shape);
    }
    // Mistral 3's projector has no biases (multimodal_projector_bias false); LLaVA's has (default true).
    EXPECT_FALSE(tensor_named(analyze_preset("mistral-small-3.1-24b-instruct-2503"),
                              "multi_modal_projector.linear_1.bias"));
}

// Qwen3-VL's checkpoints as loaders detect them: `model.visual.deepstack_merger_list.0.norm.weight` present,
// `model.visual.merger.linear_fc2.weight` of 4096 rows for the 8B and 2560 for the 4B (find_string ids
// 70305936122, 68866135062, 62045089738); `model.language_model.layers.0.self_attn.q_proj.weight` present and
// `lm_head.weight` absent in a tied checkpoint (the 4B; id 55627754215).
TEST(qwen_vl, qwen3_vl_names_loaders_detect) {
    analysis eight = analyze_preset("qwen3-vl-8b-instruct");
    analysis four = analyze_preset("qwen3-vl-4b-instruct");
    for (const analysis* a : {&eight, &four}) {
        EXPECT_TRUE(tensor_named(*a, "model.visual.deepstack_merger_list.0.norm.weight"));
        EXPECT_TRUE(tensor_named(*a, "model.visual.patch_embed.proj.weight"));
        EXPECT_TRUE(tensor_named(*a, "model.language_model.layers.0.self_attn.q_proj.weight"));
    }
    ASSERT_TRUE(tensor_named(eight, "model.visual.merger.linear_fc2.weight"));
    EXPECT_EQ(tensor_named(eight, "model.visual.merger.linear_fc2.weight")->shape[0], 4096u);
    EXPECT_EQ(tensor_named(four, "model.visual.merger.linear_fc2.weight")->shape[0], 2560u);
    EXPECT_TRUE(tensor_named(eight, "lm_head.weight"));
    EXPECT_FALSE(tensor_named(four, "lm_head.weight"));
    // The Hub counts the 8B's parameters as BF16 (id 62872967919): dtype from text_config.dtype.
    EXPECT_EQ(eight.counts.weight_bytes, 2 * 8'767'123'696ULL);
}

// Bad vision values are errors naming the key.
TEST(vl_families, bad_vision_config_values_name_their_key) {
    auto bad = [](const std::string& preset, const char* key, const std::string& value, const char* path) {
        rapidjson::Document doc;
        doc.Parse(preset_config(preset).c_str());
        rapidjson::Document v(&doc.GetAllocator());
        v.Parse(value.c_str());
        doc["vision_config"].RemoveMember(key);
        doc["vision_config"].AddMember(rapidjson::Value(key, doc.GetAllocator()),
                                       rapidjson::Value(v, doc.GetAllocator()), doc.GetAllocator());
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        doc.Accept(w);
        auto a = analyze(preset, sb.GetString(), {});
        ASSERT_FALSE(a.ok()) << preset << " " << key << "=" << value;
        EXPECT_EQ(a.err().path, path) << a.err().message;
    };
    bad("qwen2.5-vl-7b-instruct", "depth", "0", "vision_config.depth");
    bad("qwen2.5-vl-7b-instruct", "num_heads", "7", "vision_config.num_heads");
    bad("qwen3-vl-8b-instruct", "deepstack_visual_indexes", "[99]",
        "vision_config.deepstack_visual_indexes[0]");
    bad("llava-1.5-7b", "patch_size", "1000", "vision_config.patch_size");
    bad("mistral-small-3.1-24b-instruct-2503", "num_hidden_layers", "\"24\"",
        "vision_config.num_hidden_layers");
    bad("llava-1.5-7b", "model_type", "\"pixtral\"", "vision_config.model_type");
    bad("qwen2.5-vl-7b-instruct", "spatial_merge_size", "4294967296", "vision_config.spatial_merge_size");
    bad("qwen2.5-vl-7b-instruct", "patch_size", "18446744073709551615", "vision_config.patch_size");
    std::string many = "[";
    for (int i = 0; i < 40; ++i) many += (i ? ",0" : "0");
    bad("qwen3-vl-8b-instruct", "deepstack_visual_indexes", many + "]",
        "vision_config.deepstack_visual_indexes");
}

} // namespace
} // namespace modelplan::test

namespace modelplan::test {
namespace {

// Qwen2.5-VL-7B-Instruct's config as transformers 4.53 re-saves it (find_string id 1959876389): the text keys
// in text_config (model_type qwen2_5_vl_text, layer_types all "full_attention", sliding_window null), the
// vision keys with in_channels. The same model, the same total.
TEST(qwen_vl, text_config_form_reads_the_same) {
    std::string layer_types = "[";
    for (int i = 0; i < 28; ++i) layer_types += std::string(i ? "," : "") + "\"full_attention\"";
    layer_types += "]";
    std::string config =
        R"({"architectures": ["Qwen2_5_VLForConditionalGeneration"], "model_type": "qwen2_5_vl",
        "image_token_id": 151655, "video_token_id": 151656, "tie_word_embeddings": false,
        "torch_dtype": "bfloat16", "transformers_version": "4.53.1",
        "text_config": {"hidden_size": 3584, "intermediate_size": 18944, "layer_types": )" +
        layer_types + R"(,
            "max_position_embeddings": 128000, "max_window_layers": 28, "model_type": "qwen2_5_vl_text",
            "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "rms_norm_eps": 1e-06,
            "rope_scaling": {"mrope_section": [16, 24, 24], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0, "sliding_window": null, "torch_dtype": "float32", "use_cache": true,
            "use_sliding_window": false, "vocab_size": 152064},
        "vision_config": {"depth": 32, "fullatt_block_indexes": [7, 15, 23, 31], "hidden_act": "silu",
            "hidden_size": 1280, "in_channels": 3, "in_chans": 3, "intermediate_size": 3420,
            "model_type": "qwen2_5_vl", "num_heads": 16, "out_hidden_size": 3584, "patch_size": 14,
            "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2, "tokens_per_second": 2,
            "window_size": 112}})";
    auto a = analyze("qwen2.5-vl-7b (4.53 form)", config, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    EXPECT_EQ(a->counts.total, 8'292'166'656ULL);
    EXPECT_EQ(a->spec.weight_dtype, dtype::bf16);
}

// Ministral 3 (transformers 5: Ministral3Config, Ministral3ForCausalLM, and Mistral3ForConditionalGeneration
// with a text_config of model_type "ministral3"). Its decoder is Mistral's (modular_ministral3.py derives
// every layer from Mistral's); the defaults are Ministral3Config's: vocab 131,072, hidden 4,096, intermediate
// 14,336, 34 layers, 32 heads, 8 KV heads, head_dim 128, untied. By hand: embedding and head 2 x 131,072 x
// 4,096 = 1,073,741,824; a layer q 4,096 x 4,096 + k, v 2 x 1,024 x 4,096 + o 4,096 x 4,096 + MLP 3 x 4,096 x
// 14,336 + 2 norms x 4,096 = 218,112,000, x 34 = 7,415,808,000; final norm 4,096: 8,489,553,920.
TEST(vl_families, ministral3_text_model_and_as_mistral3_text_config) {
    auto text = analyze("ministral3",
                        R"({"model_type": "ministral3", "architectures": ["Ministral3ForCausalLM"]})", {});
    ASSERT_TRUE(text.ok()) << text.err().message;
    EXPECT_EQ(text->counts.total, 8'489'553'920ULL);
    EXPECT_EQ(text->spec.head_dim, 128u);
    // rope_parameters (transformers 5) is read: Ministral3Config's YaRN over theta 1e6.
    EXPECT_EQ(text->spec.rope.theta, 1e6);
    EXPECT_EQ(text->spec.rope.scaling_type, "yarn");
    EXPECT_EQ(text->spec.rope.scaling_factor, 16.0);

    // The same text keys under Mistral 3 as "ministral3" and as "mistral": the same model, tower included.
    rapidjson::Document doc;
    doc.Parse(preset_config("mistral-small-3.1-24b-instruct-2503").c_str());
    auto with_text_type = [&](const char* type) {
        doc["text_config"]["model_type"].SetString(type, doc.GetAllocator());
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        doc.Accept(w);
        return analyze("mistral3", sb.GetString(), {});
    };
    auto as_mistral = with_text_type("mistral");
    auto as_ministral3 = with_text_type("ministral3");
    ASSERT_TRUE(as_mistral.ok()) << as_mistral.err().message;
    ASSERT_TRUE(as_ministral3.ok()) << as_ministral3.err().message;
    EXPECT_EQ(as_ministral3->counts.total, 24'011'361'280ULL); // Mistral-Small-3.1's published total
    EXPECT_EQ(as_ministral3->sk.tensors.size(), as_mistral->sk.tensors.size());
    EXPECT_EQ(with_text_type("ministral9").err().path, "text_config.model_type");
}

} // namespace
} // namespace modelplan::test
