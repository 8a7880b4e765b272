// A tensor-parallel rank's part of a quantized checkpoint's stored tensors: each member of a quantized group
// (packed weights, scales, zero points, activation-order indices, fp8 block scales, MXFP4 blocks) cut from
// the rank's part of the group's logical weight, the way vLLM's parameter classes cut them
// (docs/placement.md, "Quantized checkpoints", has every rule with its source).
#include <algorithm>
#include <map>
#include <unordered_map>

#include "modelplan/placement.h"
#include "modelplan/text.h"
#include "util/json-util.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

// What the config's quantization_config says that the headers do not.
struct quant_settings {
    bool desc_act = false;         // GPTQ activation order (vLLM's GPTQConfig "desc_act")
    uint64_t block_n = 128;        // fp8 block scales: rows and columns per scale
    uint64_t block_k = 128;        // (weight_block_size; 128 x 128 is DeepSeek-V3's and the usual one)
    bool block_size_given = false; //
};

quant_settings settings_of(const model_spec& s) {
    quant_settings q;
    if (s.quantization_config.empty()) return q;
    rapidjson::Document d;
    if (parse_json(s.quantization_config, d, "quantization_config") || !d.IsObject()) return q;
    auto act = d.FindMember("desc_act");
    if (act != d.MemberEnd() && act->value.IsBool()) q.desc_act = act->value.GetBool();
    auto block = d.FindMember("weight_block_size");
    if (block != d.MemberEnd() && block->value.IsArray() && block->value.Size() == 2 &&
        block->value[0].IsUint64() && block->value[1].IsUint64() && block->value[0].GetUint64() > 0 &&
        block->value[1].GetUint64() > 0) {
        q.block_n = block->value[0].GetUint64();
        q.block_k = block->value[1].GetUint64();
        q.block_size_given = true;
    }
    return q;
}

std::string pieces_text(const std::vector<slice_piece>& pieces) {
    std::string s;
    for (const auto& p : pieces)
        s += (s.empty() ? "" : ", ") + ("[" + num(p.start) + ", " + num(p.start + p.length) + ")");
    return s;
}

// The member whole: replicated on every rank of its stage.
rank_slice whole(const checkpoint_tensor& m, const std::string& how) {
    rank_slice r;
    r.rank_shape = m.shape;
    r.how = how;
    return r;
}

// Member `m` cut along its axis `axis` at the logical pieces divided by `factor`: every piece must start and
// end on a multiple of it. `why` names the boundary for the message ("32-bit words of 8 values").
result<rank_slice> cut(const checkpoint_tensor& m, const std::vector<slice_piece>& logical_pieces, int axis,
                       uint64_t factor, const std::string& why, const std::string& how) {
    rank_slice r;
    r.axis = axis;
    r.how = how;
    r.rank_shape = m.shape;
    if (axis < 0 || static_cast<size_t>(axis) >= m.shape.size() || factor == 0)
        return make_error(error_code::unsupported, m.name + ": shape " + shape_text(m.shape) +
                                                       " has no dimension " + num(axis) + " to split (" +
                                                       how + ")");
    uint64_t total = 0;
    for (const auto& p : logical_pieces) {
        if (p.start % factor != 0 || p.length % factor != 0)
            return make_error(error_code::unsupported,
                              m.name + ": this rank's part " + pieces_text(logical_pieces) +
                                  " does not fall on whole " + why + " (multiples of " + num(factor) +
                                  "); vLLM refuses this tensor-parallel size too: choose a smaller T");
        slice_piece q{p.start / factor, p.length / factor};
        if (q.start + q.length > m.shape[static_cast<size_t>(axis)])
            return make_error(error_code::unsupported, m.name + ": the part " + pieces_text(logical_pieces) +
                                                           " / " + num(factor) + " runs past its dimension " +
                                                           num(axis) + " (" +
                                                           num(m.shape[static_cast<size_t>(axis)]) + ")");
        total += q.length;
        r.pieces.push_back(q);
    }
    r.rank_shape[static_cast<size_t>(axis)] = total;
    return r;
}

