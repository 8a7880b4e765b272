// Tensor- and pipeline-parallel plans: which dimension of each weight splits across T ranks, which layers
// each of P stages holds, and what every rank stores (docs/placement.md).
#include <algorithm>
#include <map>
#include <optional>

#include "modelplan/placement.h"
#include "modelplan/text.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan {

using sat::add;
using sat::ceil_div;
using sat::mul;

namespace {

enum class split_kind : uint8_t { replicated, column, row, vocab };

split_kind split_of(role r) {
    switch (r) {
    case role::attn_q:
    case role::attn_k:
    case role::attn_v:
    case role::attn_qkv:
    case role::attn_q_b:
    case role::attn_kv_b:
    case role::cross_q:
    case role::cross_k:
    case role::cross_v:
    case role::ffn_gate:
    case role::ffn_up:
    case role::ffn_gate_exp:
    case role::ffn_up_exp:
    case role::ffn_gate_shexp:
    case role::ffn_up_shexp:
    case role::ssm_in:
    case role::ssm_conv:
    case role::ssm_dt:
    case role::ssm_params:
    case role::ssm_norm: return split_kind::column;
    case role::attn_o:
    case role::cross_o:
    case role::ffn_down:
    case role::ffn_down_exp:
    case role::ffn_down_shexp:
    case role::ssm_out: return split_kind::row;
    case role::embed:
    case role::lm_head: return split_kind::vocab;
    default: return split_kind::replicated;
    }
}

// The axis of a tensor that splits, and what it holds; -1 when the tensor is replicated.
struct axis_split {
    int axis = -1;
    dim what = dim::one;
};

axis_split find_axis(const tensor_info& t, split_kind kind) {
    if (kind == split_kind::replicated || !t.source) return {};
    for (int i = 0; i < t.source->rank; ++i) {
        dim d = t.source->shape[i];
        bool ok = false;
        switch (kind) {
        case split_kind::column:
            ok = d == dim::q_dim || d == dim::kv_dim || d == dim::qkv_dim || d == dim::ffn ||
                 d == dim::ffn_x2 || d == dim::expert_ffn || d == dim::expert_ffn_x2 ||
                 d == dim::shared_ffn || d == dim::mla_q_out || d == dim::mla_kv_b_out ||
                 d == dim::q_dim_x2 || d == dim::ssm_in_proj || d == dim::ssm_conv_dim ||
                 d == dim::ssm_inner || d == dim::ssm_heads || d == dim::ssm_heads_x2 ||
                 d == dim::hidden_x3 || d == dim::shared_ffn_x2;
            break;
        case split_kind::row:
            ok = d == dim::q_dim || d == dim::ffn || d == dim::expert_ffn || d == dim::shared_ffn ||
                 d == dim::mla_o_in || d == dim::ssm_inner;
            break;
        case split_kind::vocab: ok = d == dim::vocab; break;
        case split_kind::replicated: break;
        }
        if (ok) return {i, d};
    }
    return {};
}

const char* dim_label(dim d) {
    switch (d) {
    case dim::q_dim: return "attention heads";
    case dim::kv_dim: return "key/value heads";
    case dim::qkv_dim: return "query, key and value heads";
    case dim::ffn:
    case dim::ffn_x2:
    case dim::expert_ffn:
    case dim::expert_ffn_x2:
    case dim::shared_ffn:
    case dim::shared_ffn_x2: return "intermediate size";
    case dim::mla_q_out:
    case dim::mla_kv_b_out:
    case dim::mla_o_in:
    case dim::q_dim_x2: return "attention heads";
    case dim::ssm_in_proj:
    case dim::ssm_conv_dim:
    case dim::ssm_inner:
    case dim::ssm_heads:
    case dim::ssm_heads_x2:
    case dim::hidden_x3: return "mixer heads";
    case dim::vocab: return "vocabulary";
    default: return "";
    }
}

std::string pattern_of(const skeleton& sk, const tensor_info& t) {
    if (!t.source) return t.name;
    return t.from_head ? std::string(t.source->name) : sk.base_prefix + t.group_prefix + t.source->name;
}

// The request itself: inference, degrees in range, heads divisible by T.
std::optional<error> check_degrees(const model_spec& s, const workload& w, uint64_t tp, uint64_t pp) {
    if (w.mode == plan_mode::training)
        return make_error(
            error_code::bad_request,
            "mode: tp/pp plan inference serving; for training use plan with mode training and zero", "mode");
    if (tp == 0 || tp > 1024)
        return make_error(error_code::out_of_range, "tp: expected 1 to 1024, got " + num(tp), "tp");
    if (pp == 0 || pp > 1024)
        return make_error(error_code::out_of_range, "pp: expected 1 to 1024, got " + num(pp), "pp");
    if (s.n_heads % tp != 0)
        return make_error(error_code::not_divisible,
                          "num_attention_heads (" + num(s.n_heads) +
                              ") must be divisible by the tensor-parallel degree (" + num(tp) + ")",
                          "tp");
    // Recurrent mixers split by heads (Mamba-2, DeltaNet) or channels (Mamba-1, short convolution), as vLLM's
    // MambaMixer2 and GatedDeltaNet layers shard them.
    const uint64_t mixer_split = s.ssm_heads ? s.ssm_heads : s.ssm_inner;
    if (mixer_split % tp != 0)
        return make_error(error_code::not_divisible,
                          std::string(s.ssm_heads ? "the mixer's heads (" : "the mixer's channels (") +
                              num(mixer_split) + ") must be divisible by the tensor-parallel degree (" +
                              num(tp) + ")",
                          "tp");
    return std::nullopt;
}

// Key/value heads per rank: divided when there are at least T of them, else each replicated on T / kv ranks.
// MLA has no KV heads to divide: its latent cache is replicated.
std::optional<error> split_kv_heads(const model_spec& s, uint64_t kv, uint64_t tp, parallel_plan& p) {
    if (kv == 0 && s.ssm_conv_kernel != 0)
        return std::nullopt; // a state-space model without attention (Mamba)
    if (kv == 0) {           // a model read from checkpoint headers whose config gives no attention heads
        if (tp > 1)
            return make_error(
                error_code::bad_request,
                "tp: the attention heads of " + s.architecture +
                    " are not known (its config gives no num_attention_heads), so they cannot be "
                    "split across ranks",
                "tp");
        return std::nullopt;
    }
    if (s.has_mla()) {
        p.notes.push_back(
            "multi-head latent attention: the latent KV cache and the down-projections (q_a_proj, "
            "kv_a_proj_with_mqa) are replicated on every rank; q_b_proj, kv_b_proj and o_proj split by "
            "heads");
        return std::nullopt;
    }
    if (kv >= tp ? kv % tp != 0 : tp % kv != 0)
        return make_error(error_code::not_divisible,
                          "num_key_value_heads (" + num(kv) + ") and the tensor-parallel degree (" + num(tp) +
                              "): one must divide the other",
                          "tp");
    p.kv_heads_per_rank = kv >= tp ? kv / tp : 1;
    p.kv_head_replicas = kv >= tp ? 1 : tp / kv;
    if (p.kv_head_replicas > 1)
        p.notes.push_back("key/value heads (" + num(kv) + ") are fewer than T (" + num(tp) +
                          "): each is replicated on " + num(p.kv_head_replicas) +
                          " ranks, so every rank holds one");
    return std::nullopt;
}

// FFN widths divisible by T, at least one layer per stage, one GPU per rank.
std::optional<error> check_shapes(const model_spec& s, const std::vector<uint64_t>& loaded_layers,
                                  uint64_t tp, uint64_t pp, const std::vector<device_budget>& gpus) {
    bool dense = false, moe = false;
    for (uint64_t il : loaded_layers) (s.is_moe_layer(il) ? moe : dense) = true;
    if (dense && s.intermediate % tp != 0)
        return make_error(error_code::not_divisible,
                          "intermediate_size (" + num(s.intermediate) +
                              ") must be divisible by the tensor-parallel degree (" + num(tp) + ")",
                          "tp");
    if (moe && s.expert_intermediate % tp != 0)
        return make_error(error_code::not_divisible,
                          "the experts' intermediate size (" + num(s.expert_intermediate) +
                              ") must be divisible by the tensor-parallel degree (" + num(tp) + ")",
                          "tp");
    if (moe && s.shared_intermediate % tp != 0)
        return make_error(error_code::not_divisible,
                          "the shared experts' intermediate size (" + num(s.shared_intermediate) +
                              ") must be divisible by the tensor-parallel degree (" + num(tp) + ")",
                          "tp");
    if (pp > loaded_layers.size())
        return make_error(error_code::out_of_range,
                          "pp: " + num(pp) + " stages, but the model has only " + num(loaded_layers.size()) +
                              " layers to split",
                          "pp");
    if (!gpus.empty() && gpus.size() < tp * pp)
        return make_error(error_code::bad_request,
                          "devices: tp " + num(tp) + " x pp " + num(pp) + " needs " + num(tp * pp) +
                              " GPUs, " + num(gpus.size()) + " given",
                          "devices");
    for (const auto& g : gpus)
        if (g.kind != device_kind::gpu)
            return make_error(error_code::bad_request,
                              "devices: tp/pp place every rank on a GPU; " + g.name + " cannot hold a rank",
                              "devices");
    return std::nullopt;
}

// Stages: layers split evenly; the remainder goes to stages 1, 2, ... (stage 0 also holds the embeddings).
// Returns the stage of every layer (layers not loaded: the last).
std::vector<uint64_t> assign_stages(const model_spec& s, const std::vector<uint64_t>& loaded_layers,
                                    uint64_t pp, parallel_plan& p) {
    uint64_t n = loaded_layers.size(), base = n / pp, rem = n % pp;
    std::vector<uint64_t> stage_of_layer(s.layers.size(), pp - 1);
    uint64_t next = 0;
    for (uint64_t st = 0; st < pp; ++st) {
        uint64_t count = base + (st >= 1 && st <= rem ? 1 : 0);
        uint64_t first = loaded_layers[next], last = loaded_layers[next + count - 1];
        for (uint64_t k = next; k < next + count; ++k) stage_of_layer[loaded_layers[k]] = st;
        p.stage_layers.push_back({first, last});
        next += count;
    }
    return stage_of_layer;
}

// `bytes` x rank_elements / elements, rounded up, in 128 bits (the product can pass 2^64); a tensor that does
// not split keeps its bytes exactly.
uint64_t bytes_on_rank(uint64_t bytes, uint64_t rank_elements, uint64_t elements) {
    if (rank_elements == elements) return bytes;
    __extension__ typedef unsigned __int128 u128;
    u128 scaled = static_cast<u128>(bytes) * rank_elements;
    scaled = elements ? (scaled + elements - 1) / elements : 0;
    return scaled > UINT64_MAX ? UINT64_MAX : static_cast<uint64_t>(scaled);
}

// The shape one rank holds of tensor `t`, and how it splits.
std::vector<uint64_t> rank_shape_of(const model_spec& s, const tensor_info& t, uint64_t tp,
                                    const parallel_plan& p, std::string& how) {
    std::vector<uint64_t> rank_shape = t.shape;
    how = "replicated";
    axis_split ax = find_axis(t, split_of(t.what));
    if (ax.axis < 0) return rank_shape;
    uint64_t& extent = rank_shape[ax.axis];
    if (tp == 1)
        extent = t.shape[ax.axis];
    else if (ax.what == dim::kv_dim && !s.has_mla())
        extent = p.kv_heads_per_rank * s.head_dim;
    else if (ax.what == dim::qkv_dim && !s.has_mla())
        extent = (s.n_heads / tp + 2 * p.kv_heads_per_rank) * s.head_dim;
    else
        extent = ceil_div(extent, tp);
    how = tp == 1 ? std::string("whole (T = 1)")
                  : "dim " + num(static_cast<uint64_t>(ax.axis)) + " (" + dim_label(ax.what) + ")";
    return rank_shape;
}

// Stage rules, shared by plan_parallel and rank_slices. A tensor not loaded for the workload has no stage.
constexpr uint64_t no_stage = UINT64_MAX;

// The stage of every tensor of the skeleton: a layer's tensors go with their layer; the final norm (the
// module of the last output norm) and the head go to the last stage; other model-level tensors stay with the
// stage of the tensor before them (the embeddings, first, on stage 0). An earlier output norm, T5's
// encoder.final_layer_norm, runs right after the last encoder layer, on that layer's stage.
std::vector<uint64_t> stage_of_tensors(const analysis& a, const workload& w,
                                       const std::vector<uint64_t>& stage_of_layer, uint64_t pp) {
    std::vector<uint64_t> stages(a.sk.tensors.size(), no_stage);
    std::string final_norm_module;
    for (const tensor_info& t : a.sk.tensors)
        if (t.what == role::output_norm) final_norm_module = t.name.substr(0, t.name.rfind('.'));
    uint64_t stage = 0;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loads_tensor(a.spec, w, t)) continue;
        if (t.layer != no_index) stage = stage_of_layer[t.layer];
        bool final_norm = t.what == role::output_norm &&
                          t.name.compare(0, t.name.rfind('.'), final_norm_module) == 0 &&
                          t.name.rfind('.') == final_norm_module.size();
        stages[i] = (t.what == role::lm_head || final_norm) ? pp - 1 : stage;
    }
    return stages;
}

