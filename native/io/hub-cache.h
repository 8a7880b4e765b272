// Hugging Face Hub ids as MODEL arguments, offline (docs/hub.md): `org/name[@revision]` names a bundled
// preset whose repository it is, or a snapshot in the local Hugging Face cache laid out as huggingface_hub
// lays it out.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "modelplan/error.h"

namespace modelplan::cli {

struct hub_id {
    std::string repo;     // "meta-llama/Llama-3.1-8B"
    std::string revision; // "main" unless `@revision` was given
    bool revision_given = false;
};

// Whether `argument` has the shape of a Hub model id: `org/name` with an optional `@revision`, each part of
// letters, digits, '-', '_', '.', not starting with '.' or '-', at most 96 characters (the Hub's rules).
std::optional<hub_id> parse_hub_id(const std::string& argument);

// The cache folder: $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub.
std::filesystem::path hub_cache_folder();

// The snapshot folder of `id` in the cache (models--org--name/snapshots/<commit>, the commit read from
// refs/<revision>, or the revision itself when it is a 40-digit commit). An error that names the folder
// looked in when the cache does not hold it; error_code::unknown_model when the repository is absent.
result<std::filesystem::path> hub_cache_snapshot(const hub_id& id);

} // namespace modelplan::cli
