// Internal: the largest value that still fits, by bisection (fit.cpp, placement.cpp).
#pragma once

#include <cstdint>

namespace modelplan {

// Largest value in [1, limit] for which `fits(value)` holds, assuming it is monotone; 0 when 1 does not fit.
template <class Fits>
uint64_t largest_fitting(uint64_t limit, Fits fits) {
    if (limit == 0 || !fits(1)) return 0;
    uint64_t lo = 1, hi = limit;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo + 1) / 2;
        if (fits(mid))
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

} // namespace modelplan
