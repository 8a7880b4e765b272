// Errors are values: a stable code, a message that names the field with the expected and actual value,
// and the JSON path when the error concerns a key of the input. The core never prints and never aborts on
// user input; it returns one of these.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace modelplan {

enum class error_code {
    json_syntax,        // the text is not valid JSON
    missing_key,        // a required key is absent
    wrong_type,         // a key holds a value of the wrong JSON type
    out_of_range,       // a number is outside its allowed range (zero, negative, too large)
    not_divisible,      // a size must divide another
    inconsistent,       // two keys contradict each other
    overflow,           // a product of sizes does not fit in 64 bits
    unknown_model_type, // model_type names no supported family
    unknown_dtype,      // a dtype name we do not know
    unknown_model,      // a preset name (or the CLI's MODEL argument) that names no preset, file or folder
    bad_request,        // a malformed request to the API (wasm or CLI options)
    io,                 // a file could not be read (native adapters only)
    internal,           // a bug: an invariant of ours failed
    bad_checkpoint,     // a checkpoint header (safetensors, index, GGUF) breaks a rule of its format
    unsupported,        // a valid input this version cannot handle (GGUF v1, big-endian, an architecture)
    unknown_gpu,        // a GPU name that is not in the catalog, or that matches several entries
};

// Stable, lower_snake_case name of the code, as it appears in JSON output (the list: docs/errors.md).
const char* error_code_name(error_code code);

struct error {
    error_code code;
    std::string message; // full sentence naming the field, expected and actual value
    std::string path;    // JSON path of the offending key ("text_config.num_key_value_heads"), or empty
};

// A value or an error. Deliberately small: C++17 has no std::expected.
template <class T>
class result {
  public:
    result(T value) : v_(std::move(value)) {}
    result(error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const error& err() const { return std::get<1>(v_); }

  private:
    std::variant<T, error> v_;
};

inline error make_error(error_code code, std::string message, std::string path = {}) {
    return error{code, std::move(message), std::move(path)};
}

} // namespace modelplan
