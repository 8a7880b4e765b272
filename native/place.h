// `modelplan place`: device maps across GPUs, CPU and disk, and tensor/pipeline-parallel plans.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "modelplan/memory.h"

namespace modelplan::cli {

struct place_args {
    std::optional<std::string> devices;  // --devices cuda:0=24GiB,...
    std::optional<std::string> gpu;      // --gpu NAME
    std::optional<std::string> gpus;     // --gpus N (with --gpu)
    std::optional<std::string> cpu;      // --cpu SIZE
    bool disk = false;                   // --disk
    std::optional<std::string> strategy; // --strategy sequential|balanced
    bool experts_on_cpu = false;
    std::vector<std::string> pins;       // --pin PATTERN=DEVICE
    std::optional<std::string> tp, pp;
    std::optional<std::string> map_out;  // --device-map-out FILE
    bool json = false;
};

extern const char* place_help;

// Returns the exit status: 0 placed and fits, 3 does not fit, 2 bad input.
int run_place(const analysis& a, const workload& w, const place_args& args);

} // namespace modelplan::cli
