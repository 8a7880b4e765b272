#include "io/model-source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "modelplan/presets.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {
result<std::string> read_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        return make_error(error_code::io, path.string() + ": not a regular file");
    auto size = fs::file_size(path, ec);
    if (ec) return make_error(error_code::io, path.string() + ": " + ec.message());
    if (size > max_config_bytes)
        return make_error(error_code::io, path.string() + ": " + std::to_string(size) +
                                              " bytes is too large for a config.json (limit " +
                                              std::to_string(max_config_bytes) + ")");
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(error_code::io, path.string() + ": cannot open for reading");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return make_error(error_code::io, path.string() + ": read failed");
    return text.str();
}
} // namespace

result<model_source> resolve_model(const std::string& argument) {
    std::error_code ec;
    fs::path path(argument);
    if (fs::exists(path, ec)) {
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
    if (looks_like_path) return make_error(error_code::io, argument + ": no such file or folder");
    return make_error(error_code::unknown_model,
                      "MODEL \"" + argument + "\" is neither a file nor a folder, and " + p.err().message);
}

} // namespace modelplan::cli
