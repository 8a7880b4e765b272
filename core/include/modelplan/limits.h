// Limits on what an input may ask modelplan to build, shared by the skeleton builder and the checkpoint
// readers. Each is listed with the message a user sees past it in docs/reliability.md.
#pragma once

#include <cstdint>

namespace modelplan {

// The most tensors a skeleton (parameters and tied aliases), one checkpoint file or one checkpoint may hold:
// a tiny config or header must not make the program allocate gigabytes. Four times Kimi-K2's 70k
// routed-expert tensors; DeepSeek-V3 has 46,183 in all.
constexpr uint64_t max_tensors = 1ull << 18;

// The most elements one tensor may have: 2^60, so that its bytes at 8 bytes an element (F64, I64) stay below
// 2^63. LibTorch and NumPy hold sizes as signed 64-bit integers; the core refuses what they cannot hold
// ("Storage size calculation overflowed" otherwise), naming the keys that make the shape.
constexpr uint64_t max_tensor_elements = 1ull << 60;

} // namespace modelplan
