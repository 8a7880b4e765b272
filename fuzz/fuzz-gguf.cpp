// libFuzzer target: bytes -> GGUF header (whole file, and growing prefixes as the CLI and the page read it),
// the logical view, the model_spec from the architecture metadata, verification against it and the inspect
// JSON. Build and run: fuzz/build.sh (docs/checkpoints.md, "Fuzzing").
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "modelplan/gguf.h"
#include "modelplan/report.h"
#include "modelplan/verify.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view bytes(reinterpret_cast<const char*>(data), size);

    // As the CLI reads: a first block, then at least what the parser asks for, doubling. The last step is
    // often the whole input; only when it is not is the whole input parsed again (parsing is most of the cost
    // of an input: see docs/reliability.md, "Fuzzing").
    std::string_view prefix = bytes.substr(0, 16);
    auto last = modelplan::parse_gguf(prefix, size, "fuzz.gguf");
    while (last && !last->parsed) {
        if (last->need_bytes <= prefix.size() || last->need_bytes > size) __builtin_trap();
        prefix =
            bytes.substr(0, static_cast<size_t>(std::max<uint64_t>(last->need_bytes, 2 * prefix.size())));
        last = modelplan::parse_gguf(prefix, size, "fuzz.gguf");
    }
    auto whole = prefix.size() == size ? std::move(last) : modelplan::parse_gguf(bytes, size, "fuzz.gguf");
    if (whole && !whole->parsed) __builtin_trap(); // with every byte given, nothing more can be needed
    if (prefix.size() != size && last.ok() != whole.ok()) __builtin_trap(); // the same outcome either way
    if (!whole) return 0;

    modelplan::checkpoint ck = std::move(*whole->parsed);
    std::optional<modelplan::analysis> model;
    auto spec = modelplan::gguf_model_spec(ck);
    // The skeleton of valid metadata can be legitimately huge; keep it small.
    if (spec && spec->layers.size() <= 64 && spec->n_experts <= 64 && spec->vocab <= (1u << 20) &&
        spec->hidden <= (1u << 16)) {
        auto a = modelplan::analyze("fuzz", std::move(spec));
        if (a) model = std::move(*a);
    }
    auto in = modelplan::inspect("fuzz.gguf", std::move(ck), std::move(model), "GGUF metadata");
    if (in) (void)modelplan::inspect_json(*in);
    return 0;
}
