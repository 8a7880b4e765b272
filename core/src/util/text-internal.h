// Internal: text helpers of the core's own messages. The public ones, shared with the adapters, are in
// modelplan/text.h.
#pragma once

#include <cstdint>
#include <string>

namespace modelplan {

// A count or size in a message or a plan input, in plain digits: 4096 -> "4096".
inline std::string num(uint64_t v) {
    return std::to_string(v);
}

} // namespace modelplan
