// Internal: what the engines' plans share (vllm.cpp, sglang.cpp, llamacpp.cpp, serve.cpp).
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "modelplan/serve.h"

namespace modelplan::serve_util {

inline int64_t signed_bytes(uint64_t v) {
    return static_cast<int64_t>(std::min<uint64_t>(v, INT64_MAX));
}

// The plan does not start; the first reason met is the one the engine reports.
inline void fail(serve_plan& p, std::string error) {
    p.starts = false;
    if (p.error.empty()) p.error = std::move(error);
}

// A change to try: the request with it, and the flags that say it.
using attempt = std::pair<serve_request, std::string>;

// The changes among `tries` whose request, planned again with `plan` (request -> result<serve_plan>), starts.
template <class Plan>
std::vector<std::string> fixes_that_start(const std::vector<attempt>& tries, Plan plan) {
    std::vector<std::string> out;
    for (const auto& [request, fix] : tries) {
        auto again = plan(request);
        if (again && again->starts) out.push_back(fix);
    }
    return out;
}

} // namespace modelplan::serve_util