bool has_suffix(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// One member of a 2-D GPTQ or AWQ group. Logical [out, in]; axis 0 is the output (column parallel), 1 the
// input (row parallel). GPTQ: qweight [in / p, out], qzeros [groups, out / p], scales [groups, out], g_idx
// [in]; AWQ: qweight [in, out / p], qzeros [groups, out / p], scales [groups, out] (p = 32 / bits).
result<rank_slice> packed_member(const quantized_group& g, const checkpoint_tensor& m, const rank_slice& l,
                                 const quant_settings& q, const std::string& how) {
    const bool gptq = g.scheme == "gptq";
    const uint64_t pack = 32 / g.bits;
    const std::string words = "32-bit words of " + num(pack) + " " + num(g.bits) + "-bit values";
    const uint64_t in = g.shape[1];
    const bool qweight = has_suffix(m.name, ".qweight"), qzeros = has_suffix(m.name, ".qzeros"),
               scales = has_suffix(m.name, ".scales"), g_idx = has_suffix(m.name, ".g_idx");
    if (!qweight && !qzeros && !scales && !g_idx)
        return make_error(error_code::unsupported, m.name + ": not a member of a " + g.scheme + " group");
    if (l.axis == 0) {
        // The output features: GPTQ's qweight and both schemes' scales keep them unpacked (axis 1); qzeros
        // and AWQ's qweight pack them.
        if (g_idx) return whole(m, how + ", activation order (whole)");
        // vLLM checks the rank's whole output against the pack factor ("The output size is not aligned with
        // the quantized weight shape").
        uint64_t total = 0;
        for (const auto& p : l.pieces) total += p.length;
        if (total % pack != 0)
            return make_error(error_code::unsupported,
                              g.name + ": " + num(total) + " output features per rank is not a multiple of " +
                                  num(pack) + " (" + words +
                                  "); vLLM refuses it (\"The output size is not aligned with the quantized "
                                  "weight shape\"): choose a smaller T");
        if ((gptq && qweight) || scales) return cut(m, l.pieces, 1, 1, "features", how);
        return cut(m, l.pieces, 1, pack, words, how + ", packed " + num(pack) + " per word");
    }
    // The input features (row parallel).
    const uint64_t groups = scales || qzeros ? m.shape[0] : 0;
    if (g.group_size == 0)
        return make_error(error_code::unsupported,
                          g.name + ": " + num(in) +
                              " input features do not divide into the scales' groups; " +
                              "a row-parallel split needs whole groups");
    const bool channelwise = g.group_size == in; // one group: vLLM's group_size -1
    uint64_t per_rank = 0;
    for (const auto& p : l.pieces) per_rank += p.length;
    if (!channelwise && per_rank % g.group_size != 0)
        return make_error(error_code::unsupported,
                          g.name + ": " + num(per_rank) +
                              " input features per rank is not a multiple of the group size " +
                              num(g.group_size) +
                              "; vLLM refuses it (\"The input size is not aligned with the quantized weight "
                              "shape\"): choose a smaller T");
    if (g_idx) return cut(m, l.pieces, 0, 1, "features", how);
    if (qweight) {
        if (gptq) return cut(m, l.pieces, 0, pack, words, how + ", packed " + num(pack) + " per word");
        return cut(m, l.pieces, 0, 1, "features", how);
    }
    // scales and qzeros: one row per group.
    if (channelwise || groups == 1) return whole(m, how + ", one group (whole)");
    if (gptq && q.desc_act) return whole(m, how + ", activation order: every group on every rank (vLLM)");
    return cut(m, l.pieces, 0, g.group_size, "groups of " + num(g.group_size) + " input features",
               how + ", whole groups");
}

// One member of a compressed-tensors pack-quantized group (vLLM's CompressedTensorsWNA16): weight_packed
// [out, in / p] packed along the input; weight_scale [out, groups]; weight_zero_point [out / p, groups]
// packed along the output; weight_g_idx [in]; weight_shape whole. Scales and zero points keep every group
// on a row-parallel rank with activation order (g_idx) or one group (marlin_repeat_scales_on_all_ranks).
result<rank_slice> ct_packed_member(const quantized_group& g, const checkpoint_tensor& m, const rank_slice& l,
                                    bool act_order, const std::string& how) {
    const uint64_t pack = 32 / g.bits;
    const std::string words = "32-bit words of " + num(pack) + " " + num(g.bits) + "-bit values";
    const uint64_t in = g.shape[1];
    const bool packed = has_suffix(m.name, ".weight_packed"), scale = has_suffix(m.name, ".weight_scale"),
               zero = has_suffix(m.name, ".weight_zero_point"), g_idx = has_suffix(m.name, ".weight_g_idx");
    if (has_suffix(m.name, ".weight_shape")) return whole(m, how + ", the full shape (whole)");
    if (!packed && !scale && !zero && !g_idx)
        return make_error(error_code::unsupported, m.name + ": not a member of a " + g.scheme + " group");
    if (l.axis == 0) {
        if (g_idx) return whole(m, how + ", activation order (whole)");
        if (zero) return cut(m, l.pieces, 0, pack, words, how + ", packed " + num(pack) + " per word");
        return cut(m, l.pieces, 0, 1, "rows", how);
    }
    uint64_t per_rank = 0;
    for (const auto& p : l.pieces) per_rank += p.length;
    if (g.group_size == 0 || (g.group_size != in && per_rank % g.group_size != 0))
        return make_error(error_code::unsupported,
                          g.name + ": " + num(per_rank) +
                              " input features per rank is not a multiple of the group size " +
                              (g.group_size ? num(g.group_size) : std::string("(unknown)")) +
                              "; vLLM refuses it: choose a smaller T");
    if (g_idx) return cut(m, l.pieces, 0, 1, "features", how);
    if (packed) return cut(m, l.pieces, 1, pack, words, how + ", packed " + num(pack) + " per word");
    if (act_order || g.group_size == in) return whole(m, how + ", every group on every rank (vLLM)");
    return cut(m, l.pieces, 1, g.group_size, "groups of " + num(g.group_size) + " input features",
               how + ", whole groups");
}

// One member of an fp8 or int8 group with scales: weight [out, in] as the logical weight; weight_scale per
// tensor (one value) or per output row; weight_scale_inv in blocks of block_n x block_k; input_scale whole.
result<rank_slice> scaled_member(const quantized_group& g, const checkpoint_tensor& m, const rank_slice& l,
                                 const quant_settings& q, const std::string& how) {
    const uint64_t out = g.shape[0], in = g.shape[1];
    if (m.name == g.name) return cut(m, l.pieces, l.axis, 1, "features", how);
    if (has_suffix(m.name, ".input_scale") || m.elements <= 1)
        return whole(m, how + ", per-tensor scale (whole)");
    if (has_suffix(m.name, ".weight_scale_inv") && m.shape.size() == 2) {
        const uint64_t bn = q.block_n, bk = q.block_k;
        if ((out + bn - 1) / bn != m.shape[0] || (in + bk - 1) / bk != m.shape[1])
            return make_error(error_code::unsupported,
                              m.name + ": shape " + shape_text(m.shape) + " is not [" + num(out) + " / " +
                                  num(bn) + ", " + num(in) + " / " + num(bk) + "] blocks" +
                                  (q.block_size_given ? std::string()
                                                      : " (quantization_config names no weight_block_size)"));
        const uint64_t b = l.axis == 0 ? bn : bk;
        return cut(m, l.pieces, l.axis, b, "blocks of " + num(b) + (l.axis == 0 ? " rows" : " columns"),
                   how + ", whole " + num(bn) + "x" + num(bk) + " blocks");
    }
    if (has_suffix(m.name, ".weight_scale") || has_suffix(m.name, ".SCB")) {
        // Per output row: [out] or [out, 1].
        if (m.shape.empty() || m.shape[0] != out || m.elements != out)
            return make_error(error_code::unsupported, m.name + ": shape " + shape_text(m.shape) +
                                                           " is neither one scale nor one per output row (" +
                                                           num(out) + ")");
        if (l.axis == 1) return whole(m, how + ", per-row scale (whole)");
        return cut(m, l.pieces, 0, 1, "rows", how + ", per-row scale");
    }
    if (has_suffix(m.name, ".weight_format")) return whole(m, how + " (whole)");
    return make_error(error_code::unsupported, m.name + ": not a member of an " + g.scheme + " group");
}

// One member of an MXFP4 group: logical [experts, in, rows]; blocks [experts, rows, in / 32, 16] and scales
// [experts, rows, in / 32].
result<rank_slice> mxfp4_member(const quantized_group& g, const checkpoint_tensor& m, const rank_slice& l,
                                const std::string& how) {
    if (m.shape.size() < 3)
        return make_error(error_code::unsupported,
                          m.name + ": shape " + shape_text(m.shape) + " is not MXFP4's");
    if (l.axis == 0) return cut(m, l.pieces, 0, 1, "experts", how);
    if (l.axis == 2) return cut(m, l.pieces, 1, 1, "rows", how);
    return cut(m, l.pieces, 2, g.group_size, "blocks of " + num(g.group_size) + " values",
               how + ", whole " + num(g.group_size) + "-value blocks");
}

} // namespace

