// libFuzzer target: config.json -> parse_config, and for small models the skeleton, counts and JSON output.
// Build and run: fuzz/build.sh (docs/checkpoints.md, "Fuzzing").
//
// The text is parsed here with RapidJSON's normal-precision numbers and handed to parse_config(const Value&),
// which holds every validation. parse_config(text) goes through parse_json's kParseFullPrecisionFlag, where
// RapidJSON 1.1.0 has undefined behaviour on numbers such as `0E45` or integers above 2^64
// (__builtin_clzll(0) in internal/diyfp.h, shifts by huge counts in internal/strtod.h): found by this target,
// reported, and kept out of the way here so that the fuzzer can look further
// (fuzz/corpus/config/regression-long-number.json reproduces it through parse_config(text)).
#include <cstddef>
#include <cstdint>
#include <string>

#include <rapidjson/document.h>

#include "modelplan/config.h"
#include "modelplan/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(reinterpret_cast<const char*>(data), size);
    if (doc.HasParseError()) return 0;
    auto spec = modelplan::parse_config(doc);
    if (!spec) return 0;
    // The skeleton of a valid config can be legitimately huge (10,000 layers x 65,536 experts); keep it
    // small.
    uint64_t experts = spec->n_experts ? spec->n_experts : 1;
    if (spec->layers.size() > 64 || experts > 64 || spec->vocab > (1u << 20) || spec->hidden > (1u << 16))
        return 0;
    auto a = modelplan::analyze("fuzz", std::move(spec));
    if (a) {
        (void)modelplan::params_json(*a);
        (void)modelplan::skeleton_json(*a);
    }
    return 0;
}
