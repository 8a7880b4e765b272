// Internal: RapidJSON parsing with line/column errors, and typed key access that reports JSON paths.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "modelplan/error.h"

namespace modelplan {

// The project's JSON output style: 2-space indentation, arrays of numbers on one line, a final newline.
struct json_out {
    rapidjson::StringBuffer buffer;
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w{buffer};
    json_out() {
        w.SetIndent(' ', 2);
        w.SetFormatOptions(rapidjson::kFormatSingleLineArray);
    }
    std::string str() const { return std::string(buffer.GetString(), buffer.GetSize()) + "\n"; }
    // Opens the answer's object with the keys every model answer starts with: {"model": ..., "architecture": ...
    void begin_model_answer(const std::string& model, const std::string& architecture) {
        w.StartObject();
        w.Key("model");
        w.String(model.c_str());
        w.Key("architecture");
        w.String(architecture.c_str());
    }
};

// Parses `text` into `doc` (iteratively, at normal precision); on failure returns an error naming line and
// column (1-based). Used for config.json, requests, safetensors headers and index files.
std::optional<error> parse_json(const std::string& text, rapidjson::Document& doc, const std::string& what);

// True when `v` nests arrays/objects deeper than `limit` (checked without recursion).
bool json_deeper_than(const rapidjson::Value& v, size_t limit);

// A short rendering of a JSON value for messages: "\"4096\"", "4096.5", "true", "an object".
std::string describe_json(const rapidjson::Value& v);

// Typed, path-aware access to the keys of one JSON object.
class key_reader {
  public:
    key_reader(const rapidjson::Value& object, std::string prefix, const rapidjson::Value* defaults = nullptr,
               const rapidjson::Value* root = nullptr)
        : obj_(object), prefix_(std::move(prefix)), defaults_(defaults), root_(root ? root : &object) {}

    std::string path(const char* key) const { return prefix_.empty() ? key : prefix_ + "." + key; }
    const rapidjson::Value& object() const { return obj_; }
    const std::string& prefix() const { return prefix_; }
    // The whole config (differs from object() when this reads a nested text_config).
    const rapidjson::Value& root() const { return *root_; }
    // The key's value, or nullptr when absent or JSON null; absent keys fall back to the class defaults.
    const rapidjson::Value* find(const char* key) const;
    bool has(const char* key) const { return find(key) != nullptr; }

    // Required positive integer.
    result<uint64_t> size(const char* key) const;
    // Optional positive integer: nullopt when absent or null.
    result<std::optional<uint64_t>> optional_size(const char* key) const;
    // Optional non-negative integer.
    result<std::optional<uint64_t>> optional_count(const char* key) const;
    result<bool> optional_bool(const char* key, bool fallback) const;
    result<double> optional_number(const char* key, double fallback) const;
    result<std::optional<std::string>> optional_string(const char* key) const;

  private:
    result<std::optional<uint64_t>> integer(const char* key, uint64_t minimum) const;
    const rapidjson::Value& obj_;
    std::string prefix_;
    const rapidjson::Value* defaults_; // configuration-class defaults for absent keys, or null
    const rapidjson::Value* root_;
};

} // namespace modelplan
