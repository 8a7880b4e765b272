// What is wrong with a path a user named, in words: a missing file, a loop of symbolic links, a permission,
// or something that is not a regular file (a FIFO or a device would block a read or never end). Every reader
// in native/io checks a path with it before opening it.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "modelplan/error.h"

namespace modelplan::cli {

// What a path should name: a file, a folder, or either (a MODEL or checkpoint argument).
enum class path_kind { regular_file, folder, file_or_folder };

// Why `path` cannot be read as `wanted`, or nullopt when it can: "no such file" (or "... or folder"), "too
// many levels of symbolic links (a loop of links?)", "permission denied", "not a regular file (a FIFO)", ...
std::optional<std::string> path_problem(const std::filesystem::path& path,
                                        path_kind wanted = path_kind::regular_file);

// Whether `path` names anything at all (a dangling or looping link counts: it is there, and wrong).
bool path_is_there(const std::filesystem::path& path);

// A small text file read whole (a config.json, a device map): its path checked first, its size bounded by
// `limit` (the message names `what` and the limit), so that /dev/zero or a FIFO never blocks or fills memory.
result<std::string> read_text_file(const std::filesystem::path& path, uint64_t limit,
                                   const std::string& what);

} // namespace modelplan::cli