// Whether the last stage holds its own copy of the embeddings: the head is tied to them (an alias, no tensor
// of its own) and lies on a later stage than they do.
bool last_stage_copies_embeddings(const analysis& a, const workload& w, uint64_t pp) {
    bool head_seen = false, tied_head = false;
    for (const tensor_info& t : a.sk.tensors)
        head_seen = head_seen || (t.what == role::lm_head && loads_tensor(a.spec, w, t));
    for (const auto& al : a.sk.aliases) tied_head = tied_head || al.name.rfind("lm_head", 0) == 0;
    return !head_seen && tied_head && pp > 1;
}

// Weights per stage and TP rank (every rank of a stage holds the same amount), and the split of each tensor
// template.
std::vector<uint64_t> split_weights(const analysis& a, const workload& w,
                                    const std::vector<uint64_t>& stage_of_layer,
                                    const std::vector<uint64_t>& tensor_bytes, parallel_plan& p) {
    const model_spec& s = a.spec;
    const uint64_t tp = p.tp, pp = p.pp;
    std::vector<uint64_t> stage_weights(pp, 0);
    std::map<std::string, size_t> split_index;
    uint64_t embed_bytes_rank = 0;
    const std::vector<uint64_t> stages = stage_of_tensors(a, w, stage_of_layer, pp);
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (stages[i] == no_stage) continue;
        std::string how;
        std::vector<uint64_t> rank_shape = rank_shape_of(s, t, tp, p, how);
        uint64_t rank_elements = 1;
        for (uint64_t d : rank_shape) rank_elements = mul(rank_elements, d);
        uint64_t rank_bytes = bytes_on_rank(tensor_bytes[i], rank_elements, t.elements);
        stage_weights[stages[i]] = add(stage_weights[stages[i]], rank_bytes);
        if (t.what == role::embed) embed_bytes_rank = add(embed_bytes_rank, rank_bytes);
        std::string pattern = pattern_of(a.sk, t);
        auto [it, fresh] = split_index.emplace(pattern, p.splits.size());
        if (fresh) p.splits.push_back({pattern, how, t.shape, rank_shape, 0});
        p.splits[it->second].tensors += 1;
    }
    if (pp > 1)
        p.notes.push_back(
            "stage 0 holds the embeddings, stage " + num(pp - 1) +
            " the final norm and the output head; the remainder of layers / P goes to stages 1, 2, ...");
    if (last_stage_copies_embeddings(a, w, pp)) {
        stage_weights[pp - 1] = add(stage_weights[pp - 1], embed_bytes_rank);
        p.notes.push_back("the output head is tied to the embedding: the last stage holds a copy of it");
    }
    return stage_weights;
}

