// vLLM's start-up accounting, V1 engine, 0.10 to 0.21 (docs/serving.md has every figure with its source; what
// differs between versions is in the version rules below, "versions"):
//   requested    = total x gpu_memory_utilization              (gpu_worker: "worker requested memory")
//   KV memory    = requested - weights - torch peak increase - non-torch increase
//   blocks       = KV memory / (page bytes x layers per group)  (kv_cache_utils, the hybrid allocator)
//   tokens       = blocks / groups x block_size                 ("GPU KV cache size")
//   concurrency  = blocks / blocks one max_model_len request needs in every group
// Weights and the KV page sizes follow vLLM's rules exactly; the profiling run's peak, the non-torch memory
// and the CUDA-graph pool are measured by vLLM, so here they are estimates from published start-up logs.
#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "modelplan/placement.h"
#include "modelplan/text.h"
#include "serve/serve-util.h"
#include "serve/vllm-internal.h"
#include "util/json-util.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan::vllm {

using sat::add;
using sat::ceil_div;
using sat::mul;

using serve_util::fail;
using serve_util::signed_bytes;

namespace {

constexpr uint64_t mib = 1ull << 20;
constexpr double gib = 1073741824.0;

uint64_t gib_bytes(double g) {
    return static_cast<uint64_t>(std::llround(g * gib));
}

// What the CUDA context and the worker's start take before vLLM's first snapshot: "worker init memory
// snapshot: ... cuda_memory=0.51GiB" on an H100 (llm-d-planner v0.19.0 logs). The start-up check compares the
// requested memory with what is free after it.
const uint64_t init_context_bytes = gib_bytes(0.51);

// ---- the knobs -----------------------------------------------------------------------------------------

std::string fixed2(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

std::string gib2(int64_t bytes) {
    return fixed2(static_cast<double>(bytes) / gib);
}

} // namespace

// The weight format the plan uses: the checkpoint's quantization_config, or the engine's online fp8.
result<std::string> weight_quant(const model_spec& s, const std::string& quantization, const char* engine) {
    if (quantization.empty()) return std::string();
    if (!s.quantization_config.empty()) return std::string(); // the engine reads the checkpoint's own format
    if (quantization == "fp8") return std::string("fp8");     // per-tensor e4m3 scales, computed at load
    return make_error(
        error_code::unsupported,
        "quantization: " + quantization +
            " needs a checkpoint quantized that way (config.json has no quantization_config); " + engine +
            " quantizes a 16-bit checkpoint online with fp8",
        "quantization");
}

namespace {

// vLLM's derived max_model_len: max_position_embeddings, scaled by rope_scaling's factor for the types vLLM
// scales (not llama3 or longrope, whose max_position_embeddings already is the extended length).
bool is_gemma3(const model_spec& s) {
    return s.model_type.rfind("gemma3", 0) == 0;
}

uint64_t derived_max_len(const model_spec& s) {
    const std::string& t = s.rope.scaling_type;
    // Gemma 3's max_position_embeddings already is the scaled length (vLLM skips it by model type).
    bool scales =
        !t.empty() && t != "llama3" && t != "longrope" && t != "su" && t != "default" && !is_gemma3(s);
    if (scales && s.rope.scaling_factor > 1.0)
        return static_cast<uint64_t>(static_cast<double>(s.max_positions) * s.rope.scaling_factor);
    return s.max_positions;
}

uint64_t pad_to(uint64_t v, uint64_t m) {
    return ceil_div(v, m) * m;
}

bool has_decoder_attention(const model_spec& s) {
    for (uint64_t il = 0; il < s.layers.size(); ++il)
        if (kv_bytes_per_token_in_layer(s, il, dtype::bf16)) return true;
    return false;
}

// ---- weights ------------------------------------------------------------------------------------------

// vLLM pads the vocabulary of the embedding and the output head to a multiple of 64, then splits it evenly
// (VocabParallelEmbedding: pad_vocab_size, vocab_range_from_global_vocab_size). What that adds on top of the
// parallel plan's ceil(vocab / T) rows, per stage.
void add_vocab_padding(const analysis& a, const parallel_plan& p, std::vector<uint64_t>& stage_weights) {
    const model_spec& s = a.spec;
    if (!s.vocab) return;
    uint64_t vllm_rows = pad_to(s.vocab, 64) / p.tp;
    uint64_t our_rows = p.tp == 1 ? s.vocab : ceil_div(s.vocab, p.tp);
    if (vllm_rows <= our_rows) return;
    bool head_seen = false;
    uint64_t embed_delta = 0;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if ((t.what != role::embed && t.what != role::lm_head) || t.shape.empty() || t.shape[0] != s.vocab)
            continue;
        uint64_t bytes = p.plan.weight_bytes_by_tensor[i];
        uint64_t delta = mul(vllm_rows - our_rows, bytes / s.vocab);
        uint64_t stage = t.what == role::lm_head ? p.pp - 1 : 0;
        if (t.what == role::lm_head)
            head_seen = true;
        else
            embed_delta = add(embed_delta, delta);
        stage_weights[stage] = add(stage_weights[stage], delta);
    }
    if (!head_seen && s.tie_embeddings() && p.pp > 1)
        stage_weights[p.pp - 1] = add(stage_weights[p.pp - 1], embed_delta);
}

// vLLM shards a vision tower's linear layers across the tensor-parallel ranks as it does the decoder's
// (QKVParallelLinear, Column/RowParallelLinear in its SigLIP and Llama 4 vision encoders); the parallel plan
// keeps them whole on every rank. What that takes off each stage: (1 - 1/T) of every 2-D weight in a vision
// layer.
void shard_vision_layers(const analysis& a, const parallel_plan& p, std::vector<uint64_t>& stage_weights) {
    const model_spec& s = a.spec;
    if (p.tp == 1) return;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (t.layer == no_index || t.shape.size() != 2) continue;
        uint64_t il = static_cast<uint64_t>(t.layer);
        if (il >= s.layers.size() || s.layers[il].stack != layer_stack::vision) continue;
        uint64_t bytes = p.plan.weight_bytes_by_tensor[i];
        uint64_t kept = ceil_div(bytes, p.tp);
        for (uint64_t st = 0; st < p.pp; ++st)
            if (il >= p.stage_layers[st].first && il <= p.stage_layers[st].second)
                stage_weights[st] -= std::min(stage_weights[st], bytes - kept);
    }
}

