// libFuzzer target: config.json -> parse_config, and for small models the skeleton, counts and JSON output.
// Build and run: fuzz/build.sh (docs/checkpoints.md, "Fuzzing").
//
// The whole path from text: parse_json (iterative, normal precision; RapidJSON 1.1.0's full-precision path
// had undefined behaviour on numbers such as `0E45`, found by this target and kept as
// fuzz/corpus/config/regression-long-number.json), parse_config's validation, then for small models the
// skeleton, counts and JSON output.
#include <cstddef>
#include <cstdint>
#include <string>

#include "modelplan/config.h"
#include "modelplan/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto spec = modelplan::parse_config(std::string(reinterpret_cast<const char*>(data), size));
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
