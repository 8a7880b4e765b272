#include "io/checkpoint-files.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include "io/files.h"
#include "modelplan/gguf.h"
#include "modelplan/safetensors.h"
#include "modelplan/text.h"

namespace modelplan::cli {

namespace fs = std::filesystem;

namespace {

// The leading bytes of one local file, read on demand and never past what is asked for.
class prefix_reader : public byte_source {
  public:
    static result<std::unique_ptr<byte_source>> open(const fs::path& path) {
        if (auto problem = path_problem(path))
            return make_error(error_code::io, path.string() + ": " + *problem);
        std::error_code ec;
        uint64_t size = fs::file_size(path, ec);
        if (ec) return make_error(error_code::io, path.string() + ": " + ec.message());
        auto r = std::make_unique<prefix_reader>();
        r->path_ = path;
        r->size_ = size;
        r->in_ = std::make_shared<std::ifstream>(path, std::ios::binary);
        if (!*r->in_) return make_error(error_code::io, path.string() + ": cannot open for reading");
        return std::unique_ptr<byte_source>(std::move(r));
    }

    uint64_t size() const override { return size_; }
    const std::string& bytes() const override { return bytes_; }

    std::optional<error> read_to(uint64_t n) override {
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

result<checkpoint> read_safetensors(const source_opener& open, const std::string& label,
                                    uint64_t& bytes_read) {
    auto opened = open(label);
    if (!opened) return opened.err();
    auto& r = *opened;
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

result<checkpoint> read_gguf(const source_opener& open, const std::string& label, uint64_t& bytes_read) {
    auto opened = open(label);
    if (!opened) return opened.err();
    auto& r = *opened;
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

result<std::string> read_small_file(const source_opener& open, const std::string& name, uint64_t limit) {
    auto opened = open(name);
    if (!opened) return opened.err();
    auto& r = *opened;
    auto too_large = [&](uint64_t size) {
        return make_error(error_code::io, name + ": " + with_thousands(size) +
                                              " bytes is too large for an index (limit " +
                                              binary_size(limit) + ")");
    };
    if (r->size() != byte_source::unknown_size && r->size() > limit) return too_large(r->size());
    if (auto e = r->read_to(limit + 1)) return *e;
    if (r->size() > limit) return too_large(r->size());
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

// The index of a sharded checkpoint, read whole; its shards become the set's files.
result<safetensors_index> read_index(const source_opener& open, checkpoint_file_set& set,
                                     uint64_t& bytes_read) {
    auto text = read_small_file(open, set.index, max_index_bytes);
    if (!text) return text.err();
    bytes_read += text->size();
    auto index = parse_safetensors_index(*text, set.index);
    if (!index) return index.err();
    add_index_shards(set, *index);
    return index;
}

// The header of every file of the set, in the set's order.
result<std::vector<checkpoint>> read_headers(const source_opener& open, const checkpoint_file_set& set,
                                             uint64_t& bytes_read) {
    const bool gguf = checkpoint_layout_format(set.layout) == checkpoint_format::gguf;
    std::vector<checkpoint> parts;
    parts.reserve(set.files.size());
    for (const std::string& name : set.files) {
        auto ck = gguf ? read_gguf(open, name, bytes_read) : read_safetensors(open, name, bytes_read);
        if (!ck) {
            error e = ck.err();
            if (e.code == error_code::io && !set.index.empty())
                e.message += " (a shard named by " + set.index + ")";
            return e;
        }
        parts.push_back(std::move(*ck));
    }
    return parts;
}

source_opener local_files(const fs::path& folder) {
    return [folder](const std::string& name) { return prefix_reader::open(folder / name); };
}

// Reads the headers of a set of files and assembles them with the core's rules.
result<loaded_checkpoint> load_set(const source_opener& open, checkpoint_file_set set) {
    loaded_checkpoint out;
    std::optional<safetensors_index> index;
    if (set.layout == checkpoint_layout::sharded_safetensors) {
        auto read = read_index(open, set, out.header_bytes_read);
        if (!read) return read.err();
        index = std::move(*read);
    }
    auto parts = read_headers(open, set, out.header_bytes_read);
    if (!parts) return parts.err();
    auto ck = assemble_checkpoint(set, std::move(*parts), index ? &*index : nullptr);
    if (!ck) return ck.err();
    out.ck = std::move(*ck);
    out.kind = checkpoint_layout_label(set.layout);
    return out;
}

result<loaded_checkpoint> load_folder(const fs::path& folder) {
    std::error_code ec;
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder, ec))
        if (entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
    if (ec) return make_error(error_code::io, folder.string() + ": " + ec.message());
    auto set = select_checkpoint_files(names, checkpoint_names_from::folder);
    if (!set) return make_error(set.err().code, folder.string() + ": " + set.err().message, set.err().path);
    auto out = load_set(local_files(folder), std::move(*set));
    if (out) out->folder_config = config_beside(folder);
    return out;
}

// One file named on its own: an index (any .json: the parser says what is wrong with another), a GGUF file
// (by its magic, whatever its name), else a safetensors file. Only an index looks for a config.json beside
// it.
result<loaded_checkpoint> load_file(const fs::path& path) {
    std::string name = path.filename().string();
    checkpoint_file_kind kind = classify_checkpoint_file(name).kind;
    const bool index = kind == checkpoint_file_kind::safetensors_index || kind == checkpoint_file_kind::json;
    checkpoint_file_set set;
    if (index) {
        set.layout = checkpoint_layout::sharded_safetensors;
        set.index = name;
    } else {
        // A .gguf name is a GGUF file whatever it holds (its parser says what is wrong); any other name is
        // one when it starts with the magic.
        const bool gguf = classify_checkpoint_file(name).format() == checkpoint_format::gguf ||
                          starts_with_gguf_magic(path);
        set.layout = gguf ? checkpoint_layout::gguf_file : checkpoint_layout::safetensors_file;
        set.files = {name};
    }
    auto out = load_set(local_files(path.parent_path()), std::move(set));
    if (out && index) out->folder_config = config_beside(path.parent_path());
    return out;
}

} // namespace

result<loaded_checkpoint> load_checkpoint_from(const std::vector<std::string>& names,
                                               const source_opener& open, const std::string& where) {
    auto set = select_checkpoint_files(names, checkpoint_names_from::folder);
    if (!set) return make_error(set.err().code, where + ": " + set.err().message, set.err().path);
    return load_set(open, std::move(*set));
}

result<loaded_checkpoint> load_checkpoint(const std::string& argument) {
    std::error_code ec;
    fs::path path(argument);
    if (fs::is_directory(path, ec)) return load_folder(path);
    // Checked before anything opens it: a FIFO or a device would block the first read or never end.
    if (auto problem = path_problem(path, path_kind::file_or_folder))
        return make_error(error_code::io, argument + ": " + *problem);
    return load_file(path);
}

} // namespace modelplan::cli