// vLLM's rotary cos/sin caches, on every rank in the model's dtype: max_position_embeddings x rotary dims,
// times the factor for linear and dynamic scaling (their caches cover the scaled length); Gemma 3 keeps a
// second, unscaled cache for its sliding-window layers (rope_local_base_freq).
uint64_t rope_cache_bytes(const model_spec& s) {
    if (!s.rope.rotary_dim || !s.max_positions) return 0;
    const uint64_t per_position = mul(s.rope.rotary_dim, dtype_bytes(compute_dtype(s.weight_dtype)));
    const std::string& t = s.rope.scaling_type;
    double factor =
        (t == "linear" || t == "dynamic") && s.rope.scaling_factor > 1.0 ? s.rope.scaling_factor : 1.0;
    uint64_t positions = static_cast<uint64_t>(static_cast<double>(s.max_positions) * factor);
    uint64_t bytes = mul(positions, per_position);
    if (is_gemma3(s)) bytes = add(bytes, mul(s.max_positions, per_position));
    return bytes;
}

// ---- memory vLLM measures: estimates from published logs ---------------------------------------------

// "non-torch forward increase memory" (llm-d-planner v0.19.0 logs, H100): 0.24-0.27 GiB at T = 1, 2.06-2.07
// at T = 2, 2.13-2.21 at T = 4 (NCCL and custom all-reduce buffers), 0.07 with pipeline stages only. 0.18
// logged the same 0.25 at T = 1 (Qwen3-14B, llm-d-planner's version sweep). Before 0.18 the figure is
// smaller (version_rules below): at T = 1, 0.13-0.14 GiB on an H100 (0.11, 0.15, 0.16 and 0.17 logs) and
// 0.02 on an L40S (a 0.10 log; an A100's 0.10.1.1 logs leave about 0 for it); at T = 2, 1.38 on H200s
// (0.10.2) and 0.12 on A100s (0.10.1.1, from the log's own arithmetic). No pre-0.18 log with pipeline
// stages only: the T = 1 figure.
// V0 with tensor parallelism logs more "Loading model weights took" than the tensors hold: 0.19 GiB for
// Qwen2.5-32B on two L40S (#15815, 0.7.1) and 0.16 GiB for DeepSeek-R1-Distill-Qwen-14B on two RTX 4090s
// (#13061, 0.7); at T = 1 the logs match the tensors to four decimals (#12330, #10517). What the ranks'
// communication state allocates while loading, counted with the weights (and so taken from the cache); 0.17
// GiB.
const uint64_t v0_parallel_load_bytes = gib_bytes(0.17);

// V0 ("non_torch_memory takes"): 0.10 GiB at T = 1 (A100 40GB, 0.6.6, vllm-project/vllm#12330), 0.30 at
// T = 2 (two L40S, 0.7.1, vllm-project/vllm#15815; two RTX 4090s logged 0.25, #13061).
uint64_t non_torch_bytes(const knobs& k, const gpu_row& gpu) {
    if (k.v0) return k.tp == 1 ? gib_bytes(0.10) : gib_bytes(0.30);
    if (k.early_non_torch) {
        const bool hopper = gpu.compute && std::string(gpu.compute) == "9.0";
        if (k.tp == 1) return hopper ? gib_bytes(0.14) : gib_bytes(0.02);
        return hopper ? gib_bytes(1.38) : gib_bytes(0.12);
    }
    if (k.tp == 1) return k.pp == 1 ? gib_bytes(0.25) : gib_bytes(0.07);
    return k.tp == 2 ? gib_bytes(2.07) : gib_bytes(2.15);
}

// The profiling run's "torch peak memory increase": one forward pass over max_num_batched_tokens tokens and,
// on the last stage, the sampler over min(max_num_seqs, tokens) rows of logits. Fitted on the v0.19.0 logs
// (docs/serving.md): the sampler holds about dtype + 13 bytes per logit (the model-dtype logits and three
// fp32 copies, one more byte), beside the hidden states; a dense forward pass peaks in the MLP (gate, up and
// their product) beside four hidden-sized tensors; fused MoE keeps its per-token-and-expert workspace.
// With pipeline stages, every stage also holds the hidden states and residual it receives or sends, and the
// first one the embedding output beside them: two (three) hidden-sized tensors of max_num_batched_tokens
// (fitted on the P = 2 and P = 4 logs: first stage 1.10 GiB, middle 1.05, last 2.01 for Llama-3.1-8B).
// The sampler's bytes per logit beyond the model dtype's follow the version (k.sampler_bytes_per_logit).
uint64_t activation_peak(const model_spec& s, const knobs& k, uint64_t first, uint64_t last, bool first_stage,
                         bool last_stage) {
    const uint64_t dt = dtype_bytes(compute_dtype(s.weight_dtype));
    const uint64_t n = k.max_num_batched_tokens, seqs = std::min(k.max_num_seqs, n);
    bool dense = false, moe = false;
    for (uint64_t il = first; il <= last && il < s.layers.size(); ++il) {
        if (s.layers[il].stack != layer_stack::decoder) continue;
        (s.is_moe_layer(il) ? moe : dense) = true;
    }
    uint64_t sampler = 0;
    if (last_stage) {
        const double per_logit = static_cast<double>(dt) + k.sampler_bytes_per_logit;
        const uint64_t logits = static_cast<uint64_t>(static_cast<double>(mul(seqs, s.vocab)) * per_logit);
        sampler = add(logits, mul(mul(n, s.hidden), dt));
    }
    uint64_t forward = 0;
    if (dense) forward = mul(mul(n, dt), add(mul(3, ceil_div(s.intermediate, k.tp)), mul(4, s.hidden)));
    uint64_t workspace = 0;
    if (moe)
        workspace = mul(mul(mul(n, s.n_experts_per_tok), dt),
                        add(mul(2, ceil_div(s.expert_intermediate, k.tp)), s.hidden));
    uint64_t pipeline = 0;
    if (k.pp > 1) pipeline = mul(mul(first_stage ? 3 : 2, k.max_num_batched_tokens), mul(s.hidden, dt));
    return add(add(std::max(forward, sampler), workspace), pipeline);
}

// CUDA-graph pool: "Graph capturing finished ... took X GiB" in the v0.19.0 logs runs from 0.5 GiB
// (Llama-3.1-8B at P = 4) to 1.8 GiB (Llama-3.3-70B at T = 2); 0.4 GiB + 16 MiB per layer follows them within
// about 20%.
uint64_t cudagraph_bytes(uint64_t layers) {
    return add(gib_bytes(0.40), mul(16 * mib, layers));
}