result<std::vector<rank_slice>> stored_rank_slices(const analysis& a, const std::vector<rank_slice>& logical,
                                                   const std::vector<quantized_group>& groups,
                                                   const checkpoint& ck) {
    if (logical.size() != a.sk.tensors.size())
        return make_error(error_code::bad_request, "stored_rank_slices: " + num(logical.size()) +
                                                       " slices for " + num(a.sk.tensors.size()) +
                                                       " tensors");
    const quant_settings q = settings_of(a.spec);
    std::unordered_map<std::string, const quantized_group*> group_of;
    for (const auto& g : groups) group_of.emplace(g.name, &g);
    std::unordered_map<std::string, const checkpoint_tensor*> stored;
    for (const auto& t : ck.tensors) stored.emplace(t.name, &t);

    // MXFP4 experts split as vLLM's (and SGLang's) gpt-oss loaders split them: ceil(blocks / T) whole
    // 32-value blocks of the expert intermediate size per rank, the last rank the rest (gpt-oss's 2880 = 90
    // blocks at T = 4: 23, 23, 23 and 21 blocks), not the even split of the unquantized weights;
    // gate_up_proj's bias with its rows. The rank and T come from the even split's one piece.
    std::unordered_map<std::string, slice_piece> block_split; // tensor name -> its part along its split axis
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        auto found = group_of.find(a.sk.tensors[i].name);
        const rank_slice& l = logical[i];
        if (found == group_of.end() || found->second->scheme != "mxfp4" || !l.held || l.pieces.size() != 1 ||
            (l.axis != 1 && l.axis != 2) || found->second->shape.size() != 3)
            continue;
        const quantized_group& g = *found->second;
        const uint64_t n = g.shape[static_cast<size_t>(l.axis)], length = l.pieces[0].length;
        const uint64_t unit = l.axis == 2 ? 2 : 1; // gate_up_proj's rows: gate and up interleaved per feature
        if (length == 0 || n % length != 0 || n % unit != 0 || (n / unit) % 32 != 0) continue;
        const uint64_t tp = n / length, rank = l.pieces[0].start / length, features = n / unit;
        const uint64_t per_rank = (features / 32 + tp - 1) / tp * 32;
        const uint64_t start = std::min(rank * per_rank, features),
                       end = std::min(start + per_rank, features);
        const slice_piece part{start * unit, (end - start) * unit};
        block_split[g.name] = part;
        if (l.axis == 2) block_split[g.name + "_bias"] = part;
    }
    auto with_block_split = [&](const tensor_info& t, const rank_slice& l) {
        rank_slice r = l;
        auto b = block_split.find(t.name);
        if (b == block_split.end() || r.axis < 0 || r.pieces.size() != 1) return r;
        r.pieces = {b->second};
        r.rank_shape[static_cast<size_t>(r.axis)] = b->second.length;
        r.how += ", vLLM's MXFP4 block split";
        return r;
    };

    std::vector<rank_slice> out;
    out.reserve(a.sk.tensors.size());
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        const rank_slice l = with_block_split(t, logical[i]);
        auto found = group_of.find(t.name);
        if (found == group_of.end()) {
            out.push_back(l);
            continue;
        }
        const quantized_group& g = *found->second;
        const std::string scheme =
            g.scheme + (g.bits ? " " + num(g.bits) + "-bit" : "") +
            (g.group_size && g.scheme != "mxfp4" ? " (group " + num(g.group_size) + ")" : "");
        for (const auto& name : g.members) {
            auto c = stored.find(name);
            if (c == stored.end())
                return make_error(error_code::bad_checkpoint,
                                  name + ", of the quantized group " + g.name + ", is not stored");
            const checkpoint_tensor& m = *c->second;
            if (!l.held) {
                rank_slice r = whole(m, l.how);
                r.held = false;
                out.push_back(std::move(r));
                continue;
            }
            if (l.axis < 0) {
                out.push_back(whole(m, l.how));
                continue;
            }
            if (l.pad)
                return make_error(error_code::unsupported,
                                  g.name + ": a " + scheme +
                                      " weight whose vocabulary is padded per rank cannot be cut from its "
                                      "stored form; load it with T = 1");
            const std::string how = l.how + ", " + scheme;
            auto member = [&]() -> result<rank_slice> {
                if ((g.scheme == "gptq" || g.scheme == "awq") && g.shape.size() == 2 && g.bits &&
                    32 % g.bits == 0 && l.axis <= 1)
                    return packed_member(g, m, l, q, how);
                if (g.scheme == "compressed-tensors" && g.shape.size() == 2 && g.bits && 32 % g.bits == 0 &&
                    l.axis <= 1) {
                    bool act_order = false;
                    for (const auto& member : g.members)
                        act_order = act_order || has_suffix(member, ".weight_g_idx");
                    return ct_packed_member(g, m, l, act_order, how);
                }
                if ((g.scheme == "fp8" || g.scheme == "scaled-int8" || g.scheme == "bnb-int8") &&
                    g.shape.size() == 2 && l.axis <= 1)
                    return scaled_member(g, m, l, q, how);
                if (g.scheme == "mxfp4" && g.shape.size() == 3 && g.group_size && l.axis <= 2)
                    return mxfp4_member(g, m, l, how);
                if (g.scheme == "bnb-nf4" || g.scheme == "bnb-fp4")
                    return make_error(
                        error_code::unsupported,
                        g.name + ": bitsandbytes " + g.scheme.substr(4) +
                            " stores each weight flattened, with one scale per 64 values in "
                            "storage order, so no rank's part of it is a range of the file; load "
                            "it with T = 1 (pipeline stages, --pp, keep whole tensors)");
                return make_error(error_code::unsupported, g.name + ": no rule cuts a " + scheme +
                                                               " weight of shape " + shape_text(g.shape) +
                                                               " along dimension " + num(l.axis) +
                                                               "; load it with T = 1");
            };
            auto r = member();
            if (!r) return r.err();
            out.push_back(std::move(*r));
        }
    }
    return out;
}

} // namespace modelplan
