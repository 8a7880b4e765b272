// Internal: SGLang's start-up accounting (sglang.cpp) for serve.cpp, which checks the request and writes
// answers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "modelplan/devices.h"
#include "modelplan/serve.h"

namespace modelplan::sglang {

// The knobs resolved against the model, the GPU and the version: defaults filled in, every value checked.
struct knobs {
    std::string version; // "0.5.3"
    uint64_t tp = 1;
    double fraction = 0.88;
    bool fraction_given = false;
    std::string fraction_rule; // which default rule gave the fraction
    uint64_t context_length = 0, page_size = 1, chunked_prefill_size = 8192, cuda_graph_max_bs = 160;
    std::optional<uint64_t> max_running_requests, free_memory;
    std::string kv_cache_dtype = "auto", quantization, dtype;
    bool disable_cuda_graph = false;
};

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu);

// The figures of every rank, the pool and the verdict, without fixes.
result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k);

// Changes that make a plan that does not start start, each planned again.
std::vector<std::string> fixes(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k,
                               const serve_plan& failed);

std::vector<std::string> log_lines(const analysis& a, const serve_plan& p);
std::vector<std::string> notes(const analysis& a, const serve_plan& p, const knobs& k);
std::string command(const analysis& a, const serve_plan& p, const knobs& k);

// nvidia-smi's memory of the plan's GPU, MiB (what SGLang's defaults read).
uint64_t gpu_mib_of(const serve_plan& p);

} // namespace modelplan::sglang
