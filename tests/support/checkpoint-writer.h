// Writers of small safetensors and GGUF files for tests, valid and broken. Header-only and independent of the
// core (its element sizes are written here again from the format specs), so tests do not check the parsers
// against their own tables.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace modelplan::test_files {

// ---- safetensors ------------------------------------------------------------------------------------------

// Bits per element, from huggingface/safetensors safetensors/src/tensor.rs (Dtype::bitsize).
inline uint64_t safetensors_bits(const std::string& dtype) {
    static const std::map<std::string, uint64_t> bits = {
        {"BOOL",        8 },
        {"F4",          4 },
        {"F6_E2M3",     6 },
        {"F6_E3M2",     6 },
        {"U8",          8 },
        {"I8",          8 },
        {"F8_E5M2",     8 },
        {"F8_E4M3",     8 },
        {"F8_E8M0",     8 },
        {"I16",         16},
        {"U16",         16},
        {"F16",         16},
        {"BF16",        16},
        {"F8_E4M3FNUZ", 8 },
        {"F8_E5M2FNUZ", 8 },
        {"I32",         32},
        {"U32",         32},
        {"F32",         32},
        {"C64",         64},
        {"F64",         64},
        {"I64",         64},
        {"U64",         64},
    };
    auto it = bits.find(dtype);
    return it == bits.end() ? 0 : it->second;
}

inline std::string le64(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
}

