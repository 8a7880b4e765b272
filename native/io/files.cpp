#include "io/files.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "modelplan/text.h"

namespace modelplan::cli {

std::optional<std::string> path_problem(const std::filesystem::path& path, path_kind wanted) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
        switch (errno) {
        case ENOENT: return wanted == path_kind::regular_file ? "no such file" : "no such file or folder";
        case ELOOP: return "too many levels of symbolic links (a loop of links?)";
        case EACCES: return "permission denied";
        case ENOTDIR: return "a part of the path is not a folder";
        case ENAMETOOLONG: return "the path is too long";
        default: return std::strerror(errno);
        }
    }
    if (wanted == path_kind::folder)
        return S_ISDIR(st.st_mode) ? std::nullopt : std::optional<std::string>("not a folder");
    if (S_ISREG(st.st_mode)) return std::nullopt;
    if (S_ISDIR(st.st_mode))
        return wanted == path_kind::file_or_folder
                   ? std::nullopt
                   : std::optional<std::string>("a folder, not a regular file");
    if (S_ISFIFO(st.st_mode)) return "not a regular file (a FIFO)";
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) return "not a regular file (a device)";
    if (S_ISSOCK(st.st_mode)) return "not a regular file (a socket)";
    return "not a regular file";
}

bool path_is_there(const std::filesystem::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

result<std::string> read_text_file(const std::filesystem::path& path, uint64_t limit,
                                   const std::string& what) {
    if (auto problem = path_problem(path)) return make_error(error_code::io, path.string() + ": " + *problem);
    std::error_code ec;
    uint64_t size = std::filesystem::file_size(path, ec);
    if (ec) return make_error(error_code::io, path.string() + ": " + ec.message());
    if (size > limit)
        return make_error(error_code::io, path.string() + ": " + with_thousands(size) +
                                              " bytes is too large for " + what + " (limit " +
                                              binary_size(limit) + ")");
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(error_code::io, path.string() + ": cannot open for reading");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return make_error(error_code::io, path.string() + ": read failed");
    return text.str();
}

} // namespace modelplan::cli
