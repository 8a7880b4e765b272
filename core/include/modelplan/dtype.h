// Tensor element types, named as safetensors names them ("BF16", "F32", ...).
#pragma once

#include <cstdint>
#include <string>

#include "modelplan/error.h"

namespace modelplan {

enum class dtype : uint8_t { f32, f16, bf16, f64, f8_e4m3, f8_e5m2, i8, u8, i32, i64, boolean };

// safetensors spelling: "F32", "BF16", "F8_E4M3", ...
const char* dtype_name(dtype t);

// Bytes per element (all types listed here are whole bytes).
uint64_t dtype_bytes(dtype t);

// Accepts torch spellings found in config.json ("bfloat16", "float16", "float32", "torch.bfloat16", "half",
// "float", "float64", "float8_e4m3fn", ...) and safetensors spellings ("BF16", ...), case-insensitively.
// `field` names the key or option for the error message.
result<dtype> parse_dtype(const std::string& text, const std::string& field);

} // namespace modelplan
