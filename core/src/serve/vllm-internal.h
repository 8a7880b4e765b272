// Internal: vLLM's start-up accounting (vllm.cpp) for serve.cpp, which checks the request and writes answers.
#pragma once

#include "modelplan/devices.h"
#include "modelplan/serve.h"

namespace modelplan::vllm {

// The knobs resolved against the model and the GPU: defaults filled in, every value checked with vLLM's
// reason.
struct knobs {
    uint64_t tp = 1, pp = 1;
    double util = 0.9;
    uint64_t max_model_len = 0, max_num_seqs = 0, max_num_batched_tokens = 0, block_size = 16;
    std::string kv_cache_dtype = "auto", quantization, dtype;
    bool enforce_eager = false;
    bool max_num_seqs_given = false, max_num_batched_tokens_given = false;
};

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu);

// The figures of every rank, the blocks and the verdict, without suggestions.
result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k);

// The GPU memory vLLM sees on `gpu` (torch.cuda.mem_get_info's total); `measured` says whether a published
// log gives it.
uint64_t cuda_total_bytes(const gpu_row& gpu, bool* measured);

} // namespace modelplan::vllm
