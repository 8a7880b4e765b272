// Internal: text helpers of the core's own messages. The public ones, shared with the adapters, are in
// modelplan/text.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace modelplan {

// A count or size in a message or a plan input, in plain digits: 4096 -> "4096".
inline std::string num(uint64_t v) {
    return std::to_string(v);
}

// A shape in a message: {4096, 128} -> "[4096, 128]".
inline std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + num(shape[i]);
    return s + "]";
}

} // namespace modelplan
