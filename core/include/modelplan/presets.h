// Bundled presets: real config.json files from models/, embedded at build time (see
// cmake/embed-presets.cmake).
#pragma once

#include <string>
#include <vector>

#include "modelplan/error.h"

namespace modelplan {

struct preset {
    const char* name;        // "llama-3.1-8b"
    const char* repo;        // Hugging Face repository the config comes from
    const char* config_json; // the config.json text
};

const std::vector<preset>& presets();
const preset& default_preset();

// The preset of that name, or an error that lists the presets and suggests the closest name.
result<preset> find_preset(const std::string& name);

// The first preset whose Hugging Face repository is `repo_id` ("meta-llama/Llama-3.1-8B"), compared without
// regard to ASCII case as the Hub compares ids; nullptr when no preset comes from it.
const preset* find_preset_by_repo(const std::string& repo_id);

} // namespace modelplan
