#include "io/hub-cache.h"

#include <cstdlib>

#include "io/files.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {

bool id_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
}

// One part of an id ("meta-llama", "Llama-3.1-8B"): the Hub's characters, not starting with '.' or '-', no
// "..".
bool id_part(const std::string& s) {
    if (s.empty() || s.size() > 96 || s[0] == '.' || s[0] == '-' || s.find("..") != std::string::npos)
        return false;
    for (char c : s)
        if (!id_char(c)) return false;
    return true;
}

bool is_commit(const std::string& s) {
    if (s.size() != 40) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

} // namespace

std::optional<hub_id> parse_hub_id(const std::string& argument) {
    std::string text = argument, revision;
    bool given = false;
    if (size_t at = text.find('@'); at != std::string::npos) {
        revision = text.substr(at + 1);
        text.resize(at);
        given = true;
        // A branch or tag may hold '/', but never "..", spaces or control characters.
        if (revision.empty() || revision.size() > 256 || revision.find("..") != std::string::npos ||
            revision[0] == '/' || revision[0] == '.')
            return std::nullopt;
        for (char c : revision)
            if (!(id_char(c) || c == '/')) return std::nullopt;
    }
    size_t slash = text.find('/');
    if (slash == std::string::npos || text.find('/', slash + 1) != std::string::npos) return std::nullopt;
    std::string org = text.substr(0, slash), name = text.substr(slash + 1);
    if (!id_part(org) || !id_part(name)) return std::nullopt;
    return hub_id{text, given ? revision : "main", given};
}

fs::path hub_cache_folder() {
    if (std::string v = env("HF_HUB_CACHE"); !v.empty()) return v;
    if (std::string v = env("HF_HOME"); !v.empty()) return fs::path(v) / "hub";
    if (std::string v = env("XDG_CACHE_HOME"); !v.empty()) return fs::path(v) / "huggingface" / "hub";
    return fs::path(env("HOME")) / ".cache" / "huggingface" / "hub";
}

result<fs::path> hub_cache_snapshot(const hub_id& id) {
    std::string folder_name = "models--" + id.repo;
    folder_name.replace(folder_name.find('/'), 1, "--");
    const fs::path repo = hub_cache_folder() / folder_name;
    std::error_code ec;
    if (!fs::is_directory(repo, ec))
        return make_error(error_code::unknown_model, id.repo +
                                                         ": not a bundled preset's repository, and the "
                                                         "Hugging Face cache holds no " +
                                                         repo.string());
    std::string commit;
    if (is_commit(id.revision)) {
        commit = id.revision;
    } else {
        const fs::path ref = repo / "refs" / id.revision;
        if (auto problem = path_problem(ref))
            return make_error(error_code::io,
                              id.repo + "@" + id.revision + ": the Hugging Face cache has no revision \"" +
                                  id.revision + "\" (" + ref.string() + ": " + *problem + ")");
        auto text = read_text_file(ref, 4096, "a cache ref");
        if (!text) return text.err();
        commit = *text;
        while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' '))
            commit.pop_back();
        if (!is_commit(commit))
            return make_error(error_code::io, ref.string() + ": expected a 40-digit commit hash, got \"" +
                                                  commit.substr(0, 64) + "\"");
    }
    const fs::path snapshot = repo / "snapshots" / commit;
    if (auto problem = path_problem(snapshot, path_kind::folder))
        return make_error(error_code::io,
                          id.repo + "@" + id.revision + ": snapshot " + snapshot.string() + ": " + *problem);
    return snapshot;
}

} // namespace modelplan::cli
