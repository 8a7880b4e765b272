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

const published_elsewhere registered{"qwen2.5-vl-7b-instruct",    "qwen2.5-vl-3b-instruct",
                                     "qwen2-vl-7b-instruct",      "qwen2-vl-2b-instruct",
                                     "qwen3-vl-8b-instruct",      "qwen3-vl-4b-instruct",
                                     "qwen3-vl-30b-a3b-instruct", "qwen2.5-vl-72b-instruct"};

const tensor_info* tensor_named(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

struct total_row {
    const char* preset;
    uint64_t total;
};

// Qwen2.5-VL-7B-Instruct 8,292,166,656: the Hub's numParameters (find_string id 33908990598), ModelScope
// model_size (find_string id 71478742831), a model card's "总参数: 8,292,166,656" with index total_size
// 16,584,333,312 B BF16 (find_string id 55292638637). Qwen2.5-VL-3B-Instruct 3,754,622,976 and
// Qwen3-VL-4B-Instruct 4,437,815,808: ModelScope model_size (find_string id 71478742831).
// Qwen2-VL-7B-Instruct 8,291,375,616 and Qwen2-VL-2B-Instruct 2,208,985,600: a benchmark's table of Hub
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
             total_row{"qwen3-vl-8b-instruct",      8'767'123'696ULL },
             total_row{"qwen3-vl-4b-instruct",      4'437'815'808ULL },
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
}

} // namespace
} // namespace modelplan::test
