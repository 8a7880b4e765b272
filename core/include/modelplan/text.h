// Small text helpers shared by the core's messages and the adapters' human output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace modelplan {

// 8030261248 -> "8,030,261,248"
std::string with_thousands(uint64_t n);

// Binary units, labelled as such: 16060522496 -> "14.96 GiB"; below 1 KiB -> "512 B".
std::string binary_size(uint64_t bytes);

// Parameter count in short decimal form: 8030261248 -> "8.03B", 135000000 -> "135.00M".
std::string short_count(uint64_t n);

// "512MiB", "1.5GiB", "24GB", "1000" (bytes) -> bytes; nullopt when malformed or out of range. Binary units
// (KiB, MiB, GiB, TiB) are powers of 1024, decimal ones (KB, MB, GB, TB) powers of 1000.
std::optional<uint64_t> parse_size(const std::string& text);

// A memory size as people type it (CPU offload, a custom GPU, a device list): a bare number means GiB ("64"
// is 64 GiB), single letters are binary ("64g", "64G" = 64 GiB; k, m, t likewise), units are case-insensitive
// ("64gib", "64GiB"; "64gb"/"64GB" = 64e9 bytes, decimal as in parse_size), "B" is bytes. nullopt when
// malformed.
std::optional<uint64_t> parse_memory_size(const std::string& text);

// Edit distance (Levenshtein), case-insensitive.
size_t edit_distance(const std::string& a, const std::string& b);

// The candidate closest to `wanted` if it is plausibly a typo of it, else "".
std::string closest_name(const std::string& wanted, const std::vector<std::string>& candidates);

// True when `text` ends with `suffix`; then, with `before`, also stores there the text before the suffix
// ("model.layers.0.qweight", ".qweight" -> "model.layers.0").
bool ends_with(std::string_view text, std::string_view suffix, std::string* before = nullptr);

// A value from the user quoted for a message: in double quotes, control characters (NUL included) escaped as
// \u00XX, and cut between characters where its escaped form would pass `max_bytes`, with the length:
// "xxxx..." (1,000,000 bytes). Many control characters are cut sooner (each escape takes 6 bytes).
std::string quote_value(std::string_view text, size_t max_bytes = 64);

// Replace every "{key}" in `pattern` by `value`.
std::string replace_all(std::string pattern, const std::string& key, const std::string& value);

} // namespace modelplan
