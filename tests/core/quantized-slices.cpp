// stored_rank_slices: a tensor-parallel rank's part of a quantized checkpoint's stored tensors. The stored
// layouts are the ones the quantizers write (tests/core/quantized.cpp names them with their sources):
// AutoGPTQ qweight int32 [in / 8, out], qzeros int32 [in / group, out / 8], scales [in / group, out], g_idx
// [in] at 4 bits; AutoAWQ qweight int32 [in, out / 8], qzeros [in / group, out / 8], scales [in / group,
// out]; fp8 weight [out, in] with weight_scale_inv [out / 128, in / 128] (DeepSeek-V3, Qwen3-FP8); gpt-oss
// MXFP4 <w>_blocks U8 [experts, out, in / 32, 16] and <w>_scales [experts, out, in / 32]. The expected cuts
// follow vLLM's parameter attributes (vllm/model_executor/layers/quantization/gptq.py: qweight input_dim 0,
// output_dim 1, packed_dim 0; qzeros packed along the output; scales and qzeros keep every group on a
// row-parallel rank when desc_act is set, else split by groups; g_idx input_dim 0; "The input size is not
// aligned with the quantized weight shape" when a rank's input is not whole groups; awq.py: qweight and
// qzeros packed_dim 1; fp8.py validate_fp8_block_shape: a rank's rows or columns must be whole blocks) and
// the unquantized rules of tests/core/parallel-slices.cpp (Llama 3.1 8B: 32 heads, 8 KV heads, head_dim 128,
// intermediate 14336).
#include <string>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/placement.h"
#include "modelplan/report.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

// A checkpoint's header, tensor by tensor (offsets consecutive; only the names, shapes and sizes matter).
struct header {
    checkpoint ck;
    uint64_t at = 0;
    void add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape) {
        checkpoint_tensor t;
        t.name = name;
        t.dtype = dtype;
        t.shape = std::move(shape);
        t.file = "model.safetensors";
        t.elements = 1;
        for (uint64_t d : t.shape) t.elements *= d;
        const uint64_t size = dtype == "I32" || dtype == "F32"    ? 4
                              : dtype == "F16" || dtype == "BF16" ? 2
                                                                  : 1;
        t.begin = at;
        t.end = at += t.elements * size;
        ck.tensors.push_back(std::move(t));
    }
};

// AutoGPTQ (gptq) or AutoAWQ (awq) 4-bit tensors of one linear weight [out, in], group 128.
void add_packed(header& h, const std::string& base, uint64_t out, uint64_t in, const std::string& scheme) {
    const uint64_t group = 128;
    if (scheme == "gptq") {
        h.add(base + ".qweight", "I32", {in / 8, out});
        h.add(base + ".qzeros", "I32", {in / group, out / 8});
        h.add(base + ".scales", "F16", {in / group, out});
        h.add(base + ".g_idx", "I32", {in});
    } else {
        h.add(base + ".qweight", "I32", {in, out / 8});
        h.add(base + ".qzeros", "I32", {in / group, out / 8});
        h.add(base + ".scales", "F16", {in / group, out});
    }
}

// Layer 0's seven projections of Llama 3.1 8B, quantized.
header llama_layer0(const std::string& scheme) {
    header h;
    const std::string p = "model.layers.0.";
    const std::vector<std::tuple<std::string, uint64_t, uint64_t>> linears = {
        {"self_attn.q_proj", 4096,  4096 },
        {"self_attn.k_proj", 1024,  4096 },
        {"self_attn.v_proj", 1024,  4096 },
        {"self_attn.o_proj", 4096,  4096 },
        {"mlp.gate_proj",    14336, 4096 },
        {"mlp.up_proj",      14336, 4096 },
        {"mlp.down_proj",    4096,  14336},
    };
    for (const auto& [name, out, in] : linears) {
        if (scheme == "fp8") {
            h.add(p + name + ".weight", "F8_E4M3", {out, in});
            h.add(p + name + ".weight_scale_inv", "F32", {(out + 127) / 128, (in + 127) / 128});
        } else if (scheme == "nf4") {
            h.add(p + name + ".weight", "U8", {out * in / 2, 1});
            h.add(p + name + ".weight.absmax", "F32", {out * in / 64});
            h.add(p + name + ".weight.quant_map", "F32", {16});
            h.add(p + name + ".weight.quant_state.bitsandbytes__nf4", "U8", {80});
        } else if (scheme == "ct") {
            // compressed-tensors pack-quantized, asymmetric 4-bit, group 128 (weight_packed [out, in / 8],
            // weight_scale [out, in / 128], weight_zero_point [out / 8, in / 128], weight_shape [2]).
            h.add(p + name + ".weight_packed", "I32", {out, in / 8});
            h.add(p + name + ".weight_scale", "BF16", {out, in / 128});
            h.add(p + name + ".weight_zero_point", "I32", {out / 8, in / 128});
            h.add(p + name + ".weight_shape", "I64", {2});
        } else {
            add_packed(h, p + name, out, in, scheme);
        }
    }
    return h;
}

