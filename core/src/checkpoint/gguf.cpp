// GGUF parsing. Layout: ggml docs/gguf.md ("File Structure") and include/gguf.h; the checks are those of
// ggml's reader (src/gguf.cpp, gguf_init_from_reader) at commit d99724f2b141fed9e1a9f402213506c081433465.
#include "modelplan/gguf.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <unordered_set>
#include <utility>

#include "modelplan/limits.h"
#include "modelplan/text.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

// clang-format off
// enum ggml_type (include/ggml.h) with blck_size and type_size from type_traits (src/ggml.c); block sizes are
// the sizeof(block_*) identities asserted in src/ggml-common.h (ggml_half = 2 bytes, QK_K = 256).
const std::vector<ggml_type_info> ggml_type_table = {
    { 0, "F32",      1,   4},
    { 1, "F16",      1,   2},
    { 2, "Q4_0",    32,  18}, // 2 + 32/2
    { 3, "Q4_1",    32,  20}, // 2*2 + 32/2
    { 4, "Q4_2",     0,   0}, // removed
    { 5, "Q4_3",     0,   0}, // removed
    { 6, "Q5_0",    32,  22}, // 2 + 4 + 32/2
    { 7, "Q5_1",    32,  24}, // 2*2 + 4 + 32/2
    { 8, "Q8_0",    32,  34}, // 2 + 32
    { 9, "Q8_1",    32,  36}, // 2*2 + 32
    {10, "Q2_K",   256,  84}, // 2*2 + 256/16 + 256/4
    {11, "Q3_K",   256, 110}, // 2 + 256/4 + 256/8 + 12
    {12, "Q4_K",   256, 144}, // 2*2 + 12 + 256/2
    {13, "Q5_K",   256, 176}, // 2*2 + 12 + 256/2 + 256/8
    {14, "Q6_K",   256, 210}, // 2 + 256/16 + 3*256/4
    {15, "Q8_K",   256, 292}, // 4 + 256 + 256/16*2
    {16, "IQ2_XXS", 256,  66}, // 2 + 256/8*2
    {17, "IQ2_XS", 256,  74}, // 2 + 256/8*2 + 256/32
    {18, "IQ3_XXS", 256,  98}, // 2 + 3*(256/8)
    {19, "IQ1_S",  256,  50}, // 2 + 256/8 + 256/16
    {20, "IQ4_NL",  32,  18}, // 2 + 32/2
    {21, "IQ3_S",  256, 110}, // 2 + 13*(256/32) + 256/64
    {22, "IQ2_S",  256,  82}, // 2 + 256/4 + 256/16
    {23, "IQ4_XS", 256, 136}, // 2 + 2 + 256/64 + 256/2
    {24, "I8",       1,   1},
    {25, "I16",      1,   2},
    {26, "I32",      1,   4},
    {27, "I64",      1,   8},
    {28, "F64",      1,   8},
    {29, "IQ1_M",  256,  56}, // 256/8 + 256/16 + 256/32
    {30, "BF16",     1,   2},
    {31, "Q4_0_4_4", 0,   0}, // removed from GGUF files
    {32, "Q4_0_4_8", 0,   0}, // removed
    {33, "Q4_0_8_8", 0,   0}, // removed
    {34, "TQ1_0",  256,  54}, // 2 + 256/64 + (256 - 4*256/64)/5
    {35, "TQ2_0",  256,  66}, // 2 + 256/4
    {36, "IQ4_NL_4_4", 0, 0}, // removed
    {37, "IQ4_NL_4_8", 0, 0}, // removed
    {38, "IQ4_NL_8_8", 0, 0}, // removed
    {39, "MXFP4",   32,  17}, // 1 + 32/2
    {40, "NVFP4",   64,  36}, // 64/16 + 64/2
    {41, "Q1_0",   128,  18}, // 2 + 128/8
    {42, "Q2_0",    64,  18}, // 2 + 64/4
};

