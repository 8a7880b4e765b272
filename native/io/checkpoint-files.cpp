#include "io/checkpoint-files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "modelplan/gguf.h"
#include "modelplan/safetensors.h"
#include "modelplan/text.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {

// The leading bytes of one file, read on demand and never past what is asked for.
class prefix_reader {
  public:
    static result<prefix_reader> open(const fs::path& path) {
        std::error_code ec;
        if (!fs::is_regular_file(path, ec))
            return make_error(error_code::io,
                              path.string() + ": " +
                                  (fs::exists(path, ec) ? "not a regular file" : "no such file"));
        uint64_t size = fs::file_size(path, ec);
        if (ec) return make_error(error_code::io, path.string() + ": " + ec.message());
        prefix_reader r;
        r.path_ = path;
        r.size_ = size;
        r.in_ = std::make_shared<std::ifstream>(path, std::ios::binary);
        if (!*r.in_) return make_error(error_code::io, path.string() + ": cannot open for reading");
        return r;
    }

    uint64_t size() const { return size_; }
    const std::string& bytes() const { return bytes_; }

    // Extends the prefix to `n` bytes (at most the file size).
    std::optional<error> read_to(uint64_t n) {
        n = std::min(n, size_);
        if (n <= bytes_.size()) return std::nullopt;
        size_t old = bytes_.size();
        bytes_.resize(static_cast<size_t>(n));
        in_->seekg(static_cast<std::streamoff>(old));
        in_->read(bytes_.data() + old, static_cast<std::streamsize>(n - old));
        if (static_cast<uint64_t>(in_->gcount()) != n - old)
            return make_error(error_code::io,
                              path_.string() + ": read failed at byte " + std::to_string(old));
        return std::nullopt;
    }

  private:
    fs::path path_;
    uint64_t size_ = 0;
    std::shared_ptr<std::ifstream> in_;
    std::string bytes_;
};

result<checkpoint> read_safetensors(const fs::path& path, const std::string& label, uint64_t& bytes_read) {
    auto r = prefix_reader::open(path);
    if (!r) return r.err();
    // The 8-byte length, then exactly the header it announces (the parser bounds it by 100 MB and the file).
    for (uint64_t want = safetensors_length_bytes;;) {
        if (auto e = r->read_to(want)) return *e;
        auto parsed = parse_safetensors_header(r->bytes(), r->size(), label);
        if (!parsed) return parsed.err();
        if (parsed->parsed) {
            bytes_read += r->bytes().size();
            return std::move(*parsed->parsed);
        }
        if (parsed->need_bytes <= r->bytes().size())
            return make_error(error_code::internal, label + ": the header parser asked for no new bytes");
        want = parsed->need_bytes;
    }
}

result<checkpoint> read_gguf(const fs::path& path, const std::string& label, uint64_t& bytes_read) {
    auto r = prefix_reader::open(path);
    if (!r) return r.err();
    // The header's length is known only once it is parsed: reads double from 1 MiB, so at most about twice
    // the header is read, and never more than max_gguf_header_bytes.
    for (uint64_t want = gguf_first_read;;) {
        if (auto e = r->read_to(want)) return *e;
        auto parsed = parse_gguf(r->bytes(), r->size(), label);
        if (!parsed) return parsed.err();
        if (parsed->parsed) {
            bytes_read += r->bytes().size();
            return std::move(*parsed->parsed);
        }
        if (parsed->need_bytes <= r->bytes().size())
            return make_error(error_code::internal, label + ": the GGUF parser asked for no new bytes");
        if (parsed->need_bytes > max_gguf_header_bytes)
            return make_error(error_code::bad_checkpoint,
                              label + ": the GGUF header (metadata and tensor infos) extends past " +
                                  binary_size(max_gguf_header_bytes) + "; refusing to read more");
        want = std::min(std::max(parsed->need_bytes, 2 * r->bytes().size()), max_gguf_header_bytes);
    }
}

result<std::string> read_small_file(const fs::path& path, uint64_t limit) {
    auto r = prefix_reader::open(path);
    if (!r) return r.err();
    if (r->size() > limit)
        return make_error(error_code::io, path.string() + ": " + with_thousands(r->size()) +
                                              " bytes is too large for an index (limit " +
                                              binary_size(limit) + ")");
    if (auto e = r->read_to(r->size())) return *e;
    return r->bytes();
}

bool starts_with_gguf_magic(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    char magic[4] = {};
    in.read(magic, 4);
    return in.gcount() == 4 && std::string(magic, 4) == "GGUF";
}

std::optional<std::string> config_beside(const fs::path& folder) {
    std::error_code ec;
    fs::path config = folder / "config.json";
    if (fs::is_regular_file(config, ec)) return config.string();
    return std::nullopt;
}

