// SGLang's start-up accounting (docs/serving.md, "SGLang", has every rule with its source):
//   free       = the GPU's free memory after the CUDA context and NCCL, before the weights (the minimum over
//                ranks: ModelRunner's `total_gpu_memory`)
//   rest       = (free - weights) - free x (1 - mem_fraction_static)       (profile_max_num_token)
//   tokens     = rest / cell bytes, rounded down to the page size          ("KV Cache is allocated. #tokens")
//   cell       = key/value heads per rank x (head dim + value head dim) x layers x dtype bytes; MLA's latent
//                (kv_lora_rank + rope dims) x layers x dtype bytes, whole on every rank
// mem_fraction_static's default is SGLang's heuristic of the version planned: a table on the TP size
// (<= 0.4.6), a reserve by GPU memory and parallel size (0.4.7 to 0.5.2), a reserve for the chunked prefill,
// the CUDA graphs and the parallel size (0.5.3 and later).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "modelplan/memory.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"
#include "serve/serve-util.h"
#include "serve/sglang-internal.h"
#include "serve/vllm-internal.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan::sglang {

using sat::add;
using sat::mul;

using serve_util::fail;

namespace {

constexpr double gib = 1073741824.0;
constexpr uint64_t mib = 1ull << 20;

uint64_t gib_bytes(double g) {
    return static_cast<uint64_t>(std::llround(g * gib));
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string gb2(double bytes) { // SGLang's "GB" are GiB (bytes / 2^30), printed with two decimals
    return fixed(bytes / gib, 2);
}

// What the CUDA context takes before SGLang's first reading of free memory: 79.19 GiB (the H100's CUDA total,
// docs/serving.md) less the 78.49 GiB free before loading in a published H100 log ("Load weight end ... avail
// mem=62.08 GB, mem usage=16.41 GB"; models/SOURCES-SERVE.md, SGLang). NCCL at TP > 1 is not added: a TP = 4
// log on L4s shows 21.63 GiB free of an estimated 22.04 GiB total, less than this context alone.
const uint64_t context_bytes = gib_bytes(0.70);

struct version {
    int major = 0, minor = 5, patch = 3;
    bool before(int a, int b, int c) const {
        return major != a ? major < a : minor != b ? minor < b : patch < c;
    }
    std::string text() const { return num(major) + "." + num(minor) + "." + num(patch); }
};

result<version> parse_version(const std::string& given) {
    version v;
    if (given.empty()) return v;
    std::string t = given[0] == 'v' ? given.substr(1) : given;
    int parts[3] = {0, 0, 0};
    int n = 0;
    size_t at = 0;
    while (n < 3 && at < t.size()) {
        size_t end = t.find('.', at);
        std::string part = t.substr(at, end == std::string::npos ? std::string::npos : end - at);
        if (part.empty() || part.size() > 4 || part.find_first_not_of("0123456789") != std::string::npos)
            break;
        parts[n++] = std::stoi(part);
        if (end == std::string::npos) {
            at = t.size();
            break;
        }
        at = end + 1;
    }
    if (n < 2 || at < t.size() || parts[0] != 0 || parts[1] < 3)
        return make_error(
            error_code::unsupported,
            "engine_version: " + quote_value(given) +
                " is not an SGLang version modelled; 0.3 to 0.5 and later are (e.g. 0.4.6, 0.5.3; "
                "default 0.5.3)",
            "engine_version");
    v.major = parts[0];
    v.minor = parts[1];
    v.patch = n == 3 ? parts[2] : (v.minor == 5 ? 3 : 0);
    return v;
}

// server_args.py's defaults from the GPU's memory as nvidia-smi reports it (MiB), the TP and PP sizes.
struct defaults {
    double fraction = 0.88;
    uint64_t chunked_prefill = 8192, graph_max_bs = 160;
    std::string rule;
};

defaults defaults_for(const version& v, uint64_t gpu_mib, uint64_t tp, uint64_t pp) {
    defaults d;
    const double g = static_cast<double>(gpu_mib);
    const double giB = 1024.0;
    if (v.before(0, 4, 7)) {
        // The table on the TP size only (0.88 / 0.87 / 0.85 / 0.81 / 0.79); 2,048 prefill tokens and CUDA
        // graphs up to batch 8 on GPUs under 25,000 MiB.
        d.fraction = tp >= 16 ? 0.79 : tp >= 8 ? 0.81 : tp >= 4 ? 0.85 : tp >= 2 ? 0.87 : 0.88;
        d.chunked_prefill = gpu_mib < 25000 ? 2048 : 8192;
        d.graph_max_bs = gpu_mib < 25000 ? 8 : 160;
        d.rule = "SGLang <= 0.4.6's table on --tp-size";
        return d;
    }
    const double par = static_cast<double>(tp * pp);
    double reserved = 0;
    if (v.before(0, 5, 3)) {
        // PR #7054: a reserve by GPU memory and parallel size.
        reserved = g < 35 * giB    ? (2.8 + par / 10) * giB
                   : g < 90 * giB  ? (9.5 + par / 2) * giB
                   : g < 160 * giB ? (12 + par / 2) * giB
                                   : 32 * giB;
        d.chunked_prefill = g < 35 * giB ? 2048 : g < 160 * giB ? 8192 : 16384;
        d.graph_max_bs = g < 35 * giB ? (tp < 4 ? 8 : 80) : g > 80 * 1000 ? 256 : 160;
        d.rule = "SGLang 0.4.7-0.5.2's reserve (PR #7054): " + fixed(reserved, 0) + " MiB";
    } else {
        // PR #10975: the chunked prefill and CUDA-graph batch by GPU memory, then a reserve for them.
        const bool small_tp = tp < 4;
        if (g < 20 * giB)
            d.chunked_prefill = 2048, d.graph_max_bs = 8;
        else if (g < 35 * giB)
            d.chunked_prefill = 2048, d.graph_max_bs = small_tp ? 24 : 80;
        else if (g < 60 * giB)
            d.chunked_prefill = 4096, d.graph_max_bs = small_tp ? 32 : 160;
        else if (g < 160 * giB)
            d.chunked_prefill = 8192, d.graph_max_bs = small_tp ? 256 : 512;
        else
            d.chunked_prefill = 16384, d.graph_max_bs = 512;
        reserved = 512 + static_cast<double>(std::max<uint64_t>(d.chunked_prefill, 2048)) * 1.5 +
                   static_cast<double>(d.graph_max_bs) * 2 + par / 8 * 1024;
        if (g > 60 * giB) reserved = std::max(reserved, 10.0 * giB);
        d.rule = "SGLang >= 0.5.3's reserve (PR #10975): " + fixed(reserved, 0) + " MiB";
    }
    d.fraction = std::round((g - reserved) / g * 1000.0) / 1000.0;
    return d;
}

// Bytes one token takes on a rank, every layer (get_cell_size_per_token), with the sliding-window layers'
// share apart for the hybrid pool.
struct cell {
    uint64_t bytes = 0, full = 0, swa = 0; // swa: the sliding-window layers' part of `bytes`
    uint64_t full_layers = 0, swa_layers = 0;
    uint64_t k_bytes = 0; // the keys' part (the log's "K size"); MLA: the whole latent
    bool mla = false;
};

cell cell_of(const model_spec& s, dtype kv, uint64_t tp) {
    cell c;
    const uint64_t heads = s.n_kv_heads ? s.n_kv_heads : s.n_heads;
    const uint64_t per_rank = heads >= tp ? heads / tp : 1; // get_num_kv_heads: max(1, heads / tp)
    for (uint64_t il = 0; il < s.layers.size(); ++il) {
        if (s.layers[il].stack != layer_stack::decoder) continue;
        uint64_t per_token = kv_bytes_per_token_in_layer(s, il, kv);
        if (!per_token) continue;
        const layer_spec& l = s.layers[il];
        if (l.attn == attn_kind::mla) {
            c.mla = true;
            c.k_bytes = add(c.k_bytes, per_token);
        } else {
            if (heads) per_token = per_token / heads * per_rank;
            c.k_bytes = add(c.k_bytes, per_token / 2);
        }
        c.bytes = add(c.bytes, per_token);
        if (l.attn == attn_kind::sliding || l.attn == attn_kind::chunked) {
            c.swa = add(c.swa, per_token);
            ++c.swa_layers;
        } else {
            c.full = add(c.full, per_token);
            ++c.full_layers;
        }
    }
    return c;
}

dtype kv_dtype_of(const model_spec& s, const std::string& name) {
    if (name == "fp8_e4m3") return dtype::f8_e4m3;
    if (name == "fp8_e5m2") return dtype::f8_e5m2;
    return compute_dtype(s.weight_dtype);
}

std::string torch_dtype_name(dtype d) {
    switch (d) {
    case dtype::f16: return "torch.float16";
    case dtype::f32: return "torch.float32";
    default: return "torch.bfloat16";
    }
}

} // namespace

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu) {
    const model_spec& s = a.spec;
    const sglang_options& o = r.sglang;
    knobs k;
    auto v = parse_version(r.engine_version);
    if (!v) return v.err();
    k.version = v->text();
    k.tp = o.tp_size;
    if (k.tp == 0 || k.tp > 1024)
        return make_error(error_code::out_of_range, "tp_size: expected 1 to 1024, got " + num(k.tp),
                          "tp_size");
    if (r.gpus && r.gpus < k.tp)
        return make_error(error_code::bad_request,
                          "gpus: --tp-size " + num(k.tp) + " needs " + num(k.tp) + " GPUs, " + num(r.gpus) +
                              " given",
                          "gpus");
    bool attention = false;
    for (const auto& l : s.layers)
        attention = attention || (l.stack == layer_stack::decoder && !(l.switches & sw_no_kv_cache) &&
                                  kv_bytes_per_token_in_layer(s, static_cast<uint64_t>(&l - &s.layers[0]),
                                                              dtype::bf16) > 0);
    if (!attention)
        return make_error(error_code::unsupported,
                          "engine: " + s.architecture +
                              " has no decoder attention layers; SGLang's KV-pool accounting does not apply",
                          "engine");
    // The attention layers assert total_num_heads % tp_size == 0.
    if (s.n_heads % k.tp != 0)
        return make_error(error_code::not_divisible,
                          "tp_size: the attention heads (" + num(s.n_heads) + ") are not divisible by " +
                              num(k.tp) +
                              " (SGLang's attention layers assert that every rank gets whole heads)",
                          "tp_size");
    if (s.vocab && ((s.vocab + 63) / 64 * 64) % k.tp != 0)
        return make_error(error_code::not_divisible,
                          "tp_size: the vocabulary padded to a multiple of 64 (" +
                              num((s.vocab + 63) / 64 * 64) + ") is not divisible by " + num(k.tp),
                          "tp_size");
    k.kv_cache_dtype = o.kv_cache_dtype.empty() ? "auto" : o.kv_cache_dtype;
    if (k.kv_cache_dtype != "auto" && k.kv_cache_dtype != "fp8_e5m2" && k.kv_cache_dtype != "fp8_e4m3")
        return make_error(error_code::unknown_dtype,
                          "kv_cache_dtype: SGLang takes auto, fp8_e5m2 or fp8_e4m3, got \"" +
                              k.kv_cache_dtype + "\"",
                          "kv_cache_dtype");
    if (o.page_size == 0 || o.page_size > 4096)
        return make_error(error_code::out_of_range, "page_size: expected 1 to 4096, got " + num(o.page_size),
                          "page_size");
    k.page_size = o.page_size;
    // ModelConfig's context length: the config's, longer only with SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN.
    const uint64_t derived = vllm::max_len_of(s);
    if (o.context_length) {
        if (*o.context_length == 0)
            return make_error(error_code::out_of_range, "context_length: must be at least 1, got 0",
                              "context_length");
        if (derived && *o.context_length > derived)
            return make_error(
                error_code::out_of_range,
                "context_length: User-specified context_length (" + num(*o.context_length) +
                    ") is greater than the derived context_length (" + num(derived) +
                    "). SGLang refuses it unless SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1, and "
                    "outputs may be wrong",
                "context_length");
        k.context_length = *o.context_length;
    } else {
        if (!derived)
            return make_error(error_code::missing_key,
                              "context_length: the config gives no max_position_embeddings; name the context",
                              "context_length");
        k.context_length = derived;
    }
    const uint64_t gpu_mib = gpu.memory_bytes() / mib;
    defaults d = defaults_for(*v, gpu_mib, k.tp, 1);
    k.fraction_given = o.mem_fraction_static.has_value();
    k.fraction = o.mem_fraction_static ? *o.mem_fraction_static : d.fraction;
    k.fraction_rule = k.fraction_given ? "given" : d.rule;
    if (!(k.fraction > 0.0 && k.fraction < 1.0))
        return make_error(error_code::out_of_range,
                          "mem_fraction_static: SGLang takes a fraction of the free memory in (0, 1), got " +
                              fixed(k.fraction, 3),
                          "mem_fraction_static");
    k.chunked_prefill_size = o.chunked_prefill_size ? *o.chunked_prefill_size : d.chunked_prefill;
    k.cuda_graph_max_bs = o.cuda_graph_max_bs ? *o.cuda_graph_max_bs : d.graph_max_bs;
    k.max_running_requests = o.max_running_requests;
    if (k.max_running_requests && *k.max_running_requests == 0)
        return make_error(error_code::out_of_range, "max_running_requests: must be at least 1, got 0",
                          "max_running_requests");
    k.disable_cuda_graph = o.disable_cuda_graph;
    k.quantization = o.quantization;
    k.dtype = o.dtype;
    k.free_memory = o.free_memory;
    return k;
}