// Bytes of one scalar value of each gguf_type (0 for string and array).
const struct { const char* name; uint64_t bytes; } gguf_type_table[gguf_type_count] = {
    {"uint8", 1}, {"int8", 1}, {"uint16", 2}, {"int16", 2}, {"uint32", 4}, {"int32", 4}, {"float32", 4},
    {"bool", 1}, {"string", 0}, {"array", 0}, {"uint64", 8}, {"int64", 8}, {"float64", 8},
};
// clang-format on

constexpr uint32_t gguf_magic = 0x46554747;                 // "GGUF" read as a little-endian uint32
constexpr uint64_t gguf_max_string = 1024ull * 1024 * 1024; // GGUF_MAX_STRING_LENGTH
constexpr uint64_t gguf_max_array = 1024ull * 1024 * 1024;  // GGUF_MAX_ARRAY_ELEMENTS

template <size_t N>
struct unsigned_of;
template <>
struct unsigned_of<1> {
    using type = uint8_t;
};
template <>
struct unsigned_of<2> {
    using type = uint16_t;
};
template <>
struct unsigned_of<4> {
    using type = uint32_t;
};
template <>
struct unsigned_of<8> {
    using type = uint64_t;
};

// What a message names ("metadata key \"x\" type"), given as text or as a function that builds it: the
// reading path passes functions, so that a label costs nothing unless a message needs it (a header of
// thousands of values builds no strings but its keys, names and values; building every label made the parser
// allocation-bound).
inline std::string text_of(const char* what) {
    return what;
}
template <class F, class = decltype(std::declval<const F&>()())>
std::string text_of(const F& what) {
    return what();
}

// Reads little-endian values from the prefix of a file, telling apart "past the end of the prefix" (read
// more) from "past the end of the file" (the file is broken).
class cursor {
  public:
    cursor(std::string_view data, uint64_t file_size, const std::string& file)
        : data_(data), file_size_(file_size), file_(file) {}

    bool failed() const { return need_ != 0 || err_.has_value(); }
    uint64_t pos() const { return pos_; }
    uint64_t need() const { return need_; }
    const std::optional<error>& err() const { return err_; }
    uint64_t remaining() const { return file_size_ - pos_; }

    void fail(error_code code, const std::string& message) {
        if (!failed()) err_ = make_error(code, file_ + ": " + message);
    }

    // True when `n` more bytes can be read now.
    template <class What>
    bool have(uint64_t n, const What& what) {
        if (failed()) return false;
        uint64_t end = 0;
        if (__builtin_add_overflow(pos_, n, &end) || end > file_size_) {
            fail(error_code::bad_checkpoint, text_of(what) + " at byte " + with_thousands(pos_) + " needs " +
                                                 with_thousands(n) + " bytes, but the file ends at byte " +
                                                 with_thousands(file_size_));
            return false;
        }
        if (end > data_.size()) {
            need_ = end;
            return false;
        }
        return true;
    }

    template <class What>
    bool skip(uint64_t n, const What& what) {
        if (!have(n, what)) return false;
        pos_ += n;
        return true;
    }

