// Quantized tensor groups mapped back to their logical parameters. Stored shapes follow the libraries' buffer
// definitions, applied to Llama-2-7B's projections (hidden 4096, intermediate 11008, published config):
// - AutoGPTQ QuantLinear: qweight int32 [in / 32 * bits, out], qzeros int32 [ceil(in / group), out / 32 *
// bits],
//   scales fp16 [ceil(in / group), out], g_idx int32 [in].
// - AutoAWQ WQLinear_GEMM: qweight int32 [in, out / (32 / bits)], qzeros int32 [in / group, out / (32 /
// bits)],
//   scales fp16 [in / group, out].
// - bitsandbytes 4-bit: weight uint8 [(n + 1) / 2, 1] (two values per byte), absmax float32 [n / blocksize],
//   quant_map float32 [16], quant_state.bitsandbytes__nf4 uint8 (packed JSON); Linear8bitLt: weight int8
//   [out, in], SCB float32 [out], weight_format uint8.
// - fp8 (compressed-tensors / FBGEMM): weight F8_E4M3 [out, in], weight_scale and input_scale float32.
// - compressed-tensors pack-quantized (llm-compressor W4A16/W8A16; vLLM's CompressedTensorsWNA16 declares the
//   same shapes): weight_packed int32 [out, in / (32 / bits)], weight_scale [out, in / group] in the model
//   dtype, weight_zero_point int32 [out / (32 / bits), in / group] when asymmetric, weight_g_idx int32 [in]
//   with group activation order, weight_shape int64 [2].
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "modelplan/safetensors.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

using test_files::safetensors_file;

checkpoint parse_header(const safetensors_file& f) {
    std::string header = f.header_bytes();
    auto r = parse_safetensors_header(header, f.file_size(), "model.safetensors");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.err().message);
    if (!r.ok() || !r->parsed) return {};
    return *r->parsed;
}

const std::string q = "model.layers.0.self_attn.q_proj";
const std::string up = "model.layers.0.mlp.up_proj";

TEST(quantized, gptq_4bit_group_128) {
    safetensors_file f;
    f.add(q + ".g_idx", "I32", {4096})
        .add(q + ".qweight", "I32", {4096 / 32 * 4, 4096})
        .add(q + ".qzeros", "I32", {4096 / 128, 4096 / 32 * 4})
        .add(q + ".scales", "F16", {4096 / 128, 4096});
    checkpoint ck = parse_header(f);
    std::vector<std::string> notes;
    auto groups = find_quantized_groups(ck, &notes);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_TRUE(notes.empty());
    const quantized_group& g = groups[0];
    EXPECT_EQ(g.name, q + ".weight");
    EXPECT_EQ(g.scheme, "gptq");
    EXPECT_EQ(g.bits, 4u);
    EXPECT_EQ(g.group_size, 128u);
    EXPECT_EQ(g.shape, (std::vector<uint64_t>{4096, 4096}));
    EXPECT_EQ(g.elements, 4096u * 4096);
    EXPECT_EQ(g.members.size(), 4u);
    // qweight 512 x 4096 x 4 + qzeros 32 x 512 x 4 + scales 32 x 4096 x 2 + g_idx 4096 x 4 bytes.
    EXPECT_EQ(g.bytes, 512u * 4096 * 4 + 32u * 512 * 4 + 32u * 4096 * 2 + 4096u * 4);
}

TEST(quantized, gptq_3bit_and_8bit) {
    for (uint64_t bits : {3u, 8u}) {
        safetensors_file f;
        f.add(up + ".qweight", "I32", {4096 / 32 * bits, 11008})
            .add(up + ".qzeros", "I32", {32, 11008 / 32 * bits})
            .add(up + ".scales", "F16", {32, 11008});
        auto groups = find_quantized_groups(parse_header(f), nullptr);
        ASSERT_EQ(groups.size(), 1u) << bits;
        EXPECT_EQ(groups[0].bits, bits);
        EXPECT_EQ(groups[0].shape, (std::vector<uint64_t>{11008, 4096}));
    }
}

TEST(quantized, awq_gemm_4bit) {
    safetensors_file f;
    f.add(up + ".qweight", "I32", {4096, 11008 / 8})
        .add(up + ".qzeros", "I32", {4096 / 128, 11008 / 8})
        .add(up + ".scales", "F16", {4096 / 128, 11008});
    auto groups = find_quantized_groups(parse_header(f), nullptr);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].scheme, "awq");
    EXPECT_EQ(groups[0].bits, 4u);
    EXPECT_EQ(groups[0].group_size, 128u);
    EXPECT_EQ(groups[0].shape, (std::vector<uint64_t>{11008, 4096}));
}

