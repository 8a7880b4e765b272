// Serving plans: what an inference engine will do on given GPUs, figure by figure as the engine logs them at
// start-up, with the verdict and the command line that runs it (formulas, sources, measured errors:
// docs/serving.md). Engines: vLLM (V1 engine, the accounting of v0.19) and SGLang (0.4 to 0.5 and later: the
// three generations of its default --mem-fraction-static).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/error.h"
#include "modelplan/report.h"

namespace modelplan {

// vLLM's knobs under vLLM's own names (`vllm serve --tensor-parallel-size ...`); unset: vLLM's default.
struct vllm_options {
    uint64_t tensor_parallel_size = 1;
    uint64_t pipeline_parallel_size = 1;
    double gpu_memory_utilization = 0.9;
    std::optional<uint64_t> max_model_len;          // default: the config's (rope-scaled) maximum
    std::optional<uint64_t> max_num_seqs;           // default: 1024 or 256 by GPU (docs/serving.md)
    std::optional<uint64_t> max_num_batched_tokens; // default: 8192 or 2048 by GPU
    std::string kv_cache_dtype = "auto";            // auto | fp8 | fp8_e4m3 | fp8_e5m2
    uint64_t block_size = 16;
    bool enforce_eager = false;
    bool enable_lora = false;    // --enable-lora: LoRA buffers for max_loras adapters of max_lora_rank
    uint64_t max_loras = 1;      // vLLM's default
    uint64_t max_lora_rank = 16; // vLLM's default
    // JSON as vLLM takes it: {"method": "mtp" (deepseek_mtp, ...) | "ngram" | "draft_model" | "eagle" |
    // "eagle3", "model": the draft model or EAGLE head, "num_speculative_tokens": N,
    // "draft_tensor_parallel_size": 1 or T, "quantization": the drafter's, "max_model_len": the drafter's}
    std::string speculative_config;
    std::string quantization; // "" : what config.json's quantization_config says; "fp8": online fp8
    std::string dtype;        // "" or "auto": the config's torch_dtype
};

// SGLang's knobs under SGLang's names (`python -m sglang.launch_server --tp-size ...`); unset: SGLang's
// default.
struct sglang_options {
    uint64_t tp_size = 1;
    std::optional<double> mem_fraction_static;    // default: SGLang's heuristic for the GPU and version
    std::optional<uint64_t> context_length;       // default: the config's (rope-scaled) maximum
    std::string kv_cache_dtype = "auto";          // auto | fp8_e5m2 | fp8_e4m3
    uint64_t page_size = 1;                       //
    std::optional<uint64_t> chunked_prefill_size; // default by GPU memory
    std::optional<uint64_t> max_running_requests; // default: from the pool (docs/serving.md)
    std::optional<uint64_t> cuda_graph_max_bs;    // default by GPU memory and TP
    bool disable_cuda_graph = false;              //
    std::string quantization, dtype;              // as vLLM's
    std::optional<uint64_t> free_memory;          // modelplan's own: the GPU's free bytes when SGLang starts
};

// llama.cpp's knobs under llama-server's names (`-ngl`/`--n-gpu-layers`, `-c`/`--ctx-size`, ...).
struct llamacpp_options {
    std::optional<uint64_t> n_gpu_layers; // default: all (-1)
    uint64_t ctx_size = 0;                // 0: the model's training context
    std::optional<uint64_t> parallel;     // default: auto (4 slots, one unified cache)
    bool kv_unified = false;              // -kvu with an explicit -np
    std::string cache_type_k = "f16", cache_type_v = "f16";
    uint64_t n_cpu_moe = 0; // experts of the first N layers on the CPU
    bool cpu_moe = false;   // every layer's experts on the CPU
    // -ot/--override-tensor: "PATTERN=BUFFER_TYPE" entries in the order given (each -ot value split at its
    // commas, as llama.cpp splits it); checked when planning (docs/serving.md, "llama.cpp")
    std::vector<std::string> override_tensor;
    uint64_t ubatch_size = 512;
    std::string quant; // modelplan's own: the GGUF type a model that is not a GGUF file is converted to
};

// transformers' `from_pretrained(device_map=...)` with accelerate's placement (docs/placement.md).
struct transformers_options {
    std::string device_map = "auto";    // auto (balanced), balanced, sequential
    uint64_t batch_size = 1;            // sequences generated at once
    uint64_t max_length = 0;            // tokens per sequence held in the cache; 0: the model's default
    std::optional<uint64_t> max_memory; // each GPU's budget (max_memory={i: ...}); default: the placement's
    std::optional<uint64_t> cpu_memory; // host memory to offload to (max_memory={"cpu": ...})
};

struct serve_request {
    std::string engine = "vllm";
    std::string engine_version; // "" : the engine's default version (vllm 0.19, sglang 0.5.3)
    std::string gpu;            // catalog key or name
    uint64_t gpus = 0;          // GPUs of that kind; 0: what the parallel sizes use
    vllm_options vllm;
    sglang_options sglang;
    llamacpp_options llamacpp;
    transformers_options transformers;
    std::vector<std::string> given; // the knobs set, by field name (checked against the engine's)
    // The config.json text of vLLM's speculative_config "model" (a draft model or an EAGLE head), resolved
    // by the caller like the served model; "" : "model" names a bundled preset.
    std::string draft_config;
};

// Sets one knob from text, under its engine's name with dashes or underscores ("gpu-memory-utilization" or
// "gpu_memory_utilization"), or engine, engine_version, gpu, gpus. The error names `label` and the value.
// dtype, quantization and kv_cache_dtype are every engine's; the others one engine's (plan_serve refuses a
// knob of another engine).
std::optional<error> set_serve_option(serve_request& r, const std::string& name, const std::string& value,
                                      const std::string& label);

// The "model" that the request's --speculative-config names (a draft model or an EAGLE head), for the caller
// to resolve into draft_config; "" when it names none, or ngram, or the JSON is not an object.
std::string speculative_model(const serve_request& r);

// One GPU of the plan, with the figures vLLM logs for it.
struct serve_rank {
    std::string name; // "cuda:0"
    uint64_t tp_rank = 0, stage = 0;
    uint64_t first_layer = 0, last_layer = 0; // decoder layers of its pipeline stage
    uint64_t total_bytes = 0;                 // the GPU memory vLLM sees (torch.cuda.mem_get_info's total)
    bool total_measured = false;  // total_bytes from a published log, not estimated from nvidia-smi's
    uint64_t requested_bytes = 0; // total x gpu_memory_utilization ("worker requested memory")
    uint64_t weights_bytes = 0; // "Model loading took X GiB": weights in vLLM's layout, rotary cache included
    uint64_t non_torch_bytes = 0;       // "non-torch forward increase memory" (estimate: published figures)
    uint64_t activation_peak_bytes = 0; // "torch peak memory increase" of the profiling run (estimate)
    uint64_t cudagraph_bytes = 0;       // CUDA-graph pool (estimate; 0 with enforce_eager)
    uint64_t lora_bytes = 0;            // LoRA buffers (--enable-lora), included in weights_bytes
    uint64_t draft_bytes = 0;           // the drafter's weights (--speculative-config), in weights_bytes
    bool cudagraph_in_budget = false;   // whether this version subtracts it before sizing the cache
    int64_t kv_cache_bytes = 0;         // "Available KV cache memory" (negative: none)
    uint64_t num_blocks = 0;            // blocks this rank's memory holds
};

// Layers of one KV-cache group as vLLM's hybrid allocator forms them (docs/serving.md).
struct serve_kv_group {
    std::string kind;                // "full", "sliding_window", "chunked_local", "mla"
    uint64_t window = 0;             // sliding window or chunk, tokens
    uint64_t layers = 0;             // layers in the group (padding layers included)
    uint64_t page_bytes = 0;         // one layer's block: block_size tokens (the first layer's)
    uint64_t block_bytes = 0;        // one block of every layer of the group: page_bytes x layers, or the
                                     // sum of the pages when a draft model's layers have another page size
    uint64_t blocks_per_request = 0; // for one max_model_len request
};

// One -ot entry of a llama.cpp plan: the GGUF tensors whose name it matched first, and their bytes.
struct serve_tensor_override {
    std::string pattern, buffer_type; // "exps", "CPU"
    uint64_t tensors = 0;             // GGUF tensors it placed (the first pattern matching wins)
    uint64_t bytes = 0;               // their bytes, now on buffer_type's device
    uint64_t moved_bytes = 0;         // of those, the bytes that would be on another device without it
};

struct serve_plan {
    std::string engine = "vllm";
    std::string engine_version = "0.19";
    std::string gpu; // catalog key
    uint64_t tp = 1, pp = 1;
    bool starts = false;
    std::string error;              // vLLM's own error in words, when it does not start
    std::vector<std::string> fixes; // changes that make it start, each checked by planning again
    std::vector<serve_rank> ranks;
    std::vector<serve_kv_group> groups; // of the first stage
    uint64_t num_gpu_blocks = 0;        // the smallest over ranks
    uint64_t num_cpu_blocks = 0;        // vLLM's V0 engine: the 4 GiB swap space in blocks ("# CPU blocks")
    uint64_t kv_tokens = 0;             // "GPU KV cache size: N tokens"
    double max_concurrency = 0;         // "Maximum concurrency for L tokens per request: Xx"
    uint64_t kv_bytes_per_token = 0;    // of one rank, every layer of its stage
    // The knobs as the engine resolves them (SGLang: max_model_len is its context_length, block_size its
    // page_size).
    uint64_t max_model_len = 0, max_num_seqs = 0, max_num_batched_tokens = 0, block_size = 16;
    // SGLang's: the static fraction, the free memory it is a fraction of (per GPU, after the CUDA context and
    // NCCL), and what its scheduler takes.
    double mem_fraction_static = 0;
    uint64_t free_bytes = 0;
    bool free_given = false;
    uint64_t chunked_prefill_size = 0, cuda_graph_max_bs = 0, max_running_requests = 0, req_pool_size = 0;
    bool disable_cuda_graph = false;
    // llama.cpp's: what stays in host memory (the mapped model file's part, the KV of layers on the CPU, the
    // output and host compute buffers), the layers offloaded, the context and its slots.
    uint64_t host_weights_bytes = 0, host_kv_bytes = 0, host_other_bytes = 0;
    uint64_t n_gpu_layers = 0, n_layers = 0, n_ctx = 0, n_parallel = 0, swa_cells = 0;
    uint64_t k_bytes_total = 0, v_bytes_total = 0, full_layers = 0, swa_layers = 0; // the full layers' cache
    uint64_t swa_k_bytes = 0, swa_v_bytes = 0; // the sliding-window layers' cache
    bool kv_unified = false;
    std::vector<serve_tensor_override> tensor_overrides; // llama.cpp's -ot entries, in order
    std::string device_map;                              // transformers': auto, balanced, sequential
    double gpu_memory_utilization = 0.9;
    std::string kv_cache_dtype = "auto", quantization, dtype;
    bool enforce_eager = false;
    bool enable_lora = false;
    uint64_t max_loras = 0, max_lora_rank = 0;
    std::string speculative_config; // as given (vLLM)
    // The drafter it names: "draft_model", "eagle" or "eagle3" ("" for none, MTP or ngram), its model, its
    // layers in the KV cache and the tensors it shares with the target (docs/serving.md, "Speculative").
    std::string speculative_method, draft_model;
    uint64_t draft_layers = 0, num_speculative_tokens = 0;
    std::vector<std::string> draft_shared; // tensors the drafter takes from the target ("embed_tokens")
    std::vector<std::string> log_lines;    // the start-up lines vLLM will print, with our figures
    std::vector<std::string> notes;        // what is estimated and why
    std::string command;                   // `vllm serve REPO ...`, ready to paste
};

// Checks the knobs (vLLM's own reasons, naming the flag) and plans. A plan that does not start is a plan
// (starts false, with the error and the fixes), not an error.
result<serve_plan> plan_serve(const analysis& a, const serve_request& r);

// {"engine", "engine_version", "starts", "ranks": [...], "kv_tokens", "max_concurrency", "command", ...}
// (docs/json.md, "serve").
std::string serve_json(const analysis& a, const serve_plan& p);

// The inverse questions, each answer checked by planning again (docs/serving.md, "Inverse questions"):
// the smallest layout (GPUs, then tensor-parallel size) whose plan starts and holds `target_concurrency`
// requests of the request's context; the longest context at which the request's layout holds that many
// (1 when not given); a sweep of concurrency over tensor-parallel sizes and contexts.
struct serve_search_request {
    std::optional<double> target_concurrency;
    bool longest_context = false;
    bool sweep = false;
};

struct serve_sweep_cell {
    uint64_t tp = 0, context = 0;
    bool starts = false;
    double concurrency = 0;
    uint64_t kv_tokens = 0;
};

struct serve_search_answer {
    // the smallest layout for the target concurrency
    bool searched_layout = false, found_layout = false;
    uint64_t tp = 0, pp = 0, gpus = 0;
    double concurrency = 0;
    std::string layout_flags; // "--tensor-parallel-size 2" (the engine's flags)
    // the longest context for the target concurrency (or one request), with the request's layout
    bool searched_context = false;
    uint64_t longest_context = 0; // 0: not even the shortest context holds them
    double concurrency_at_longest = 0;
    std::string context_flag; // "--max-model-len" (the engine's flag)
    // the sweep: tensor-parallel sizes x contexts
    std::vector<uint64_t> sweep_tps, sweep_contexts;
    std::vector<serve_sweep_cell> sweep; // row-major: tp, then context
};

result<serve_search_answer> search_serve(const analysis& a, const serve_request& r,
                                         const serve_search_request& q);

// {"target_concurrency", "smallest_layout": {...} | null, "longest_context": {...} | null, "sweep": {...} |
// null}
std::string serve_search_json(const serve_search_request& q, const serve_search_answer& s);

} // namespace modelplan