struct rank_parts {
    std::vector<std::string> names; // the stored tensors, in stored order
    result<std::vector<rank_slice>> parts = make_error(error_code::bad_request, "not run");
    const rank_slice& of(const std::string& name) const {
        static const rank_slice none;
        for (size_t i = 0; i < names.size() && parts.ok(); ++i)
            if (names[i] == name) return (*parts)[i];
        ADD_FAILURE() << "no stored tensor " << name;
        return none;
    }
};

rank_parts parts_for(const analysis& a, const checkpoint& ck, uint64_t tp, uint64_t pp, uint64_t rank) {
    rank_parts out;
    auto groups = find_quantized_groups(ck, nullptr);
    for (const auto& t : a.sk.tensors) {
        bool grouped = false;
        for (const auto& g : groups)
            if (g.name == t.name) {
                out.names.insert(out.names.end(), g.members.begin(), g.members.end());
                grouped = true;
            }
        if (!grouped) out.names.push_back(t.name);
    }
    auto logical = rank_slices(a, tp, pp, rank);
    EXPECT_TRUE(logical.ok()) << logical.err().message;
    if (!logical.ok()) return out;
    out.parts = stored_rank_slices(a, *logical, groups, ck);
    if (out.parts.ok()) EXPECT_EQ(out.parts->size(), out.names.size());
    return out;
}

