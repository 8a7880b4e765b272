// A checkpoint made of several files (checkpoint.h): file names classified, the checkpoint picked among a set
// of names, and the parsed headers of its files assembled into one inventory. Shared by the CLI (a folder on
// disk) and the page (files dropped on it); neither has a rule of its own.
#include <algorithm>
#include <cctype>

#include "modelplan/checkpoint.h"
#include "modelplan/gguf.h"
#include "modelplan/safetensors.h"
#include "modelplan/text.h"

namespace modelplan {

namespace {

std::string lowercase(const std::string& s) {
    std::string out = s;
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The five digits at s[at], as llama.cpp's split names write a number ("%05d").
std::optional<uint32_t> five_digits(const std::string& s, size_t at) {
    uint32_t v = 0;
    for (size_t i = at; i < at + 5; ++i) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
        v = v * 10 + static_cast<uint32_t>(s[i] - '0');
    }
    return v;
}

// "<prefix>-00002-of-00005.gguf" (llama.cpp's LLAMA_SPLIT_PATH format "%s-%05d-of-%05d.gguf", split.no + 1):
// fills split_no and split_count when the name has that ending with 1 <= no <= count.
bool read_split_name(const std::string& lower, checkpoint_file_class& out) {
    const std::string tail = "-00000-of-00000.gguf";
    if (lower.size() < tail.size()) return false;
    size_t at = lower.size() - tail.size();
    if (lower[at] != '-' || lower.compare(at + 6, 4, "-of-") != 0) return false;
    auto no = five_digits(lower, at + 1), count = five_digits(lower, at + 10);
    if (!no || !count || *no == 0 || *no > *count) return false;
    out.split_no = *no;
    out.split_count = *count;
    return true;
}

std::string list_of(const std::vector<std::string>& names, size_t shown) {
    std::string s;
    for (size_t i = 0; i < names.size() && i < shown; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > shown) s += ", ...";
    return s;
}

const std::string& file_name_of(const checkpoint& part) {
    static const std::string unnamed = "a GGUF file";
    return part.files.empty() ? unnamed : part.files.front().name;
}

// ---- GGUF splits ------------------------------------------------------------------------------------------

struct split_part {
    size_t part = 0; // index into the parts as given
    uint64_t no = 0;
    uint64_t count = 0;
    std::optional<uint64_t> tensors_count;
};

result<std::optional<uint64_t>> split_key(const checkpoint& part, const char* key) {
    auto v = gguf_count(part, key);
    if (!v) return make_error(v.err().code, file_name_of(part) + ": " + v.err().message, v.err().path);
    return v;
}

result<split_part> read_split_keys(const checkpoint& part, size_t index, size_t n_parts) {
    split_part s;
    s.part = index;
    auto no = split_key(part, "split.no");
    if (!no) return no.err();
    auto count = split_key(part, "split.count");
    if (!count) return count.err();
    auto tensors = split_key(part, "split.tensors.count");
    if (!tensors) return tensors.err();
    if (!*no || !*count)
        return make_error(error_code::bad_checkpoint,
                          std::to_string(n_parts) + " GGUF files, but " + file_name_of(part) +
                              " is not a part of a split model (it has no " +
                              (*no ? "split.count" : "split.no") +
                              "); give one file, or every part of one model (llama.cpp's gguf-split)");
    s.no = **no;
    s.count = **count;
    s.tensors_count = *tensors;
    return s;
}

// Every part agrees on split.count, and each split.no below it appears once.
std::optional<error> check_split_numbers(const std::vector<checkpoint>& parts,
                                         std::vector<split_part>& splits) {
    const split_part& first = splits.front();
    for (const split_part& s : splits) {
        if (s.count != first.count)
            return make_error(error_code::bad_checkpoint,
                              file_name_of(parts[first.part]) + " has split.count " +
                                  std::to_string(first.count) + " but " + file_name_of(parts[s.part]) +
                                  " has " + std::to_string(s.count) + ": they are not parts of one model");
        if (s.no >= s.count)
            return make_error(error_code::bad_checkpoint,
                              file_name_of(parts[s.part]) + ": split.no " + std::to_string(s.no) +
                                  " is not below split.count " + std::to_string(s.count));
    }
    std::stable_sort(splits.begin(), splits.end(),
                     [](const split_part& a, const split_part& b) { return a.no < b.no; });
    for (size_t i = 1; i < splits.size(); ++i)
        if (splits[i].no == splits[i - 1].no)
            return make_error(error_code::bad_checkpoint, file_name_of(parts[splits[i - 1].part]) + " and " +
                                                              file_name_of(parts[splits[i].part]) +
                                                              " both claim split.no " +
                                                              std::to_string(splits[i].no) + " of one model");
    if (first.count > splits.size()) {
        std::vector<std::string> missing;
        uint64_t n_missing = first.count - splits.size();
        for (uint64_t no = 0, k = 0; no < first.count && missing.size() < 5; ++no) {
            if (k < splits.size() && splits[k].no == no)
                ++k;
            else
                missing.push_back(std::to_string(no));
        }
        std::string more =
            n_missing > missing.size() ? " and " + std::to_string(n_missing - missing.size()) + " more" : "";
        std::vector<std::string> given;
        for (const checkpoint& p : parts) given.push_back(file_name_of(p));
        return make_error(error_code::bad_checkpoint,
                          "split.count is " + std::to_string(first.count) + ", but only " +
                              std::to_string(splits.size()) + " parts are given (" + list_of(given, 3) +
                              "); missing: split.no " + list_of(missing, missing.size()) + more +
                              "; give every part of the model");
    }
    return std::nullopt;
}

// split.tensors.count, where a part has it, is the tensors of all parts together.
std::optional<error> check_split_tensor_count(const std::vector<checkpoint>& parts,
                                              const std::vector<split_part>& splits) {
    uint64_t held = 0;
    for (const checkpoint& p : parts) held += p.tensors.size();
    for (const split_part& s : splits)
        if (s.tensors_count && *s.tensors_count != held)
            return make_error(error_code::bad_checkpoint,
                              file_name_of(parts[s.part]) + ": split.tensors.count is " +
                                  std::to_string(*s.tensors_count) + ", but the " +
                                  std::to_string(parts.size()) + " parts hold " + std::to_string(held) +
                                  " tensors");
    return std::nullopt;
}

} // namespace

const char* checkpoint_file_kind_name(checkpoint_file_kind k) {
    switch (k) {
    case checkpoint_file_kind::safetensors: return "safetensors";
    case checkpoint_file_kind::safetensors_index: return "safetensors_index";
    case checkpoint_file_kind::gguf: return "gguf";
    case checkpoint_file_kind::gguf_split: return "gguf_split";
    case checkpoint_file_kind::json: return "json";
    case checkpoint_file_kind::other: return "other";
    }
    return "other";
}

std::optional<checkpoint_format> checkpoint_file_class::format() const {
    switch (kind) {
    case checkpoint_file_kind::safetensors:
    case checkpoint_file_kind::safetensors_index: return checkpoint_format::safetensors;
    case checkpoint_file_kind::gguf:
    case checkpoint_file_kind::gguf_split: return checkpoint_format::gguf;
    case checkpoint_file_kind::json:
    case checkpoint_file_kind::other: return std::nullopt;
    }
    return std::nullopt;
}

checkpoint_file_class classify_checkpoint_file(const std::string& file_name) {
    const std::string lower = lowercase(file_name);
    checkpoint_file_class out;
    if (ends_with(lower, ".safetensors.index.json"))
        out.kind = checkpoint_file_kind::safetensors_index;
    else if (ends_with(lower, ".json"))
        out.kind = checkpoint_file_kind::json;
    else if (ends_with(lower, ".safetensors"))
        out.kind = checkpoint_file_kind::safetensors;
    else if (ends_with(lower, ".gguf"))
        out.kind =
            read_split_name(lower, out) ? checkpoint_file_kind::gguf_split : checkpoint_file_kind::gguf;
    return out;
}

const char* checkpoint_layout_label(checkpoint_layout l) {
    switch (l) {
    case checkpoint_layout::safetensors_file: return "safetensors file";
    case checkpoint_layout::safetensors_files: return "safetensors files";
    case checkpoint_layout::sharded_safetensors: return "sharded safetensors";
    case checkpoint_layout::gguf_file: return "GGUF file";
    case checkpoint_layout::gguf_splits: return "split GGUF";
    }
    return "?";
}

checkpoint_format checkpoint_layout_format(checkpoint_layout l) {
    return l == checkpoint_layout::gguf_file || l == checkpoint_layout::gguf_splits
               ? checkpoint_format::gguf
               : checkpoint_format::safetensors;
}

result<header_parse<checkpoint>> parse_checkpoint_header(checkpoint_format format, std::string_view prefix,
                                                         uint64_t file_size, const std::string& file_name) {
    return format == checkpoint_format::gguf ? parse_gguf(prefix, file_size, file_name)
                                             : parse_safetensors_header(prefix, file_size, file_name);
}

result<checkpoint_file_set> select_checkpoint_files(const std::vector<std::string>& names,
                                                    checkpoint_names_from from) {
    const bool folder = from == checkpoint_names_from::folder;
    std::vector<std::string> indexes, safetensors, ggufs;
    for (const std::string& name : names) {
        switch (classify_checkpoint_file(name).kind) {
        case checkpoint_file_kind::safetensors_index: indexes.push_back(name); break;
        case checkpoint_file_kind::safetensors: safetensors.push_back(name); break;
        case checkpoint_file_kind::gguf:
        case checkpoint_file_kind::gguf_split: ggufs.push_back(name); break;
        case checkpoint_file_kind::json:
        case checkpoint_file_kind::other:
            if (!folder)
                return make_error(error_code::unsupported,
                                  name + ": not a .safetensors, .safetensors.index.json or .gguf file");
        }
    }
    if (!folder && !ggufs.empty() && (!indexes.empty() || !safetensors.empty()))
        return make_error(error_code::bad_request,
                          "GGUF and safetensors files together; give one checkpoint");
    for (auto* list : {&indexes, &safetensors, &ggufs}) std::sort(list->begin(), list->end());

    checkpoint_file_set set;
    if (!indexes.empty()) {
        set.layout = checkpoint_layout::sharded_safetensors;
        auto preferred = std::find(indexes.begin(), indexes.end(), "model.safetensors.index.json");
        if (indexes.size() > 1 && preferred == indexes.end())
            return make_error(error_code::bad_request,
                              "several index files (" + list_of(indexes, 2) + "); give one");
        set.index = indexes.size() == 1 ? indexes.front() : *preferred;
    } else if (!safetensors.empty()) {
        set.layout = safetensors.size() == 1 ? checkpoint_layout::safetensors_file
                                             : checkpoint_layout::safetensors_files;
        set.files = std::move(safetensors);
    } else if (!ggufs.empty()) {
        set.layout = ggufs.size() == 1 ? checkpoint_layout::gguf_file : checkpoint_layout::gguf_splits;
        set.files = std::move(ggufs);
    } else if (folder) {
        return make_error(error_code::io,
                          "folder holds no .safetensors, *.safetensors.index.json or .gguf file");
    } else {
        return make_error(error_code::bad_request, "no files");
    }
    return set;
}

void add_index_shards(checkpoint_file_set& set, const safetensors_index& index) {
    set.files = index.shards;
}

result<std::vector<checkpoint>> check_gguf_splits(std::vector<checkpoint> parts) {
    if (parts.size() <= 1) return parts;
    std::vector<split_part> splits;
    for (size_t i = 0; i < parts.size(); ++i) {
        auto s = read_split_keys(parts[i], i, parts.size());
        if (!s) return s.err();
        splits.push_back(*s);
    }
    if (auto e = check_split_numbers(parts, splits)) return *e;
    if (auto e = check_split_tensor_count(parts, splits)) return *e;
    std::vector<checkpoint> ordered;
    ordered.reserve(parts.size());
    for (const split_part& s : splits) ordered.push_back(std::move(parts[s.part]));
    return ordered;
}

result<checkpoint> assemble_checkpoint(const checkpoint_file_set& set, std::vector<checkpoint> parts,
                                       const safetensors_index* index) {
    if (parts.size() != set.files.size())
        return make_error(error_code::internal, std::to_string(parts.size()) + " parsed headers for " +
                                                    std::to_string(set.files.size()) + " files");
    switch (set.layout) {
    case checkpoint_layout::sharded_safetensors:
        if (!index)
            return make_error(error_code::internal, "a sharded checkpoint assembled without its index");
        return merge_safetensors_shards(*index, std::move(parts));
    case checkpoint_layout::gguf_splits: {
        auto ordered = check_gguf_splits(std::move(parts));
        if (!ordered) return ordered.err();
        return merge_checkpoints(std::move(*ordered));
    }
    default: return merge_checkpoints(std::move(parts));
    }
}

} // namespace modelplan
