// The tensor inventory of a checkpoint, whatever its format: every stored tensor with its name, shape, dtype,
// file and byte range, read from headers alone (docs/checkpoints.md). Parsers of the formats fill it
// (safetensors.h, gguf.h); quantized tensor groups are mapped back to their logical parameters here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "modelplan/error.h"

namespace modelplan {

enum class checkpoint_format : uint8_t { safetensors, gguf };
const char* checkpoint_format_name(checkpoint_format f); // "safetensors", "gguf"

struct checkpoint_tensor {
    std::string name;
    std::vector<uint64_t> shape; // outermost dimension first, as PyTorch writes it (GGUF dims are reversed)
    std::string dtype;           // safetensors spelling ("BF16", "F8_E4M3"), or the GGML type ("Q4_K")
    std::string file;            // the file that holds it
    uint64_t begin = 0;          // absolute byte offsets of its data in that file: [begin, end)
    uint64_t end = 0;
    uint64_t elements = 0; // product of the shape
    uint64_t bytes() const { return end - begin; }
};

struct checkpoint_file {
    std::string name;
    uint64_t size = 0;         // bytes
    uint64_t header_bytes = 0; // bytes before the data section
    uint64_t tensors = 0;
};

// A GGUF metadata value. Scalars keep their value; arrays keep their element type and length only.
struct gguf_value {
    uint32_t type = 0;      // gguf_type (gguf.h)
    uint32_t elem_type = 0; // for arrays: the element type
    uint64_t count = 0;     // for arrays: the element count
    uint64_t u = 0;         // unsigned integers and bool
    int64_t i = 0;          // signed integers
    double f = 0;           // floats
    std::string s;          // strings
};

struct checkpoint {
    checkpoint_format format = checkpoint_format::safetensors;
    std::vector<checkpoint_file> files;
    std::vector<checkpoint_tensor> tensors; // in data order within each file, files in order
    // safetensors: the __metadata__ strings; GGUF: every key, scalars rendered as text, arrays as
    // "[string x 128256]".
    std::vector<std::pair<std::string, std::string>> metadata;
    std::vector<std::pair<std::string, gguf_value>> gguf_metadata; // GGUF only, typed
    uint32_t gguf_version = 0;                                     // GGUF only
    std::vector<std::string> warnings; // inconsistencies that do not stop a load (index total_size, ...)
};

// Parsing a header from the first bytes of a file: either the whole header was in `prefix`, or the caller
// must read at least `need_bytes` leading bytes of the file and call again. Errors come back as result
// errors.
template <class T>
struct header_parse {
    std::optional<T> parsed;
    uint64_t need_bytes = 0;
};

// ---- Quantized tensor groups
// --------------------------------------------------------------------------------

// A group of stored tensors that together hold one logical parameter (docs/checkpoints.md, "Quantized
// checkpoints"): GPTQ/AWQ qweight+qzeros+scales(+g_idx), bitsandbytes 4-bit
// weight+absmax+quant_map+quant_state, bitsandbytes 8-bit weight+SCB, fp8 weight+weight_scale(+input_scale),
// MXFP4 <name>_blocks+<name>_scales (gpt-oss experts).
struct quantized_group {
    std::string name;   // the logical parameter: "model.layers.0.self_attn.q_proj.weight"
    std::string scheme; // "gptq", "awq", "bnb-nf4", "bnb-fp4", "bnb-int8", "fp8", "scaled", "mxfp4"
    std::vector<uint64_t>
        shape;               // logical [out, in]; empty when the headers do not say it (bitsandbytes 4-bit)
    uint64_t elements = 0;   // logical element count (bitsandbytes 4-bit: 2 per packed byte)
    uint32_t bits = 0;       // bits per weight, 0 when unknown
    uint64_t group_size = 0; // input features sharing one scale, 0 when not grouped or unknown
    std::vector<std::string> members; // the stored tensors of the group
    std::string file;                 // the file holding the main tensor
    uint64_t bytes = 0;               // stored bytes of all members
};

// Finds the quantized groups of a checkpoint. Malformed groups (shapes that contradict each other) are left
// out and described in `notes`.
std::vector<quantized_group> find_quantized_groups(const checkpoint& ck, std::vector<std::string>* notes);

// ---- The logical view: what verification and counting look at
// -------------------------------------------------

enum class logical_kind : uint8_t {
    parameter, // a model parameter (plain, or a quantized group's logical weight)
    buffer,    // a known non-parameter some checkpoints store (rotary inv_freq, GGUF rope_freqs)
};

struct logical_tensor {
    std::string name;            // Hugging Face state_dict name (GGUF names are mapped)
    std::string stored;          // the stored tensor name (for a quantized group: its main tensor)
    std::vector<uint64_t> shape; // empty when only the element count is known
    bool shape_known = true;
    uint64_t elements = 0;
    std::string dtype;      // stored dtype; for a quantized group its scheme ("gptq-4bit")
    bool quantized = false; // a quantized group, or a GGUF tensor of a block-quantized type
    // Whether the stored dtype means what a config's torch_dtype means: not for quantized groups, and not for
    // GGUF files, whose converter picks a type per tensor (norms stay F32 in an F16 file).
    bool dtype_comparable = true;
    std::string file;
    logical_kind kind = logical_kind::parameter;
};

// A stored tensor as one logical tensor of its own (name, shape, elements, dtype, file as stored).
logical_tensor logical_tensor_as_stored(const checkpoint_tensor& t);

struct checkpoint_totals {
    uint64_t tensors = 0; // stored tensors
    uint64_t params = 0;  // logical parameters' elements (quantized groups at logical size; no buffers)
    uint64_t stored_elements = 0; // elements of every stored tensor, as stored
    uint64_t buffer_elements = 0; // known buffers (rotary inv_freq, rope_freqs)
    uint64_t bytes = 0;           // data bytes of every stored tensor
    uint64_t quantized_groups = 0;
    std::vector<std::pair<std::string, uint64_t>> params_by_dtype; // first-seen order
};

// The logical view of a checkpoint: quantized groups folded into their parameters, GGUF names mapped to
// Hugging Face names (GGUF merged experts split per expert), by the model's GGUF layout when given (gguf.h).
// Fails only on an overflowing sum.
struct checkpoint_view {
    std::vector<quantized_group> quantized;
    std::vector<logical_tensor> tensors;
    checkpoint_totals totals;
    std::vector<std::string> notes;
};
struct gguf_layout;
result<checkpoint_view> logical_view(const checkpoint& ck, const gguf_layout* layout = nullptr);

// ---- A checkpoint made of several files
// ----------------------------------------------------------------------------
// The one rule, for the CLI and the page alike, for which files form a checkpoint: names classified, a set of
// names turned into a layout, and the parsed headers of that layout assembled into one checkpoint. The
// reading is the caller's (a folder on disk, files dropped on the page); this part sees names and parsed
// headers only.

enum class checkpoint_file_kind : uint8_t {
    safetensors,       // *.safetensors: a whole checkpoint, or one shard of one
    safetensors_index, // *.safetensors.index.json (transformers' model.safetensors.index.json)
    gguf,              // *.gguf
    gguf_split,        // *-00002-of-00005.gguf: a part of a model split by llama.cpp's gguf-split
    json,              // any other *.json (a config.json, or an index of another format)
    other,
};
const char* checkpoint_file_kind_name(checkpoint_file_kind k); // "safetensors", "safetensors_index", ...

// Extensions compare without regard to case ("MODEL.SAFETENSORS" is a safetensors file).
struct checkpoint_file_class {
    checkpoint_file_kind kind = checkpoint_file_kind::other;
    uint32_t split_no = 0;    // gguf_split: the part's number in its name, 1-based ("-00002-of-00005": 2)
    uint32_t split_count = 0; // gguf_split: the number of parts its name gives (5)
    // The format of the checkpoint the file belongs to (an index: safetensors); nullopt for json and other.
    std::optional<checkpoint_format> format() const;
};
checkpoint_file_class classify_checkpoint_file(const std::string& file_name);

// How the files of a checkpoint fit together.
enum class checkpoint_layout : uint8_t {
    safetensors_file,    // one .safetensors
    safetensors_files,   // several .safetensors without an index: tensor names unique across them
    sharded_safetensors, // an index and the shards it names
    gguf_file,           // one .gguf
    gguf_splits,         // the parts of one GGUF model (split.no, split.count, split.tensors.count)
};
// "safetensors file", "safetensors files", "sharded safetensors", "GGUF file", "split GGUF"
const char* checkpoint_layout_label(checkpoint_layout l);
checkpoint_format checkpoint_layout_format(checkpoint_layout l);
// The header of one file of a checkpoint of `format`, from its first bytes: parse_safetensors_header or
// parse_gguf (need_bytes until the prefix holds the whole header).
result<header_parse<checkpoint>> parse_checkpoint_header(checkpoint_format format, std::string_view prefix,
                                                         uint64_t file_size, const std::string& file_name);

// Where a set of names comes from: the entries of a folder, which may hold other files (a config.json, a
// tokenizer) and even a second format, or files a user picked, every one of which must belong.
enum class checkpoint_names_from : uint8_t { folder, selection };

struct checkpoint_file_set {
    checkpoint_layout layout = checkpoint_layout::safetensors_file;
    std::string index;              // sharded_safetensors: the index file
    std::vector<std::string> files; // the data files, by name (sharded_safetensors: what the index names)
};

// Picks the checkpoint among `names`. An index wins over .safetensors files (a folder's index prefers
// model.safetensors.index.json; several others are an error), .safetensors files over GGUF ones in a folder;
// in a selection, GGUF with safetensors, or a file of another kind, is an error. Data files come out sorted
// by name. For sharded_safetensors, `files` stays empty until the index is read (add_index_shards).
result<checkpoint_file_set> select_checkpoint_files(const std::vector<std::string>& names,
                                                    checkpoint_names_from from);

struct safetensors_index; // safetensors.h
// The shards a parsed index names become the set's files.
void add_index_shards(checkpoint_file_set& set, const safetensors_index& index);

// One checkpoint from the parsed headers of a set's files, in the order of set.files (sharded_safetensors:
// the parsed index too). Safetensors shards are cross-checked with the index; GGUF splits with their split
// keys (check_gguf_splits) and merged in split.no order; tensor names must be unique across files.
result<checkpoint> assemble_checkpoint(const checkpoint_file_set& set, std::vector<checkpoint> parts,
                                       const safetensors_index* index = nullptr);

// The parts of a split GGUF model as llama.cpp's gguf-split writes them and its loader checks them: each part
// holds split.no (0-based) and split.count, every split.no below split.count appears exactly once, and
// split.tensors.count is the number of tensors of all parts together. Returns the parts in split.no order.
// One file alone is returned as it is (a part may be inspected on its own).
result<std::vector<checkpoint>> check_gguf_splits(std::vector<checkpoint> parts);

// ---- Helpers shared by the parsers
// ----------------------------------------------------------------------------

// True when `text` is well-formed UTF-8.
bool valid_utf8(const std::string& text);
// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD, for messages and JSON output.
std::string printable_utf8(const std::string& text);

// A tensor, key or file name from a checkpoint quoted for a message: printable_utf8, cut past 200 bytes.
std::string quoted(const std::string& name);

} // namespace modelplan
