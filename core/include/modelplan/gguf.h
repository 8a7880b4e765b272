// GGUF files (versions 2 and 3, little-endian): header, metadata key/values, tensor infos and the GGML types'
// block sizes, parsed from bytes the caller read; the tensors mapped to the common inventory (checkpoint.h);
// the architecture metadata mapped to a model_spec, so a GGUF file can be planned without any config.json.
// Sources: ggml-org/ggml docs/gguf.md, include/ggml.h, include/gguf.h, src/gguf.cpp, src/ggml.c and
// src/ggml-common.h at commit d99724f2b141fed9e1a9f402213506c081433465 (docs/checkpoints.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelplan/architectures.h"
#include "modelplan/checkpoint.h"
#include "modelplan/error.h"
#include "modelplan/model-spec.h"

namespace modelplan {

// gguf_type (include/gguf.h).
enum gguf_type : uint32_t {
    gguf_uint8 = 0,
    gguf_int8 = 1,
    gguf_uint16 = 2,
    gguf_int16 = 3,
    gguf_uint32 = 4,
    gguf_int32 = 5,
    gguf_float32 = 6,
    gguf_bool = 7,
    gguf_string = 8,
    gguf_array = 9,
    gguf_uint64 = 10,
    gguf_int64 = 11,
    gguf_float64 = 12,
};
constexpr uint32_t gguf_type_count = 13;
const char* gguf_type_name(uint32_t type); // "uint32", "string", ...; "?" for an unknown type

// A GGML tensor type: elements come in blocks of `block_size`, each block taking `type_size` bytes.
struct ggml_type_info {
    uint32_t id;         // enum ggml_type value
    const char* name;    // "Q4_K" (the enum name without GGML_TYPE_)
    uint32_t block_size; // 0: removed from GGUF files
    uint32_t type_size;
};
// Every ggml_type id below GGML_TYPE_COUNT, removed ones included (block_size 0).
const std::vector<ggml_type_info>& ggml_types();
const ggml_type_info* find_ggml_type(uint32_t id);
const ggml_type_info* find_ggml_type(std::string_view name);
// True for types whose elements are stored in blocks with shared scales (everything but F32/F16/BF16/F64/I*).
bool ggml_type_is_quantized(const ggml_type_info& t);

constexpr uint32_t gguf_default_alignment = 32; // GGUF_DEFAULT_ALIGNMENT
constexpr uint64_t gguf_max_dims = 4;           // GGML_MAX_DIMS
constexpr uint64_t gguf_max_name_bytes = 63;    // GGML_MAX_NAME (64) minus the terminating NUL
// Metadata keys we read from one file: real files have 20 to 60; ggml sets no limit.
constexpr uint64_t gguf_max_keys = 1ull << 16;
constexpr uint64_t gguf_max_array_depth = 8; // nesting of arrays in arrays we accept

// Parses the GGUF file `file_name` of `file_size` bytes from its first bytes. When `prefix` ends before the
// tensor infos do, returns need_bytes: the caller reads at least that many leading bytes and calls again (the
// metadata of a large vocabulary takes megabytes). Tensor shapes come out outermost first, as PyTorch writes
// them (GGUF stores ne[0], the innermost dimension, first). Validates what ggml's reader validates.
result<header_parse<checkpoint>> parse_gguf(std::string_view prefix, uint64_t file_size,
                                            const std::string& file_name);

// The metadata value of `key`, or nullptr.
const gguf_value* find_gguf_value(const checkpoint& ck, const std::string& key);
// The metadata value of `key` as a non-negative integer, whatever its integer type; nullopt when absent. Any
// other type, or a negative value, is an error naming the key.
result<std::optional<uint64_t>> gguf_count(const checkpoint& ck, const std::string& key);

// GGUF architecture metadata ({arch}.block_count, .embedding_length, .attention.head_count, ...) as a
// model_spec, for the architectures we model (general.architecture llama, qwen2, qwen3; llama with experts is
// Mixtral). Errors name the GGUF key.
result<model_spec> gguf_model_spec(const checkpoint& ck);

// The Hugging Face state_dict name of a GGUF tensor name for an architecture ("blk.3.attn_q.weight" ->
// "model.layers.3.self_attn.q_proj.weight"), or nullopt when unknown. Merged expert tensors
// ("blk.3.ffn_gate_exps.weight") and stacked per-head norms map to a name with "{expert}" in it. Names come
// from the role-keyed GGUF name table applied to the templates of the families that convert to `arch` (the
// first family in table order wins where two differ: bert before roberta, gemma3_text before gemma3).
std::optional<std::string> gguf_to_hf_name(const std::string& arch, const std::string& gguf_name);

// The role llama.cpp's tensor name table gives a GGUF tensor name ("blk.3.attn_q.weight": attn_q), by the
// rows that hold for every architecture; nullopt for a name the table does not have. Read for checkpoints
// whose architecture has no family (header-model.h).
std::optional<role> gguf_name_role(const std::string& gguf_name);

struct gguf_layout; // verify.h

// The logical tensors of the GGUF tensor ck.tensors[index]: Hugging Face names and shapes (merged experts and
// stacked heads split, transposed weights turned back, split MLA projections joined), by `layout` when the
// model is known, else by the architecture's names (gguf_to_hf_name).
void add_gguf_logical_tensors(const checkpoint& ck, size_t index, const std::string& arch,
                              const gguf_layout* layout, std::vector<logical_tensor>& out,
                              std::vector<std::string>& notes);

} // namespace modelplan
