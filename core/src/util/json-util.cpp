#include "util/json-util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <rapidjson/error/en.h>

namespace modelplan {

void json_out::begin_model_answer(const std::string& model, const std::string& architecture) {
    w.StartObject();
    w.Key("model");
    write_string(w, model);
    w.Key("architecture");
    write_string(w, architecture);
}

void write_string(json_writer& w, const std::string& s) {
    w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_uint64s(json_writer& w, const std::vector<uint64_t>& values) {
    w.StartArray();
    for (uint64_t v : values) w.Uint64(v);
    w.EndArray();
}

void write_strings(json_writer& w, const char* key, const std::vector<std::string>& values) {
    w.Key(key);
    w.StartArray();
    for (const auto& s : values) write_string(w, s);
    w.EndArray();
}

void write_uint64_or_null(json_writer& w, uint64_t value, bool present) {
    if (present)
        w.Uint64(value);
    else
        w.Null();
}

std::optional<error> parse_json(const std::string& text, rapidjson::Document& doc, const std::string& what) {
    // Iterative parsing: a hostile, deeply nested document cannot overflow the stack.
    // Normal precision: RapidJSON 1.1.0's full-precision path has undefined behaviour on inputs such as 0E45
    // (found by fuzz/fuzz-config); config values need no more than a double's usual rounding.
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!doc.HasParseError()) return std::nullopt;
    size_t offset = std::min(doc.GetErrorOffset(), text.size());
    size_t line = 1, column = 1;
    for (size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return make_error(error_code::json_syntax, what + " is not valid JSON: line " + std::to_string(line) +
                                                   ", column " + std::to_string(column) + ": " +
                                                   rapidjson::GetParseError_En(doc.GetParseError()));
}

bool json_deeper_than(const rapidjson::Value& v, size_t limit) {
    std::vector<std::pair<const rapidjson::Value*, size_t>> stack{{&v, 1}};
    while (!stack.empty()) {
        auto [value, depth] = stack.back();
        stack.pop_back();
        if (depth > limit) return true;
        if (value->IsArray())
            for (const auto& item : value->GetArray()) stack.push_back({&item, depth + 1});
        else if (value->IsObject())
            for (const auto& member : value->GetObject()) stack.push_back({&member.value, depth + 1});
    }
    return false;
}

std::string describe_json(const rapidjson::Value& v) {
    if (v.IsNull()) return "null";
    if (v.IsBool()) return v.GetBool() ? "true" : "false";
    if (v.IsString()) {
        std::string s = v.GetString();
        if (s.size() > 40) s = s.substr(0, 40) + "...";
        return "the string \"" + s + "\"";
    }
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsInt64()) return std::to_string(v.GetInt64());
    if (v.IsNumber()) {
        // The shortest form that reads back as the same double.
        char buf[64];
        for (int precision = 15; precision <= 17; ++precision) {
            std::snprintf(buf, sizeof buf, "%.*g", precision, v.GetDouble());
            if (std::strtod(buf, nullptr) == v.GetDouble()) break;
        }
        return buf;
    }
    if (v.IsArray()) return "an array";
    return "an object";
}

const rapidjson::Value* key_reader::find(const char* key) const {
    auto it = obj_.FindMember(key);
    if (it != obj_.MemberEnd()) return it->value.IsNull() ? nullptr : &it->value;
    if (!defaults_) return nullptr;
    auto d = defaults_->FindMember(key);
    return d == defaults_->MemberEnd() || d->value.IsNull() ? nullptr : &d->value;
}

result<std::optional<uint64_t>> key_reader::integer(const char* key, uint64_t minimum) const {
    const rapidjson::Value* v = find(key);
    if (!v) return std::optional<uint64_t>{};
    const char* expected = minimum > 0 ? "a positive integer" : "a non-negative integer";
    if (v->IsUint64()) {
        if (v->GetUint64() < minimum)
            return make_error(error_code::out_of_range,
                              path(key) + " must be " + expected + ", got " + describe_json(*v), path(key));
        return std::optional<uint64_t>{v->GetUint64()};
    }
    if (v->IsInt64())
        return make_error(error_code::out_of_range,
                          path(key) + " must be " + expected + ", got " + describe_json(*v), path(key));
    if (v->IsDouble() && std::fabs(v->GetDouble()) >= 1.8446744073709552e19)
        return make_error(error_code::overflow,
                          path(key) + " (" + describe_json(*v) + ") does not fit in 64 bits; expected " +
                              expected,
                          path(key));
    return make_error(error_code::wrong_type,
                      path(key) + ": expected " + expected + ", got " + describe_json(*v), path(key));
}

result<uint64_t> key_reader::size(const char* key) const {
    auto v = optional_size(key);
    if (!v) return v.err();
    if (!*v)
        return make_error(error_code::missing_key,
                          "missing required key " + path(key) + " (a positive integer)", path(key));
    return **v;
}

result<std::optional<uint64_t>> key_reader::optional_size(const char* key) const {
    return integer(key, 1);
}
result<std::optional<uint64_t>> key_reader::optional_count(const char* key) const {
    return integer(key, 0);
}

result<bool> key_reader::optional_bool(const char* key, bool fallback) const {
    const rapidjson::Value* v = find(key);
    if (!v) return fallback;
    if (!v->IsBool())
        return make_error(error_code::wrong_type,
                          path(key) + ": expected true or false, got " + describe_json(*v), path(key));
    return v->GetBool();
}

result<double> key_reader::optional_number(const char* key, double fallback) const {
    const rapidjson::Value* v = find(key);
    if (!v) return fallback;
    if (!v->IsNumber())
        return make_error(error_code::wrong_type, path(key) + ": expected a number, got " + describe_json(*v),
                          path(key));
    return v->GetDouble();
}

result<std::optional<std::string>> key_reader::optional_string(const char* key) const {
    const rapidjson::Value* v = find(key);
    if (!v) return std::optional<std::string>{};
    if (!v->IsString())
        return make_error(error_code::wrong_type, path(key) + ": expected a string, got " + describe_json(*v),
                          path(key));
    return std::optional<std::string>{std::string(v->GetString(), v->GetStringLength())};
}

} // namespace modelplan