inline std::string json_shape(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

// A safetensors file: 8-byte little-endian header length, the JSON header, then the data (zeros).
struct safetensors_file {
    struct tensor {
        std::string name, dtype;
        std::vector<uint64_t> shape;
        uint64_t begin, end;
    };
    std::vector<tensor> tensors;
    std::vector<std::pair<std::string, std::string>> metadata;
    uint64_t data_bytes = 0;

    // Appends a tensor right after the previous one, sized elements x bits / 8.
    safetensors_file& add(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape) {
        uint64_t elements = 1;
        for (uint64_t d : shape) elements *= d;
        uint64_t bytes = elements * safetensors_bits(dtype) / 8;
        tensors.push_back({name, dtype, std::move(shape), data_bytes, data_bytes + bytes});
        data_bytes += bytes;
        return *this;
    }

    std::string header() const {
        std::string h = "{";
        if (!metadata.empty()) {
            h += "\"__metadata__\":{";
            for (size_t i = 0; i < metadata.size(); ++i)
                h += (i ? "," : "") + ("\"" + metadata[i].first + "\":\"" + metadata[i].second + "\"");
            h += "}";
        }
        for (const auto& t : tensors) {
            if (h.size() > 1) h += ",";
            h += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + json_shape(t.shape) +
                 ",\"data_offsets\":[" + std::to_string(t.begin) + "," + std::to_string(t.end) + "]}";
        }
        return h + "}";
    }

    // Header padded with spaces to a multiple of 8, as the reference writer does.
    std::string header_bytes() const {
        std::string h = header();
        h.append((8 - h.size() % 8) % 8, ' ');
        return le64(h.size()) + h;
    }

    // The whole file, data included (zeros).
    std::string bytes() const { return header_bytes() + std::string(data_bytes, '\0'); }
    // The size the whole file has.
    uint64_t file_size() const { return header_bytes().size() + data_bytes; }
};

// A file from a raw header text and a data size.
inline std::string raw_safetensors(const std::string& header, uint64_t data_bytes) {
    return le64(header.size()) + header + std::string(data_bytes, '\0');
}

// ---- GGUF -------------------------------------------------------------------------------------------------

// gguf_type values (ggml include/gguf.h).
enum : uint32_t {
    g_uint8 = 0,
    g_int8 = 1,
    g_uint16 = 2,
    g_int16 = 3,
    g_uint32 = 4,
    g_int32 = 5,
    g_float32 = 6,
    g_bool = 7,
    g_string = 8,
    g_array = 9,
    g_uint64 = 10,
    g_int64 = 11,
    g_float64 = 12,
};

// ggml_type ids with their (block size, bytes per block), from ggml include/ggml.h and the block layouts
// asserted in src/ggml-common.h (ggml_half is 2 bytes, QK_K is 256).
struct ggml_type_fact {
    uint32_t id;
    uint64_t block, type_size;
};
inline const ggml_type_fact ggml_f32{0, 1, 4};
inline const ggml_type_fact ggml_f16{1, 1, 2};
inline const ggml_type_fact ggml_q4_0{2, 32, 2 + 16};              // d + 32 nibbles
inline const ggml_type_fact ggml_q8_0{8, 32, 2 + 32};              // d + 32 int8
inline const ggml_type_fact ggml_q4_k{12, 256, 2 * 2 + 12 + 128};  // d, dmin, scales, 256 nibbles
inline const ggml_type_fact ggml_q6_k{14, 256, 128 + 64 + 16 + 2}; // ql, qh, scales, d
inline const ggml_type_fact ggml_bf16{30, 1, 2};

inline std::string le32(uint32_t v) {
    return le64(v).substr(0, 4);
}

class gguf_file {
  public:
    uint32_t version = 3;
    uint32_t alignment = 32; // written as general.alignment only when set_alignment is called

    std::string gstring(const std::string& s) const { return le64(s.size()) + s; }

    gguf_file& kv_raw(const std::string& key, uint32_t type, const std::string& value_bytes) {
        kv_ += gstring(key) + le32(type) + value_bytes;
        ++n_kv_;
        return *this;
    }
    gguf_file& kv_u32(const std::string& key, uint32_t v) { return kv_raw(key, g_uint32, le32(v)); }
    gguf_file& kv_u64(const std::string& key, uint64_t v) { return kv_raw(key, g_uint64, le64(v)); }
    gguf_file& kv_i32(const std::string& key, int32_t v) {
        return kv_raw(key, g_int32, le32(static_cast<uint32_t>(v)));
    }
    gguf_file& kv_f32(const std::string& key, float v) {
        uint32_t bits = 0;
        std::memcpy(&bits, &v, 4);
        return kv_raw(key, g_float32, le32(bits));
    }
    gguf_file& kv_bool(const std::string& key, bool v) {
        return kv_raw(key, g_bool, std::string(1, v ? 1 : 0));
    }
    gguf_file& kv_str(const std::string& key, const std::string& v) {
        return kv_raw(key, g_string, gstring(v));
    }
    gguf_file& kv_str_array(const std::string& key, const std::vector<std::string>& items) {
        std::string v = le32(g_string) + le64(items.size());
        for (const auto& s : items) v += gstring(s);
        return kv_raw(key, g_array, v);
    }
    gguf_file& kv_u32_array(const std::string& key, const std::vector<uint32_t>& items) {
        std::string v = le32(g_uint32) + le64(items.size());
        for (uint32_t x : items) v += le32(x);
        return kv_raw(key, g_array, v);
    }
    gguf_file& set_alignment(uint32_t a) {
        alignment = a;
        return kv_u32("general.alignment", a);
    }

    // A tensor with GGUF dimensions (ne[0] first: the innermost dimension), placed after the previous one and
    // padded to the alignment.
    gguf_file& tensor(const std::string& name, std::vector<uint64_t> ne, const ggml_type_fact& type) {
        uint64_t elements = 1;
        for (uint64_t d : ne) elements *= d;
        uint64_t bytes = elements / type.block * type.type_size;
        infos_.push_back({name, std::move(ne), type.id, data_size_});
        data_size_ += (bytes + alignment - 1) / alignment * alignment;
        return *this;
    }
    // A tensor info with every field as given (for broken files); adds nothing to the data.
    gguf_file& tensor_raw(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        infos_.push_back({name, std::move(ne), type, offset});
        return *this;
    }
    gguf_file& extra_data(uint64_t bytes) {
        data_size_ += bytes;
        return *this;
    }

    // Header, metadata and tensor infos, padded to the alignment when there are tensors.
    std::string header() const {
        std::string h = "GGUF" + le32(version) + le64(infos_.size()) + le64(n_kv_) + kv_;
        for (const auto& t : infos_) {
            h += gstring(t.name) + le32(static_cast<uint32_t>(t.ne.size()));
            for (uint64_t d : t.ne) h += le64(d);
            h += le32(t.type) + le64(t.offset);
        }
        if (!infos_.empty()) h.append((alignment - h.size() % alignment) % alignment, '\0');
        return h;
    }
    std::string bytes() const { return header() + std::string(data_size_, '\0'); }
    uint64_t data_size() const { return data_size_; }

  private:
    struct info {
        std::string name;
        std::vector<uint64_t> ne;
        uint32_t type;
        uint64_t offset;
    };
    std::string kv_;
    uint64_t n_kv_ = 0;
    std::vector<info> infos_;
    uint64_t data_size_ = 0;
};

} // namespace modelplan::test_files