result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k) {
    (void)r;
    const model_spec& s = a.spec;
    serve_plan p;
    p.engine = "sglang";
    p.engine_version = k.version;
    p.gpu = gpu.key;
    p.tp = k.tp;
    p.pp = 1;
    p.max_model_len = k.context_length;
    p.block_size = k.page_size;
    p.kv_cache_dtype = k.kv_cache_dtype;
    p.quantization = k.quantization;
    p.dtype = k.dtype;
    p.mem_fraction_static = k.fraction;
    p.chunked_prefill_size = k.chunked_prefill_size;
    p.cuda_graph_max_bs = k.disable_cuda_graph ? 0 : k.cuda_graph_max_bs;
    p.disable_cuda_graph = k.disable_cuda_graph;
    p.starts = true;

    auto quant = vllm::weight_quant(s, k.quantization, "SGLang");
    if (!quant) return quant.err();
    auto sw = vllm::weights_by_stage(a, *quant, k.tp, 1);
    if (!sw) {
        error e = sw.err();
        if (e.path == "tensor_parallel_size") {
            e.path = "tp_size";
            if (e.message.rfind("tensor_parallel_size:", 0) == 0)
                e.message = "tp_size" + e.message.substr(20);
        }
        return e;
    }
    const uint64_t weights = sw->bytes[0];

    bool total_measured = false;
    const uint64_t total = vllm::cuda_total_bytes(gpu, &total_measured);
    const uint64_t init = context_bytes;
    uint64_t free = k.free_memory ? *k.free_memory : (total > init ? total - init : 0);
    p.free_bytes = free;
    p.free_given = k.free_memory.has_value();

    // profile_max_num_token, in bytes: (free - weights) - free x (1 - fraction).
    const double rest = static_cast<double>(free) * k.fraction - static_cast<double>(weights);
    const cell c = cell_of(s, kv_dtype_of(s, k.kv_cache_dtype), k.tp);
    uint64_t tokens = 0;
    if (rest > 0 && c.bytes) tokens = static_cast<uint64_t>(std::floor(rest / static_cast<double>(c.bytes)));
    // A sliding-window hybrid: the same memory split into full-layer and window-layer tokens
    // (set_num_tokens_hybrid_swa, --swa-full-tokens-ratio 0.8); the full layers' count is the pool's.
    const double swa_ratio = 0.8;
    uint64_t full_tokens = tokens;
    if (c.swa && c.full && tokens) {
        double scale = (static_cast<double>(c.full) + static_cast<double>(c.swa)) /
                       (static_cast<double>(c.full) + swa_ratio * static_cast<double>(c.swa));
        full_tokens = static_cast<uint64_t>(static_cast<double>(tokens) * scale);
    }
    full_tokens = full_tokens / k.page_size * k.page_size;
    p.kv_tokens = full_tokens;
    p.kv_bytes_per_token = c.bytes;
    p.num_gpu_blocks = full_tokens / k.page_size;
    // The request pool (init_memory_pool): --max-running-requests, else clamp(tokens / context x 512, 2048,
    // 4096); the scheduler runs at most min(tokens / 2, pool) requests.
    uint64_t pool =
        k.max_running_requests
            ? *k.max_running_requests
            : std::min<uint64_t>(
                  std::max<uint64_t>(static_cast<uint64_t>(static_cast<double>(full_tokens) /
                                                           static_cast<double>(k.context_length) * 512),
                                     2048),
                  4096);
    p.req_pool_size = pool;
    p.max_running_requests =
        std::min<uint64_t>(k.max_running_requests ? *k.max_running_requests : full_tokens / 2, pool);
    p.max_num_seqs = p.max_running_requests;
    p.max_num_batched_tokens = k.chunked_prefill_size;
    p.max_concurrency = static_cast<double>(full_tokens) / static_cast<double>(k.context_length);

    // What SGLang's own reserve heuristic (PR #10975) sets aside for the memory after the static part: 1.5
    // MiB per chunked-prefill token for the prefill's activations, 2 MiB per CUDA-graph batch size, the
    // request pool (int32 token slots of context + 4 per request).
    const uint64_t activations = mul(std::max<uint64_t>(k.chunked_prefill_size, 2048), 3 * mib / 2);
    const uint64_t graphs = k.disable_cuda_graph ? 0 : mul(k.cuda_graph_max_bs, 2 * mib);
    const int64_t kv = static_cast<int64_t>(std::floor(rest));

    for (uint64_t t = 0; t < k.tp; ++t) {
        serve_rank rank;
        rank.name = "cuda:" + num(t);
        rank.tp_rank = t;
        rank.first_layer = sw->layers[0].first;
        rank.last_layer = sw->layers[0].second;
        rank.total_bytes = total;
        rank.total_measured = total_measured;
        rank.requested_bytes = static_cast<uint64_t>(static_cast<double>(free) * k.fraction);
        rank.weights_bytes = weights;
        rank.non_torch_bytes = total > free ? total - free : 0;
        rank.activation_peak_bytes = activations;
        rank.cudagraph_bytes = graphs;
        rank.cudagraph_in_budget = false;
        rank.kv_cache_bytes = kv;
        rank.num_blocks = p.num_gpu_blocks;
        p.ranks.push_back(rank);
    }
    serve_kv_group g;
    g.kind = c.mla ? "mla" : c.swa ? "hybrid_swa" : "full";
    g.layers = c.full_layers + c.swa_layers;
    g.page_bytes = mul(c.bytes, k.page_size);
    g.blocks_per_request = (k.context_length + k.page_size - 1) / k.page_size;
    p.groups.push_back(g);

    // The verdict, in the order SGLang meets the failures.
    if (k.dtype == "bfloat16" && !gpu.bf16)
        fail(p, "bfloat16 needs compute capability 8.0; the " + std::string(gpu.name) + " has " +
                    gpu.compute + " (SGLang picks float16 there by itself with --dtype auto)");
    if (weights > free)
        fail(p, "CUDA out of memory while loading the weights: " + gb2(static_cast<double>(weights)) +
                    " GiB per GPU, " + gb2(static_cast<double>(free)) + " GiB free");
    if (full_tokens == 0)
        fail(p, "Not enough memory. Please try to increase --mem-fraction-static. Current value: "
                "server_args.mem_fraction_static=" +
                    fixed(k.fraction, 3));
    return p;
}

