// Reading checkpoint headers from disk with bounded reads: a safetensors file, an index with its shards, a
// folder of shards, or GGUF files. Only the header bytes are read, never the tensor data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "modelplan/checkpoint.h"
#include "modelplan/error.h"

namespace modelplan::cli {

// Largest model.safetensors.index.json we read (DeepSeek-V3's, with 91,991 entries, is about 9 MB).
constexpr uint64_t max_index_bytes = 64ull << 20;
// Largest GGUF header (metadata and tensor infos) we read; a 256k-token vocabulary takes tens of MB.
constexpr uint64_t max_gguf_header_bytes = 512ull << 20;
// First read of a GGUF file; doubled until the header fits.
constexpr uint64_t gguf_first_read = 1ull << 20;

struct loaded_checkpoint {
    checkpoint ck;
    std::string kind;                         // "safetensors file", "sharded safetensors (index)", ...
    std::optional<std::string> folder_config; // config.json of the checkpoint's folder, when there is one
    uint64_t header_bytes_read = 0;           // bytes read from all files together
};

// PATH: a .safetensors file, a model.safetensors.index.json, a .gguf file, or a folder holding one of those.
result<loaded_checkpoint> load_checkpoint(const std::string& path);

} // namespace modelplan::cli
