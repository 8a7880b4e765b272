// transformers' device_map="auto" for the machine the program runs on: the placement planner's map over the
// devices present (docs/loading.md#device-maps). What `modelplan load --device-map auto` loads with.
#pragma once

#include <vector>

#include "modelplan/device-map.h"
#include "modelplan/error.h"
#include "modelplan/libtorch/load.h"

namespace modelplan {
struct analysis;
}

namespace modelplan::libtorch {

// The devices of this machine as the placement planner takes them: each CUDA GPU ("cuda:N") at its free
// memory (cudaMemGetInfo), the CPU at the memory the kernel reports available (MemAvailable in
// /proc/meminfo), and disk without a limit.
std::vector<device_budget> local_devices();

// The map for loading `a` from `src` onto `devices`: the placement planner (place_model, sequential, the
// default inference workload). With no GPU among the devices there is no CUDA context to pay for; the
// checkpoint's multi-token-prediction layers are placed when it stores them (stores_mtp_layers), and left out
// otherwise.
result<device_map> auto_device_map(const analysis& a, const checkpoint_source& src,
                                   const std::vector<device_budget>& devices = local_devices());

} // namespace modelplan::libtorch