    template <class T, class What>
    bool read(T& out, const What& what) {
        if (!have(sizeof(T), what)) return false;
        typename unsigned_of<sizeof(T)>::type bits = 0; // little-endian in the file, whatever the host
        for (size_t i = sizeof(T); i-- > 0;)
            bits =
                static_cast<decltype(bits)>((static_cast<uint64_t>(bits) << 8) |
                                            static_cast<unsigned char>(data_[static_cast<size_t>(pos_) + i]));
        std::memcpy(&out, &bits, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }

    // A gguf_string_t: uint64 length, then the bytes. `keep` false skips the bytes.
    template <class What>
    bool string(std::string* out, const What& what) {
        uint64_t length = 0;
        if (!read(length, [&] { return text_of(what) + " length"; })) return false;
        if (length > gguf_max_string) {
            fail(error_code::bad_checkpoint, text_of(what) + " is " + with_thousands(length) +
                                                 " bytes long, above ggml's limit of " +
                                                 with_thousands(gguf_max_string));
            return false;
        }
        if (!have(length, what)) return false;
        if (out) out->assign(data_.substr(static_cast<size_t>(pos_), static_cast<size_t>(length)));
        pos_ += length;
        return true;
    }

  private:
    std::string_view data_;
    uint64_t pos_ = 0;
    uint64_t file_size_;
    const std::string& file_;
    uint64_t need_ = 0;
    std::optional<error> err_;
};

std::string render_value(const gguf_value& v) {
    switch (v.type) {
    case gguf_uint8:
    case gguf_uint16:
    case gguf_uint32:
    case gguf_uint64: return num(v.u);
    case gguf_int8:
    case gguf_int16:
    case gguf_int32:
    case gguf_int64: return std::to_string(v.i);
    case gguf_float32:
    case gguf_float64: {
        // The shortest text that reads back as the same value (a float32 1e-5 prints as 1e-05,
        // not 9.99999975e-06).
        char buf[64];
        for (int precision = v.type == gguf_float32 ? 6 : 15; precision <= 17; ++precision) {
            std::snprintf(buf, sizeof buf, "%.*g", precision, v.f);
            double back = std::strtod(buf, nullptr);
            if (v.type == gguf_float32 ? static_cast<float>(back) == static_cast<float>(v.f) : back == v.f)
                break;
        }
        return buf;
    }
    case gguf_bool: return v.u ? "true" : "false";
    case gguf_string: return printable_utf8(v.s);
    case gguf_array:
        return "[" + std::string(gguf_type_name(v.elem_type)) + " x " + with_thousands(v.count) + "]";
    }
    return "?";
}

// One scalar of `type` into `v` (strings kept when `keep_string`).
template <class What>
bool read_scalar(cursor& c, uint32_t type, gguf_value& v, bool keep_string, const What& what) {
    switch (type) {
    case gguf_uint8: {
        uint8_t x = 0;
        if (!c.read(x, what)) return false;
        v.u = x;
        return true;
    }
    case gguf_int8: {
        int8_t x = 0;
        if (!c.read(x, what)) return false;
        v.i = x;
        return true;
    }
    case gguf_uint16: {
        uint16_t x = 0;
        if (!c.read(x, what)) return false;
        v.u = x;
        return true;
    }
    case gguf_int16: {
        int16_t x = 0;
        if (!c.read(x, what)) return false;
        v.i = x;
        return true;
    }
    case gguf_uint32: {
        uint32_t x = 0;
        if (!c.read(x, what)) return false;
        v.u = x;
        return true;
    }
    case gguf_int32: {
        int32_t x = 0;
        if (!c.read(x, what)) return false;
        v.i = x;
        return true;
    }
    case gguf_uint64: return c.read(v.u, what);
    case gguf_int64: return c.read(v.i, what);
    case gguf_float32: {
        float x = 0;
        if (!c.read(x, what)) return false;
        v.f = x;
        return true;
    }
    case gguf_float64: return c.read(v.f, what);
    case gguf_bool: {
        uint8_t x = 0;
        if (!c.read(x, what)) return false;
        v.u = x != 0;
        return true;
    }
    case gguf_string: return c.string(keep_string ? &v.s : nullptr, what);
    }
    c.fail(error_code::internal, text_of(what) + ": read_scalar of type " + num(type));
    return false;
}

template <class What>
bool valid_type(cursor& c, uint32_t type, const What& what) {
    if (type < gguf_type_count) return true;
    c.fail(error_code::bad_checkpoint, text_of(what) + " has type " + num(type) +
                                           "; GGUF value types are 0 to " + num(gguf_type_count - 1));
    return false;
}

// An array's element type and count, then its elements (skipped; nested arrays recursively, up to a depth).
template <class What>
bool read_array(cursor& c, gguf_value& v, const What& what, uint64_t depth) {
    if (!c.read(v.elem_type, [&] { return text_of(what) + " element type"; }) ||
        !c.read(v.count, [&] { return text_of(what) + " element count"; }))
        return false;
    if (!valid_type(c, v.elem_type, [&] { return text_of(what) + " element"; })) return false;
    if (v.count > gguf_max_array) {
        c.fail(error_code::bad_checkpoint, text_of(what) + " has " + with_thousands(v.count) +
                                               " elements, above ggml's limit of " +
                                               with_thousands(gguf_max_array));
        return false;
    }
    // Every element takes at least this many bytes: a hostile count is refused before any loop.
    uint64_t each = gguf_type_table[v.elem_type].bytes;
    if (v.elem_type == gguf_string) each = 8;
    if (v.elem_type == gguf_array) each = 12;
    uint64_t least = 0;
    if (__builtin_mul_overflow(v.count, each, &least) || least > c.remaining()) {
        c.fail(error_code::bad_checkpoint,
               text_of(what) + " claims " + with_thousands(v.count) + " " + gguf_type_name(v.elem_type) +
                   " elements (" + (least < v.count ? std::string("more than 2^64") : with_thousands(least)) +
                   " bytes at least), more than the " + with_thousands(c.remaining()) +
                   " bytes left in the file");
        return false;
    }
    if (v.elem_type == gguf_string) {
        for (uint64_t i = 0; i < v.count; ++i)
            if (!c.string(nullptr, [&] { return text_of(what) + "[" + num(i) + "]"; })) return false;
        return true;
    }
    if (v.elem_type == gguf_array) {
        if (depth + 1 >= gguf_max_array_depth) {
            c.fail(error_code::bad_checkpoint,
                   text_of(what) + ": arrays nested deeper than " + num(gguf_max_array_depth) + " levels");
            return false;
        }
        for (uint64_t i = 0; i < v.count; ++i) {
            gguf_value inner;
            // One label type for every depth (a lambda of a lambda would be a new type per level).
            const std::function<std::string()> element = [&] { return text_of(what) + "[" + num(i) + "]"; };
            if (!read_array(c, inner, element, depth + 1)) return false;
        }
        return true;
    }
    return c.skip(least, what);
}

bool read_kv(cursor& c, uint64_t index, checkpoint& ck, std::unordered_set<std::string>& keys) {
    std::string key;
    if (!c.string(&key, [&] { return "metadata key " + num(index); })) return false;
    auto what = [&] { return "metadata key " + quoted(key); };
    if (key.empty()) {
        c.fail(error_code::bad_checkpoint, "metadata key " + num(index) + " is empty");
        return false;
    }
    if (!keys.insert(key).second) {
        c.fail(error_code::bad_checkpoint, what() + " appears twice");
        return false;
    }
    gguf_value v;
    if (!c.read(v.type, [&] { return what() + " type"; }) || !valid_type(c, v.type, what)) return false;
    bool ok = v.type == gguf_array ? read_array(c, v, what, 0) : read_scalar(c, v.type, v, true, what);
    if (!ok) return false;
    ck.metadata.emplace_back(key, render_value(v));
    ck.gguf_metadata.emplace_back(std::move(key), std::move(v));
    return true;
}

struct tensor_info {
    checkpoint_tensor tensor;
    uint64_t offset = 0; // relative to the data section
};

bool read_tensor_info(cursor& c, uint64_t index, std::unordered_set<std::string>& names,
                      std::vector<tensor_info>& out) {
    tensor_info info;
    checkpoint_tensor& t = info.tensor;
    if (!c.string(&t.name, [&] { return "tensor info " + num(index) + " name"; })) return false;
    auto what = [&] { return "tensor " + quoted(t.name); };
    if (t.name.size() > gguf_max_name_bytes) {
        c.fail(error_code::bad_checkpoint, what() + ": name is " + num(t.name.size()) +
                                               " bytes; ggml's limit is " + num(gguf_max_name_bytes));
        return false;
    }
    if (!names.insert(t.name).second) {
        c.fail(error_code::bad_checkpoint, what() + " appears twice");
        return false;
    }
    uint32_t n_dims = 0;
    if (!c.read(n_dims, [&] { return what() + " dimension count"; })) return false;
    if (n_dims > gguf_max_dims) {
        c.fail(error_code::bad_checkpoint,
               what() + " has " + num(n_dims) + " dimensions; ggml allows at most " + num(gguf_max_dims));
        return false;
    }
    std::vector<uint64_t> ne(n_dims);
    t.elements = 1;
    bool overflow = false;
    for (uint32_t j = 0; j < n_dims; ++j) {
        if (!c.read(ne[j], [&] { return what() + " dimension " + num(j); })) return false;
        // ggml reads dimensions as int64 and refuses negative ones.
        if (ne[j] > static_cast<uint64_t>(INT64_MAX)) {
            c.fail(error_code::bad_checkpoint,
                   what() + " dimension " + num(j) + " is " + num(ne[j]) + ", above ggml's int64 limit");
            return false;
        }
        overflow = overflow || __builtin_mul_overflow(t.elements, ne[j], &t.elements);
    }
    if (overflow || t.elements > static_cast<uint64_t>(INT64_MAX)) {
        std::string dims;
        for (uint32_t j = 0; j < n_dims; ++j) dims += (j ? ", " : "") + num(ne[j]);
        c.fail(error_code::overflow, what() + ": element count of dimensions (" + dims + ") overflows int64");
        return false;
    }
    for (uint32_t j = n_dims; j-- > 0;) t.shape.push_back(ne[j]);

    uint32_t type = 0;
    if (!c.read(type, [&] { return what() + " type"; })) return false;
    const ggml_type_info* info_type = find_ggml_type(type);
    if (!info_type) {
        c.fail(error_code::bad_checkpoint, what() + " has ggml type " + num(type) +
                                               "; known types are 0 to " + num(ggml_type_table.size() - 1));
        return false;
    }
    if (info_type->block_size == 0) {
        c.fail(error_code::unsupported, what() + " has ggml type " + num(type) + " (" + info_type->name +
                                            "), which ggml removed from GGUF files");
        return false;
    }
    t.dtype = info_type->name;
    uint64_t row = n_dims ? ne[0] : 1;
    if (row % info_type->block_size != 0) {
        c.fail(error_code::bad_checkpoint, what() + " of type " + t.dtype + " has " + num(row) +
                                               " elements per row, not a multiple of the block size " +
                                               num(info_type->block_size));
        return false;
    }
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(t.elements / info_type->block_size, uint64_t{info_type->type_size}, &bytes)) {
        c.fail(error_code::overflow, what() + ": size in bytes overflows 64 bits");
        return false;
    }
    t.end = bytes; // the size, until the offsets are known
    if (!c.read(info.offset, [&] { return what() + " offset"; })) return false;
    out.push_back(std::move(info));
    return true;
}