// ---- the KV cache: vLLM's specs, groups and blocks ----------------------------------------------------

struct layer_page {
    std::string kind;
    uint64_t window = 0;
    uint64_t page = 0; // block_size tokens of this layer on one rank
};

const char* kind_of(attn_kind a) {
    switch (a) {
    case attn_kind::sliding: return "sliding_window";
    case attn_kind::chunked: return "chunked_local";
    case attn_kind::mla: return "mla";
    default: return "full";
    }
}

dtype kv_dtype_of(const model_spec& s, const knobs& k) {
    if (k.kv_cache_dtype == "fp8" || k.kv_cache_dtype == "fp8_e4m3") return dtype::f8_e4m3;
    if (k.kv_cache_dtype == "fp8_e5m2") return dtype::f8_e5m2;
    if (k.kv_cache_dtype == "bfloat16") return dtype::bf16;
    return compute_dtype(s.weight_dtype);
}

// Layers of [first, last] that cache keys and values, with their page on one rank: MLA's latent whole on
// every rank; other attention by key/value heads per rank (replicated when there are fewer heads than T).
std::vector<layer_page> stage_pages(const model_spec& s, const knobs& k, uint64_t first, uint64_t last) {
    std::vector<layer_page> pages;
    const dtype kv = kv_dtype_of(s, k);
    const uint64_t heads = s.n_kv_heads ? s.n_kv_heads : s.n_heads;
    const uint64_t per_rank = heads >= k.tp ? heads / k.tp : 1;
    for (uint64_t il = first; il <= last && il < s.layers.size(); ++il) {
        uint64_t per_token = kv_bytes_per_token_in_layer(s, il, kv);
        if (!per_token) continue;
        const layer_spec& l = s.layers[il];
        if (l.attn != attn_kind::mla && heads) per_token = per_token / heads * per_rank;
        pages.push_back(
            {kind_of(l.attn), l.attn == attn_kind::full ? 0 : l.window, mul(per_token, k.block_size)});
    }
    return pages;
}

// Blocks one request of `len` tokens holds in a layer of this kind (KVCacheSpec.max_memory_usage_bytes):
// every block of the context for full attention and MLA; the window plus one batch of new tokens, and one
// block more, for a sliding window; the chunk plus one batch for chunked local attention.
uint64_t blocks_per_request(const std::string& kind, uint64_t window, uint64_t len, const knobs& k) {
    if (kind == "sliding_window")
        return ceil_div(std::min(add(window ? window - 1 : 0, k.max_num_batched_tokens), len), k.block_size) +
               1;
    if (kind == "chunked_local")
        return ceil_div(std::min(add(window, k.max_num_batched_tokens), len), k.block_size);
    return ceil_div(len, k.block_size);
}

// Bytes one request of `len` tokens needs on a rank (check_enough_kv_cache_memory).
uint64_t request_bytes(const std::vector<layer_page>& pages, uint64_t len, const knobs& k) {
    uint64_t total = 0;
    for (const auto& p : pages) total = add(total, mul(blocks_per_request(p.kind, p.window, len, k), p.page));
    return total;
}

// The longest context whose one request fits in `available` (estimate_max_model_len: a bisection).
uint64_t estimate_max_len(const std::vector<layer_page>& pages, uint64_t available, const knobs& k) {
    uint64_t lo = 0, hi = k.max_model_len;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (request_bytes(pages, mid, k) <= available)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

// The hybrid allocator (_get_kv_cache_groups_uniform_page_size): layers of one spec form a type; every group
// holds the same number of layers, the smallest type's count (or the largest's when it is under 1.25 times
// the smallest), the last group of a type padded.
std::vector<serve_kv_group> form_groups(const std::vector<layer_page>& pages, const knobs& k) {
    if (pages.empty()) return {};
    // Layers all of one type whose pages differ (a draft model's layers beside the target's, with another
    // head size) form one group whose block holds every layer's page (UniformTypeKVCacheSpecs,
    // kv_cache_interface.py).
    bool one_type = true, one_page = true;
    uint64_t sum = 0;
    for (const auto& p : pages) {
        one_type = one_type && p.kind == pages[0].kind && p.window == pages[0].window;
        one_page = one_page && p.page == pages[0].page;
        sum = add(sum, p.page);
    }
    if (one_type && !one_page) {
        serve_kv_group g;
        g.kind = pages[0].kind;
        g.window = pages[0].window;
        g.layers = pages.size();
        g.page_bytes = pages[0].page;
        g.block_bytes = sum;
        g.blocks_per_request = blocks_per_request(g.kind, g.window, k.max_model_len, k);
        return {g};
    }
    std::vector<std::tuple<std::string, uint64_t, uint64_t>> order;
    std::map<std::tuple<std::string, uint64_t, uint64_t>, uint64_t> counts;
    for (const auto& p : pages) {
        auto key = std::make_tuple(p.kind, p.window, p.page);
        if (counts[key]++ == 0) order.push_back(key);
    }
    if (order.empty()) return {};
    uint64_t smallest = UINT64_MAX, largest = 0;
    for (const auto& [key, n] : counts) smallest = std::min(smallest, n), largest = std::max(largest, n);
    uint64_t group_size =
        static_cast<double>(largest) < 1.25 * static_cast<double>(smallest) ? largest : smallest;
    std::vector<serve_kv_group> groups;
    for (const auto& key : order) {
        const auto& [kind, window, page] = key;
        for (uint64_t g = 0; g < ceil_div(counts[key], group_size); ++g)
            groups.push_back({kind, window, group_size, page, mul(page, group_size),
                              blocks_per_request(kind, window, k.max_model_len, k)});
    }
    return groups;
}

// ---- LoRA ---------------------------------------------------------------------------------------------

// The LoRA buffers vLLM allocates with --enable-lora, on one rank of a stage: for every attention and MLP
// projection of the stage's decoder layers (a weight [out, in]), max_loras slots of A (rank x in) and B (out
// x rank) in the model's dtype, split as the weight is: a column-parallel projection (q, k, v, gate, up)
// keeps A whole and splits B's out; a row-parallel one (o, down) splits A's in and keeps B whole
// (Column/RowParallelLinearWithLoRA.create_lora_weights). Experts, embeddings and the head are not counted.
uint64_t lora_buffer_bytes(const analysis& a, const knobs& k, uint64_t first, uint64_t last) {
    const model_spec& s = a.spec;
    const uint64_t bytes = dtype_bytes(compute_dtype(s.weight_dtype));
    uint64_t total = 0;
    for (const tensor_info& t : a.sk.tensors) {
        if (t.layer == no_index || t.shape.size() != 2) continue;
        const uint64_t il = static_cast<uint64_t>(t.layer);
        if (il < first || il > last || il >= s.layers.size() || s.layers[il].stack != layer_stack::decoder)
            continue;
        const bool column = t.what == role::attn_q || t.what == role::attn_k || t.what == role::attn_v ||
                            t.what == role::attn_qkv || t.what == role::ffn_gate || t.what == role::ffn_up;
        const bool row = t.what == role::attn_o || t.what == role::ffn_down;
        if (!column && !row) continue;
        const uint64_t out = t.shape[0], in = t.shape[1];
        const uint64_t a_elems = mul(k.max_lora_rank, row ? ceil_div(in, k.tp) : in);
        const uint64_t b_elems = mul(column ? ceil_div(out, k.tp) : out, k.max_lora_rank);
        total = add(total, mul(mul(add(a_elems, b_elems), k.max_loras), bytes));
    }
    return total;
}

// ---- the plan ------------------------------------------------------------------------------------------

struct stage_figures {
    uint64_t first = 0, last = 0;
    uint64_t weights = 0, non_torch = 0, activation = 0, graphs = 0, lora = 0, draft = 0;
    int64_t kv = 0;
    std::vector<layer_page> pages;
    std::vector<serve_kv_group> groups;
    uint64_t blocks = 0;
    uint64_t v0_block = 0; // V0: the bytes of one block over every layer
};

} // namespace