// The lines SGLang logs at start-up (model_runner, memory_pool, scheduler), with the plan's figures.
std::vector<std::string> log_lines(const analysis& a, const serve_plan& p) {
    std::vector<std::string> lines;
    if (p.ranks.empty()) return lines;
    const serve_rank& r = p.ranks[0];
    const double free = static_cast<double>(p.free_bytes);
    const double w = static_cast<double>(r.weights_bytes);
    lines.push_back("Load weight begin. avail mem=" + gb2(free) + " GB");
    lines.push_back("Load weight end. type=" + a.spec.architecture +
                    ", dtype=" + torch_dtype_name(compute_dtype(a.spec.weight_dtype)) +
                    ", avail mem=" + gb2(free - w) + " GB, mem usage=" + gb2(w) + " GB.");
    if (!p.starts) return lines;
    // The buffers hold tokens + page_size rows (slot 0 is padding).
    const auto rows = static_cast<double>(p.kv_tokens + p.block_size);
    const cell c = cell_of(a.spec, kv_dtype_of(a.spec, p.kv_cache_dtype), p.tp);
    if (c.mla)
        lines.push_back("KV Cache is allocated. #tokens: " + num(p.kv_tokens) +
                        ", KV size: " + gb2(rows * static_cast<double>(c.bytes)) + " GB");
    else
        lines.push_back("KV Cache is allocated. #tokens: " + num(p.kv_tokens) +
                        ", K size: " + gb2(rows * static_cast<double>(c.k_bytes)) +
                        " GB, V size: " + gb2(rows * static_cast<double>(c.bytes - c.k_bytes)) + " GB");
    lines.push_back("max_total_num_tokens=" + num(p.kv_tokens) +
                    ", chunked_prefill_size=" + num(p.chunked_prefill_size) +
                    ", max_prefill_tokens=16384, max_running_requests=" + num(p.max_running_requests) +
                    ", context_len=" + num(p.max_model_len));
    return lines;
}

