#include "modelplan/presets.h"

#include "modelplan/text.h"

namespace modelplan {

// Generated from models/presets.tsv and models/*/config.json.
extern const preset embedded_presets[];
extern const size_t embedded_preset_count;
extern const size_t embedded_default_preset;

const std::vector<preset>& presets() {
    static const std::vector<preset> all(embedded_presets, embedded_presets + embedded_preset_count);
    return all;
}

const preset& default_preset() {
    return presets()[embedded_default_preset];
}

result<preset> find_preset(const std::string& name) {
    std::vector<std::string> names;
    for (const preset& p : presets()) {
        if (name == p.name) return p;
        names.push_back(p.name);
    }
    std::string hint = closest_name(name, names);
    return make_error(error_code::unknown_model,
                      "no preset named " + quote_value(name) +
                          (hint.empty() ? std::string() : "; did you mean \"" + hint + "\"?") + " (" +
                          std::to_string(names.size()) + " presets: `modelplan presets` lists them)");
}

const preset* find_preset_by_repo(const std::string& repo_id) {
    auto lower = [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); };
    for (const preset& p : presets()) {
        std::string repo = p.repo;
        if (repo.size() != repo_id.size()) continue;
        bool same = true;
        for (size_t i = 0; i < repo.size() && same; ++i) same = lower(repo[i]) == lower(repo_id[i]);
        if (same) return &p;
    }
    return nullptr;
}

} // namespace modelplan
