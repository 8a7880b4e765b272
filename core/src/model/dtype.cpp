#include "modelplan/dtype.h"
#include "modelplan/text.h"

#include <algorithm>
#include <cctype>

namespace modelplan {

namespace {
struct dtype_row {
    dtype type;
    const char* name; // safetensors spelling
    uint64_t bytes;
    const char* torch_names; // space-separated spellings used by torch / config.json
};
// clang-format off
const dtype_row dtype_table[] = {
    {dtype::f32,     "F32",     4, "float32 float fp32"},
    {dtype::f16,     "F16",     2, "float16 half fp16"},
    {dtype::bf16,    "BF16",    2, "bfloat16 bf16"},
    {dtype::f64,     "F64",     8, "float64 double fp64"},
    {dtype::f8_e4m3, "F8_E4M3", 1, "float8_e4m3fn float8_e4m3 fp8_e4m3 fp8"},
    {dtype::f8_e5m2, "F8_E5M2", 1, "float8_e5m2 fp8_e5m2"},
    {dtype::i8,      "I8",      1, "int8"},
    {dtype::u8,      "U8",      1, "uint8"},
    {dtype::i32,     "I32",     4, "int32 int"},
    {dtype::i64,     "I64",     8, "int64 long"},
    {dtype::boolean, "BOOL",    1, "bool"},
};
// clang-format on

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}
} // namespace

const char* dtype_name(dtype t) {
    for (const auto& r : dtype_table)
        if (r.type == t) return r.name;
    return "?";
}

uint64_t dtype_bytes(dtype t) {
    for (const auto& r : dtype_table)
        if (r.type == t) return r.bytes;
    return 0;
}

result<dtype> parse_dtype(const std::string& text, const std::string& field) {
    std::string s = lower(text);
    if (s.rfind("torch.", 0) == 0) s = s.substr(6);
    std::string known;
    for (const auto& r : dtype_table) {
        std::string names = std::string(" ") + r.torch_names + " ";
        if (s == lower(r.name) || names.find(" " + s + " ") != std::string::npos) return r.type;
        std::string first = r.torch_names;
        known += (known.empty() ? "" : ", ") + first.substr(0, first.find(' '));
    }
    return make_error(error_code::unknown_dtype,
                      field + ": unknown dtype " + quote_value(text) + "; expected one of " + known, field);
}

} // namespace modelplan
