// Training memory: gradients, optimizer states, master weights, adapters and training activations, with ZeRO
// and FSDP sharding and optimizer offload (formulas, sources: docs/training.md).
#pragma once

#include <vector>

#include "modelplan/memory.h"

namespace modelplan {

// The training items that follow "weights" in a training plan (weights as planned for the workload).
result<std::vector<plan_item>> plan_training(const analysis& a, const workload& w, const plan_item& weights);

} // namespace modelplan