// ---- versions ------------------------------------------------------------------------------------------

namespace {

// vLLM's V1 accounting by version range, each row what differs from 0.19's (the figures above). The sources
// are published start-up logs, since the profiling run's peak and the non-torch memory are measured:
// - 0.10-0.11: the sampler as 0.19's (Llama-3.2-1B on an L40S, 0.10: 0.45 GiB over 256 rows; Qwen2-7B on A100
//   80GB, 0.10.1.1, dennislee22/vLLM-benchmarking), the early non-torch figures;
// - 0.15-0.16: the profiling run's sampler takes about 36.5 bytes per logit more than the logits:
//   Qwen3-14B on an H100, "torch peak memory increase" 5.64 GiB at 0.15.0 and 0.16.0 and 2.23 GiB at 0.17.0
//   (llm-d-planner's version sweep, models/SOURCES-MEASUREMENTS.md §2); the same 5.64 for Qwen3-32B and 4.76
//   for Llama-3.1-8B in llm-d-benchmark's runs of that time (§3): 1,024 rows x 151,936 (128,256) logits x
//   38.5 bytes, beside the hidden states;
// - 0.17: the sampler back to 0.19's, the early non-torch figure (45.34 GiB of KV, 0.14 GiB left for it);
// - 0.18-0.20: 0.19's accounting (0.18's Qwen3-14B run leaves 0.25 GiB of non-torch, as 0.19's logs);
// - 0.21: the CUDA-graph estimate comes out of the budget.
// 0.12-0.14 are refused: no published log settles which sampler figure they have.
// The V0 engine (VLLM_USE_V1=0; the default before 0.8, removed in 0.11), from 0.6.5, whose profiler
// (vllm-project/vllm#10511) logs "model weights take W; non_torch_memory takes N; PyTorch activation peak
// memory takes A; the rest of the memory reserved for KV Cache is K" with K = total x utilization - W - N -
// A, as V1 does; its differences are in resolve() and plan_once() (k.v0). Its profiling run shows no
// sampler-sized peak: DeepSeek-R1-Distill-Qwen-14B at T = 2 over 2,048 tokens and 256 sequences logged 0.19
// GiB (vllm-project/vllm#13061, 0.7), where 0.19's sampler would take 0.56 GiB; Qwen2.5-32B at T = 2 over
// 10,000 tokens 1.26 GiB (#15815, 0.7.1), the forward pass's 1.15 and a little. So the forward pass sizes it,
// and the sampler counts only its float32 logits (2 bytes per logit beyond bfloat16's).
struct version_rule {
    int first, last;
    const char* name;
    double sampler_bytes_per_logit = 13;
    bool early_non_torch = false;
    bool graphs_in_budget = false;
    bool v0 = false;
};

// Columns: minor versions, name, sampler bytes per logit, early non-torch, graphs in the budget, V0.
const version_rule version_rules[] = {
    {10, 11, "0.10-0.11",     13.0, true,  false, false},
    {15, 16, "0.15-0.16",     36.5, true,  false, false},
    {17, 17, "0.17",          13.0, true,  false, false},
    {18, 20, "0.18-0.20",     13.0, false, false, false},
    {21, 21, "0.21",          13.0, false, true,  false},
    {6,  10, "0.6.5-0.10 V0", 2.0,  false, false, true },
};

const version_rule* range_of(engine_version v) {
    for (const auto& r : version_rules)
        if (v.minor >= r.first && v.minor <= r.last && v.v0 == r.v0) return &r;
    return nullptr;
}

bool digits(const std::string& d) {
    return !d.empty() && d.size() <= 3 && d.find_first_not_of("0123456789") == std::string::npos &&
           (d.size() == 1 || d[0] != '0');
}

} // namespace

engine_version parse_engine_version(const std::string& v) {
    if (v.empty()) return {19, false};
    std::string t = v[0] == 'v' ? v.substr(1) : v;
    engine_version out;
    const std::string tag = "-v0";
    if (t.size() > tag.size() && t.compare(t.size() - tag.size(), tag.size(), tag) == 0) {
        out.v0 = true;
        t.resize(t.size() - tag.size());
    }
    // 0.MINOR, 0.MINOR.PATCH or 0.MINOR.PATCH.POST (vLLM 0.10.1.1)
    std::vector<std::string> parts;
    for (size_t at = 0;;) {
        size_t dot = t.find('.', at);
        parts.push_back(t.substr(at, dot == std::string::npos ? std::string::npos : dot - at));
        if (dot == std::string::npos) break;
        at = dot + 1;
    }
    if (parts.size() < 2 || parts.size() > 4 || parts[0] != "0") return {};
    for (size_t i = 1; i < parts.size(); ++i)
        if (!digits(parts[i])) return {};
    out.minor = std::stoi(parts[1]);
    if (parts.size() > 2) out.patch = std::stoi(parts[2]);
    // V0's profiler from 0.6.5 (vllm-project/vllm#10511); earlier 0.6 releases measured differently.
    if (out.v0 && out.minor == 6 && out.patch < 5) return {};
    if (!range_of(out)) return {};
    return out;
}