uint64_t alignment_of(const checkpoint& ck, cursor& c) {
    const gguf_value* v = find_gguf_value(ck, "general.alignment");
    if (!v) return gguf_default_alignment;
    if (v->type != gguf_uint32) {
        c.fail(error_code::bad_checkpoint,
               std::string("general.alignment must be of type uint32, not ") + gguf_type_name(v->type));
        return 0;
    }
    if (v->u == 0 || (v->u & (v->u - 1)) != 0) {
        c.fail(error_code::bad_checkpoint, "general.alignment " + num(v->u) + " is not a power of 2");
        return 0;
    }
    return v->u;
}

// ggml's reader: each tensor starts where the previous one ended, padded to the alignment; and (ggml's model
// loader) its data lies within the file.
bool place_tensors(cursor& c, std::vector<tensor_info>& infos, uint64_t alignment, uint64_t data_start,
                   uint64_t file_size) {
    uint64_t expected = 0;
    for (tensor_info& info : infos) {
        checkpoint_tensor& t = info.tensor;
        uint64_t size = t.end;
        auto what = [&] { return "tensor " + quoted(t.name); };
        if (info.offset != expected) {
            c.fail(error_code::bad_checkpoint,
                   what() + " has offset " + with_thousands(info.offset) + ", expected " +
                       with_thousands(expected) +
                       " (tensors follow each other in order, each padded to the alignment of " +
                       num(alignment) + ")");
            return false;
        }
        uint64_t padded = 0;
        if (__builtin_add_overflow(size, alignment - 1, &padded) ||
            __builtin_add_overflow(expected, padded / alignment * alignment, &expected) ||
            __builtin_add_overflow(data_start, info.offset, &t.begin) ||
            __builtin_add_overflow(t.begin, size, &t.end)) {
            c.fail(error_code::overflow, what() + ": data offsets overflow 64 bits");
            return false;
        }
        if (t.end > file_size) {
            c.fail(error_code::bad_checkpoint, what() + " data ends at byte " + with_thousands(t.end) +
                                                   ", past the end of the file (" +
                                                   with_thousands(file_size) + " bytes)");
            return false;
        }
    }
    return true;
}

} // namespace