std::vector<std::string> notes(const analysis& a, const serve_plan& p, const knobs& k) {
    std::vector<std::string> out;
    out.push_back("mem_fraction_static " + fixed(p.mem_fraction_static, 3) + ": " + k.fraction_rule +
                  (k.fraction_given ? "" : " (nvidia-smi's " + num(gpu_mib_of(p)) + " MiB)"));
    if (p.free_given)
        out.push_back("free memory before loading: as given (" + gb2(static_cast<double>(p.free_bytes)) +
                      " GiB per GPU)");
    else
        out.push_back(
            "free memory before loading: the CUDA total less 0.70 GiB for the CUDA context (from a "
            "published H100 log); SGLang sizes the pool from the free memory, so memory other processes "
            "hold shrinks it (--free-memory gives it)");
    if (!p.ranks.empty() && !p.ranks[0].total_measured)
        out.push_back(
            "total_bytes: estimated as nvidia-smi's total less 470 MiB; no published log gives this "
            "GPU's CUDA total");
    if (!p.ranks.empty() && p.starts) {
        const serve_rank& r = p.ranks[0];
        const uint64_t slack = p.free_bytes - std::min(p.free_bytes, r.requested_bytes);
        const uint64_t req_pool = mul(mul(p.req_pool_size, add(p.max_model_len, 4)), 4);
        // Allocated for certain after the static part: the request pool and the CUDA graphs (SGLang's 2 MiB
        // per batch size), and its 512 MiB base.
        const uint64_t needed = add(add(r.cudagraph_bytes, req_pool), 512 * mib);
        out.push_back(
            "outside the static fraction: " + gb2(static_cast<double>(slack)) +
            " GiB per GPU for the request pool (" + gb2(static_cast<double>(req_pool)) +
            " GiB), the CUDA graphs and the prefill's activations (SGLang's reserve heuristic allows " +
            gb2(static_cast<double>(r.activation_peak_bytes + r.cudagraph_bytes)) + " GiB for the last two)" +
            (slack < needed ? "; less than the request pool, the graphs and 512 MiB: it will likely run out "
                              "of memory capturing the CUDA graphs (lower --mem-fraction-static)"
                            : ""));
    }
    if (p.starts && p.kv_tokens < p.max_model_len)
        out.push_back("the pool holds " + num(p.kv_tokens) +
                      " tokens, fewer than one request of context_len " + num(p.max_model_len) +
                      ": such a request cannot be admitted whole");
    if (!p.groups.empty() && p.groups[0].kind == "hybrid_swa")
        out.push_back("sliding-window layers: SGLang's hybrid pool (--swa-full-tokens-ratio 0.8) splits the "
                      "memory between full and window layers; the tokens given are the full layers'");
    for (const auto& l : a.spec.layers)
        if (l.stack == layer_stack::decoder && (l.switches & sw_no_kv_cache)) {
            out.push_back("layers without a KV cache (state-space or linear attention): SGLang's Mamba state "
                          "pool takes a share of the memory first; not modelled");
            break;
        }
    return out;
}

