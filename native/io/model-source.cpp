#include "io/model-source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "io/files.h"
#include "modelplan/presets.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {
result<std::string> read_file(const fs::path& path) {
    return read_text_file(path, max_config_bytes, "a config.json");
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