int minor_version(const std::string& v) {
    return parse_engine_version(v).minor;
}

const char* version_range_of(const std::string& v) {
    const version_rule* r = range_of(parse_engine_version(v));
    return r ? r->name : "";
}

const char* versions_modelled() {
    return "V1 0.10-0.11, 0.15-0.16, 0.17, 0.18-0.20 and 0.21 are, and the V0 engine (VLLM_USE_V1=0) from "
           "0.6.5 to 0.10 as \"0.8-v0\"; 0.12-0.14 are not (no published start-up log settles their "
           "profiling peak)";
}

uint64_t max_len_of(const model_spec& s) {
    return derived_max_len(s);
}

uint64_t rope_bytes(const model_spec& s) {
    return rope_cache_bytes(s);
}

result<stage_weights> weights_by_stage(const analysis& a, const std::string& quant, uint64_t tp, uint64_t pp,
                                       bool include_mtp) {
    workload w;
    w.quant = quant;
    w.include_mtp = include_mtp;
    auto par = plan_parallel(a, w, tp, pp, {});
    if (!par) {
        error e = par.err(); // worded with the parallel plan's fields (tp, pp): the engines' names instead
        for (auto [ours, theirs] : {
                 std::pair<std::string, std::string>{"tp", "tensor_parallel_size"  },
                 std::pair<std::string, std::string>{"pp", "pipeline_parallel_size"}
        })
            if (e.path == ours) {
                e.path = theirs;
                if (e.message.rfind(ours + ":", 0) == 0) e.message = theirs + e.message.substr(ours.size());
            }
        return e;
    }
    stage_weights out;
    out.bytes.assign(pp, 0);
    for (const auto& rank : par->ranks)
        if (rank.tp_rank == 0) out.bytes[rank.stage] = rank.bytes.weights;
    add_vocab_padding(a, *par, out.bytes);
    shard_vision_layers(a, *par, out.bytes);
    const uint64_t rope = rope_cache_bytes(a.spec);
    for (auto& b : out.bytes) b = add(b, rope);
    out.layers = par->stage_layers;
    return out;
}