TEST(quantized_slices, gptq_cuts_packed_words_and_whole_groups) {
    analysis a = analyze_preset("llama-3.1-8b");
    header h = llama_layer0("gptq");
    // T = 2, rank 1.
    rank_parts r = parts_for(a, h.ck, 2, 1, 1);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    // q_proj (column parallel): output rows [2048, 4096): qweight's columns, scales' columns, qzeros' packed
    // columns [256, 512); g_idx (the input) whole.
    const rank_slice& qw = r.of("model.layers.0.self_attn.q_proj.qweight");
    EXPECT_EQ(qw.axis, 1);
    EXPECT_EQ(pieces_of(qw), (pieces{2048, 2048}));
    EXPECT_EQ(qw.rank_shape, (std::vector<uint64_t>{512, 2048}));
    const rank_slice& qz = r.of("model.layers.0.self_attn.q_proj.qzeros");
    EXPECT_EQ(qz.axis, 1);
    EXPECT_EQ(pieces_of(qz), (pieces{256, 256}));
    EXPECT_EQ(qz.rank_shape, (std::vector<uint64_t>{32, 256}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.q_proj.scales")), (pieces{2048, 2048}));
    EXPECT_EQ(r.of("model.layers.0.self_attn.q_proj.g_idx").axis, -1);
    // o_proj (row parallel): input [2048, 4096): qweight's packed rows [256, 512), scales and qzeros groups
    // [16, 32), g_idx [2048, 4096).
    const rank_slice& ow = r.of("model.layers.0.self_attn.o_proj.qweight");
    EXPECT_EQ(ow.axis, 0);
    EXPECT_EQ(pieces_of(ow), (pieces{256, 256}));
    EXPECT_EQ(ow.rank_shape, (std::vector<uint64_t>{256, 4096}));
    const rank_slice& os = r.of("model.layers.0.self_attn.o_proj.scales");
    EXPECT_EQ(os.axis, 0);
    EXPECT_EQ(pieces_of(os), (pieces{16, 16}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.qzeros")), (pieces{16, 16}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.g_idx")), (pieces{2048, 2048}));
    // Tensors outside the groups keep their logical parts: the norm whole.
    EXPECT_EQ(r.of("model.layers.0.input_layernorm.weight").axis, -1);

    // T = 16: 8 KV heads on 16 ranks, rank 11 holds head 5: k_proj rows [640, 768), qzeros words [80, 96).
    rank_parts r16 = parts_for(a, h.ck, 16, 1, 11);
    ASSERT_TRUE(r16.parts.ok()) << r16.parts.err().message;
    EXPECT_EQ(pieces_of(r16.of("model.layers.0.self_attn.k_proj.qweight")), (pieces{640, 128}));
    EXPECT_EQ(pieces_of(r16.of("model.layers.0.self_attn.k_proj.qzeros")), (pieces{80, 16}));
    // down_proj's 14336 / 16 = 896 input features = 7 groups of 128.
    EXPECT_EQ(pieces_of(r16.of("model.layers.0.mlp.down_proj.scales")), (pieces{77, 7}));

    // T = 32: 14336 / 32 = 448 input features per rank, not whole groups of 128: vLLM's error.
    rank_parts r32 = parts_for(a, h.ck, 32, 1, 0);
    ASSERT_FALSE(r32.parts.ok());
    EXPECT_EQ(r32.parts.err().code, error_code::unsupported);
    EXPECT_NE(r32.parts.err().message.find("model.layers.0.mlp.down_proj.weight: 448 input features per rank "
                                           "is not a multiple of the group size 128"),
              std::string::npos)
        << r32.parts.err().message;
}

TEST(quantized_slices, gptq_act_order_keeps_every_group_on_a_row_parallel_rank) {
    analysis a = analyze("llama-gptq",
                         edited_config("llama-3.1-8b", "quantization_config",
                                       R"({"quant_method": "gptq", "bits": 4, "group_size": 128,
                                                          "desc_act": true})"),
                         {})
                     .value();
    header h = llama_layer0("gptq");
    rank_parts r = parts_for(a, h.ck, 4, 1, 3);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    EXPECT_EQ(r.of("model.layers.0.self_attn.o_proj.scales").axis, -1);
    EXPECT_EQ(r.of("model.layers.0.self_attn.o_proj.scales").rank_shape, (std::vector<uint64_t>{32, 4096}));
    EXPECT_EQ(r.of("model.layers.0.self_attn.o_proj.qzeros").axis, -1);
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.g_idx")), (pieces{3072, 1024}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.qweight")), (pieces{384, 128}));
    // Column-parallel layers split their output as without act order.
    EXPECT_EQ(pieces_of(r.of("model.layers.0.mlp.up_proj.scales")), (pieces{3 * 3584, 3584}));
}

