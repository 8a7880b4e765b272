// safetensors headers. Format and rules: huggingface/safetensors README ("Format") and
// safetensors/src/tensor.rs (read_metadata, Metadata::validate, Dtype::bitsize) at commit
// 24b0b2857fef49be734b9ab72ce97c09bb25f5b9.
#include "modelplan/safetensors.h"

#include <algorithm>
#include <unordered_set>

#include "modelplan/limits.h"
#include "modelplan/text.h"
#include "util/json-util.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

// clang-format off
// Dtype::bitsize in tensor.rs, in the order of its enum (increasing alignment).
const std::vector<safetensors_dtype_info> dtype_table = {
    {"BOOL",         8}, {"F4",           4}, {"F6_E2M3",      6}, {"F6_E3M2",      6},
    {"U8",           8}, {"I8",           8}, {"F8_E5M2",      8}, {"F8_E4M3",      8},
    {"F8_E8M0",      8}, {"F8_E4M3FNUZ",  8}, {"F8_E5M2FNUZ",  8}, {"I16",         16},
    {"U16",         16}, {"F16",         16}, {"BF16",        16}, {"I32",         32},
    {"U32",         32}, {"F32",         32}, {"C64",         64}, {"F64",         64},
    {"I64",         64}, {"U64",         64},
};
// clang-format on

uint64_t read_le64(std::string_view bytes) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
    return v;
}

error bad(const std::string& file, const std::string& message, const std::string& path = {}) {
    return make_error(error_code::bad_checkpoint, file + ": " + message, path);
}

std::string dtype_list() {
    std::string out;
    for (const auto& d : dtype_table) out += (out.empty() ? "" : ", ") + std::string(d.name);
    return out;
}

// The tensors a header lists (its top-level keys but __metadata__) and their names' bytes, counted by a scan
// of the text that allocates nothing, so that a header of millions of tiny entries is refused before a DOM is
// built for it. Malformed JSON is left to the parser; the scan only counts.
struct key_census {
    uint64_t keys = 0;
    uint64_t name_bytes = 0;
};
key_census count_top_level_keys(std::string_view text) {
    key_census c;
    int depth = 0;
    bool in_string = false, escaped = false, expect_key = false, counting = false;
    uint64_t length = 0;
    for (char ch : text) {
        if (in_string) {
            if (counting) ++length;
            if (escaped)
                escaped = false;
            else if (ch == '\\')
                escaped = true;
            else if (ch == '"') {
                in_string = false;
                if (counting) c.name_bytes += length - 1;
                counting = false;
            }
            continue;
        }
        switch (ch) {
        case '"':
            in_string = true;
            if (depth == 1 && expect_key) {
                ++c.keys;
                counting = true;
                length = 0;
                expect_key = false;
            }
            break;
        case '{':
        case '[':
            ++depth;
            expect_key = depth == 1 && ch == '{';
            break;
        case '}':
        case ']': --depth; break;
        case ',': expect_key = depth == 1; break;
        default: break;
        }
    }
    return c;
}

// One header entry, before the offsets are checked against each other.
struct entry {
    checkpoint_tensor tensor;
    uint64_t begin = 0, end = 0; // relative to the data section
    uint32_t bits = 0;
};

result<entry> read_entry(const std::string& file, const std::string& name, const rapidjson::Value& v) {
    const std::string what = "tensor " + quoted(name);
    if (!v.IsObject())
        return bad(file,
                   what + ": expected an object with dtype, shape and data_offsets, got " + describe_json(v),
                   name);
    entry e;
    e.tensor.name = name;
    e.tensor.file = file;

    auto dtype_it = v.FindMember("dtype");
    if (dtype_it == v.MemberEnd()) return bad(file, what + ": missing dtype", name + ".dtype");
    if (!dtype_it->value.IsString())
        return bad(file, what + ": dtype: expected a string, got " + describe_json(dtype_it->value),
                   name + ".dtype");
    e.tensor.dtype.assign(dtype_it->value.GetString(), dtype_it->value.GetStringLength());
    auto bits = safetensors_dtype_bits(e.tensor.dtype);
    if (!bits)
        return bad(file,
                   what + ": unknown dtype " + quoted(e.tensor.dtype) + "; the format has " + dtype_list(),
                   name + ".dtype");
    e.bits = *bits;

    auto shape_it = v.FindMember("shape");
    if (shape_it == v.MemberEnd()) return bad(file, what + ": missing shape", name + ".shape");
    if (!shape_it->value.IsArray())
        return bad(file,
                   what + ": shape: expected an array of non-negative integers, got " +
                       describe_json(shape_it->value),
                   name + ".shape");
    for (rapidjson::SizeType i = 0; i < shape_it->value.Size(); ++i) {
        const rapidjson::Value& d = shape_it->value[i];
        if (!d.IsUint64())
            return bad(file,
                       what + ": shape[" + num(i) + "]: expected a non-negative integer, got " +
                           describe_json(d),
                       name + ".shape");
        e.tensor.shape.push_back(d.GetUint64());
    }

    auto offsets_it = v.FindMember("data_offsets");
    if (offsets_it == v.MemberEnd())
        return bad(file, what + ": missing data_offsets", name + ".data_offsets");
    const rapidjson::Value& o = offsets_it->value;
    if (!o.IsArray() || o.Size() != 2 || !o[0].IsUint64() || !o[1].IsUint64())
        return bad(file,
                   what + ": data_offsets: expected [begin, end] (two non-negative integers), got " +
                       describe_json(o),
                   name + ".data_offsets");
    e.begin = o[0].GetUint64();
    e.end = o[1].GetUint64();
    return e;
}

