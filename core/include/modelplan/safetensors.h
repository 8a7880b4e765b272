// safetensors headers and sharded-checkpoint indexes (model.safetensors.index.json), parsed from bytes the
// caller read. The rules are those of the reference implementation (huggingface/safetensors,
// safetensors/src/tensor.rs): docs/checkpoints.md lists each with its source.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/error.h"

namespace modelplan {

// The reference implementation refuses headers above 100,000,000 bytes (MAX_HEADER_SIZE).
constexpr uint64_t safetensors_max_header_bytes = 100'000'000;
// What one file's header may list: at most max_tensors (skeleton.h) tensors whose names together take at most
// 16 MiB. A header under the format's size cap can still list millions of tiny tensors, each costing far more
// memory than its bytes; real shards list a few thousand (DeepSeek-V3's largest: 1,785). docs/reliability.md.
constexpr uint64_t safetensors_max_name_bytes = 16ull << 20;
// Bytes of the little-endian header length that opens every file.
constexpr uint64_t safetensors_length_bytes = 8;

struct safetensors_dtype_info {
    const char* name; // "BF16"
    uint32_t bits;    // bits per element (F4: 4, F6_*: 6)
};
// Every dtype of the safetensors format, in the reference implementation's order.
const std::vector<safetensors_dtype_info>& safetensors_dtypes();
// Bits per element of a dtype name, or nullopt when the format has no such dtype.
std::optional<uint32_t> safetensors_dtype_bits(std::string_view name);

// Parses the header of the safetensors file `file_name` of `file_size` bytes from its first bytes. When
// `prefix` holds fewer than 8 + N bytes (N: the header length), returns need_bytes = 8 (or 8 + N) instead.
// Validates every rule of the reference implementation, including that the data ends exactly at the end of
// the file.
result<header_parse<checkpoint>> parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                                          const std::string& file_name);

// ---- Sharded checkpoints
// -------------------------------------------------------------------------------------

struct safetensors_index {
    std::optional<uint64_t> total_size;       // metadata.total_size: bytes of all tensors
    std::optional<uint64_t> total_parameters; // metadata.total_parameters (newer transformers)
    std::vector<std::pair<std::string, std::string>> weight_map; // tensor -> shard file, in file order
    std::vector<std::string> shards; // distinct shard files, in order of first appearance
};

// Parses model.safetensors.index.json. Shard names must be plain file names (no folders, no "..").
result<safetensors_index> parse_safetensors_index(const std::string& json_text, const std::string& what);

// Cross-checks an index with its shards' parsed headers (in the order of index.shards) and merges them into
// one checkpoint: every tensor of the weight map is in the shard it names, every tensor of a shard is in the
// weight map and in no other shard. A total_size or total_parameters that differs from the shards' sums is a
// warning.
result<checkpoint> merge_safetensors_shards(const safetensors_index& index, std::vector<checkpoint> shards);

// Merges separate checkpoints of the same format (a folder of .safetensors files without an index, or GGUF
// splits): tensor names must be unique across files.
result<checkpoint> merge_checkpoints(std::vector<checkpoint> parts);

} // namespace modelplan
