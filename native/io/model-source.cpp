#include "io/model-source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/files.h"
#include "io/hub-cache.h"
#include "io/hub-online.h"
#include "modelplan/checkpoint.h"
#include "modelplan/presets.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {
result<std::string> read_file(const fs::path& path) {
    return read_text_file(path, max_config_bytes, "a config.json");
}

// A Hub id the local cache does not hold: read from the Hub when the network is allowed, else the cache's
// error with the way to go online.
result<std::shared_ptr<hub_repository>> from_the_hub(const hub_id& id, const error& cache_error) {
    if (!online_allowed()) {
        error e = cache_error;
        e.message += "; --online (or MODELPLAN_ONLINE=1) reads it from the Hub (" + hub_endpoint() + ")";
        return e;
    }
    return hub_repository::open(id);
}

// config.json of a repository on the Hub, when it has one.
result<std::optional<std::string>> hub_config(hub_repository& repo) {
    if (!repo.has("config.json")) return std::optional<std::string>{};
    auto text = repo.fetch_text("config.json", max_config_bytes);
    if (!text) return text.err();
    return std::optional<std::string>(std::move(*text));
}
} // namespace

result<model_source> resolve_model(const std::string& argument) {
    std::error_code ec;
    fs::path path(argument);
    if (path_is_there(path)) {
        fs::path file = fs::is_directory(path, ec) ? path / "config.json" : path;
        if (fs::is_directory(path, ec) && !fs::exists(file, ec))
            return make_error(error_code::io, argument + ": folder holds no config.json");
        auto text = read_file(file);
        if (!text) return text.err();
        return model_source{argument, std::move(*text)};
    }
    if (auto id = parse_hub_id(argument)) { // org/name[@revision]: a preset's repository, or the HF cache
        if (!id->revision_given || id->revision == "main")
            if (const preset* p = find_preset_by_repo(id->repo)) return model_source{p->name, p->config_json};
        auto snapshot = hub_cache_snapshot(*id);
        if (!snapshot) {
            auto repo = from_the_hub(*id, snapshot.err());
            if (!repo) return repo.err();
            auto config = hub_config(**repo);
            if (!config) return config.err();
            if (!*config)
                return make_error(error_code::io,
                                  argument + ": the repository on the Hub holds no config.json");
            return model_source{argument, std::move(**config)};
        }
        const fs::path file = *snapshot / "config.json";
        if (!path_is_there(file))
            return make_error(error_code::io, argument + ": the cached snapshot " + snapshot->string() +
                                                  " holds no config.json");
        auto text = read_file(file);
        if (!text) return text.err();
        return model_source{argument, std::move(*text)};
    }
    bool looks_like_path = argument.find('/') != std::string::npos ||
                           (argument.size() > 5 && argument.compare(argument.size() - 5, 5, ".json") == 0);
    auto p = find_preset(argument);
    if (p) return model_source{p->name, p->config_json};
    if (looks_like_path)
        return make_error(
            error_code::io,
            argument + ": " +
                path_problem(path, path_kind::file_or_folder).value_or("no such file or folder"));
    return make_error(error_code::unknown_model,
                      "MODEL \"" + argument + "\" is neither a file nor a folder, and " + p.err().message);
}

} // namespace modelplan::cli

namespace modelplan::cli {

namespace {

// Whether a folder holds a checkpoint file (.safetensors, an index, .gguf) by the core's rule for names.
bool holds_checkpoint(const fs::path& folder) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec))
        if (entry.is_regular_file(ec) &&
            classify_checkpoint_file(entry.path().filename().string()).format().has_value())
            return true;
    return false;
}

std::optional<std::string> folder_if_it_holds_checkpoint(const fs::path& folder) {
    fs::path f = folder.empty() ? fs::path(".") : folder;
    return holds_checkpoint(f) ? std::optional<std::string>(f.string()) : std::nullopt;
}

} // namespace

result<model_input> resolve_model_input(const std::string& argument) {
    std::error_code ec;
    fs::path path(argument);
    std::string label = argument;
    if (!path_is_there(path))
        if (auto id = parse_hub_id(argument)) { // a preset's repository first, then the HF cache's snapshot
            bool preset_revision = !id->revision_given || id->revision == "main";
            if (const preset* p = find_preset_by_repo(id->repo); p && preset_revision)
                return model_input{p->name, std::string(p->config_json), std::nullopt, nullptr};
            auto snapshot = hub_cache_snapshot(*id);
            if (!snapshot) {
                auto repo = from_the_hub(*id, snapshot.err());
                if (!repo) return repo.err();
                auto config = hub_config(**repo);
                if (!config) return config.err();
                model_input in{label, std::move(*config), std::nullopt, nullptr};
                std::vector<std::string> top;
                for (const auto& f : (*repo)->files())
                    if (f.find('/') == std::string::npos) top.push_back(f);
                if (select_checkpoint_files(top, checkpoint_names_from::folder)) {
                    in.checkpoint = (*repo)->label();
                    in.online = *repo;
                }
                if (!in.config_json && !in.checkpoint)
                    return make_error(error_code::io,
                                      argument + ": the repository on the Hub (" + (*repo)->label() +
                                          ") holds no config.json and no checkpoint (.safetensors, "
                                          "*.safetensors.index.json or .gguf files)");
                if (!in.checkpoint) in.online = *repo; // for the fetched-bytes report
                return in;
            }
            path = *snapshot;
        }
    if (path_is_there(path) && fs::is_directory(path, ec)) {
        model_input in{label, std::nullopt, folder_if_it_holds_checkpoint(path), nullptr};
        fs::path config = path / "config.json";
        if (fs::exists(config, ec)) {
            auto text = read_file(config);
            if (!text) return text.err();
            in.config_json = std::move(*text);
        }
        if (!in.config_json && !in.checkpoint)
            return make_error(error_code::io,
                              (path.string() == argument ? argument : argument + " (" + path.string() + ")") +
                                  ": folder holds no config.json and no checkpoint (.safetensors, "
                                  "*.safetensors.index.json or .gguf files)");
        return in;
    }
    if (path_is_there(path)) {
        auto format = classify_checkpoint_file(path.filename().string()).format();
        if (format) { // a checkpoint file: a safetensors one reads the config.json beside it
            model_input in{argument, std::nullopt, argument, nullptr};
            fs::path config =
                (path.parent_path().empty() ? fs::path(".") : path.parent_path()) / "config.json";
            if (*format == checkpoint_format::safetensors && fs::exists(config, ec)) {
                auto text = read_file(config);
                if (!text) return text.err();
                in.config_json = std::move(*text);
            }
            return in;
        }
    }
    auto source = resolve_model(argument);
    if (!source) return source.err();
    model_input in{source->label, std::move(source->config_json), std::nullopt, nullptr};
    if (path_is_there(path)) in.checkpoint = folder_if_it_holds_checkpoint(path.parent_path());
    return in;
}

} // namespace modelplan::cli
