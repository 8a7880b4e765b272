// Quantized tensor groups -> logical parameters. Tensor names and shapes (docs/checkpoints.md):
// - GPTQ (AutoGPTQ QuantLinear): qweight int32 [in * bits / 32, out], qzeros int32 [ceil(in / group), out *
// bits
//   / 32], scales [ceil(in / group), out], g_idx int32 [in].
// - AWQ (AutoAWQ WQLinear_GEMM): qweight int32 [in, out * bits / 32], qzeros int32 [in / group, out * bits /
// 32],
//   scales [in / group, out].
// - bitsandbytes 4-bit (Params4bit / QuantState.as_dict(packed=True), transformers' bnb_4bit quantizer):
//   weight packed two 4-bit values per byte, plus weight.absmax, weight.quant_map, weight.nested_absmax,
//   weight.nested_quant_map and weight.quant_state.bitsandbytes__nf4 (or __fp4).
// - bitsandbytes 8-bit (Linear8bitLt): weight int8 [out, in], SCB [out], weight_format.
// - fp8 and other scaled weights (compressed-tensors, FBGEMM, DeepSeek-V3): weight F8_* or I8 [out, in] with
//   weight_scale (or weight_scale_inv) and input_scale.
// - compressed-tensors pack-quantized (llm-compressor W4A16/W8A16): weight_packed int32 [out, in * bits /
// 32],
//   weight_scale [out, in / group], weight_zero_point int32 [out * bits / 32, in / group] (asymmetric),
//   weight_g_idx int32 [in] (group activation order), weight_shape int64 [2].
// - MXFP4 (gpt-oss, transformers' Mxfp4GptOssExperts): <name>_blocks U8 [experts, out, in / 32, 16] and
//   <name>_scales U8 [experts, out, in / 32] hold the stacked expert weight <name> [experts, in, out]
//   (convert_moe_packed_tensors unpacks two FP4 values a byte and transposes the last two dimensions).
#include <unordered_map>
#include <unordered_set>

#include "modelplan/checkpoint.h"
#include "modelplan/text.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

using tensor_map = std::unordered_map<std::string, const checkpoint_tensor*>;

const checkpoint_tensor* find(const tensor_map& by_name, const std::string& name) {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
}