result<loaded_checkpoint> load_index(const fs::path& index_path) {
    loaded_checkpoint out;
    out.kind = "sharded safetensors";
    auto text = read_small_file(index_path, max_index_bytes);
    if (!text) return text.err();
    out.header_bytes_read += text->size();
    auto index = parse_safetensors_index(*text, index_path.filename().string());
    if (!index) return index.err();
    fs::path folder = index_path.parent_path();
    std::vector<checkpoint> shards;
    for (const std::string& shard : index->shards) {
        auto ck = read_safetensors(folder / shard, shard, out.header_bytes_read);
        if (!ck) {
            error e = ck.err();
            if (e.code == error_code::io)
                e.message += " (a shard named by " + index_path.filename().string() + ")";
            return e;
        }
        shards.push_back(std::move(*ck));
    }
    auto merged = merge_safetensors_shards(*index, std::move(shards));
    if (!merged) return merged.err();
    out.ck = std::move(*merged);
    out.folder_config = config_beside(folder);
    return out;
}

// GGUF files of one folder: one model, or the splits of one (general split.count, as llama.cpp's gguf-split
// writes them).
result<loaded_checkpoint> load_gguf_files(const std::vector<fs::path>& files) {
    loaded_checkpoint out;
    out.kind = files.size() == 1 ? "GGUF file" : "split GGUF";
    std::vector<checkpoint> parts;
    for (const fs::path& f : files) {
        auto ck = read_gguf(f, f.filename().string(), out.header_bytes_read);
        if (!ck) return ck.err();
        if (files.size() > 1) {
            const gguf_value* count = find_gguf_value(*ck, "split.count");
            if (!count || count->u != files.size())
                return make_error(error_code::bad_checkpoint,
                                  "the folder holds " + std::to_string(files.size()) + " GGUF files but " +
                                      f.filename().string() + " is not one of " +
                                      std::to_string(files.size()) + " splits (split.count); name one file");
        }
        parts.push_back(std::move(*ck));
    }
    auto merged = merge_checkpoints(std::move(parts));
    if (!merged) return merged.err();
    out.ck = std::move(*merged);
    return out;
}

result<loaded_checkpoint> load_folder(const fs::path& folder) {
    std::error_code ec;
    std::vector<fs::path> safetensors, indexes, ggufs;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
        if (!entry.is_regular_file(ec)) continue;
        std::string name = entry.path().filename().string();
        if (ends_with(name, ".safetensors.index.json"))
            indexes.push_back(entry.path());
        else if (ends_with(name, ".safetensors"))
            safetensors.push_back(entry.path());
        else if (ends_with(name, ".gguf"))
            ggufs.push_back(entry.path());
    }
    if (ec) return make_error(error_code::io, folder.string() + ": " + ec.message());
    for (auto* list : {&safetensors, &indexes, &ggufs}) std::sort(list->begin(), list->end());

    if (!indexes.empty()) {
        fs::path index = folder / "model.safetensors.index.json";
        if (!fs::exists(index, ec)) {
            if (indexes.size() > 1)
                return make_error(error_code::io, folder.string() + ": several index files (" +
                                                      indexes[0].filename().string() + ", " +
                                                      indexes[1].filename().string() + ", ...); name one");
            index = indexes.front();
        }
        return load_index(index);
    }
    if (!safetensors.empty()) {
        loaded_checkpoint out;
        out.kind = safetensors.size() == 1 ? "safetensors file" : "safetensors files";
        std::vector<checkpoint> parts;
        for (const fs::path& f : safetensors) {
            auto ck = read_safetensors(f, f.filename().string(), out.header_bytes_read);
            if (!ck) return ck.err();
            parts.push_back(std::move(*ck));
        }
        auto merged = merge_checkpoints(std::move(parts));
        if (!merged) return merged.err();
        out.ck = std::move(*merged);
        out.folder_config = config_beside(folder);
        return out;
    }
    if (!ggufs.empty()) {
        auto out = load_gguf_files(ggufs);
        if (out) out->folder_config = config_beside(folder);
        return out;
    }
    return make_error(error_code::io,
                      folder.string() +
                          ": folder holds no .safetensors, *.safetensors.index.json or .gguf file");
}

} // namespace

result<loaded_checkpoint> load_checkpoint(const std::string& argument) {
    std::error_code ec;
    fs::path path(argument);
    if (!fs::exists(path, ec)) return make_error(error_code::io, argument + ": no such file or folder");
    if (fs::is_directory(path, ec)) return load_folder(path);
    std::string name = path.filename().string();
    if (ends_with(name, ".json")) return load_index(path);
    if (starts_with_gguf_magic(path)) return load_gguf_files({path});
    loaded_checkpoint out;
    out.kind = "safetensors file";
    auto ck = read_safetensors(path, name, out.header_bytes_read);
    if (!ck) return ck.err();
    out.ck = std::move(*ck);
    return out;
}

} // namespace modelplan::cli