const char* gguf_type_name(uint32_t type) {
    return type < gguf_type_count ? gguf_type_table[type].name : "?";
}

const std::vector<ggml_type_info>& ggml_types() {
    return ggml_type_table;
}

const ggml_type_info* find_ggml_type(uint32_t id) {
    return id < ggml_type_table.size() ? &ggml_type_table[id] : nullptr;
}

const ggml_type_info* find_ggml_type(std::string_view name) {
    for (const auto& t : ggml_type_table)
        if (name == t.name) return &t;
    return nullptr;
}

bool ggml_type_is_quantized(const ggml_type_info& t) {
    return t.block_size > 1;
}

const gguf_value* find_gguf_value(const checkpoint& ck, const std::string& key) {
    for (const auto& [k, v] : ck.gguf_metadata)
        if (k == key) return &v;
    return nullptr;
}

result<std::optional<uint64_t>> gguf_count(const checkpoint& ck, const std::string& key) {
    const gguf_value* v = find_gguf_value(ck, key);
    if (!v) return std::optional<uint64_t>{};
    switch (v->type) {
    case gguf_uint8:
    case gguf_uint16:
    case gguf_uint32:
    case gguf_uint64: return std::optional<uint64_t>{v->u};
    case gguf_int8:
    case gguf_int16:
    case gguf_int32:
    case gguf_int64:
        if (v->i < 0)
            return make_error(error_code::out_of_range,
                              "GGUF metadata " + key + " must not be negative, got " + std::to_string(v->i),
                              key);
        return std::optional<uint64_t>{static_cast<uint64_t>(v->i)};
    }
    return make_error(error_code::wrong_type,
                      "GGUF metadata " + key + ": expected an integer, got a " + gguf_type_name(v->type),
                      key);
}