TEST(quantized, bitsandbytes_nf4_and_int8) {
    const uint64_t n = 4096ull * 4096;
    safetensors_file f;
    f.add(q + ".weight", "U8", {n / 2, 1})
        .add(q + ".weight.absmax", "F32", {n / 64})
        .add(q + ".weight.quant_map", "F32", {16})
        .add(q + ".weight.quant_state.bitsandbytes__nf4", "U8", {100})
        .add(up + ".weight", "I8", {11008, 4096})
        .add(up + ".SCB", "F32", {11008})
        .add(up + ".weight_format", "U8", {});
    auto groups = find_quantized_groups(parse_header(f), nullptr);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0].name, q + ".weight");
    EXPECT_EQ(groups[0].scheme, "bnb-nf4");
    EXPECT_TRUE(groups[0].shape.empty()) << "the logical shape is not in the headers";
    EXPECT_EQ(groups[0].elements, n);
    EXPECT_EQ(groups[0].members.size(), 4u);
    EXPECT_EQ(groups[1].name, up + ".weight");
    EXPECT_EQ(groups[1].scheme, "bnb-int8");
    EXPECT_EQ(groups[1].shape, (std::vector<uint64_t>{11008, 4096}));
    EXPECT_EQ(groups[1].members.size(), 3u);
}

TEST(quantized, fp8_with_scales) {
    safetensors_file f;
    f.add(q + ".weight", "F8_E4M3", {4096, 4096})
        .add(q + ".weight_scale", "F32", {})
        .add(q + ".input_scale", "F32", {});
    auto groups = find_quantized_groups(parse_header(f), nullptr);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_EQ(groups[0].scheme, "fp8");
    EXPECT_EQ(groups[0].shape, (std::vector<uint64_t>{4096, 4096}));
    EXPECT_EQ(groups[0].members.size(), 3u);
    // DeepSeek-V3 style block scales: weight_scale_inv [out / 128, in / 128].
    safetensors_file ds;
    ds.add(q + ".weight", "F8_E4M3", {4096, 4096}).add(q + ".weight_scale_inv", "F32", {32, 32});
    auto ds_groups = find_quantized_groups(parse_header(ds), nullptr);
    ASSERT_EQ(ds_groups.size(), 1u);
    EXPECT_EQ(ds_groups[0].members.size(), 2u);
}

TEST(quantized, compressed_tensors_pack_quantized) {
    // Asymmetric 4-bit, group 128: the zero points tell the bits (4096 / 512 = 8 values a word).
    safetensors_file f;
    f.add(q + ".weight_packed", "I32", {4096, 4096 / 8})
        .add(q + ".weight_scale", "BF16", {4096, 4096 / 128})
        .add(q + ".weight_shape", "I64", {2})
        .add(q + ".weight_zero_point", "I32", {4096 / 8, 4096 / 128});
    std::vector<std::string> notes;
    auto groups = find_quantized_groups(parse_header(f), &notes);
    ASSERT_EQ(groups.size(), 1u);
    EXPECT_TRUE(notes.empty());
    EXPECT_EQ(groups[0].name, q + ".weight");
    EXPECT_EQ(groups[0].scheme, "compressed-tensors");
    EXPECT_EQ(groups[0].bits, 4u);
    EXPECT_EQ(groups[0].group_size, 128u);
    EXPECT_EQ(groups[0].shape, (std::vector<uint64_t>{4096, 4096}));
    EXPECT_EQ(groups[0].members.size(), 4u);
    EXPECT_EQ(groups[0].bytes, 4096u * 512 * 4 + 4096u * 32 * 2 + 2u * 8 + 512u * 32 * 4);
    // 8 bits with activation order: g_idx over 4096 inputs of 1024 words (4 a word).
    safetensors_file w8;
    w8.add(up + ".weight_packed", "I32", {11008, 4096 / 4})
        .add(up + ".weight_scale", "BF16", {11008, 4096 / 128})
        .add(up + ".weight_g_idx", "I32", {4096})
        .add(up + ".weight_shape", "I64", {2});
    auto g8 = find_quantized_groups(parse_header(w8), &notes);
    ASSERT_EQ(g8.size(), 1u);
    EXPECT_EQ(g8[0].bits, 8u);
    EXPECT_EQ(g8[0].shape, (std::vector<uint64_t>{11008, 4096}));
    // Symmetric, no g_idx: the headers do not say the bits; 4 is taken, with a note.
    safetensors_file sym;
    sym.add(q + ".weight_packed", "I32", {4096, 512})
        .add(q + ".weight_scale", "BF16", {4096, 32})
        .add(q + ".weight_shape", "I64", {2});
    notes.clear();
    auto gs = find_quantized_groups(parse_header(sym), &notes);
    ASSERT_EQ(gs.size(), 1u);
    EXPECT_EQ(gs[0].shape, (std::vector<uint64_t>{4096, 4096}));
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("4 bits per weight assumed"), std::string::npos) << notes[0];
    // A scale that does not match: left as stored, with a note.
    safetensors_file bad;
    bad.add(q + ".weight_packed", "I32", {4096, 512}).add(q + ".weight_scale", "BF16", {1024, 32});
    notes.clear();
    EXPECT_TRUE(find_quantized_groups(parse_header(bad), &notes).empty());
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("does not match weight_packed [4096, 512]"), std::string::npos) << notes[0];
}

