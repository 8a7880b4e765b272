// Helpers for core tests: presets by name, and configs edited key by key.
#pragma once

#include <initializer_list>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"

namespace modelplan::test {

// A plan's item by name (nullptr when absent), and its bytes (a failure when absent).
inline const plan_item* find_item(const std::vector<plan_item>& items, const std::string& name) {
    for (const plan_item& item : items)
        if (item.name == name) return &item;
    return nullptr;
}

inline uint64_t bytes_of(const std::vector<plan_item>& items, const std::string& name) {
    const plan_item* item = find_item(items, name);
    EXPECT_NE(item, nullptr) << name;
    return item ? item->bytes : 0;
}

// A rank slice's pieces as start, length, start, length, ... (parallel-slices.cpp, quantized-slices.cpp).
using pieces = std::vector<uint64_t>;
inline pieces pieces_of(const rank_slice& r) {
    pieces out;
    for (const auto& p : r.pieces) out.insert(out.end(), {p.start, p.length});
    return out;
}

inline std::string preset_config(const std::string& name) {
    auto p = find_preset(name);
    EXPECT_TRUE(p.ok()) << name;
    return p.ok() ? p->config_json : "{}";
}

inline analysis analyze_preset(const std::string& name) {
    auto a = analyze(name, preset_config(name), {});
    if (!a.ok()) ADD_FAILURE() << name << ": " << a.err().message;
    return a.ok() ? std::move(*a) : analysis{};
}

// `config` with one key replaced by raw JSON (or removed when `json_value` is empty).
inline std::string edit_key(const std::string& config, const char* key, const std::string& json_value) {
    rapidjson::Document doc;
    doc.Parse(config.c_str());
    doc.RemoveMember(key);
    if (!json_value.empty()) {
        rapidjson::Document value(&doc.GetAllocator());
        value.Parse(json_value.c_str());
        EXPECT_FALSE(value.HasParseError()) << json_value;
        doc.AddMember(rapidjson::Value(key, doc.GetAllocator()), rapidjson::Value(value, doc.GetAllocator()),
                      doc.GetAllocator());
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    doc.Accept(w);
    return sb.GetString();
}

// Presets whose published total is tested in a test file of their own (families-*.cpp): each file registers
// them here at static initialisation, and published-counts.cpp's every-preset check accepts them.
inline std::set<std::string>& presets_with_totals_elsewhere() {
    static std::set<std::string> names;
    return names;
}
inline bool register_published_totals(std::initializer_list<const char*> presets) {
    for (const char* p : presets) presets_with_totals_elsewhere().insert(p);
    return true;
}

// A preset's config with one key replaced or removed.
inline std::string edited_config(const std::string& preset, const char* key, const std::string& json_value) {
    return edit_key(preset_config(preset), key, json_value);
}

// The same registration as a static object: `const published_elsewhere registered{"preset", ...};`.
struct published_elsewhere {
    explicit published_elsewhere(std::initializer_list<const char*> names) {
        register_published_totals(names);
    }
};

} // namespace modelplan::test