result<header_parse<checkpoint>> parse_gguf(std::string_view prefix, uint64_t file_size,
                                            const std::string& file_name) {
    header_parse<checkpoint> out;
    cursor c(prefix, file_size, file_name);
    auto finish = [&]() -> result<header_parse<checkpoint>> {
        if (c.err()) return *c.err();
        out.need_bytes = c.need();
        return out;
    };

    uint32_t magic = 0, version = 0;
    if (!c.read(magic, "the GGUF magic")) return finish();
    if (magic != gguf_magic) {
        std::string shown;
        for (int i = 0; i < 4; ++i) {
            char ch = static_cast<char>((magic >> (8 * i)) & 0xff);
            shown += std::isprint(static_cast<unsigned char>(ch)) ? ch : '?';
        }
        return make_error(error_code::bad_checkpoint,
                          file_name + ": not a GGUF file: starts with \"" + shown + "\", expected \"GGUF\"");
    }
    if (!c.read(version, "version")) return finish();
    if (version == 0)
        return make_error(error_code::bad_checkpoint, file_name + ": GGUF version 0 is invalid");
    if ((version & 0xffff) == 0)
        return make_error(
            error_code::unsupported,
            file_name + ": GGUF version reads as " + num(version) +
                "; this looks like a big-endian file, and only little-endian files are supported");
    if (version == 1)
        return make_error(error_code::unsupported,
                          file_name +
                              ": GGUF version 1 is no longer supported (ggml reads versions 2 and 3)");
    if (version > 3)
        return make_error(error_code::unsupported, file_name + ": GGUF version " + num(version) +
                                                       " is newer than the supported 2 and 3");

    uint64_t n_tensors = 0, n_kv = 0;
    if (!c.read(n_tensors, "tensor count") || !c.read(n_kv, "metadata key/value count")) return finish();
    // Smallest encodings: a key/value 8 + 1 + 4 + 1 bytes, a tensor info 8 + 4 + 4 + 8 bytes.
    uint64_t least = 0, kv_least = 0;
    if (__builtin_mul_overflow(n_kv, uint64_t{14}, &kv_least) ||
        __builtin_mul_overflow(n_tensors, uint64_t{24}, &least) ||
        __builtin_add_overflow(least, kv_least, &least) || least > c.remaining())
        return make_error(error_code::bad_checkpoint,
                          file_name + ": the header claims " + with_thousands(n_tensors) + " tensors and " +
                              with_thousands(n_kv) + " metadata keys, more than the file's " +
                              with_thousands(file_size) + " bytes can hold");

    // Bounded by what the header asks us to build, not only by its size (docs/reliability.md).
    if (n_tensors > max_tensors)
        return make_error(error_code::unsupported,
                          file_name + ": the header lists " + with_thousands(n_tensors) +
                              " tensors, more than the " + with_thousands(max_tensors) +
                              " modelplan reads from one file (docs/reliability.md)");
    if (n_kv > gguf_max_keys)
        return make_error(error_code::unsupported, file_name + ": the header lists " + with_thousands(n_kv) +
                                                       " metadata keys, more than the " +
                                                       with_thousands(gguf_max_keys) +
                                                       " modelplan reads (docs/reliability.md)");

    checkpoint ck;
    ck.format = checkpoint_format::gguf;
    ck.gguf_version = version;
    std::unordered_set<std::string> keys;
    for (uint64_t i = 0; i < n_kv; ++i)
        if (!read_kv(c, i, ck, keys)) return finish();
    uint64_t alignment = alignment_of(ck, c);
    if (c.failed()) return finish();

    std::vector<tensor_info> infos;
    std::unordered_set<std::string> names;
    for (uint64_t i = 0; i < n_tensors; ++i)
        if (!read_tensor_info(c, i, names, infos)) return finish();

    // The data section starts at the next multiple of the alignment (docs/gguf.md, align_offset).
    uint64_t data_start = c.pos();
    if (data_start % alignment) data_start += alignment - data_start % alignment;
    if (n_tensors > 0 && data_start > file_size)
        return make_error(error_code::bad_checkpoint,
                          file_name + ": the data section would start at byte " + with_thousands(data_start) +
                              ", past the end of the file (" + with_thousands(file_size) + " bytes)");
    if (!place_tensors(c, infos, alignment, data_start, file_size)) return finish();

    ck.files.push_back({file_name, file_size, n_tensors ? data_start : c.pos(), n_tensors});
    for (tensor_info& info : infos) {
        info.tensor.file = file_name;
        ck.tensors.push_back(std::move(info.tensor));
    }
    out.parsed = std::move(ck);
    return out;
}

} // namespace modelplan