uint64_t gpu_mib_of(const serve_plan& p) {
    auto g = find_gpu(p.gpu);
    return g ? g->memory_bytes() / mib : 0;
}

std::string command(const analysis& a, const serve_plan& p, const knobs& k) {
    auto preset = find_preset(a.model);
    std::string c = "python -m sglang.launch_server --model-path " + (preset ? preset->repo : a.model);
    c += " --tp-size " + num(p.tp);
    c += " --mem-fraction-static " + fixed(p.mem_fraction_static, 3);
    c += " --context-length " + num(p.max_model_len);
    if (p.kv_cache_dtype != "auto") c += " --kv-cache-dtype " + p.kv_cache_dtype;
    if (p.block_size != 1) c += " --page-size " + num(p.block_size);
    c += " --chunked-prefill-size " + num(p.chunked_prefill_size);
    if (k.max_running_requests) c += " --max-running-requests " + num(*k.max_running_requests);
    if (p.disable_cuda_graph)
        c += " --disable-cuda-graph";
    else
        c += " --cuda-graph-max-bs " + num(p.cuda_graph_max_bs);
    if (!p.quantization.empty()) c += " --quantization " + p.quantization;
    if (!p.dtype.empty() && p.dtype != "auto") c += " --dtype " + p.dtype;
    return c;
}

