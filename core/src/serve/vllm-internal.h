// Internal: vLLM's start-up accounting (vllm.cpp) for serve.cpp, which checks the request and writes answers.
#pragma once

#include <memory>

#include "modelplan/devices.h"
#include "modelplan/serve.h"

namespace modelplan::vllm {

// ---- speculative decoding with a drafter (vllm-spec.cpp) ------------------------------------------------
// The draft model or EAGLE head that --speculative-config's "model" names, resolved and checked.
struct drafter {
    std::string method;         // "draft_model", "eagle" or "eagle3"
    std::string model;          // as named in the speculative_config
    analysis a;                 // the draft model; an EAGLE head's decoder layers read as a Llama's
    uint64_t draft_vocab = 0;   // EAGLE-3: the head's own output vocabulary (draft_vocab_size)
    uint64_t target_hidden = 0; // EAGLE-3: what its fc layer takes three of (target_hidden_size)
    bool aux_hidden = true;     // EAGLE-3: the fc layer over three target hidden states
    uint64_t tp = 1;            // draft_tensor_parallel_size as resolved
    std::string quant;          // the drafter's weight format: "" or "fp8"
    // Its weights on one rank as vLLM holds them beside the target's: a draft model whole (split like the
    // target), an EAGLE head without what it takes from the target (named in `shared`).
    uint64_t weight_bytes = 0;
    std::vector<std::string> shared;
};

// The knobs resolved against the model and the GPU: defaults filled in, every value checked with vLLM's
// reason.
struct knobs {
    uint64_t tp = 1, pp = 1;
    double util = 0.9;
    uint64_t max_model_len = 0, max_num_seqs = 0, max_num_batched_tokens = 0, block_size = 16;
    std::string kv_cache_dtype = "auto", quantization, dtype;
    bool enforce_eager = false;
    int version = 19;              // vLLM 0.<version>
    bool graphs_in_budget = false; // 0.21: the CUDA-graph estimate comes out of the budget before the cache
    // ---- what differs between vLLM versions (the ranges in vllm.cpp) ----
    std::string version_range = "0.18-0.20";
    double sampler_bytes_per_logit = 13; // the profiling run's sampler, beyond the model dtype's bytes
    bool early_non_torch = false;        // before 0.18: the smaller non-torch figures
    bool v0 = false;                     // the V0 engine (VLLM_USE_V1=0): one block spans every layer
    bool enable_lora = false;
    uint64_t max_loras = 1, max_lora_rank = 16;
    // --speculative-config with an MTP method: the model's multi-token-prediction layers load and cache.
    std::string speculative_method;
    uint64_t num_speculative_tokens = 0;
    // --speculative-config with a draft model or EAGLE head (vllm-spec.cpp): it loads beside the target on
    // every rank and its attention layers join the KV cache.
    std::shared_ptr<const drafter> draft;
    bool max_num_seqs_given = false, max_num_batched_tokens_given = false;
};

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu);

// A vLLM version as --engine-version names it: "0.19", "v0.10.1.1", or with "-v0" for the V0 engine
// (VLLM_USE_V1=0): "0.8-v0", "0.6.6-v0". minor 0: not a version modelled. Modelled: V1 0.10-0.11, 0.15-0.16,
// 0.17, 0.18-0.20 and 0.21; V0 0.6.5 to 0.10 (vllm.cpp's version rules).
struct engine_version {
    int minor = 0;
    bool v0 = false;
    int patch = 0; // 0 when not given
};
engine_version parse_engine_version(const std::string& v);
int minor_version(const std::string& v); // parse_engine_version(v).minor ("" -> 19)

// The range of versions whose accounting a version shares ("0.15-0.16"; "" when not modelled), and the list
// of all of them for messages.
const char* version_range_of(const std::string& v);
const char* versions_modelled();

// vllm-spec.cpp: reads --speculative-config into `k` (MTP, ngram, a draft model, EAGLE heads), with vLLM's
// checks; called once the other knobs are resolved (it needs tp, pp and max_model_len).
std::optional<error> read_speculative(const analysis& a, const serve_request& r, knobs& k);

// vLLM's rotary cos/sin cache of a model, on every rank (vllm.cpp).
uint64_t rope_bytes(const model_spec& s);

// The figures of every rank, the blocks and the verdict, without suggestions.
result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k);

// The GPU memory vLLM sees on `gpu` (torch.cuda.mem_get_info's total); `measured` says whether a published
// log gives it.
uint64_t cuda_total_bytes(const gpu_row& gpu, bool* measured);

// The model's derived maximum length (max_position_embeddings, rope-scaled for the types vLLM scales).
uint64_t max_len_of(const model_spec& s);

// The weight format a plan uses: "" (the checkpoint's own) or "fp8" (online); `engine` words the error.
result<std::string> weight_quant(const model_spec& s, const std::string& quantization, const char* engine);

// Weights of one rank of each pipeline stage in vLLM's layout: the parallel plan's split (docs/placement.md),
// the vocabulary padded to 64 before the split, a vision tower's layers sharded, the rotary cache on every
// rank. SGLang's model layers, taken from vLLM's, have the same layout.
struct stage_weights {
    std::vector<uint64_t> bytes;                       // per stage
    std::vector<std::pair<uint64_t, uint64_t>> layers; // each stage's first and last layer
};
result<stage_weights> weights_by_stage(const analysis& a, const std::string& quant, uint64_t tp, uint64_t pp,
                                       bool include_mtp = false);

} // namespace modelplan::vllm
