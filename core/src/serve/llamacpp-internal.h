// Internal: llama.cpp's start-up accounting (llamacpp.cpp) for serve.cpp, which checks the request and writes
// answers.
#pragma once

#include <string>
#include <vector>

#include "modelplan/devices.h"
#include "modelplan/serve.h"

namespace modelplan::llamacpp {

// The knobs resolved against the model: defaults filled in (llama-server's), every value checked.
struct knobs {
    uint64_t gpus = 1, n_layer = 0, ngl = 0;
    uint64_t n_ctx = 0, n_ctx_seq = 0, n_seq = 4, n_ubatch = 512, n_cpu_moe = 0;
    bool unified = true, cpu_moe = false, ngl_given = false, ctx_given = false, parallel_given = false;
    std::string type_k = "f16", type_v = "f16", quant;
};

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu);

// The buffers of every device, the cache and the verdict, without fixes.
result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k);

std::vector<std::string> fixes(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k,
                               const serve_plan& failed);
std::vector<std::string> log_lines(const serve_plan& p, const knobs& k);
std::vector<std::string> notes(const analysis& a, const serve_plan& p, const knobs& k);
std::string command(const analysis& a, const serve_plan& p, const knobs& k);

} // namespace modelplan::llamacpp