TEST(quantized, malformed_groups_are_left_as_stored_with_a_note) {
    safetensors_file f;
    f.add(q + ".qweight", "I32", {512, 4096})     // no scales
        .add(up + ".qweight", "I32", {512, 1000}) // fits neither layout
        .add(up + ".scales", "F16", {32, 11008})
        .add("model.layers.1.mlp.down_proj.weight.quant_state.bitsandbytes__nf4", "U8", {10}) // no weight
        .add("model.layers.1.mlp.up_proj.SCB", "F32", {4}); // no int8 weight
    std::vector<std::string> notes;
    auto groups = find_quantized_groups(parse_header(f), &notes);
    EXPECT_TRUE(groups.empty());
    ASSERT_EQ(notes.size(), 4u);
    EXPECT_NE(notes[0].find(q + ".qweight: no " + q + ".scales next to it"), std::string::npos) << notes[0];
    EXPECT_NE(notes[1].find("fit neither the GPTQ nor the AWQ layout"), std::string::npos) << notes[1];
    EXPECT_NE(notes[2].find("no model.layers.1.mlp.down_proj.weight next to it"), std::string::npos)
        << notes[2];
    EXPECT_NE(notes[3].find("expected an I8 model.layers.1.mlp.up_proj.weight"), std::string::npos)
        << notes[3];
}

// A GPTQ checkpoint of a whole model verifies against the unquantized skeleton: projections as groups, norms
// and embeddings as stored (GPTQ leaves them in fp16), and the parameter count is the unquantized one.
TEST(quantized, gptq_model_verifies_and_counts_logical_parameters) {
    analysis a = analyze_preset("llama-2-7b");
    safetensors_file f;
    for (const auto& t : a.sk.tensors) {
        bool projection = t.name.find("_proj.weight") != std::string::npos;
        if (!projection) {
            f.add(t.name, "F16", t.shape);
            continue;
        }
        std::string base = t.name.substr(0, t.name.size() - 7);
        uint64_t out = t.shape[0], in = t.shape[1];
        f.add(base + ".qweight", "I32", {in / 32 * 4, out})
            .add(base + ".qzeros", "I32", {in / 128, out / 32 * 4})
            .add(base + ".scales", "F16", {in / 128, out})
            .add(base + ".g_idx", "I32", {in});
    }
    auto in = inspect("model.safetensors", parse_header(f), a, "--config");
    ASSERT_TRUE(in.ok());
    ASSERT_TRUE(in->verify);
    EXPECT_TRUE(in->verify->ok) << (in->verify->missing.empty() ? "" : in->verify->missing[0].name);
    EXPECT_EQ(in->view.quantized.size(), 32u * 7);       // q, k, v, o, gate, up, down per layer
    EXPECT_EQ(in->view.totals.params, 6'738'415'616ULL); // Llama-2-7B, keras-hub llama2_7b_en
    EXPECT_TRUE(in->verify->dtype_differences.empty()) << in->verify->dtype_differences[0].name;
}

TEST(quantized, bnb_4bit_model_matches_by_element_count) {
    analysis a = analyze_preset("smollm2-135m");
    safetensors_file f;
    for (const auto& t : a.sk.tensors) {
        if (t.shape.size() != 2 || t.name.find("_proj") == std::string::npos) {
            f.add(t.name, "BF16", t.shape);
            continue;
        }
        f.add(t.name, "U8", {(t.elements + 1) / 2, 1})
            .add(t.name + ".absmax", "F32", {t.elements / 64})
            .add(t.name + ".quant_map", "F32", {16})
            .add(t.name + ".quant_state.bitsandbytes__nf4", "U8", {120});
    }
    auto in = inspect("model.safetensors", parse_header(f), a, "--config");
    ASSERT_TRUE(in.ok());
    ASSERT_TRUE(in->verify);
    EXPECT_TRUE(in->verify->ok);
    EXPECT_EQ(in->view.totals.params, 134'515'008ULL); // SmolLM2-135M, published-counts.cpp
}

} // namespace
} // namespace modelplan::test