TEST(quantized_slices, awq_packs_the_output) {
    analysis a = analyze_preset("llama-3.1-8b");
    header h = llama_layer0("awq");
    rank_parts r = parts_for(a, h.ck, 4, 1, 1);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    // gate_proj rows [3584, 7168): qweight words [448, 896) of its 1792.
    const rank_slice& g = r.of("model.layers.0.mlp.gate_proj.qweight");
    EXPECT_EQ(g.axis, 1);
    EXPECT_EQ(pieces_of(g), (pieces{448, 448}));
    EXPECT_EQ(g.rank_shape, (std::vector<uint64_t>{4096, 448}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.mlp.gate_proj.scales")), (pieces{3584, 3584}));
    // down_proj input [3584, 7168): qweight rows unpacked, scales groups [28, 56).
    const rank_slice& d = r.of("model.layers.0.mlp.down_proj.qweight");
    EXPECT_EQ(d.axis, 0);
    EXPECT_EQ(pieces_of(d), (pieces{3584, 3584}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.mlp.down_proj.qzeros")), (pieces{28, 28}));
}

// compressed-tensors (vLLM's CompressedTensorsWNA16: weight_packed input_dim 1, output_dim 0, packed_dim 1;
// weight_scale output_dim 0, input_dim 1 unless act order or channelwise repeat it on every rank;
// weight_zero_point output_dim 0, packed_dim 0, input_dim 1; weight_shape replicated).
TEST(quantized_slices, compressed_tensors_packs_the_input_and_the_zero_points_output) {
    analysis a = analyze_preset("llama-3.1-8b");
    header h = llama_layer0("ct");
    rank_parts r = parts_for(a, h.ck, 2, 1, 1);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    // q_proj rows [2048, 4096): weight_packed and weight_scale rows, zero points' packed rows [256, 512).
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.q_proj.weight_packed")), (pieces{2048, 2048}));
    EXPECT_EQ(r.of("model.layers.0.self_attn.q_proj.weight_packed").axis, 0);
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.q_proj.weight_zero_point")), (pieces{256, 256}));
    EXPECT_EQ(r.of("model.layers.0.self_attn.q_proj.weight_shape").axis, -1);
    // o_proj input [2048, 4096): weight_packed's words [256, 512), scales' and zero points' groups [16, 32).
    const rank_slice& ow = r.of("model.layers.0.self_attn.o_proj.weight_packed");
    EXPECT_EQ(ow.axis, 1);
    EXPECT_EQ(pieces_of(ow), (pieces{256, 256}));
    EXPECT_EQ(ow.rank_shape, (std::vector<uint64_t>{4096, 256}));
    EXPECT_EQ(r.of("model.layers.0.self_attn.o_proj.weight_scale").axis, 1);
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.weight_scale")), (pieces{16, 16}));
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.o_proj.weight_zero_point")), (pieces{16, 16}));
    // T = 32: down_proj's 448 inputs per rank are not whole groups of 128.
    rank_parts r32 = parts_for(a, h.ck, 32, 1, 0);
    ASSERT_FALSE(r32.parts.ok());
    EXPECT_NE(
        r32.parts.err().message.find("448 input features per rank is not a multiple of the group size 128"),
        std::string::npos)
        << r32.parts.err().message;
}

TEST(quantized_slices, fp8_block_scales_split_in_whole_blocks) {
    analysis a = analyze("llama-fp8",
                         edited_config("llama-3.1-8b", "quantization_config",
                                       R"({"quant_method": "fp8", "weight_block_size": [128, 128]})"),
                         {})
                     .value();
    header h = llama_layer0("fp8");
    rank_parts r = parts_for(a, h.ck, 2, 1, 1);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    EXPECT_EQ(pieces_of(r.of("model.layers.0.self_attn.q_proj.weight")), (pieces{2048, 2048}));
    const rank_slice& qs = r.of("model.layers.0.self_attn.q_proj.weight_scale_inv");
    EXPECT_EQ(qs.axis, 0);
    EXPECT_EQ(pieces_of(qs), (pieces{16, 16}));
    EXPECT_EQ(qs.rank_shape, (std::vector<uint64_t>{16, 32}));
    const rank_slice& ds = r.of("model.layers.0.mlp.down_proj.weight_scale_inv");
    EXPECT_EQ(ds.axis, 1);
    EXPECT_EQ(pieces_of(ds), (pieces{56, 56})); // 14336 / 128 = 112 column blocks
    // T = 32: gate_proj's 14336 / 32 = 448 rows per rank are not whole blocks of 128.
    rank_parts r32 = parts_for(a, h.ck, 32, 1, 0);
    ASSERT_FALSE(r32.parts.ok());
    EXPECT_NE(r32.parts.err().message.find("model.layers.0.mlp.gate_proj.weight_scale_inv: this rank's part "
                                           "[0, 448) does not fall on whole blocks of 128 rows"),
              std::string::npos)
        << r32.parts.err().message;
}

// gpt-oss-20b (published checkpoint: model.layers.N.mlp.experts.gate_up_proj_blocks U8 [32, 5760, 90, 16],
// _scales [32, 5760, 90]; down_proj_blocks [32, 2880, 90, 16]). The expert intermediate 2880 = 90 blocks of
// 32. vLLM's and SGLang's gpt-oss MXFP4 loaders give each rank ceil(90 / T) blocks of it and the last rank
// the rest (vllm/model_executor/models/gpt_oss.py: per_rank_intermediate_size_block =
// cdiv(intermediate_size_block, tp_size); tp_rank_end = min(..., intermediate_size)): T = 2 gives 45 and 45
// (the even split), T = 4 gives 23, 23, 23 and 21, where the even split's 720 would be 22.5 blocks;
// gate_up_proj's rows (gate and up interleaved, two per feature) and its bias follow.
TEST(quantized_slices, mxfp4_experts_split_in_whole_blocks_as_vllm_does) {
    analysis a = analyze_preset("gpt-oss-20b");
    header h;
    h.add("model.layers.0.mlp.experts.gate_up_proj_blocks", "U8", {32, 5760, 90, 16});
    h.add("model.layers.0.mlp.experts.gate_up_proj_scales", "U8", {32, 5760, 90});
    h.add("model.layers.0.mlp.experts.down_proj_blocks", "U8", {32, 2880, 90, 16});
    h.add("model.layers.0.mlp.experts.down_proj_scales", "U8", {32, 2880, 90});
    rank_parts r = parts_for(a, h.ck, 2, 1, 1);
    ASSERT_TRUE(r.parts.ok()) << r.parts.err().message;
    const rank_slice& gu = r.of("model.layers.0.mlp.experts.gate_up_proj_blocks");
    EXPECT_EQ(gu.axis, 1);
    EXPECT_EQ(pieces_of(gu), (pieces{2880, 2880}));
    EXPECT_EQ(gu.rank_shape, (std::vector<uint64_t>{32, 2880, 90, 16}));
    const rank_slice& down = r.of("model.layers.0.mlp.experts.down_proj_blocks");
    EXPECT_EQ(down.axis, 2);
    EXPECT_EQ(pieces_of(down), (pieces{45, 45}));
    EXPECT_EQ(down.rank_shape, (std::vector<uint64_t>{32, 2880, 45, 16}));
    EXPECT_EQ(r.of("model.layers.0.mlp.experts.down_proj_scales").rank_shape,
              (std::vector<uint64_t>{32, 2880, 45}));
    // T = 4: ranks 0-2 hold 23 blocks (736 features), rank 3 the last 21 (672).
    for (uint64_t rank = 0; rank < 4; ++rank) {
        SCOPED_TRACE("rank " + std::to_string(rank));
        rank_parts r4 = parts_for(a, h.ck, 4, 1, rank);
        ASSERT_TRUE(r4.parts.ok()) << r4.parts.err().message;
        const uint64_t first = rank * 23, blocks = rank < 3 ? 23 : 21;
        EXPECT_EQ(pieces_of(r4.of("model.layers.0.mlp.experts.down_proj_blocks")), (pieces{first, blocks}));
        EXPECT_EQ(pieces_of(r4.of("model.layers.0.mlp.experts.gate_up_proj_scales")),
                  (pieces{2 * 32 * first, 2 * 32 * blocks}));
        const rank_slice& bias = r4.of("model.layers.0.mlp.experts.gate_up_proj_bias");
        EXPECT_EQ(pieces_of(bias), (pieces{2 * 32 * first, 2 * 32 * blocks}));
        EXPECT_EQ(bias.rank_shape, (std::vector<uint64_t>{32, 2 * 32 * blocks}));
        EXPECT_EQ(r4.of("model.layers.0.mlp.experts.down_proj_bias").axis, -1); // replicated
    }
    // T = 8: ceil(90 / 8) = 12 blocks each, the last rank 90 - 84 = 6.
    rank_parts r8 = parts_for(a, h.ck, 8, 1, 7);
    ASSERT_TRUE(r8.parts.ok()) << r8.parts.err().message;
    EXPECT_EQ(pieces_of(r8.of("model.layers.0.mlp.experts.down_proj_blocks")), (pieces{84, 6}));
}

TEST(quantized_slices, bitsandbytes_4bit_splits_only_by_stage) {
    analysis a = analyze_preset("llama-3.1-8b");
    header h = llama_layer0("nf4");
    rank_parts r = parts_for(a, h.ck, 2, 1, 0);
    ASSERT_FALSE(r.parts.ok());
    EXPECT_EQ(r.parts.err().code, error_code::unsupported);
    EXPECT_NE(r.parts.err().message.find("bitsandbytes nf4 stores each weight flattened"), std::string::npos)
        << r.parts.err().message;
    // Pipeline stages keep whole tensors: stage 0 (rank 0 of 1 x 2) holds layer 0's packed weight whole.
    rank_parts pp = parts_for(a, h.ck, 1, 2, 0);
    ASSERT_TRUE(pp.parts.ok()) << pp.parts.err().message;
    const rank_slice& w = pp.of("model.layers.0.self_attn.q_proj.weight");
    EXPECT_TRUE(w.held);
    EXPECT_EQ(w.axis, -1);
    EXPECT_EQ(w.rank_shape, (std::vector<uint64_t>{4096 * 4096 / 2, 1}));
    rank_parts pp1 = parts_for(a, h.ck, 1, 2, 1);
    ASSERT_TRUE(pp1.parts.ok());
    EXPECT_FALSE(pp1.of("model.layers.0.self_attn.q_proj.weight.absmax").held);
}

} // namespace
} // namespace modelplan::test
