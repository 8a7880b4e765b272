// Inverse solves against a GPU: the longest context that fits a batch, the largest batch for a context, the
// smallest quantization that fits and how many GPUs an even split would need (docs/devices.md).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "modelplan/devices.h"

namespace modelplan {

struct fit_answer {
    uint64_t memory_bytes = 0; // the GPU's memory as the driver reports it
    uint64_t total_bytes = 0;  // the plan's total for the workload as given
    bool fits = false;
    int64_t headroom_bytes = 0; // memory - total (negative when it does not fit)
    uint64_t max_seq = 0;       // longest seq (tokens) that fits for the batch; 0: none does
    uint64_t max_batch = 0;     // largest batch that fits at the seq; 0: none does
    std::string smallest_quant; // first format (largest first) of the ladder that fits, "" if none
    bool quant_found = false;
    uint64_t gpus_needed = 0; // ceil(total / memory): an even split, before placement
};

// Quantization formats tried by `smallest_quant`, from the most to the least precise.
const std::vector<std::string>& quant_ladder();

// The three inverse answers under any test of "it fits": the longest seq at w's batch (up to the model's
// max_position_embeddings, else 2^24), the largest batch (up to 2^20) at w's seq or the model's default, and
// the first format of quant_ladder() that fits. solve_fit tests one GPU's total; solve_placement_fit
// (placement.h) places the model on the devices for each trial.
struct workload_limits {
    uint64_t max_seq = 0, max_batch = 0; // 0: none fits
    std::string smallest_quant;          // "none" when the unquantized model fits, "" when nothing does
    bool quant_found = false;
};
workload_limits solve_workload_limits(const analysis& a, const workload& w,
                                      const std::function<bool(const workload&)>& fits);

result<fit_answer> solve_fit(const analysis& a, const workload& w, const gpu_row& gpu);

std::string fit_json(const analysis& a, const workload& w, const gpu_row& gpu, const fit_answer& f,
                     const device_check& checks);

} // namespace modelplan
