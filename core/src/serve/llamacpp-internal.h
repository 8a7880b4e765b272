// Internal: llama.cpp's start-up accounting (llamacpp.cpp) for serve.cpp, which checks the request and writes
// answers.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "modelplan/devices.h"
#include "modelplan/serve.h"
#include "util/regex-search.h"

namespace modelplan::llamacpp {

// -ot entries a request may give (each pattern at most regex::max_pattern_chars characters), and the
// automaton steps of all their patterns together: matching costs names x name length x steps at most, per
// plan.
constexpr uint64_t max_overrides = 64;
constexpr uint64_t max_override_steps = 4096;

// One -ot entry, checked: its pattern compiled, its buffer type's device (0: host, i + 1: CUDAi).
struct tensor_override {
    std::string pattern, buffer_type;
    uint64_t device = 0;
    regex::program program;
};

// A part of a skeleton tensor as llama.cpp loads it: the GGUF tensor holding it, the elements of the skeleton
// tensor in it, and the -ot entry that matched the GGUF tensor's name first (-1: none).
struct gguf_part {
    uint64_t elements = 0;
    int32_t rule = -1;
};

// What the -ot entries match in a model: per skeleton tensor, its GGUF parts (none: a tensor llama.cpp does
// not load by name), and per entry the GGUF tensors it placed.
struct override_matches {
    std::vector<std::vector<gguf_part>> parts;
    std::vector<uint64_t> tensors_matched;
};

// The knobs resolved against the model: defaults filled in (llama-server's), every value checked.
struct knobs {
    uint64_t gpus = 1, n_layer = 0, ngl = 0;
    uint64_t n_ctx = 0, n_ctx_seq = 0, n_seq = 4, n_ubatch = 512, n_cpu_moe = 0;
    bool unified = true, cpu_moe = false, ngl_given = false, ctx_given = false, parallel_given = false;
    std::string type_k = "f16", type_v = "f16", quant;
    std::vector<tensor_override> overrides;
    std::shared_ptr<const override_matches> matches; // with overrides
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
