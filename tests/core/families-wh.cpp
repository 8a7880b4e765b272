// Whisper (issue 13, speech): published totals, the published checkpoints' tensor names and shapes, and the
// memory plan's encoder sequence (audio frames, not text). Every expected figure comes from outside the
// project; sources in models/SOURCES-WH.md.
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "modelplan/memory.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

const published_elsewhere registered{"whisper-tiny", "whisper-large-v3", "whisper-large-v3-turbo"};

const tensor_info* tensor_named(const analysis& a, const std::string& name) {
    for (const auto& t : a.sk.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

uint64_t total_of(const std::string& config) {
    auto a = analyze("edited", config, {});
    if (!a.ok()) {
        ADD_FAILURE() << a.err().message;
        return 0;
    }
    return a->counts.total;
}

// Published totals of the presets.
//  - whisper-tiny 37,760,640: keras-hub whisper_presets.py "whisper_tiny_multi" "params": 37760640; also
//    sum(p.numel() for p in model.state_dict().values()) "# 37760640" in a public whisper-tiny script.
//  - whisper-large-v3 1,543,490,560 and whisper-large-v3-turbo 808,878,080: the Hugging Face Hub's parameter
//    counts of openai/whisper-large-v3 (revision 06f233fe) and openai/whisper-large-v3-turbo (revision
//    41f01f3f), as listed in public model-license tables; large-v3 also "sum(p.numel() for p in
//    m.parameters()) == 1543490560" in a public test.
TEST(families_wh, totals_equal_published_figures) {
    EXPECT_EQ(analyze_preset("whisper-tiny").counts.total, 37'760'640ULL);
    EXPECT_EQ(analyze_preset("whisper-large-v3").counts.total, 1'543'490'560ULL);
    EXPECT_EQ(analyze_preset("whisper-large-v3-turbo").counts.total, 808'878'080ULL);
}

// The other multilingual sizes, as edits of the tiny config with the published shapes of openai/whisper-base
// (d_model 512, 6 + 6 layers, 8 heads, FFN 2048), -small (768, 12, 12, 3072), -medium (1024, 24, 16, 4096)
// and -large-v2 (1280, 32, 20, 5120, 80 mel bins, vocabulary 51865). Totals: keras-hub whisper_presets.py
// whisper_base_multi 72593920, whisper_small_multi 241734912, whisper_medium_multi 763857920,
// whisper_large_multi_v2 1543304960.
TEST(families_wh, other_sizes_equal_keras_hub_figures) {
    struct size {
        uint64_t d, layers, heads, ffn, total;
    };
    const size sizes[] = {
        {512,  6,  8,  2048, 72'593'920ULL   },
        {768,  12, 12, 3072, 241'734'912ULL  },
        {1024, 24, 16, 4096, 763'857'920ULL  },
        {1280, 32, 20, 5120, 1'543'304'960ULL},
    };
    for (const auto& s : sizes) {
        std::string c = preset_config("whisper-tiny");
        c = edit_key(c, "d_model", std::to_string(s.d));
        for (const char* k : {"encoder_layers", "decoder_layers"})
            c = edit_key(c, k, std::to_string(s.layers));
        for (const char* k : {"encoder_attention_heads", "decoder_attention_heads"})
            c = edit_key(c, k, std::to_string(s.heads));
        for (const char* k : {"encoder_ffn_dim", "decoder_ffn_dim"})
            c = edit_key(c, k, std::to_string(s.ffn));
        EXPECT_EQ(total_of(c), s.total) << "d_model " << s.d;
    }
}

// Names and shapes as the published checkpoints hold them (transformers' module dump of
// WhisperForConditionalGeneration for openai/whisper-large-v3: Conv1d(128, 1280, kernel_size=3),
// Conv1d(1280, 1280, kernel_size=3, stride=2), Embedding(1500, 1280), k_proj without bias, v/q/out_proj with
// bias, WhisperPositionalEmbedding(448, 1280), Embedding(51866, 1280), proj_out Linear(1280, 51866) tied).
TEST(families_wh, names_and_shapes_follow_the_checkpoint) {
    analysis a = analyze_preset("whisper-large-v3");
    struct row {
        const char* name;
        std::vector<uint64_t> shape;
    };
    const row rows[] = {
        {"model.encoder.conv1.weight",                            {1280, 128, 3} },
        {"model.encoder.conv1.bias",                              {1280}         },
        {"model.encoder.conv2.weight",                            {1280, 1280, 3}},
        {"model.encoder.embed_positions.weight",                  {1500, 1280}   },
        {"model.encoder.layers.31.self_attn.k_proj.weight",       {1280, 1280}   },
        {"model.encoder.layers.31.self_attn.q_proj.bias",         {1280}         },
        {"model.encoder.layers.0.fc1.weight",                     {5120, 1280}   },
        {"model.encoder.layer_norm.bias",                         {1280}         },
        {"model.decoder.embed_tokens.weight",                     {51866, 1280}  },
        {"model.decoder.embed_positions.weight",                  {448, 1280}    },
        {"model.decoder.layers.31.encoder_attn.v_proj.bias",      {1280}         },
        {"model.decoder.layers.0.encoder_attn_layer_norm.weight", {1280}         },
        {"model.decoder.layer_norm.weight",                       {1280}         },
    };
    for (const auto& r : rows) {
        const tensor_info* t = tensor_named(a, r.name);
        ASSERT_NE(t, nullptr) << r.name;
        EXPECT_EQ(t->shape, r.shape) << r.name;
    }
    for (const char* absent : {"model.encoder.layers.0.self_attn.k_proj.bias",
                               "model.decoder.layers.0.encoder_attn.k_proj.bias", "proj_out.weight"})
        EXPECT_EQ(tensor_named(a, absent), nullptr) << absent;
    // Per encoder layer 15 tensors (k weight; q, v, out weight and bias; fc1, fc2 and two LayerNorms, weight
    // and bias), per decoder layer 24 (the same plus encoder_attn's 7 and its LayerNorm's 2); 7 encoder
    // globals (conv1, conv2, embed_positions, layer_norm) and 4 decoder globals.
    EXPECT_EQ(a.sk.tensors.size(), 32u * 15 + 32u * 24 + 7 + 4);
}

// The encoder's sequence is audio frames: max_source_positions (1500) per 30-second window, whatever the
// text length; each decoder layer caches its own tokens and the 1500 encoder frames (keys and values).
TEST(families_wh, encoder_sequence_is_audio_frames) {
    analysis a = analyze_preset("whisper-tiny");
    workload w;
    w.seq = 100;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok()) << p.err().message;
    uint64_t per_token = 2 * 384 * 4;       // keys and values, d_model 384, F32 checkpoint
    EXPECT_EQ(p->kv_bytes_by_layer[0], 0u); // encoder layer 0
    EXPECT_EQ(p->kv_bytes_by_layer[4], per_token * (100 + 1500));
    w.encoder_seq = 750; // 15 seconds, given explicitly
    auto q = plan_memory(a, w);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->kv_bytes_by_layer[4], per_token * (100 + 750));
    EXPECT_TRUE(q->warnings.empty());
    // More than one window: a warning names max_source_positions.
    w.encoder_seq = 3000;
    auto r = plan_memory(a, w);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->warnings.size(), 1u);
    EXPECT_NE(r->warnings[0].find("max_source_positions"), std::string::npos) << r->warnings[0];
}

TEST(families_wh, bad_config_names_the_key) {
    auto a = analyze("edited", edited_config("whisper-tiny", "decoder_ffn_dim", "1024"), {});
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.err().message.find("decoder_ffn_dim"), std::string::npos) << a.err().message;
    auto b = analyze("edited", edited_config("whisper-tiny", "num_mel_bins", "0"), {});
    ASSERT_FALSE(b.ok());
    EXPECT_NE(b.err().message.find("num_mel_bins"), std::string::npos) << b.err().message;
}

} // namespace
} // namespace modelplan::test
