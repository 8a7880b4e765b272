// `modelplan place`: device maps across GPUs, CPU and disk, and tensor/pipeline-parallel plans.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "modelplan/memory.h"
#include "modelplan/placement.h"

namespace modelplan::cli {

// What the command line gives `place`: the core's request, filled option by option, plus the counts still as
// text (checked in run_place) and the CLI's own options.
struct place_args {
    place_request request;               // --devices, --gpu, --cpu, --disk, --strategy, --experts-on-cpu, --pin
    std::optional<std::string> gpus;     // --gpus N (with --gpu)
    std::optional<std::string> tp, pp;
    std::optional<std::string> map_out;  // --device-map-out FILE
    bool json = false;
};

extern const char* place_help;

// Returns the exit status: 0 placed and fits, 3 does not fit, 2 bad input.
int run_place(const analysis& a, const workload& w, const place_args& args);

} // namespace modelplan::cli
