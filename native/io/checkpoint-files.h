// Reading checkpoint headers from disk with bounded reads: a safetensors file, an index with its shards, a
// folder of shards, or GGUF files. Only the header bytes are read, never the tensor data.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

// The leading bytes of one checkpoint file, read on demand and never past what is asked for: a local file, or
// a file on the Hub read with Range requests (hub-online.h).
class byte_source {
  public:
    virtual ~byte_source() = default;
    // The file's size; unknown_size until the first read_to for a remote file.
    virtual uint64_t size() const = 0;
    virtual const std::string& bytes() const = 0;
    // Extends the prefix to `n` bytes (at most the file size).
    virtual std::optional<error> read_to(uint64_t n) = 0;
    static constexpr uint64_t unknown_size = UINT64_MAX;
};

// Opens a file of a checkpoint by its name (as an index or a folder listing names it).
using source_opener = std::function<result<std::unique_ptr<byte_source>>(const std::string& name)>;

// The checkpoint among `names` (a folder's or a repository's file names, by select_checkpoint_files' rules),
// its headers read through `open`; `where` prefixes messages (a folder, a repository id).
result<loaded_checkpoint> load_checkpoint_from(const std::vector<std::string>& names,
                                               const source_opener& open, const std::string& where);

} // namespace modelplan::cli