// KV cache per stage and rank: divided among the ranks by KV heads (MLA's latent is replicated).
std::vector<uint64_t> kv_per_stage(const model_spec& s, const memory_plan& plan,
                                   const std::vector<uint64_t>& loaded_layers,
                                   const std::vector<uint64_t>& stage_of_layer, uint64_t kv_heads,
                                   const parallel_plan& p) {
    std::vector<uint64_t> stage_kv(p.pp, 0);
    for (uint64_t il : loaded_layers) {
        uint64_t b = plan.kv_bytes_by_layer[il];
        if (!s.has_mla() && p.tp > 1 && kv_heads) b = ceil_div(mul(b, p.kv_heads_per_rank), kv_heads);
        stage_kv[stage_of_layer[il]] = add(stage_kv[stage_of_layer[il]], b);
    }
    return stage_kv;
}

// Recurrent state per stage and rank: the mixer's heads (Mamba-2, DeltaNet) or channels (Mamba-1, short
// convolution) divide among the ranks; Mamba-2's B and C groups divide when there are at least T of them,
// else each rank keeps one group (vLLM's MambaMixer2 replicates groups over the heads that share them).
std::vector<uint64_t> state_per_stage(const model_spec& s, const workload& w, const memory_plan& plan,
                                      const std::vector<uint64_t>& loaded_layers,
                                      const std::vector<uint64_t>& stage_of_layer, parallel_plan& p) {
    std::vector<uint64_t> stage_state(p.pp, 0);
    if (plan.state_bytes_by_layer.empty()) return stage_state;
    const uint64_t tp = p.tp;
    uint64_t conv_channels = ceil_div(s.ssm_conv_dim, tp);
    bool mamba2 = false;
    for (uint64_t il : loaded_layers) mamba2 = mamba2 || ((s.layers[il].switches & sw_mamba) && s.ssm_heads);
    if (mamba2 && tp > 1) {
        uint64_t groups_per_rank = s.ssm_groups >= tp ? s.ssm_groups / tp : 1;
        conv_channels = add(s.ssm_inner / tp, mul(mul(2, groups_per_rank), s.ssm_state));
    }
    const uint64_t conv_rows = s.ssm_conv_kernel ? s.ssm_conv_kernel - 1 : 0;
    for (uint64_t il : loaded_layers) {
        if (plan.state_bytes_by_layer[il] == 0) continue;
        uint64_t b = plan.state_bytes_by_layer[il];
        if (tp > 1) {
            uint64_t conv = mul(mul(conv_rows, conv_channels), dtype_bytes(plan.state_conv_dtype));
            uint64_t ssm = mul(ceil_div(s.recurrent_ssm_elements(il), tp), dtype_bytes(plan.state_ssm_dtype));
            b = mul(add(conv, ssm), w.batch);
        }
        stage_state[stage_of_layer[il]] = add(stage_state[stage_of_layer[il]], b);
    }
    if (tp > 1)
        p.notes.push_back("recurrent state: the mixer's " + std::string(s.ssm_heads ? "heads" : "channels") +
                          " divide among the " + num(tp) + " ranks" +
                          (mamba2 && s.ssm_groups < tp ? "; each rank keeps one of the B/C groups" : ""));
    return stage_state;
}

