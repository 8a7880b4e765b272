// Internal: saturating arithmetic for memory plans. Absurd workloads report UINT64_MAX instead of wrapping
// (in wasm too, where size_t is 32-bit).
#pragma once

#include <cstdint>

namespace modelplan::sat {

inline uint64_t mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
inline uint64_t add(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
inline uint64_t ceil_div(uint64_t a, uint64_t b) {
    return a == UINT64_MAX ? UINT64_MAX : a / b + (a % b != 0);
}

} // namespace modelplan::sat
