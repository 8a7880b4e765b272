// Verification of a checkpoint against a model's skeleton, from headers alone: every problem in one report
// (missing, unexpected, shape mismatches, dtype differences), tied aliases and buffers handled, a suggestion
// when names differ only by a prefix. And `inspect`, which ties a checkpoint, an optional model and the
// verification into the stable JSON of `modelplan inspect --json` (docs/json.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/report.h"
#include "modelplan/skeleton.h"

namespace modelplan {

struct verify_tensor {
    std::string name;   // the skeleton's name (missing) or the checkpoint's (unexpected)
    std::string stored; // the stored name, when it differs (GGUF, quantized groups)
    std::vector<uint64_t> shape;
    bool shape_known = true; // false when the headers give only an element count (bitsandbytes 4-bit)
    std::string dtype;
    std::string file; // unexpected tensors: the file holding it
};

struct verify_mismatch {
    std::string name;
    std::string stored;
    std::vector<uint64_t> expected;
    std::vector<uint64_t> actual;
    bool actual_known = true; // false when only the element count is known
    uint64_t expected_elements = 0;
    uint64_t actual_elements = 0;
};

struct verify_dtype_difference {
    std::string name;
    std::string expected; // the skeleton's dtype (the config's torch_dtype)
    std::string actual;   // stored
};

// Renaming that would turn unexpected checkpoint names into missing skeleton names.
struct prefix_suggestion {
    std::string checkpoint_prefix; // "" or "transformer."
    std::string skeleton_prefix;   // "model." or ""
    uint64_t count = 0;            // tensors the renaming would match
    std::string example_checkpoint;
    std::string example_skeleton;
};

struct verify_report {
    bool ok = false; // nothing missing, nothing unexpected, no shape mismatch (dtype differences do not fail)
    std::vector<verify_tensor> missing;
    std::vector<verify_tensor> unexpected;
    std::vector<verify_mismatch> mismatched;
    std::vector<verify_dtype_difference> dtype_differences; // from_pretrained casts these on load
    std::vector<std::string>
        aliases_present;          // tied aliases the checkpoint also stores (checked against target)
    uint64_t buffers_present = 0; // known buffers the checkpoint stores (rotary inv_freq, ...)
    std::vector<prefix_suggestion> suggestions;
    uint64_t matched = 0;         // skeleton tensors found with the right shape
    uint64_t expected_params = 0; // the skeleton's total
    uint64_t found_params = 0;    // the checkpoint's parameters (logical view, buffers excluded)
};

// Compares the checkpoint's logical view with the skeleton. Dtypes are compared only where comparable
// (logical_tensor::dtype_comparable: not quantized groups, not GGUF tensors).
verify_report verify_checkpoint(const skeleton& sk, const checkpoint_view& view);

// ---- inspect
// -----------------------------------------------------------------------------------------------

struct inspection {
    std::string path; // what the user named
    checkpoint ck;
    checkpoint_view view;
    std::optional<analysis> model; // what the checkpoint was verified against
    std::string model_source;      // "--config", "config.json in the folder", "GGUF metadata"
    std::optional<verify_report> verify;
};

// Builds the logical view and, when a model is given, verifies against its skeleton.
result<inspection> inspect(std::string path, checkpoint ck, std::optional<analysis> model,
                           std::string model_source);

// Documented in docs/json.md ("inspect").
std::string inspect_json(const inspection& in);

// The model a GGUF checkpoint's architecture metadata describes, labelled with general.name (or its first
// file's name).
result<analysis> gguf_analysis(const checkpoint& ck);

// ---- GGUF files as llama.cpp writes them

// One tensor as llama.cpp's converter (convert_hf_to_gguf.py) writes it, holding one or more skeleton
// tensors.
struct gguf_stored_tensor {
    std::string name;                 // "blk.3.ffn_gate_exps.weight"
    std::vector<uint64_t> shape;      // as parse_gguf reports it: outermost first
    std::vector<std::string> holds;   // skeleton tensors in it: one, or the experts / heads stacked in it
    std::vector<uint64_t> held_shape; // the shape each of them has in the expected skeleton
    std::string joined_with;          // the GGUF tensor holding the rest of holds[0] (MLA attn_k_b/attn_v_b)
};

// How llama.cpp's converter stores a model: its GGUF architecture, every tensor it writes, and the skeleton
// a GGUF file of it is verified against (the skeleton less what the converter leaves out).
struct gguf_layout {
    std::string arch;
    std::vector<gguf_stored_tensor> tensors;
    skeleton expected;
    std::vector<std::string> left_out; // skeleton tensors the converter does not write
    // GGUF name -> (index in tensors, index in holds for the per-expert names of older conversions, else -1)
    std::unordered_map<std::string, std::pair<size_t, int64_t>> by_name;
};

// The GGUF layout of a model, or an `unsupported` error for families llama.cpp cannot convert
// (gguf-model.cpp). inspect() reads and verifies a GGUF file by it when the model is known.
result<gguf_layout> gguf_layout_of(const model_spec& spec, const skeleton& sk);

} // namespace modelplan