// Runtime memory of every rank, from the single-device plan: the residual stream whole and the larger of the
// attention and FFN working sets divided by T; logits on the last stage; vLLM's rope cache; the CUDA context.
struct rank_runtime {
    uint64_t activations = 0, logits = 0, rope = 0, overhead = 0;
};

rank_runtime runtime_per_rank(const model_spec& s, const memory_breakdown& bytes, uint64_t tp) {
    const forward_activations& f = bytes.forward;
    rank_runtime r;
    r.activations = add(f.residual, ceil_div(std::max(f.attention, f.ffn), tp));
    r.logits = f.logits;
    r.overhead = bytes.overhead;
    if (s.rope.rotary_dim && s.max_positions)
        r.rope = mul(mul(s.max_positions, s.rope.rotary_dim), dtype_bytes(compute_dtype(s.weight_dtype)));
    return r;
}

void add_ranks(const std::vector<device_budget>& gpus, const std::vector<uint64_t>& stage_weights,
               const std::vector<uint64_t>& stage_kv, const std::vector<uint64_t>& stage_state,
               const rank_runtime& rt, parallel_plan& p) {
    const bool recurrent = std::any_of(stage_state.begin(), stage_state.end(), [](uint64_t b) { return b; });
    for (uint64_t st = 0; st < p.pp; ++st)
        for (uint64_t r = 0; r < p.tp; ++r) {
            parallel_rank rank;
            rank.stage = st;
            rank.tp_rank = r;
            uint64_t index = st * p.tp + r;
            rank.device = gpus.empty() ? "cuda:" + num(index) : gpus[index].name;
            rank.budget_bytes = gpus.empty() ? 0 : gpus[index].budget_bytes;
            rank.first_layer = p.stage_layers[st].first;
            rank.last_layer = p.stage_layers[st].second;
            held_bytes& h = rank.bytes;
            h.weights = stage_weights[st];
            h.kv_cache = stage_kv[st];
            h.recurrent_state = stage_state[st];
            h.activations = rt.activations;
            h.logits = st == p.pp - 1 ? rt.logits : 0;
            h.rope_cache = rt.rope;
            h.overhead = rt.overhead;
            rank.items = {
                {"weights",  h.weights },
                {"kv_cache", h.kv_cache},
            };
            if (recurrent) rank.items.push_back({"recurrent_state", h.recurrent_state});
            rank.items.push_back({"activations", h.activations});
            if (st == p.pp - 1) rank.items.push_back({"logits", h.logits});
            if (h.rope_cache) rank.items.push_back({"rope_cache", h.rope_cache});
            rank.items.push_back({"overhead", h.overhead});
            for (const auto& item : rank.items) rank.total_bytes = add(rank.total_bytes, item.bytes);
            if (rank.budget_bytes) {
                rank.headroom_bytes = static_cast<int64_t>(std::min<uint64_t>(rank.budget_bytes, INT64_MAX)) -
                                      static_cast<int64_t>(std::min<uint64_t>(rank.total_bytes, INT64_MAX));
                if (rank.total_bytes > rank.budget_bytes) p.fits = false;
            }
            p.ranks.push_back(std::move(rank));
        }
    if (rt.rope)
        p.notes.push_back(
            "rope_cache: the cos/sin table of max_position_embeddings x rotary dims that vLLM keeps "
            "on every rank (" +
            binary_size(rt.rope) + ")");
}