std::vector<std::string> fixes(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k,
                               const serve_plan& failed) {
    std::vector<serve_util::attempt> tries;
    if (failed.error.rfind("Not enough memory", 0) == 0 && failed.free_bytes) {
        // The fraction that leaves room for one context_length request, rounded up to 0.01.
        const double one =
            static_cast<double>(failed.kv_bytes_per_token) * static_cast<double>(k.context_length);
        const double f = std::ceil((static_cast<double>(failed.ranks[0].weights_bytes) + one) /
                                   static_cast<double>(failed.free_bytes) * 100.0) /
                         100.0;
        if (f < 0.99) {
            serve_request t = r;
            t.sglang.mem_fraction_static = f;
            tries.push_back({t, "--mem-fraction-static " + fixed(f, 2)});
        }
    }
    if (k.kv_cache_dtype == "auto" && failed.error.rfind("Not enough memory", 0) == 0) {
        serve_request t = r;
        t.sglang.kv_cache_dtype = "fp8_e4m3";
        tries.push_back({t, "--kv-cache-dtype fp8_e4m3"});
    }
    for (uint64_t tp = k.tp + 1; tp <= 64; ++tp) {
        serve_request t = r;
        t.sglang.tp_size = tp;
        t.gpus = 0;
        auto kk = resolve(a, t, gpu);
        if (!kk) continue;
        auto again = plan_once(a, t, gpu, *kk);
        if (!again || !again->starts) continue;
        tries.push_back({t, "--tp-size " + num(tp)});
        break;
    }
    return serve_util::fixes_that_start(tries, [&](const serve_request& t) -> result<serve_plan> {
        auto kk = resolve(a, t, gpu);
        if (!kk) return kk.err();
        return plan_once(a, t, gpu, *kk);
    });
}

} // namespace modelplan::sglang
