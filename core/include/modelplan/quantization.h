// Weight storage: which tensors a quantization format stores quantized, and the bytes each one takes with its
// scales, zero points and block metadata (formats, sources: docs/quantization.md).
#pragma once

#include "modelplan/memory.h"

namespace modelplan {

// The "weights" plan item for the workload: every stored tensor at its own dtype, or quantized as
// `w.quant` (or the config's quantization_config) says; multi-token-prediction layers only when asked for.
result<plan_item> plan_weights(const analysis& a, const workload& w);

} // namespace modelplan
