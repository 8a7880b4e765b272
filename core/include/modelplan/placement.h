// Placement: which device holds each module of a model, planned together with the runtime memory of the
// workload (KV cache follows its layer, each GPU pays its own activations and CUDA context), and tensor- and
// pipeline-parallel plans (formulas, sources and limits: docs/placement.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/device-map.h"
#include "modelplan/memory.h"

namespace modelplan {

enum class place_strategy : uint8_t { sequential, balanced };

struct pin_rule {
    std::string pattern; // glob over tensor names ('*' matches any run of characters)
    std::string device;  // a device of the list ("cuda:1", "cpu", "disk")
};

struct place_options {
    place_strategy strategy = place_strategy::sequential;
    bool experts_on_cpu = false; // routed experts of MoE layers on the cpu device, attention on GPUs
    std::vector<pin_rule> pins;  // modules whose tensors match go to the named device
    std::string gpu_name;        // catalog key of the GPUs (for suggestions), "" when devices were explicit
};

struct placed_item {
    std::string name; // weights, kv_cache, recurrent_state, activations, logits, offload_buffer, overhead
    uint64_t bytes = 0;
};

// What one device or rank holds, as typed fields: what code reads. `items` present the same figures by name.
struct held_bytes {
    uint64_t weights = 0;
    uint64_t kv_cache = 0;
    uint64_t recurrent_state = 0;    // the recurrent state of the layers it holds (Mamba, DeltaNet layers)
    uint64_t activations = 0;        // one forward pass's working set (without the logits)
    uint64_t vision_activations = 0; // the vision tower's working set, where its first block runs (images)
    uint64_t logits = 0;             // where the output head runs
    uint64_t offload_buffer = 0;     // the largest offloaded module, moved in for its forward pass
    uint64_t rope_cache = 0;         // parallel plans: vLLM's cos/sin table
    uint64_t overhead = 0;           // CUDA context and kernels
};

struct device_placement {
    device_budget device;
    held_bytes bytes;
    std::vector<placed_item> items; // the non-zero figures of `bytes` (weights and kv_cache always)
    uint64_t total_bytes = 0;
    int64_t headroom_bytes = 0;   // budget - total (disk: 0)
    uint64_t modules = 0;         // device-map entries on it
    std::vector<uint64_t> layers; // layers (indices into model_spec::layers) whose block it holds
};

struct placement {
    std::vector<device_placement> devices; // GPUs in order, then cpu, then disk
    device_map map;                        // module -> device, in state_dict order (aliases included)
    bool fits = false;
    uint64_t unplaced_bytes = 0;          // weights, KV and recurrent state that found no room
    uint64_t over_budget_bytes = 0;       // sum over devices of (total - budget) where positive
    std::string execution_device;         // where offloaded layers run and logits are computed
    std::vector<std::string> suggestions; // what would fit, when it does not
    std::vector<std::string> warnings;
    memory_plan plan; // the single-device plan it was derived from
};

// Places the model for an inference workload on `devices`.
result<placement> place_model(const analysis& a, const workload& w, const std::vector<device_budget>& devices,
                              const place_options& options);

// Devices from the catalog: `count` GPUs of one type (cuda:0..count-1), plus cpu/disk when given.
result<std::vector<device_budget>> catalog_devices(const std::string& gpu, uint64_t count,
                                                   std::optional<uint64_t> cpu_bytes, bool disk);

// Tensor and pipeline parallelism: T x P ranks, one GPU each.
struct parallel_split {
    std::string pattern;              // the tensor template ("model.layers.{layer}.self_attn.q_proj.weight")
    std::string split;                // "replicated", "dim 0 (heads)", "dim 1 (intermediate)", ...
    std::vector<uint64_t> shape;      // full shape of one such tensor
    std::vector<uint64_t> rank_shape; // what one rank holds
    uint64_t tensors = 0;             // how many tensors use the template
};

struct parallel_rank {
    uint64_t stage = 0, tp_rank = 0;
    std::string device;        // cuda:N (rank = stage x T + tp_rank)
    uint64_t budget_bytes = 0; // 0 when no device was given
    held_bytes bytes;
    std::vector<placed_item>
        items; // weights, kv_cache, activations, logits (last stage), rope_cache, overhead
    uint64_t total_bytes = 0;
    int64_t headroom_bytes = 0;
    uint64_t first_layer = 0, last_layer = 0; // layers of its stage (indices into model_spec::layers)
};

struct parallel_plan {
    uint64_t tp = 1, pp = 1;
    std::vector<parallel_split> splits;
    std::vector<parallel_rank> ranks;
    std::vector<std::pair<uint64_t, uint64_t>> stage_layers; // [first, last] per stage
    uint64_t kv_heads_per_rank = 0;
    uint64_t kv_head_replicas = 1; // ranks holding each KV head when kv heads < T
    bool fits = true;              // every rank within budget (true when no budget was given)
    std::vector<std::string> notes;
    memory_plan plan;
};

// Validity: heads divisible by T, KV heads divisible by T (or T by KV heads: then replicated), FFN widths
// divisible by T, layers >= P. Errors name the value and T or P.
result<parallel_plan> plan_parallel(const analysis& a, const workload& w, uint64_t tp, uint64_t pp,
                                    const std::vector<device_budget>& gpus);

// One rank's part of one tensor, along one axis of the full tensor.
struct slice_piece {
    uint64_t start = 0;  // first index along the axis, in the full tensor
    uint64_t length = 0; // indices taken
};

// What one rank reads of one skeleton tensor under a T x P layout (docs/placement.md, "What a rank reads").
struct rank_slice {
    bool held = true; // false: another pipeline stage holds it (or it is not loaded for inference)
    int axis = -1;    // -1: the whole tensor (replicated, or T = 1)
    std::vector<slice_piece> pieces;  // along `axis`, concatenated in this order in the rank's tensor
    uint64_t pad = 0;                 // zero indices appended after the pieces (vocabulary rows past the end)
    std::vector<uint64_t> rank_shape; // the rank's shape: equals the plan's parallel_split::rank_shape
    std::string how; // as parallel_split::split ("replicated", "dim 0 (attention heads)", ...)
};

// Rank `rank` of a T x P layout (stage = rank / T, tp_rank = rank % T, as parallel_rank): one entry per
// tensor of a.sk.tensors, in order. Same validity checks and error messages as plan_parallel; a tensor whose
// split this version does not know exactly is an error (error_code::unsupported) naming the tensor and why.
result<std::vector<rank_slice>> rank_slices(const analysis& a, uint64_t tp, uint64_t pp, uint64_t rank);

// The same rank's part of a quantized checkpoint's stored tensors (docs/placement.md, "Quantized
// checkpoints"): `logical` is rank_slices' answer for a.sk; the answer has one entry per stored tensor, in
// the order the loader's stored form lists them (libtorch::stored_skeleton): each tensor of a.sk, or in place
// of a quantized group's logical weight the group's members in the group's order. Each member is cut the way
// vLLM cuts it: GPTQ, AWQ and compressed-tensors along their packed dimension in whole 32-bit words and their
// scales and zero points in whole groups (with act order, a row-parallel rank keeps every group), fp8 block
// scales in whole blocks, per-channel scales with their rows, MXFP4 blocks in whole 32-value blocks
// (gpt-oss's experts: ceil(blocks / T) per rank, the last the rest, as vLLM's gpt-oss loader; gate_up_proj's
// bias follows). A part that does not fall on those boundaries, a padded vocabulary, a bitsandbytes 4-bit
// weight (stored flattened) and a group whose layout is not known are errors (error_code::unsupported) naming
// the tensor, the boundary and the value.
result<std::vector<rank_slice>> stored_rank_slices(const analysis& a, const std::vector<rank_slice>& logical,
                                                   const std::vector<quantized_group>& groups,
                                                   const checkpoint& ck);

// What a user asks of `place`, as the CLI options and the JSON request give it (docs/json.md, "place").
struct place_request {
    std::optional<std::string> devices;  // "cuda:0=24GiB,cpu=64GiB,disk"
    std::optional<std::string> gpu;      // catalog GPU
    std::optional<uint64_t> gpu_count;   // GPUs of that kind (default 1, or T x P)
    std::optional<std::string> cpu;      // host memory to offload to ("64GiB"), with gpu
    bool disk = false;                   // and disk, with gpu
    std::optional<std::string> strategy; // "sequential" | "balanced"
    bool experts_on_cpu = false;
    std::vector<std::string> pins; // "PATTERN=DEVICE"
    std::optional<uint64_t> tp, pp;
    bool solve = false; // also the fit solves on these devices (placement_fit)
};

struct place_setup {
    std::vector<device_budget> devices;
    place_options options;
    uint64_t tp = 1, pp = 1;
    bool parallel = false; // tp or pp asked for: a parallel plan, not a device map
    bool solve = false;    // add the placement's fit solves to the answer
};

// The inverse solves of fit.h, answered by the placement on the devices given (several GPUs, CPU offload):
// each candidate is placed, so the answers agree with place's verdict (issue 17). gpus_needed is the smallest
// count of the same GPU (with the same cpu/disk) whose placement fits, up to 64; 0 when none does or the
// devices are not a catalog/custom GPU times N.
struct placement_fit {
    uint64_t max_seq = 0;       // longest context that fits at the given batch (0: none)
    uint64_t max_batch = 0;     // largest batch that fits at the given (or default) context (0: none)
    std::string smallest_quant; // first rung of quant_ladder() that fits ("none": unquantized); empty if none
    bool quant_found = false;
    uint64_t gpus_needed = 0;
};
placement_fit solve_placement_fit(const analysis& a, const workload& w,
                                  const std::vector<device_budget>& devices, const place_options& options);

// Checks the combination and resolves the devices. Messages name options as the CLI spells them
// ("--gpu-count" is the CLI's "--gpus") when `cli`, else by their JSON keys.
result<place_setup> resolve_place(const place_request& r, bool cli);

// The whole answer as JSON (a device map placement or a parallel plan), or an error.
result<std::string> place_json(const analysis& a, const workload& w, const place_setup& setup,
                               bool* fits = nullptr);

// {"model", "architecture", "strategy", "fits", "devices": [...], "device_map": {...}, ...} (docs/json.md).
std::string placement_json(const analysis& a, const placement& p, const place_options& options,
                           const placement_fit* fit = nullptr);
std::string parallel_json(const analysis& a, const parallel_plan& p);

} // namespace modelplan