// Metadata::validate: sorted by offsets, each tensor starts where the previous one ended, and holds exactly
// element count x bits / 8 bytes. Returns the end of the data (relative to the data section).
result<uint64_t> validate_entries(const std::string& file, std::vector<entry>& entries) {
    std::stable_sort(entries.begin(), entries.end(), [](const entry& a, const entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t start = 0;
    for (entry& e : entries) {
        const std::string what = "tensor " + quoted(e.tensor.name);
        const std::string offsets = "[" + num(e.begin) + ", " + num(e.end) + "]";
        const std::string path = e.tensor.name + ".data_offsets";
        if (e.end < e.begin)
            return bad(file, what + ": data_offsets " + offsets + " end before they begin", path);
        if (e.begin != start)
            return bad(file,
                       what + ": data_offsets " + offsets + " should begin at " + num(start) +
                           (start == 0 ? " (the start of the data)" : ", where the previous tensor ends") +
                           "; tensors must cover the data contiguously from 0, with no gaps or overlaps",
                       path);
        start = e.end;

        uint64_t elements = 1;
        for (uint64_t d : e.tensor.shape)
            if (__builtin_mul_overflow(elements, d, &elements))
                return make_error(error_code::overflow,
                                  file + ": " + what + ": element count of shape " +
                                      shape_text(e.tensor.shape) + " overflows 64 bits",
                                  e.tensor.name + ".shape");
        uint64_t bits = 0;
        if (__builtin_mul_overflow(elements, uint64_t{e.bits}, &bits))
            return make_error(error_code::overflow,
                              file + ": " + what + ": size in bits of " + with_thousands(elements) + " " +
                                  e.tensor.dtype + " elements overflows 64 bits",
                              e.tensor.name + ".shape");
        if (bits % 8 != 0)
            return bad(file,
                       what + ": " + with_thousands(elements) + " " + e.tensor.dtype + " elements take " +
                           with_thousands(bits) + " bits, not a whole number of bytes",
                       e.tensor.name + ".shape");
        if (e.end - e.begin != bits / 8)
            return bad(file,
                       what + ": shape " + shape_text(e.tensor.shape) + " of " + e.tensor.dtype + " needs " +
                           with_thousands(bits / 8) + " bytes, but data_offsets " + offsets + " hold " +
                           with_thousands(e.end - e.begin),
                       path);
        e.tensor.elements = elements;
    }
    return start;
}

} // namespace

const std::vector<safetensors_dtype_info>& safetensors_dtypes() {
    return dtype_table;
}

std::optional<uint32_t> safetensors_dtype_bits(std::string_view name) {
    for (const auto& d : dtype_table)
        if (name == d.name) return d.bits;
    return std::nullopt;
}

result<header_parse<checkpoint>> parse_safetensors_header(std::string_view prefix, uint64_t file_size,
                                                          const std::string& file_name) {
    const std::string& file = file_name;
    header_parse<checkpoint> out;
    // HeaderTooSmall: fewer than 8 bytes in the whole file.
    if (file_size < safetensors_length_bytes)
        return bad(file, "the file is " + num(file_size) +
                             " bytes; a safetensors file starts with an 8-byte header length");
    if (prefix.size() < safetensors_length_bytes) {
        out.need_bytes = safetensors_length_bytes;
        return out;
    }
    const uint64_t n = read_le64(prefix);
    // HeaderTooLarge.
    if (n > safetensors_max_header_bytes)
        return bad(file, "header length " + with_thousands(n) + " exceeds the format's limit of " +
                             with_thousands(safetensors_max_header_bytes) + " bytes");
    // InvalidHeaderLength: the header must lie within the file.
    const uint64_t header_end = safetensors_length_bytes + n;
    if (header_end > file_size)
        return bad(file, "header length " + with_thousands(n) +
                             " runs past the end of the file: " + with_thousands(header_end) +
                             " bytes needed, the file has " + with_thousands(file_size));
    if (prefix.size() < header_end) {
        out.need_bytes = header_end;
        return out;
    }

    const key_census census = count_top_level_keys(prefix.substr(safetensors_length_bytes, n));
    if (census.keys > max_tensors + 1) // + 1: __metadata__
        return make_error(error_code::unsupported,
                          file + ": the header lists " + with_thousands(census.keys) +
                              " entries, more than the " + with_thousands(max_tensors) +
                              " tensors modelplan reads from one file (docs/reliability.md)");
    if (census.name_bytes > safetensors_max_name_bytes)
        return make_error(error_code::unsupported,
                          file + ": the header's tensor names take " + with_thousands(census.name_bytes) +
                              " bytes, more than the " + with_thousands(safetensors_max_name_bytes) +
                              " modelplan reads from one file (docs/reliability.md)");
    std::string text(prefix.substr(safetensors_length_bytes, static_cast<size_t>(n)));
    // InvalidHeader: the header is UTF-8.
    if (!valid_utf8(text)) return bad(file, "header is not valid UTF-8");
    // InvalidHeaderDeserialization: a JSON object (whitespace around it is allowed).
    rapidjson::Document doc;
    if (auto e = parse_json(text, doc, "header")) {
        e->code = error_code::json_syntax;
        e->message = file + ": " + e->message;
        return *e;
    }
    if (!doc.IsObject())
        return bad(file, "header: expected a JSON object of tensors, got " + describe_json(doc));

    checkpoint ck;
    ck.format = checkpoint_format::safetensors;
    std::vector<entry> entries;
    std::unordered_set<std::string> seen;
    bool seen_metadata = false;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        std::string name(it->name.GetString(), it->name.GetStringLength());
        if (name == "__metadata__") {
            // A free-form string-to-string map (README "Format").
            if (seen_metadata) return bad(file, "__metadata__ appears twice in the header", name);
            seen_metadata = true;
            if (!it->value.IsObject())
                return bad(file,
                           "__metadata__: expected an object of strings, got " + describe_json(it->value),
                           name);
            for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
                std::string key(m->name.GetString(), m->name.GetStringLength());
                if (!m->value.IsString())
                    return bad(file,
                               "__metadata__." + printable_utf8(key) + ": expected a string, got " +
                                   describe_json(m->value),
                               "__metadata__." + key);
                ck.metadata.emplace_back(key, std::string(m->value.GetString(), m->value.GetStringLength()));
            }
            continue;
        }
        // README "Notes": duplicate keys are disallowed.
        if (!seen.insert(name).second)
            return bad(file,
                       "tensor " + quoted(name) +
                           " appears twice in the header (duplicate keys are not allowed)",
                       name);
        auto e = read_entry(file, name, it->value);
        if (!e) return e.err();
        entries.push_back(std::move(*e));
    }

    auto data_end = validate_entries(file, entries);
    if (!data_end) return data_end.err();
    // MetadataIncompleteBuffer: the data ends exactly at the end of the file.
    uint64_t expected_size = 0;
    if (__builtin_add_overflow(header_end, *data_end, &expected_size) || expected_size != file_size)
        return bad(file, "the tensors' data ends at byte " +
                             (expected_size < *data_end ? std::string("2^64 or beyond")
                                                        : with_thousands(expected_size)) +
                             " (8 + " + with_thousands(n) + " header bytes + " + with_thousands(*data_end) +
                             " data bytes), but the file is " + with_thousands(file_size) +
                             " bytes; the data must end exactly at the end of the file");

    ck.files.push_back({file, file_size, header_end, entries.size()});
    ck.tensors.reserve(entries.size());
    for (entry& e : entries) {
        e.tensor.begin = header_end + e.begin;
        e.tensor.end = header_end + e.end;
        ck.tensors.push_back(std::move(e.tensor));
    }
    out.parsed = std::move(ck);
    return out;
}

} // namespace modelplan