uint64_t cuda_total_bytes(const gpu_row& gpu, bool* measured) {
    // Published "total_memory" / "total_gpu_memory" figures: H100 SXM 79.19 GiB (llm-d-planner v0.19.0 logs,
    // nvidia-smi 81,559 MiB); A100 SXM4 40GB 39.50 GiB (vllm-project/vllm#12330, nvidia-smi 40,960 MiB); RTX
    // 3090 23.58 GiB (vllm-project/vllm#10517, nvidia-smi 24,576 MiB); A100 80GB 79.25 GiB ("Free memory on
    // device (78.84/79.25 GiB)"), H200 139.81 GiB ("(139.21/139.81 GiB)"), L40S 44.31 GiB (total_gpu_memory
    // (44.31GiB) in a vLLM 0.7.2 log): models/SOURCES-SERVE.md, "CUDA totals".
    static const std::map<std::string, double> measured_gib = {
        {"h100-80gb",  79.19 },
        {"a100-40gb",  39.50 },
        {"rtx-3090",   23.58 },
        {"a100-80gb",  79.25 },
        {"h200-141gb", 139.81},
        {"l40s",       44.31 },
    };
    auto it = measured_gib.find(gpu.key);
    if (measured) *measured = it != measured_gib.end();
    if (it != measured_gib.end()) return gib_bytes(it->second);
    // Elsewhere: the driver's total less the 470 MiB the H100 loses between nvidia-smi and CUDA.
    uint64_t reported = gpu.memory_bytes();
    return reported > 470 * mib ? reported - 470 * mib : reported;
}

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu) {
    const model_spec& s = a.spec;
    const vllm_options& o = r.vllm;
    knobs k;
    k.tp = o.tensor_parallel_size;
    k.pp = o.pipeline_parallel_size;
    k.util = o.gpu_memory_utilization;
    k.block_size = o.block_size;
    k.kv_cache_dtype = o.kv_cache_dtype.empty() ? "auto" : o.kv_cache_dtype;
    k.quantization = o.quantization;
    k.dtype = o.dtype;
    k.enforce_eager = o.enforce_eager;
    const engine_version version = parse_engine_version(r.engine_version);
    k.version = version.minor;
    k.v0 = version.v0;
    const version_rule* range = range_of(version);
    if (!range)
        return make_error(error_code::unsupported,
                          "engine_version: " + quote_value(r.engine_version) +
                              " is not a vLLM version modelled; " + versions_modelled(),
                          "engine_version");
    k.version_range = range->name;
    k.sampler_bytes_per_logit = range->sampler_bytes_per_logit;
    k.early_non_torch = range->early_non_torch;
    // "CUDA graph memory profiling is enabled (default since v0.21.0)": the graphs' estimate is taken from
    // the budget before the cache is sized.
    k.graphs_in_budget = range->graphs_in_budget && !k.enforce_eager;
    k.enable_lora = o.enable_lora;
    k.max_loras = o.max_loras;
    k.max_lora_rank = o.max_lora_rank;
    if (k.enable_lora) {
        // LoRAConfig's checks.
        static const uint64_t ranks[] = {1, 8, 16, 32, 64, 128, 256, 320, 512};
        if (std::find(std::begin(ranks), std::end(ranks), k.max_lora_rank) == std::end(ranks))
            return make_error(error_code::out_of_range,
                              "max_lora_rank: max_lora_rank (" + num(k.max_lora_rank) +
                                  ") must be one of (1, 8, 16, 32, 64, 128, 256, 320, 512)",
                              "max_lora_rank");
        if (k.max_loras == 0 || k.max_loras > 1024)
            return make_error(error_code::out_of_range,
                              "max_loras: expected 1 to 1,024 adapters, got " + num(k.max_loras),
                              "max_loras");
    }
    if (!(k.util > 0.0 && k.util <= 1.0))
        return make_error(
            error_code::out_of_range,
            "gpu_memory_utilization: vLLM takes a fraction of the GPU's memory in (0, 1], got " +
                fixed2(k.util),
            "gpu_memory_utilization");
    if (k.tp == 0 || k.tp > 1024)
        return make_error(error_code::out_of_range,
                          "tensor_parallel_size: expected 1 to 1024, got " + num(k.tp),
                          "tensor_parallel_size");
    if (k.pp == 0 || k.pp > 1024)
        return make_error(error_code::out_of_range,
                          "pipeline_parallel_size: expected 1 to 1024, got " + num(k.pp),
                          "pipeline_parallel_size");
    if (!has_decoder_attention(s))
        return make_error(error_code::unsupported,
                          "engine: " + s.architecture +
                              " has no decoder attention layers; vLLM's KV-cache accounting does not apply",
                          "engine");
    // ModelConfig.verify_with_parallel_config
    if (s.n_heads % k.tp != 0)
        return make_error(error_code::not_divisible,
                          "tensor_parallel_size: Total number of attention heads (" + num(s.n_heads) +
                              ") must be divisible by tensor parallel size (" + num(k.tp) + ")",
                          "tensor_parallel_size");
    // VocabParallelEmbedding: the vocabulary padded to 64 splits evenly (divide() asserts it).
    if (s.vocab && pad_to(s.vocab, 64) % k.tp != 0)
        return make_error(error_code::not_divisible,
                          "tensor_parallel_size: the vocabulary padded to a multiple of 64 (" +
                              num(pad_to(s.vocab, 64)) + ") is not divisible by " + num(k.tp),
                          "tensor_parallel_size");
    if (r.gpus && r.gpus < k.tp * k.pp)
        return make_error(error_code::bad_request,
                          "gpus: tensor_parallel_size x pipeline_parallel_size needs " + num(k.tp * k.pp) +
                              " GPUs, " + num(r.gpus) + " given",
                          "gpus");
    static const char* const block_sizes[] = {"1", "8", "16", "32", "64", "128", "256"};
    bool block_ok = false;
    for (const char* b : block_sizes) block_ok = block_ok || num(k.block_size) == b;
    if (!block_ok)
        return make_error(error_code::out_of_range,
                          "block_size: vLLM takes 1, 8, 16, 32, 64, 128 or 256, got " + num(k.block_size),
                          "block_size");
    static const char* const kv_dtypes[] = {"auto", "bfloat16", "fp8", "fp8_e4m3", "fp8_e5m2"};
    bool kv_ok = false;
    for (const char* d : kv_dtypes) kv_ok = kv_ok || k.kv_cache_dtype == d;
    if (!kv_ok)
        return make_error(error_code::unknown_dtype,
                          "kv_cache_dtype: expected auto, bfloat16, fp8, fp8_e4m3 or fp8_e5m2, got \"" +
                              k.kv_cache_dtype + "\"",
                          "kv_cache_dtype");
    // ModelConfig._get_and_verify_max_len
    uint64_t derived = derived_max_len(s);
    if (o.max_model_len) {
        if (*o.max_model_len == 0)
            return make_error(error_code::out_of_range, "max_model_len: must be at least 1, got 0",
                              "max_model_len");
        if (derived && *o.max_model_len > derived)
            return make_error(
                error_code::out_of_range,
                "max_model_len: User-specified max_model_len (" + num(*o.max_model_len) +
                    ") is greater than the derived max_model_len (max_position_embeddings=" +
                    num(s.max_positions) +
                    (s.rope.scaling_type.empty() ? std::string() : ", rope_scaling " + s.rope.scaling_type) +
                    " gives " + num(derived) +
                    "); vLLM refuses it unless VLLM_ALLOW_LONG_MAX_MODEL_LEN=1, and outputs may be wrong",
                "max_model_len");
        k.max_model_len = *o.max_model_len;
    } else {
        if (!derived)
            return make_error(error_code::missing_key,
                              "max_model_len: the config gives no max_position_embeddings; name the context",
                              "max_model_len");
        k.max_model_len = derived;
    }
    // EngineArgs.get_batch_defaults: GPUs of at least 70 GiB that are not an A100 get 8192 tokens and 1024
    // sequences for `vllm serve`; others 2048 and 256. max_num_seqs is at most max_num_batched_tokens.
    bool big = cuda_total_bytes(gpu, nullptr) >= 70ull * (1ull << 30) &&
               std::string(gpu.key).find("a100") == std::string::npos;
    k.max_num_batched_tokens_given = o.max_num_batched_tokens.has_value();
    k.max_num_seqs_given = o.max_num_seqs.has_value();
    k.max_num_batched_tokens = o.max_num_batched_tokens ? *o.max_num_batched_tokens : (big ? 8192 : 2048);
    k.max_num_seqs =
        o.max_num_seqs ? *o.max_num_seqs : std::min<uint64_t>(big ? 1024 : 256, k.max_num_batched_tokens);
    // V0 (EngineArgs, SchedulerConfig): 256 sequences on every GPU; `vllm serve` turns chunked prefill on
    // past 32,768 tokens of context, with 2,048 batched tokens, and otherwise batches a whole context, at
    // least 2,048.
    const bool v0_chunked = k.max_model_len > 32768;
    if (k.v0) {
        if (!o.max_num_batched_tokens)
            k.max_num_batched_tokens = v0_chunked ? 2048 : std::max<uint64_t>(k.max_model_len, 2048);
        if (!o.max_num_seqs) k.max_num_seqs = std::min<uint64_t>(256, k.max_num_batched_tokens);
    }
    if (k.max_num_batched_tokens == 0 || k.max_num_seqs == 0)
        return make_error(error_code::out_of_range,
                          std::string(k.max_num_seqs == 0 ? "max_num_seqs" : "max_num_batched_tokens") +
                              ": must be at least 1, got 0",
                          k.max_num_seqs == 0 ? "max_num_seqs" : "max_num_batched_tokens");
    // SchedulerConfig.verify_args; V0 without chunked prefill batches a whole context at once.
    if (k.v0 && !v0_chunked && k.max_num_batched_tokens < k.max_model_len)
        return make_error(error_code::inconsistent,
                          "max_num_batched_tokens: max_num_batched_tokens (" + num(k.max_num_batched_tokens) +
                              ") is smaller than max_model_len (" + num(k.max_model_len) +
                              "); vLLM's V0 engine without chunked prefill would reject longer sequences",
                          "max_num_batched_tokens");
    if (k.max_num_batched_tokens < k.max_num_seqs)
        return make_error(error_code::inconsistent,
                          "max_num_batched_tokens: max_num_batched_tokens (" + num(k.max_num_batched_tokens) +
                              ") must be greater than or equal to max_num_seqs (" + num(k.max_num_seqs) + ")",
                          "max_num_batched_tokens");
    // --speculative-config (vllm-spec.cpp), once tp, pp and max_model_len are known.
    if (auto e = read_speculative(a, r, k)) return *e;
    return k;
}

