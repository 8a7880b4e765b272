// Internal: JSON parsing for checkpoint headers and indexes.
#pragma once

#include <optional>
#include <string>

#include <rapidjson/document.h>

#include "modelplan/error.h"

namespace modelplan {

// Like parse_json (json-util.h), with the same line/column messages, but with RapidJSON's normal-precision
// number parsing: headers hold integers, and RapidJSON 1.1.0's full-precision path calls __builtin_clzll(0)
// on some long numbers (undefined behaviour found by fuzz/fuzz-safetensors.cpp).
std::optional<error> parse_header_json(const std::string& text, rapidjson::Document& doc,
                                       const std::string& what);

} // namespace modelplan
