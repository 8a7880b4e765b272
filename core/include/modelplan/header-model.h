// Models without a family table, answered from their checkpoint headers ("no dead ends",
// docs/checkpoints.md, "Models without a family"). When a config.json names a model_type we have no table for
// (or there is no config at all), the skeleton comes from the checkpoint's headers instead: every stored
// tensor's exact name, shape, dtype and bytes, quantized groups folded into their parameters as `inspect`
// folds them. What the headers cannot say (the KV cache, activations) comes from the generic config keys
// every transformers config carries (num_hidden_layers, num_attention_heads, ...) or the GGUF metadata
// keys that mean the same; each such part is named in the answer's notes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "modelplan/architectures.h"
#include "modelplan/checkpoint.h"
#include "modelplan/config.h"
#include "modelplan/error.h"
#include "modelplan/report.h"

namespace modelplan {

// A part of the answer that is generic or estimated, and why: {"kv_cache", "from the generic config keys
// num_hidden_layers (32), ..."}. `item` is a plan item's name ("weights", "kv_cache", "activations") or one
// of "skeleton", "roles", "layers", "active" for the parts every answer has.
struct generic_note {
    std::string item;
    std::string note;
};

// What an analysis built from checkpoint headers carries besides its spec and skeleton
// (analysis::from_headers).
struct header_model {
    std::string checkpoint;   // the checkpoint it was read from (a path, or the names of the files given)
    std::string generic_keys; // where the generic keys came from: "config.json", "GGUF metadata", or ""
    std::vector<uint64_t> stored_bytes;    // per skeleton tensor: its bytes as stored (a group: all members)
    std::vector<std::string> stored_dtype; // per skeleton tensor: "BF16", "Q4_K", "gptq-int4", ...
    bool quantized = false;                // some tensors are stored quantized (groups or GGUF block types)
    std::vector<generic_note> notes;
    // The name patterns the skeleton's tensors point to (tensor_info::source): one row per name with its
    // layer and expert numbers replaced by {layer} and {expert}, its guessed role, and the dimensions a
    // tensor-parallel split reads. Deques, so the addresses stay put.
    std::deque<std::string> pattern_names;
    std::deque<tensor_template> patterns;

    // The notes of one item, joined with "; " ("" when it has none).
    std::string notes_of(const std::string& item) const;
    // The note of a memory plan's item: its own notes ("weights", "kv_cache"); the other runtime and training
    // items are estimated as activations are; "" for the fixed overhead.
    std::string note_for_item(const std::string& plan_item) const;
};

// True when `e`, an error of parsing a config.json, says only that the config names no family we have a table
// for (an unknown model_type, or none at all): its checkpoint headers can still answer for it.
bool lacks_family(const error& e);

// The model `config_json` (when given) and the checkpoint `ck` describe, labelled `model`. A config whose
// model_type has a family table is analysed by that family as `analyze` does (the headers are not used); any
// other config, or none, gives a model built from the headers, with the config's generic keys, or for a GGUF
// file its metadata, for what the headers cannot say. `checkpoint_label` names the checkpoint in the notes.
result<analysis> analyze_checkpoint(const std::string& model, const checkpoint& ck,
                                    const std::string* config_json, const config_options& options,
                                    const std::string& checkpoint_label);

// The weights of a family's model as its checkpoint stores them ("checkpoint_weights" of a request): per
// tensor of `a`'s skeleton, the bytes `ck` stores it in (a quantized group: all its members). An error when
// the checkpoint is not this model's: it lacks a tensor of the skeleton or stores one in another shape.
result<std::vector<uint64_t>> checkpoint_weight_bytes(const analysis& a, const checkpoint& ck);

// The model types with a family table closest to `model_type` (at most `count`, closest first): a shared name
// stem ("qwen3_next": qwen3, qwen3_moe) or a small edit distance.
std::vector<std::string> close_model_types(const std::string& model_type, size_t count = 3);

} // namespace modelplan
