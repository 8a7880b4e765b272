// One entry point for both adapters: a model (preset name or config text) -> analysis -> stable JSON.
// The CLI's --json output and the wasm module's return values are produced here, so they are identical.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "modelplan/checkpoint.h"
#include "modelplan/config.h"
#include "modelplan/counts.h"
#include "modelplan/error.h"
#include "modelplan/skeleton.h"

namespace modelplan {

struct header_model; // header-model.h

struct analysis {
    std::string model; // what the user named: a preset name or a path
    model_spec spec;
    skeleton sk;
    param_counts counts;
    // Set when the model has no family table and its skeleton was read from checkpoint headers: the stored
    // bytes and dtypes of its tensors and the notes on what is generic (header-model.h). Null otherwise.
    std::shared_ptr<const header_model> from_headers;
    // Set by a caller that fetched the model from the Hub (the native CLI, docs/hub.md): the bytes received
    // and from where. Written into JSON answers as "fetched_bytes" and "fetched_from".
    uint64_t fetched_bytes = 0;
    std::string fetched_from;
    // Set when a request asks for a family's weights as its checkpoint stores them ("checkpoint_weights",
    // docs/checkpoints.md): per skeleton tensor the bytes the checkpoint's headers give it. Null otherwise.
    struct stored_weights {
        std::string checkpoint; // the checkpoint's label (the path of its inspection)
        std::vector<uint64_t> bytes;
    };
    std::shared_ptr<const stored_weights> checkpoint_weights;
};

// config text -> spec -> skeleton -> counts.
result<analysis> analyze(const std::string& model, const std::string& config_json,
                         const config_options& options);
// spec -> skeleton -> counts, for a spec already parsed (or the error parsing gave).
result<analysis> analyze(const std::string& model, result<model_spec> spec);

// Documented in docs/json.md.
std::string params_json(const analysis& a);
std::string skeleton_json(const analysis& a);
std::string presets_json();
std::string error_json(const error& e);

// JSON request -> JSON response, for the wasm module (and anything else that speaks JSON).
// `command` is "params", "skeleton", "plan" or "presets". The request is an object:
//   {"model": "<preset name>"} or {"config": {...} | "<config.json text>", "name": "<label>"}, optionally
//   with "checkpoint": the label of the held checkpoint (below);
//   optional "dtype": "bf16" (weight dtype override), "head": "none" (head override);
//   for "plan" also "batch", "seq", "encoder_seq", "prefill_chunk", "kv_dtype", "attention",
//   "overhead_bytes", "mtp" (docs/json.md).
// Never throws; errors come back as {"error": {"code", "message", "path"}}.
//
// With `cache`, the analysis of the request's model (its "model", "config", "name", "dtype" and "head") is
// kept there and reused while later requests name the same model: a page that recomputes on every change of
// a workload input then skips parsing the config and building the skeleton (46k tensors for DeepSeek-V3).
// The core keeps no state of its own; a cache belongs to its caller and is not thread-safe.
struct analysis_cache {
    std::string key;
    std::shared_ptr<const analysis> value;
};
// A checkpoint's parsed headers that the caller holds for the requests that name it by its label
// ({"config": ..., "checkpoint": label}, or {"checkpoint": label} alone): a model whose config has no family
// table is then read from them (header-model.h). The page holds the files the user dropped.
struct held_checkpoint {
    std::string label;
    checkpoint ck;
};
std::string handle_request(const std::string& command, const std::string& request_json,
                           analysis_cache* cache = nullptr, const held_checkpoint* held = nullptr);

// The model a JSON request names ({"model": preset} or {"config": object | text, "name"}, optional "dtype"
// and "head"), analysed; nullopt when it names none and `required` is false.
result<std::optional<analysis>> analyze_request(const std::string& request_json, bool required);

// One checkpoint file (safetensors, or GGUF when the name ends in .gguf) from its first bytes, for a page
// that reads only File.slice(0, N): {"need_bytes": N} until `prefix` holds the whole header, then the
// inspection (docs/json.md, "inspect"), verified against the request's model ({"model"|"config", "dtype",
// "head"}) or, for GGUF, its own metadata; {} verifies nothing. Errors as handle_request returns them.
// With `parsed`, a whole header is also kept there (the page holds it for requests naming it).
std::string inspect_bytes(std::string_view prefix, uint64_t file_size, const std::string& file_name,
                          const std::string& request_json, checkpoint* parsed = nullptr);

} // namespace modelplan