// The request checked and laid out, before any memory is planned: KV heads per rank, the layers the workload
// loads and the stage of each.
struct layout {
    parallel_plan p; // tp, pp, kv_heads_per_rank, kv_head_replicas, stage_layers, notes so far
    uint64_t kv_heads = 0;
    std::vector<uint64_t> loaded_layers, stage_of_layer;
};

result<layout> lay_out(const analysis& a, const workload& w, uint64_t tp, uint64_t pp,
                       const std::vector<device_budget>& gpus) {
    const model_spec& s = a.spec;
    if (auto e = check_degrees(s, w, tp, pp)) return *e;
    layout l;
    l.p.tp = tp;
    l.p.pp = pp;
    l.kv_heads = s.n_kv_heads ? s.n_kv_heads : s.n_heads;
    if (auto e = split_kv_heads(s, l.kv_heads, tp, l.p)) return *e;
    for (uint64_t il = 0; il < s.layers.size(); ++il)
        if (loads_layer(s, w, il)) l.loaded_layers.push_back(il);
    if (auto e = check_shapes(s, l.loaded_layers, tp, pp, gpus)) return *e;
    l.stage_of_layer = assign_stages(s, l.loaded_layers, pp, l.p);
    return l;
}

// The heads of `count` that rank `tp_rank` holds, as {first head, heads}: count / T consecutive heads, or,
// with fewer heads than ranks, head tp_rank / (T / count), each head replicated on T / count ranks (vLLM's
// QKVParallelLinear with num_kv_head_replicas).
slice_piece heads_of_rank(uint64_t count, uint64_t tp, uint64_t tp_rank) {
    if (count >= tp) return {tp_rank * (count / tp), count / tp};
    return {tp_rank / (tp / count), 1};
}