result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k) {
    const model_spec& s = a.spec;
    serve_plan p;
    p.gpu = gpu.key;
    p.tp = k.tp;
    p.pp = k.pp;
    p.max_model_len = k.max_model_len;
    p.max_num_seqs = k.max_num_seqs;
    p.max_num_batched_tokens = k.max_num_batched_tokens;
    p.block_size = k.block_size;
    p.gpu_memory_utilization = k.util;
    p.kv_cache_dtype = k.kv_cache_dtype;
    p.quantization = k.quantization;
    p.dtype = k.dtype;
    p.enforce_eager = k.enforce_eager;
    p.enable_lora = k.enable_lora;
    // V1: the minor version ("0.15"); V0 as given ("0.8-v0", "0.6.6-v0": 0.6 is modelled from 0.6.5 on).
    p.engine_version = "0." + std::to_string(k.version);
    if (k.v0) p.engine_version = r.engine_version[0] == 'v' ? r.engine_version.substr(1) : r.engine_version;
    p.speculative_config = r.vllm.speculative_config;
    p.max_loras = k.enable_lora ? k.max_loras : 0;
    p.max_lora_rank = k.enable_lora ? k.max_lora_rank : 0;
    p.num_speculative_tokens = k.num_speculative_tokens;
    if (k.draft) {
        p.speculative_method = k.draft->method;
        p.draft_model = k.draft->model;
        p.draft_shared = k.draft->shared;
    }
    p.starts = true;

    // Weights per stage: the parallel plan's split, vLLM's padded vocabulary, the rotary cache on every rank.
    auto quant = weight_quant(s, k.quantization, "vLLM");
    if (!quant) return quant.err();
    const bool mtp = !k.speculative_method.empty();
    auto sw = weights_by_stage(a, *quant, k.tp, k.pp, mtp);
    if (!sw) return sw.err();

    bool total_measured = false;
    const uint64_t total = cuda_total_bytes(gpu, &total_measured);
    const uint64_t requested = static_cast<uint64_t>(static_cast<double>(total) * k.util);

    std::vector<stage_figures> stages(k.pp);
    for (uint64_t st = 0; st < k.pp; ++st) {
        stage_figures& f = stages[st];
        f.first = sw->layers[st].first;
        f.last = sw->layers[st].second;
        f.weights = sw->bytes[st];
        f.lora = k.enable_lora ? lora_buffer_bytes(a, k, f.first, f.last) : 0;
        f.weights = add(f.weights, f.lora);
        if (k.v0 && k.tp > 1) f.weights = add(f.weights, v0_parallel_load_bytes);
        // A drafter (vllm-spec.cpp) loads with the last stage: its weights, its CUDA graphs, its cache.
        const bool drafts = k.draft && st == k.pp - 1;
        if (drafts) f.draft = k.draft->weight_bytes, f.weights = add(f.weights, f.draft);
        f.non_torch = non_torch_bytes(k, gpu);
        f.activation = activation_peak(s, k, f.first, f.last, st == 0, st == k.pp - 1);
        uint64_t layers = 0;
        for (uint64_t il = f.first; il <= f.last; ++il) layers += s.layers[il].stack == layer_stack::decoder;
        if (drafts) layers += k.draft->a.spec.layers.size();
        f.graphs = k.enforce_eager ? 0 : cudagraph_bytes(layers);
        f.kv = signed_bytes(requested) - signed_bytes(f.weights) - signed_bytes(f.activation) -
               signed_bytes(f.non_torch) - (k.graphs_in_budget ? signed_bytes(f.graphs) : 0);
        f.pages = stage_pages(s, k, f.first, f.last);
        if (mtp && st == k.pp - 1) {
            // The MTP layers run after the last stage's layers, each with its own cache (the same spec as a
            // decoder layer's: MLA's latent, or the key/value heads per rank).
            const dtype kv = kv_dtype_of(s, k);
            const uint64_t heads = s.n_kv_heads ? s.n_kv_heads : s.n_heads;
            const uint64_t per_rank = heads >= k.tp ? heads / k.tp : 1;
            for (uint64_t il = 0; il < s.layers.size(); ++il) {
                if (!s.is_mtp_layer(il)) continue;
                const layer_spec& l = s.layers[il];
                uint64_t per_token = l.attn == attn_kind::mla
                                         ? mul(s.mla_kv_latent_dim(), dtype_bytes(kv))
                                         : mul(mul(2, mul(per_rank, s.head_dim)), dtype_bytes(kv));
                f.pages.push_back({kind_of(l.attn), l.attn == attn_kind::full ? 0 : l.window,
                                   mul(per_token, k.block_size)});
            }
        }
        if (drafts) {
            const model_spec& ds = k.draft->a.spec;
            auto dp = stage_pages(ds, k, 0, ds.layers.size() - 1);
            p.draft_layers = dp.size();
            f.pages.insert(f.pages.end(), dp.begin(), dp.end());
        }
        if (k.v0) {
            // V0 (CacheEngine.get_cache_block_size): one block holds block_size tokens of every attention
            // layer; no groups, every layer keeps the whole context.
            // MLA's latent entry is padded to 256 bytes: DeepSeek-Coder-V2-Lite on an L40S (0.7.2, a log
            // quoted in vllm-project/vllm#15196) has "# CPU blocks: 7767", 4 GiB / (16 x 27 layers x 1,280
            // bytes), not the 1,152 bytes of its 576 bfloat16 values.
            uint64_t page = 0;
            for (auto pg : f.pages) {
                if (pg.kind == "mla") pg.page = mul(pad_to(pg.page / k.block_size, 256), k.block_size);
                f.v0_block = add(f.v0_block, pg.page), page = std::max(page, pg.page);
            }
            if (f.v0_block)
                f.groups.push_back(
                    {"full", 0, f.pages.size(), page, ceil_div(k.max_model_len, k.block_size)});
            f.blocks = f.kv > 0 && f.v0_block ? static_cast<uint64_t>(f.kv) / f.v0_block : 0;
            continue;
        }
        f.groups = form_groups(f.pages, k);
        uint64_t block = 0, page = 0;
        for (const auto& g : f.groups)
            block = std::max(block, g.block_bytes), page = std::max(page, g.page_bytes);
        if (drafts && f.groups.size() > 1)
            for (const auto& g : f.groups)
                if (g.page_bytes != page)
                    return make_error(error_code::unsupported,
                                      "speculative_config: the drafter's KV page (" + num(g.page_bytes) +
                                          " bytes) differs from the target's (" + num(page) +
                                          ") and the target has several attention kinds; vLLM's hybrid "
                                          "allocator needs one page size: not planned",
                                      "speculative_config");
        f.blocks = f.kv > 0 && block ? static_cast<uint64_t>(f.kv) / block : 0;
    }

    // The ranks, stage by stage.
    for (uint64_t st = 0; st < k.pp; ++st)
        for (uint64_t t = 0; t < k.tp; ++t) {
            const stage_figures& f = stages[st];
            serve_rank rank;
            rank.name = "cuda:" + num(st * k.tp + t);
            rank.tp_rank = t;
            rank.stage = st;
            rank.first_layer = f.first;
            rank.last_layer = f.last;
            rank.total_bytes = total;
            rank.total_measured = total_measured;
            rank.requested_bytes = requested;
            rank.weights_bytes = f.weights;
            rank.lora_bytes = f.lora;
            rank.draft_bytes = f.draft;
            rank.non_torch_bytes = f.non_torch;
            rank.activation_peak_bytes = f.activation;
            rank.cudagraph_bytes = f.graphs;
            rank.cudagraph_in_budget = k.graphs_in_budget;
            rank.kv_cache_bytes = f.kv;
            rank.num_blocks = f.blocks;
            p.ranks.push_back(rank);
        }

    // Blocks: every worker takes the smallest count; tokens and concurrency from the groups of that stage.
    // (A stage without attention layers, possible with a vision tower split off by P, holds no blocks and
    // does not limit.)
    size_t limiting = 0;
    for (size_t st = 0; st < stages.size(); ++st)
        if (!stages[st].groups.empty() &&
            (stages[limiting].groups.empty() || stages[st].blocks < stages[limiting].blocks))
            limiting = st;
    const stage_figures& lim = stages[limiting];
    p.groups = lim.groups;
    p.num_gpu_blocks = lim.blocks;
    uint64_t per_request = 0;
    for (const auto& g : p.groups) per_request = add(per_request, g.blocks_per_request);
    if (!p.groups.empty()) p.kv_tokens = p.num_gpu_blocks / p.groups.size() * k.block_size;
    p.max_concurrency =
        per_request ? static_cast<double>(p.num_gpu_blocks) / static_cast<double>(per_request) : 0;
    if (k.v0) {
        // V0 (executor_base): concurrency = blocks x block_size / max_model_len; CPU blocks = swap space (4
        // GiB,
        // --swap-space) / block bytes.
        p.max_concurrency = static_cast<double>(p.kv_tokens) / static_cast<double>(k.max_model_len);
        p.num_cpu_blocks = lim.v0_block ? (4ull << 30) / lim.v0_block : 0;
    }
    for (const auto& pg : lim.pages) p.kv_bytes_per_token = add(p.kv_bytes_per_token, pg.page / k.block_size);

    // The verdict, in the order vLLM meets the failures.
    bool bf16 = compute_dtype(s.weight_dtype) == dtype::bf16 && s.weight_dtype != dtype::f32;
    if (bf16 && !gpu.bf16)
        fail(p, "Bfloat16 is only supported on GPUs with compute capability of at least 8.0. Your " +
                    std::string(gpu.name) + " GPU has compute capability " + gpu.compute +
                    ". You can use float16 instead by explicitly setting the `dtype` flag in CLI, for "
                    "example: --dtype=half.");
    uint64_t free_at_start = total > init_context_bytes ? total - init_context_bytes : 0;
    if (!k.v0 && requested > free_at_start) // V1's check (gpu_worker); V0 has none
        fail(p, "Free memory on device (" + gib2(signed_bytes(free_at_start)) + "/" +
                    gib2(signed_bytes(total)) +
                    " GiB) on startup is less than desired GPU memory utilization (" + fixed2(k.util) + ", " +
                    gib2(signed_bytes(requested)) +
                    " GiB). Decrease GPU memory utilization or reduce GPU memory used by other processes.");
    for (const auto& f : stages)
        if (add(f.weights, init_context_bytes) > total)
            fail(p, "CUDA out of memory while loading the weights: " + gib2(signed_bytes(f.weights)) +
                        " GiB per GPU, " + gib2(signed_bytes(total)) + " GiB on the GPU");
    for (const auto& f : stages)
        if (f.kv <= 0)
            fail(p, "No available memory for the cache blocks. Try increasing `gpu_memory_utilization` when "
                    "initializing the engine.");
    for (const auto& f : stages) {
        if (f.kv <= 0) continue;
        if (k.v0) {
            // V0 (_verify_args of the cache): the cache must hold one max_model_len request.
            const uint64_t tokens = f.blocks * k.block_size;
            if (tokens < k.max_model_len)
                fail(p, "The model's max seq len (" + num(k.max_model_len) +
                            ") is larger than the maximum number of tokens that can be stored in KV cache (" +
                            num(tokens) +
                            "). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
                            "initializing the engine.");
            continue;
        }
        uint64_t needed = request_bytes(f.pages, k.max_model_len, k);
        if (needed > static_cast<uint64_t>(f.kv))
            fail(p, "To serve at least one request with the models's max seq len (" + num(k.max_model_len) +
                        "), (" + gib2(signed_bytes(needed)) +
                        " GiB KV cache is needed, which is larger than the available KV cache memory (" +
                        gib2(f.kv) +
                        " GiB). Based on the available memory, the estimated maximum model length is " +
                        num(estimate_max_len(f.pages, static_cast<uint64_t>(f.kv), k)) +
                        ". Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when "
                        "initializing the engine.");
    }
    (void)r;
    return p;
}

} // namespace modelplan::vllm
