#include "util/json-util.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include <rapidjson/error/en.h>

#include "modelplan/text.h"

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
    // NaN and Infinity: Python's json module writes them, and published configs hold them (Mamba-2's
    // "time_step_limit": [0.0, Infinity]).
    doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseNanAndInfFlag>(text.data(), text.size());
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
    std::vector<std::pair<const rapidjson::Value*, size_t>> stack{
        {&v, 1}
    };
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

namespace {

// The shortest text that reads back as the same double; integral values keep a ".0" so that 64.0 is not
// reported as the integer 64 it was refused for not being.
std::string number_text(double value) {
    char buf[64];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, value);
        if (std::strtod(buf, nullptr) == value) break;
    }
    std::string out = buf;
    if (out.find_first_of(".eEn") == std::string::npos) out += ".0"; // n: inf, nan
    return out;
}

// A JSON value as compact text, cut once `out` holds `budget` bytes (nesting cut at 4 levels), so that a
// message can quote a small array whole and a huge or deeply nested one by its start.
void render(const rapidjson::Value& v, std::string& out, size_t budget, int depth) {
    if (out.size() >= budget) return;
    if (v.IsString()) {
        out += quote_value(std::string_view(v.GetString(), v.GetStringLength()), budget - out.size());
    } else if (v.IsArray() || v.IsObject()) {
        out += v.IsArray() ? "[" : "{";
        if (depth >= 4) {
            out += v.IsArray() ? "...]" : "...}";
            return;
        }
        bool first = true;
        auto item = [&](const rapidjson::Value* key, const rapidjson::Value& value) {
            if (out.size() >= budget) return false;
            if (!first) out += ", ";
            first = false;
            if (key) {
                render(*key, out, budget, depth + 1);
                out += ": ";
            }
            render(value, out, budget, depth + 1);
            return true;
        };
        if (v.IsArray()) {
            for (const auto& e : v.GetArray())
                if (!item(nullptr, e)) break;
        } else {
            for (const auto& m : v.GetObject())
                if (!item(&m.name, m.value)) break;
        }
        if (out.size() >= budget) {
            out += "...";
            return;
        }
        out += v.IsArray() ? "]" : "}";
    } else {
        out += v.IsNull()     ? "null"
               : v.IsBool()   ? (v.GetBool() ? "true" : "false")
               : v.IsUint64() ? std::to_string(v.GetUint64())
               : v.IsInt64()  ? std::to_string(v.GetInt64())
                              : number_text(v.GetDouble());
    }
}

} // namespace

std::string describe_json(const rapidjson::Value& v) {
    if (v.IsString())
        return "the string " + quote_value(std::string_view(v.GetString(), v.GetStringLength()), 40);
    std::string out;
    render(v, out, 64, 0);
    if (v.IsArray()) return "an array " + out;
    if (v.IsObject()) return "an object " + out;
    return out;
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
