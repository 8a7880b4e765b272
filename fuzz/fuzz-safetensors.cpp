// libFuzzer target: bytes -> safetensors header (whole file, and every prefix the parser asks for), the
// logical view with quantized groups, the inspect JSON; and the same bytes as a model.safetensors.index.json.
// Build and run: fuzz/build.sh (docs/checkpoints.md, "Fuzzing").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "modelplan/safetensors.h"
#include "modelplan/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);
    auto whole = modelplan::parse_safetensors_header(bytes, size, "fuzz.safetensors");
    if (whole && !whole->parsed) __builtin_trap(); // with every byte given, nothing more can be needed

    // As the page reads it: 8 bytes, then exactly what the parser asks for. Same outcome.
    std::string_view prefix = bytes.substr(0, 8);
    for (int round = 0; round < 3; ++round) {
        auto r = modelplan::parse_safetensors_header(prefix, size, "fuzz.safetensors");
        if (!r || r->parsed) {
            if (r.ok() != whole.ok()) __builtin_trap(); // the same outcome as with every byte
            break;
        }
        if (r->need_bytes <= prefix.size() || r->need_bytes > size) __builtin_trap();
        prefix = bytes.substr(0, static_cast<size_t>(r->need_bytes));
    }
    if (whole) {
        auto in = modelplan::inspect("fuzz.safetensors", std::move(*whole->parsed), std::nullopt, "");
        if (in) (void)modelplan::inspect_json(*in);
    }

    auto index = modelplan::parse_safetensors_index(std::string(bytes), "fuzz.index.json");
    if (index && index->shards.size() == 1) {
        // An index over one empty shard: the cross-check reports every tensor it names.
        modelplan::checkpoint empty;
        empty.files.push_back({index->shards[0], 0, 0, 0});
        (void)modelplan::merge_safetensors_shards(*index, {empty});
    }
    return 0;
}