// Rank `tp_rank`'s pieces of `parts` equal parts laid one after another along an axis of `extent` indices:
// its share of each part, in order.
std::vector<slice_piece> share_of_each_part(uint64_t extent, uint64_t parts, uint64_t tp, uint64_t tp_rank) {
    const uint64_t part = extent / parts, share = part / tp;
    std::vector<slice_piece> pieces;
    for (uint64_t i = 0; i < parts; ++i) pieces.push_back({i * part + tp_rank * share, share});
    return pieces;
}

// The pieces rank `tp_rank` reads along the axis that rank_shape_of splits: plain dimensions and groups of
// interleaved parts contiguously, concatenated parts (q | k | v, gate | up) as a share of each, key/value
// heads by heads_of_rank, the vocabulary in ceil(V / T) rows with the last rank padded. An error when the
// exact layout is not known.
std::optional<error> slice_pieces(const model_spec& s, const tensor_info& t, uint64_t tp, uint64_t tp_rank,
                                  const layout& l, rank_slice& r) {
    axis_split ax = find_axis(t, split_of(t.what));
    if (ax.axis < 0 || tp == 1) return std::nullopt; // the whole tensor
    r.axis = ax.axis;
    const uint64_t n = t.shape[ax.axis], hd = s.head_dim;
    const fused_layout parts = t.source->parts;
    auto not_modelled = [&](const std::string& why) {
        return make_error(error_code::unsupported,
                          t.name + ": " + why + "; its tensor-parallel split is not modelled", "tp");
    };
    auto contiguous = [&](uint64_t group) -> std::optional<error> {
        if (n % tp != 0 || (n / tp) % group != 0)
            return not_modelled("dim " + num(static_cast<uint64_t>(ax.axis)) + " (" + num(n) +
                                ") does not divide into " + num(tp) + " equal ranges of whole groups of " +
                                num(group));
        r.pieces = {
            {tp_rank * (n / tp), n / tp}
        };
        return std::nullopt;
    };
    auto halves = [&](uint64_t group) -> std::optional<error> {
        if (parts == fused_layout::concatenated) {
            if (n % (2 * tp) != 0) return contiguous(2 * tp); // reports the indivisible extent
            r.pieces = share_of_each_part(n, 2, tp, tp_rank);
            return std::nullopt;
        }
        if (parts == fused_layout::interleaved) return contiguous(group);
        return not_modelled("the layout of its two fused parts is not known");
    };
    switch (ax.what) {
    case dim::vocab: {
        const uint64_t rows = ceil_div(n, tp), start = std::min(tp_rank * rows, n);
        const uint64_t length = std::min(rows, n - start);
        if (length) r.pieces.push_back({start, length});
        r.pad = rows - length;
        break;
    }
    case dim::kv_dim:
        if (s.has_mla()) return contiguous(1);
        if (n != l.kv_heads * hd)
            return not_modelled("its key/value width (" + num(n) +
                                ") is not num_key_value_heads x head_dim (" + num(l.kv_heads * hd) + ")");
        {
            slice_piece h = heads_of_rank(l.kv_heads, tp, tp_rank);
            r.pieces = {
                {h.start * hd, h.length * hd}
            };
        }
        break;
    case dim::qkv_dim:
        if (s.has_mla()) return contiguous(1);
        if (n != (s.n_heads + 2 * l.kv_heads) * hd)
            return not_modelled("its fused width (" + num(n) +
                                ") is not (heads + 2 x key/value heads) x head_dim");
        if (parts == fused_layout::concatenated) {
            slice_piece q = heads_of_rank(s.n_heads, tp, tp_rank),
                        kv = heads_of_rank(l.kv_heads, tp, tp_rank);
            r.pieces = {
                {q.start * hd,                             q.length * hd },
                {(s.n_heads + kv.start) * hd,              kv.length * hd},
                {(s.n_heads + l.kv_heads + kv.start) * hd, kv.length * hd},
            };
            break;
        }
        if (parts == fused_layout::interleaved && l.kv_heads == s.n_heads) return contiguous(3 * hd);
        return not_modelled("the layout of its fused query, key and value heads is not known");
    case dim::ffn_x2:
    case dim::expert_ffn_x2:
    case dim::shared_ffn_x2: return halves(2);
    case dim::q_dim_x2: return halves(2 * hd);
    case dim::ssm_in_proj:
        if (parts == fused_layout::concatenated && n == 2 * s.ssm_inner) return halves(2); // Mamba-1: x | z
        return not_modelled("it fuses z, x, B, C and dt");
    case dim::ssm_conv_dim:
        if (n == s.ssm_inner) return contiguous(1); // one channel per inner channel (Mamba-1)
        return not_modelled("its convolution runs over x, B and C together");
    case dim::hidden_x3:
        // LFM2's short-convolution in_proj, [B; C; x]: the rank's share of each part.
        if (parts == fused_layout::concatenated && n % (3 * tp) == 0) {
            r.pieces = share_of_each_part(n, 3, tp, tp_rank);
            break;
        }
        return not_modelled("it fuses the short convolution's B, C and x");
    case dim::ssm_heads_x2: return not_modelled("it fuses b and a, grouped by key heads");
    default: return contiguous(1);
    }
    return std::nullopt;
}

