// Internal: RapidJSON parsing with line/column errors, typed key access that reports JSON paths, and the
// pieces every JSON answer is written with (the answers themselves: core/src/api/).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include "modelplan/error.h"

namespace modelplan {

using json_writer = rapidjson::PrettyWriter<rapidjson::StringBuffer>;

// The project's JSON output style: 2-space indentation, arrays of numbers on one line, a final newline.
struct json_out {
    rapidjson::StringBuffer buffer;
    json_writer w{buffer};
    json_out() {
        w.SetIndent(' ', 2);
        w.SetFormatOptions(rapidjson::kFormatSingleLineArray);
    }
    std::string str() const { return std::string(buffer.GetString(), buffer.GetSize()) + "\n"; }
    // Opens the answer's object with the keys every model answer starts with: {"model": ..., "architecture":
    // ...
    void begin_model_answer(const std::string& model, const std::string& architecture);
};

// The shapes that recur in the answers, each written once.
// A string value, all of it (its length, not a terminating NUL, ends it).
void write_string(json_writer& w, const std::string& s);
// [4096, 128]: a shape, a list of layers or byte counts.
void write_uint64s(json_writer& w, const std::vector<uint64_t>& values);
// "key": ["...", ...]: warnings, errors, notes, suggestions.
void write_strings(json_writer& w, const char* key, const std::vector<std::string>& values);
// The number when `present`, else null (a budget that is unlimited, a group size that does not apply).
void write_uint64_or_null(json_writer& w, uint64_t value, bool present);

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