bool valid_bits(uint64_t bits) {
    return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

bool is_int32(const checkpoint_tensor& t) {
    return t.dtype == "I32" || t.dtype == "U32";
}

void add_member(quantized_group& g, const checkpoint_tensor* t) {
    if (!t) return;
    g.members.push_back(t->name);
    g.bytes += t->bytes();
}

bool set_elements(quantized_group& g) {
    g.elements = 1;
    for (uint64_t d : g.shape)
        if (__builtin_mul_overflow(g.elements, d, &g.elements)) return false;
    return true;
}

// GPTQ or AWQ, told apart by which dimension of qweight is packed.
std::optional<quantized_group> packed_int_group(const std::string& base, const tensor_map& by_name,
                                                std::vector<std::string>& notes) {
    const checkpoint_tensor* qweight = find(by_name, base + ".qweight");
    const checkpoint_tensor* qzeros = find(by_name, base + ".qzeros");
    const checkpoint_tensor* scales = find(by_name, base + ".scales");
    const checkpoint_tensor* g_idx = find(by_name, base + ".g_idx");
    auto fail = [&](const std::string& why) {
        notes.push_back(base + ".qweight: " + why + "; left as stored tensors");
        return std::nullopt;
    };
    if (!scales) return fail("no " + base + ".scales next to it");
    if (qweight->shape.size() != 2 || scales->shape.size() != 2 || !is_int32(*qweight))
        return fail("expected a 2-D int32 qweight and 2-D scales, got " + qweight->dtype + " " +
                    shape_text(qweight->shape) + " and " + shape_text(scales->shape));
    if (qzeros && qzeros->shape.size() != 2)
        return fail("qzeros " + shape_text(qzeros->shape) + " is not 2-D");

    quantized_group g;
    g.name = base + ".weight";
    g.file = qweight->file;
    const uint64_t out = scales->shape[1], groups = scales->shape[0];
    if (out == 0 || groups == 0) return fail("scales " + shape_text(scales->shape) + " is empty");
    // Packed 32-bit words hold 32 / bits values; the products below are checked because a hostile header can
    // give a zero-element tensor any other dimension.
    uint64_t qweight_rows_bits = 0, qweight_cols_bits = 0, qzeros_cols_bits = 0, in = 0;
    if (__builtin_mul_overflow(qweight->shape[0], uint64_t{32}, &qweight_rows_bits) ||
        __builtin_mul_overflow(qweight->shape[1], uint64_t{32}, &qweight_cols_bits) ||
        (qzeros && __builtin_mul_overflow(qzeros->shape[1], uint64_t{32}, &qzeros_cols_bits)))
        return fail("dimensions too large to unpack");
    if (qweight->shape[1] == out) {
        // GPTQ: packed along the input dimension.
        g.scheme = "gptq";
        uint64_t bits = 0;
        if (qzeros && qzeros_cols_bits % out == 0)
            bits = qzeros_cols_bits / out;
        else if (g_idx && g_idx->shape.size() == 1 && g_idx->shape[0] &&
                 qweight_rows_bits % g_idx->shape[0] == 0)
            bits = qweight_rows_bits / g_idx->shape[0];
        if (!valid_bits(bits))
            return fail("the bits per weight cannot be told from qzeros/g_idx (got " + std::to_string(bits) +
                        ")");
        g.bits = static_cast<uint32_t>(bits);
        if (qweight_rows_bits % bits != 0)
            return fail("qweight rows (" + std::to_string(qweight->shape[0]) + ") do not unpack at " +
                        std::to_string(bits) + " bits");
        in = qweight_rows_bits / bits;
        if (g_idx && (g_idx->shape.size() != 1 || g_idx->shape[0] != in))
            return fail("g_idx " + shape_text(g_idx->shape) + " does not match " + std::to_string(in) +
                        " input features");
    } else {
        // AWQ: packed along the output dimension.
        g.scheme = "awq";
        if (qweight->shape[1] == 0 || qweight_cols_bits % out != 0)
            return fail("qweight " + shape_text(qweight->shape) + " and scales " + shape_text(scales->shape) +
                        " fit neither the GPTQ nor the AWQ layout");
        uint64_t bits = qweight_cols_bits / out;
        if (!valid_bits(bits)) return fail("unpacks at " + std::to_string(bits) + " bits per weight");
        g.bits = static_cast<uint32_t>(bits);
        if (qzeros && qzeros->shape[1] != qweight->shape[1])
            return fail("qzeros " + shape_text(qzeros->shape) + " does not pack like qweight " +
                        shape_text(qweight->shape));
        in = qweight->shape[0];
    }
    if (in % groups == 0) g.group_size = in / groups;
    g.shape = {out, in};
    if (!set_elements(g)) return fail("the element count overflows 64 bits");
    for (const checkpoint_tensor* t : {qweight, qzeros, scales, g_idx}) add_member(g, t);
    return g;
}

std::optional<quantized_group> bnb4_group(const std::string& weight_name, const std::string& kind,
                                          const tensor_map& by_name, std::vector<std::string>& notes) {
    const checkpoint_tensor* weight = find(by_name, weight_name);
    if (!weight) {
        notes.push_back(weight_name + ".quant_state.bitsandbytes__" + kind + ": no " + weight_name +
                        " next to it; left as stored tensors");
        return std::nullopt;
    }
    quantized_group g;
    g.name = weight_name;
    g.scheme = "bnb-" + kind;
    g.bits = 4;
    g.file = weight->file;
    // Two 4-bit values per byte of packed storage; the logical shape is only in the quant_state's JSON data.
    if (__builtin_mul_overflow(weight->bytes(), uint64_t{2}, &g.elements)) return std::nullopt;
    add_member(g, weight);
    for (const char* part : {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map"})
        add_member(g, find(by_name, weight_name + part));
    add_member(g, find(by_name, weight_name + ".quant_state.bitsandbytes__" + kind));
    return g;
}

std::optional<quantized_group> int8_group(const std::string& base, const tensor_map& by_name,
                                          std::vector<std::string>& notes) {
    const checkpoint_tensor* weight = find(by_name, base + ".weight");
    if (!weight || weight->dtype != "I8") {
        notes.push_back(base + ".SCB: expected an I8 " + base + ".weight next to it; left as stored tensors");
        return std::nullopt;
    }
    quantized_group g;
    g.name = weight->name;
    g.scheme = "bnb-int8";
    g.bits = 8;
    g.file = weight->file;
    g.shape = weight->shape;
    g.elements = weight->elements;
    add_member(g, weight);
    add_member(g, find(by_name, base + ".SCB"));
    add_member(g, find(by_name, base + ".weight_format"));
    return g;
}

std::optional<quantized_group> scaled_group(const std::string& base, const tensor_map& by_name) {
    const checkpoint_tensor* weight = find(by_name, base + ".weight");
    if (!weight) return std::nullopt;
    quantized_group g;
    if (weight->dtype.compare(0, 3, "F8_") == 0)
        g.scheme = "fp8";
    else if (weight->dtype == "I8")
        g.scheme = "scaled-int8";
    else
        return std::nullopt; // a scale next to a weight we cannot size (packed 4-bit formats): leave it
    g.name = weight->name;
    g.bits = 8;
    g.file = weight->file;
    g.shape = weight->shape;
    g.elements = weight->elements;
    add_member(g, weight);
    for (const char* part : {".weight_scale", ".weight_scale_inv", ".input_scale"})
        add_member(g, find(by_name, base + part));
    return g;
}

// compressed-tensors pack-quantized (llm-compressor's W4A16 / W8A16): weight_packed int32 [out, in / p],
// weight_scale [out, groups], weight_zero_point int32 [out / p, groups] when asymmetric, weight_g_idx int32
// [in] with group activation order, weight_shape int64 [2] (p = 32 / bits). The bits come from the zero
// points or g_idx; a symmetric checkpoint without g_idx does not say them in its headers, and 4 (W4A16, the
// common scheme) is taken, with a note.
std::optional<quantized_group> ct_packed_group(const std::string& base, const tensor_map& by_name,
                                               std::vector<std::string>& notes) {
    const checkpoint_tensor* packed = find(by_name, base + ".weight_packed");
    const checkpoint_tensor* scale = find(by_name, base + ".weight_scale");
    const checkpoint_tensor* zero = find(by_name, base + ".weight_zero_point");
    const checkpoint_tensor* g_idx = find(by_name, base + ".weight_g_idx");
    const checkpoint_tensor* shape = find(by_name, base + ".weight_shape");
    auto fail = [&](const std::string& why) {
        notes.push_back(base + ".weight_packed: " + why + "; left as stored tensors");
        return std::nullopt;
    };
    if (!scale) return fail("no " + base + ".weight_scale next to it");
    if (packed->shape.size() != 2 || !is_int32(*packed) || scale->shape.size() != 2)
        return fail("expected a 2-D int32 weight_packed and a 2-D weight_scale, got " + packed->dtype + " " +
                    shape_text(packed->shape) + " and " + shape_text(scale->shape));
    const uint64_t out = packed->shape[0], cols = packed->shape[1], groups = scale->shape[1];
    if (out == 0 || cols == 0 || groups == 0 || scale->shape[0] != out)
        return fail("weight_scale " + shape_text(scale->shape) + " does not match weight_packed " +
                    shape_text(packed->shape));
    uint64_t pack = 0;
    if (zero && zero->shape.size() == 2 && zero->shape[0] && out % zero->shape[0] == 0)
        pack = out / zero->shape[0];
    else if (g_idx && g_idx->shape.size() == 1 && g_idx->shape[0] % cols == 0)
        pack = g_idx->shape[0] / cols;
    bool assumed = false;
    if (!pack) pack = 8, assumed = true;
    if (pack != 4 && pack != 8 && pack != 16)
        return fail("packs " + std::to_string(pack) + " values a word (not 2, 4 or 8 bits)");
    quantized_group g;
    g.name = base + ".weight";
    g.scheme = "compressed-tensors";
    g.bits = static_cast<uint32_t>(32 / pack);
    g.file = packed->file;
    uint64_t in = 0;
    if (__builtin_mul_overflow(cols, pack, &in)) return fail("dimensions too large to unpack");
    if (g_idx && (g_idx->shape.size() != 1 || g_idx->shape[0] != in))
        return fail("weight_g_idx " + shape_text(g_idx->shape) + " does not match " + std::to_string(in) +
                    " input features");
    if (in % groups == 0) g.group_size = in / groups;
    g.shape = {out, in};
    if (!set_elements(g)) return fail("the element count overflows 64 bits");
    if (assumed)
        notes.push_back(base +
                        ".weight_packed: 4 bits per weight assumed (no weight_zero_point or weight_g_idx "
                        "tells; the quantization_config's num_bits does)");
    for (const checkpoint_tensor* t : {packed, scale, zero, g_idx, shape}) add_member(g, t);
    return g;
}

std::optional<quantized_group> mxfp4_group(const std::string& base, const tensor_map& by_name,
                                           std::vector<std::string>& notes) {
    const checkpoint_tensor* blocks = find(by_name, base + "_blocks");
    const checkpoint_tensor* scales = find(by_name, base + "_scales");
    auto fail = [&](const std::string& why) {
        notes.push_back(base + "_blocks: " + why + "; left as stored tensors");
        return std::nullopt;
    };
    if (!scales) return std::nullopt; // a tensor that merely ends in _blocks
    const std::vector<uint64_t>& b = blocks->shape;
    if (blocks->dtype != "U8" || scales->dtype != "U8")
        return fail("expected U8 blocks and scales, got " + blocks->dtype + " and " + scales->dtype);
    if (b.size() != 4 || std::vector<uint64_t>(b.begin(), b.end() - 1) != scales->shape)
        return fail(
            "expected blocks [experts, rows, groups, bytes] and scales [experts, rows, groups], got " +
            shape_text(b) + " and " + shape_text(scales->shape));
    quantized_group g;
    g.name = base;
    g.scheme = "mxfp4";
    g.bits = 4;
    g.file = blocks->file;
    uint64_t in = 0;
    if (b[3] > UINT64_MAX / 2 || __builtin_mul_overflow(b[2], b[3] * 2, &in))
        return fail("dimensions too large to unpack");
    g.group_size = b[3] * 2;
    g.shape = {b[0], in, b[1]};
    if (!set_elements(g)) return fail("the element count overflows 64 bits");
    add_member(g, blocks);
    add_member(g, scales);
    return g;
}

} // namespace

std::vector<quantized_group> find_quantized_groups(const checkpoint& ck, std::vector<std::string>* notes) {
    std::vector<std::string> ignored;
    std::vector<std::string>& out_notes = notes ? *notes : ignored;
    tensor_map by_name;
    for (const auto& t : ck.tensors) by_name.emplace(t.name, &t);

    std::vector<quantized_group> groups;
    std::unordered_set<std::string> taken; // group names already found
    auto keep = [&](std::optional<quantized_group> g) {
        if (g && taken.insert(g->name).second) groups.push_back(std::move(*g));
    };
    for (const auto& t : ck.tensors) {
        std::string base;
        if (ends_with(t.name, ".qweight", &base))
            keep(packed_int_group(base, by_name, out_notes));
        else if (ends_with(t.name, ".quant_state.bitsandbytes__nf4", &base))
            keep(bnb4_group(base, "nf4", by_name, out_notes));
        else if (ends_with(t.name, ".quant_state.bitsandbytes__fp4", &base))
            keep(bnb4_group(base, "fp4", by_name, out_notes));
        else if (ends_with(t.name, ".SCB", &base))
            keep(int8_group(base, by_name, out_notes));
        else if (ends_with(t.name, ".weight_scale", &base) || ends_with(t.name, ".weight_scale_inv", &base))
            keep(scaled_group(base, by_name));
        else if (ends_with(t.name, "_blocks", &base))
            keep(mxfp4_group(base, by_name, out_notes));
        else if (ends_with(t.name, ".weight_packed", &base))
            keep(ct_packed_group(base, by_name, out_notes));
    }
    return groups;
}

} // namespace modelplan