// The slice, checked against the plan's rank shape so that the two can never disagree silently.
result<rank_slice> slice_of(const model_spec& s, const tensor_info& t, uint64_t tp, uint64_t tp_rank,
                            const layout& l) {
    rank_slice r;
    r.rank_shape = rank_shape_of(s, t, tp, l.p, r.how);
    if (auto e = slice_pieces(s, t, tp, tp_rank, l, r)) return *e;
    uint64_t taken = r.pad;
    for (const slice_piece& piece : r.pieces) taken += piece.length;
    const uint64_t expected = r.axis < 0 ? 0 : r.rank_shape[r.axis];
    if (r.axis >= 0 && taken != expected)
        return make_error(error_code::unsupported,
                          t.name + ": the slice takes " + num(taken) + " indices of dim " +
                              num(static_cast<uint64_t>(r.axis)) + ", the plan's rank shape " + num(expected),
                          "tp");
    return r;
}

} // namespace

result<parallel_plan> plan_parallel(const analysis& a, const workload& w, uint64_t tp, uint64_t pp,
                                    const std::vector<device_budget>& gpus) {
    const model_spec& s = a.spec;
    auto l = lay_out(a, w, tp, pp, gpus);
    if (!l) return l.err();
    parallel_plan& p = l->p;
    auto plan = plan_memory(a, w);
    if (!plan) return plan.err();
    p.plan = *plan;
    std::vector<uint64_t> stage_weights =
        split_weights(a, w, l->stage_of_layer, plan->weight_bytes_by_tensor, p);
    std::vector<uint64_t> stage_kv =
        kv_per_stage(s, *plan, l->loaded_layers, l->stage_of_layer, l->kv_heads, p);
    std::vector<uint64_t> stage_state = state_per_stage(s, w, *plan, l->loaded_layers, l->stage_of_layer, p);
    add_ranks(gpus, stage_weights, stage_kv, stage_state, runtime_per_rank(s, plan->bytes, tp), p);
    return std::move(p);
}

result<std::vector<rank_slice>> rank_slices(const analysis& a, uint64_t tp, uint64_t pp, uint64_t rank) {
    const workload w; // inference, as plan_parallel is asked for by default
    auto l = lay_out(a, w, tp, pp, {});
    if (!l) return l.err();
    if (rank >= tp * pp)
        return make_error(error_code::out_of_range,
                          "rank: expected 0 to " + num(tp * pp - 1) + " (tp " + num(tp) + " x pp " + num(pp) +
                              "), got " + num(rank),
                          "rank");
    const uint64_t stage = rank / tp, tp_rank = rank % tp;
    const std::vector<uint64_t> stages = stage_of_tensors(a, w, l->stage_of_layer, pp);
    const bool embedding_copy = stage == pp - 1 && last_stage_copies_embeddings(a, w, pp);
    std::vector<rank_slice> slices;
    slices.reserve(a.sk.tensors.size());
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        const bool held = stages[i] == stage || (embedding_copy && t.what == role::embed);
        if (!held) {
            rank_slice r;
            r.held = false;
            r.rank_shape = rank_shape_of(a.spec, t, tp, l->p, r.how);
            slices.push_back(std::move(r));
            continue;
        }
        auto r = slice_of(a.spec, t, tp, tp_rank, *l);
        if (!r) return r.err();
        slices.push_back(std::move(*r));
    }
    return slices;
}

} // namespace modelplan
