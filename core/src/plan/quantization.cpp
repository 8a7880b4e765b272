// Weight storage per tensor: the model's own dtypes, or a quantization format's real storage with its scales,
// zero points and block metadata. Layouts and sources: docs/quantization.md.
#include "modelplan/quantization.h"
#include "util/saturating.h"

#include <algorithm>
#include <cstdlib>

#include "modelplan/gguf.h"
#include "modelplan/header-model.h"
#include "modelplan/text.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

using sat::add;
using sat::ceil_div;
using sat::mul;

// mxfp4: OCP microscaling FP4 as gpt-oss checkpoints store their experts (transformers' Mxfp4Config).
enum class method : uint8_t { bnb_int8, bnb_4bit, gptq, awq, packed_int, fp8, gguf, mxfp4 };
enum class scale_grid : uint8_t { tensor, channel, block };
// llama-quantize's per-tensor adjustments (llama-quant.cpp, llama_tensor_get_type_impl) that a mix applies.
enum class gguf_mix : uint8_t { plain, q2_k, q4_k_s, q4_k_m, q5_k_m };

struct quant_format {
    method kind = method::gguf;
    std::string name;          // as the user or the config names it
    uint64_t bits = 4;         // bits per quantized weight
    uint64_t group = 0;        // weights per scale along the input dimension; 0: one scale per output row
    uint64_t block = 0;        // bitsandbytes blocksize, or the fp8 scale block edge
    bool double_quant = false; // bitsandbytes: absmax quantized to 8 bits (nested statistics)
    bool zeros = true;         // stores zero points (GPTQ/AWQ always; compressed-tensors when asymmetric)
    bool g_idx = false;        // GPTQ's int32 group index per input row
    uint64_t scale_bytes = 2;  // bytes of one group scale
    scale_grid grid = scale_grid::tensor;
    const ggml_type_info* gguf_type = nullptr; // the mix's default block type
    gguf_mix mix = gguf_mix::plain;
    bool quantize_head = false;   // lm_head quantized too
    bool quantize_router = false; // MoE routers quantized too (bitsandbytes replaces every nn.Linear)
    bool dequantize = false;      // mxfp4 with Mxfp4Config(dequantize=True): loaded as the model's dtype
};

// ---------------------------------------------------------------------------------------------------------
// Formats named in w.quant.

struct named_format {
    const char* name;
    method kind;
    uint64_t bits;
    uint64_t block;
    bool double_quant;
    scale_grid grid;
};

// bitsandbytes: LLM.int8 (Int8Params + per-row fp32 SCB) and 4-bit (Params4bit, blocksize 64 by default);
// fp8: e4m3 weights with fp32 scales per tensor, per output row, or per 128x128 block (DeepSeek-V3).
constexpr named_format fixed_formats[] = {
    {"int8",         method::bnb_int8, 8, 0,   false, scale_grid::channel},
    {"nf4",          method::bnb_4bit, 4, 64,  true,  scale_grid::block  },
    {"nf4-no-dq",    method::bnb_4bit, 4, 64,  false, scale_grid::block  },
    {"fp4",          method::bnb_4bit, 4, 64,  true,  scale_grid::block  },
    {"fp4-no-dq",    method::bnb_4bit, 4, 64,  false, scale_grid::block  },
    {"fp8",          method::fp8,      8, 0,   false, scale_grid::tensor },
    {"fp8-channel",  method::fp8,      8, 0,   false, scale_grid::channel},
    {"fp8-block128", method::fp8,      8, 128, false, scale_grid::block  },
};

struct named_mix {
    const char* name;
    const char* type; // ggml block type (ggml-common.h), looked up in gguf.cpp's table
    gguf_mix mix;
};

// GGUF: single block types and llama-quantize's mixes (ftypes) with their default type.
constexpr named_mix gguf_formats[] = {
    {"q8_0",   "Q8_0",   gguf_mix::plain },
    {"q6_k",   "Q6_K",   gguf_mix::plain },
    {"q5_k",   "Q5_K",   gguf_mix::plain },
    {"q5_k_s", "Q5_K",   gguf_mix::plain },
    {"q5_k_m", "Q5_K",   gguf_mix::q5_k_m},
    {"q5_0",   "Q5_0",   gguf_mix::plain },
    {"q5_1",   "Q5_1",   gguf_mix::plain },
    {"q4_k",   "Q4_K",   gguf_mix::plain },
    {"q4_k_s", "Q4_K",   gguf_mix::q4_k_s},
    {"q4_k_m", "Q4_K",   gguf_mix::q4_k_m},
    {"q4_0",   "Q4_0",   gguf_mix::plain },
    {"q4_1",   "Q4_1",   gguf_mix::plain },
    {"q3_k",   "Q3_K",   gguf_mix::plain },
    {"q2_k",   "Q2_K",   gguf_mix::q2_k  },
    {"iq4_nl", "IQ4_NL", gguf_mix::plain },
    {"iq4_xs", "IQ4_XS", gguf_mix::plain },
};

// The names people type for a format, each mapped to one format of the tables above: the one place aliases
// live (docs/quantization.md, "Aliases"). The defaults behind them: transformers' GPTQConfig and AutoAWQ
// quantize 4-bit weights in groups of 128; Unsloth's and TheBloke's "bnb-4bit" checkpoints use nf4 with
// double quantization; Ollama's "q4"-style tags are llama.cpp's Q4_K_M mix (its default), q8 is Q8_0.
struct quant_alias {
    const char* alias;
    const char* format;
};
constexpr quant_alias quant_aliases[] = {
    {"gptq",      "gptq-4bit-128g"},
    {"gptq-4bit", "gptq-4bit-128g"},
    {"gptq-int4", "gptq-4bit-128g"},
    {"gptq4",     "gptq-4bit-128g"},
    {"gptq-8bit", "gptq-8bit-128g"},
    {"gptq-int8", "gptq-8bit-128g"},
    {"gptq8",     "gptq-8bit-128g"},
    {"awq",       "awq-4bit-128g" },
    {"awq-4bit",  "awq-4bit-128g" },
    {"awq-int4",  "awq-4bit-128g" },
    {"int4",      "gptq-4bit-128g"},
    {"w4a16",     "gptq-4bit-128g"},
    {"4bit",      "nf4"           },
    {"bnb-4bit",  "nf4"           },
    {"bnb4",      "nf4"           },
    {"bnb-nf4",   "nf4"           },
    {"bnb-fp4",   "fp4"           },
    {"8bit",      "int8"          },
    {"bnb-8bit",  "int8"          },
    {"bnb-int8",  "int8"          },
    {"bnb8",      "int8"          },
    {"llm.int8",  "int8"          },
    {"w8a16",     "int8"          },
    {"float8",    "fp8"           },
    {"fp8-e4m3",  "fp8"           },
    {"e4m3",      "fp8"           },
    {"w8a8-fp8",  "fp8-channel"   },
    {"fp8-block", "fp8-block128"  },
    {"q8",        "q8_0"          },
    {"q6",        "q6_k"          },
    {"q5",        "q5_k_m"        },
    {"q4",        "q4_k_m"        },
    {"q3",        "q3_k"          },
    {"q2",        "q2_k"          },
};

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// "4" -> 4; nullopt for anything but a plain positive decimal number.
std::optional<uint64_t> parse_count(const std::string& s) {
    if (s.empty() || s.size() > 9) return std::nullopt;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v == 0 ? std::nullopt : std::optional<uint64_t>(v);
}

bool valid_gptq_bits(uint64_t bits) {
    return bits == 2 || bits == 3 || bits == 4 || bits == 8;
}

quant_format gptq_format(uint64_t bits, uint64_t group, const std::string& name) {
    quant_format f;
    f.kind = method::gptq;
    f.name = name;
    f.bits = bits;
    f.group = group;
    f.g_idx = true; // AutoGPTQ/GPTQModel save g_idx for every layer, act-order or not
    f.scale_bytes = 2;
    return f;
}

quant_format awq_format(uint64_t bits, uint64_t group, const std::string& name) {
    quant_format f;
    f.kind = method::awq;
    f.name = name;
    f.bits = bits;
    f.group = group;
    f.scale_bytes = 2;
    return f;
}

// "gptq-4bit-128g", "gptq-4bit-128g-act", "gptq-8bit-pc", "awq-4bit-128g".
std::optional<quant_format> parse_gptq_awq(const std::string& s) {
    bool gptq = s.rfind("gptq-", 0) == 0;
    bool awq = s.rfind("awq-", 0) == 0;
    if (!gptq && !awq) return std::nullopt;
    std::string rest = s.substr(gptq ? 5 : 4);
    size_t bit = rest.find("bit-");
    if (bit == std::string::npos) return std::nullopt;
    auto bits = parse_count(rest.substr(0, bit));
    std::string tail = rest.substr(bit + 4);
    if (gptq && tail.size() > 4 && tail.compare(tail.size() - 4, 4, "-act") == 0)
        tail.resize(tail.size() - 4);
    uint64_t group = 0;
    if (tail != "pc") {
        if (tail.empty() || tail.back() != 'g') return std::nullopt;
        auto g = parse_count(tail.substr(0, tail.size() - 1));
        if (!g) return std::nullopt;
        group = *g;
    }
    if (!bits || (gptq && !valid_gptq_bits(*bits)) || (awq && *bits != 4)) return std::nullopt;
    return gptq ? gptq_format(*bits, group, s) : awq_format(*bits, group, s);
}

std::optional<quant_format> parse_named(const std::string& s) {
    for (const named_format& n : fixed_formats) {
        if (s != n.name) continue;
        quant_format f;
        f.kind = n.kind;
        f.name = n.name;
        f.bits = n.bits;
        f.block = n.block;
        f.double_quant = n.double_quant;
        f.grid = n.grid;
        f.quantize_router = n.kind == method::bnb_int8 || n.kind == method::bnb_4bit;
        return f;
    }
    for (const named_mix& n : gguf_formats) {
        if (s != n.name) continue;
        quant_format f;
        f.kind = method::gguf;
        f.name = n.name;
        f.gguf_type = find_ggml_type(n.type);
        f.mix = n.mix;
        return f;
    }
    return parse_gptq_awq(s);
}

} // namespace

std::string quant_format_list() {
    std::string list;
    for (const named_format& n : fixed_formats) list += std::string(list.empty() ? "" : ", ") + n.name;
    list += ", gptq-<2|3|4|8>bit-<G>g[-act], gptq-<bits>bit-pc, awq-4bit-<G>g";
    for (const named_mix& n : gguf_formats) list += std::string(", ") + n.name;
    return list + " (append +head to quantize lm_head too)";
}

std::string canonical_quant_name(const std::string& typed) {
    std::string s = lower(typed);
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    while (!s.empty() && s.back() == ' ') s.pop_back();
    for (char& c : s)
        if (c == '_' && s.rfind("fp8", 0) == 0) c = '-'; // fp8_block128
    for (const quant_alias& a : quant_aliases)
        if (s == a.alias) return a.format;
    // GGUF names with dashes ("q4-k-m") or a ".gguf"-style suffix written with dashes.
    if (!s.empty() && (s[0] == 'q' || s.rfind("iq", 0) == 0) && s.find('-') != std::string::npos) {
        std::string under = s;
        for (char& c : under)
            if (c == '-') c = '_';
        for (const named_mix& n : gguf_formats)
            if (under == n.name) return under;
        for (const quant_alias& a : quant_aliases)
            if (under == a.alias) return a.format;
    }
    return s;
}

namespace {

// Up to three names (formats and aliases) closest to what was typed, for the message of an unknown one.
std::string closest_quant_names(const std::string& wanted) {
    std::vector<std::pair<size_t, std::string>> ranked;
    auto add = [&](const std::string& name) {
        size_t d = edit_distance(wanted, name);
        // A name that starts like what was typed, or contains it, ranks as near.
        if (!wanted.empty() && name.find(wanted) != std::string::npos) d = std::min<size_t>(d, 1);
        for (const auto& r : ranked)
            if (r.second == name) return;
        ranked.push_back({d, name});
    };
    for (const named_format& n : fixed_formats) add(n.name);
    for (const named_mix& n : gguf_formats) add(n.name);
    for (const char* n : {"gptq-4bit-128g", "gptq-8bit-128g", "awq-4bit-128g"}) add(n);
    for (const quant_alias& a : quant_aliases) add(a.alias);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    std::string out;
    for (size_t i = 0; i < ranked.size() && i < 3; ++i) out += (i ? ", " : "") + ranked[i].second;
    return out;
}

result<quant_format> parse_user_format(const std::string& text) {
    std::string s = lower(text);
    bool head = false;
    size_t plus = s.find('+');
    if (plus != std::string::npos) {
        if (s.substr(plus) != "+head")
            return make_error(error_code::bad_request,
                              "quant: unknown modifier " + quote_value(text.substr(plus)) + " in " +
                                  quote_value(text) + "; the only modifier is +head",
                              "quant");
        s.resize(plus);
        head = true;
    }
    s = canonical_quant_name(s);
    std::optional<quant_format> f = parse_named(s);
    if (!f)
        return make_error(error_code::bad_request,
                          "quant: unknown format " + quote_value(text) + "; closest: " +
                              closest_quant_names(s) + " (every format and alias: docs/quantization.md)",
                          "quant");
    f->quantize_head = head;
    return *f;
}

// ---------------------------------------------------------------------------------------------------------
// quantization_config in config.json.

error config_error(error_code code, const std::string& key, const std::string& message) {
    std::string path = "quantization_config" + (key.empty() ? std::string() : "." + key);
    return make_error(code, path + ": " + message, path);
}

// An integer key that may be -1 (GPTQ/AWQ group_size -1: one group per column).
result<int64_t> int_key(const rapidjson::Value& obj, const char* key, int64_t fallback) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || it->value.IsNull()) return fallback;
    if (!it->value.IsInt64())
        return config_error(error_code::wrong_type, key,
                            "expected an integer, got " + describe_json(it->value));
    return it->value.GetInt64();
}

result<uint64_t> group_key(const rapidjson::Value& obj, const char* key, int64_t fallback) {
    auto g = int_key(obj, key, fallback);
    if (!g) return g.err();
    if (*g == -1) return uint64_t{0};
    if (*g <= 0)
        return config_error(error_code::out_of_range, key,
                            "expected a positive group size or -1, got " + std::to_string(*g));
    return static_cast<uint64_t>(*g);
}

result<uint64_t> bits_key(const rapidjson::Value& obj, const char* key, int64_t fallback, bool gptq) {
    auto b = int_key(obj, key, fallback);
    if (!b) return b.err();
    if (*b <= 0 || (gptq && !valid_gptq_bits(static_cast<uint64_t>(*b))) || (!gptq && *b != 4))
        return config_error(error_code::out_of_range, key,
                            std::string("expected ") + (gptq ? "2, 3, 4 or 8" : "4") + ", got " +
                                std::to_string(*b));
    return static_cast<uint64_t>(*b);
}

bool bool_key(const rapidjson::Value& obj, const char* key, bool fallback) {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsBool() ? it->value.GetBool() : fallback;
}

std::string string_key(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsString() ? lower(it->value.GetString()) : std::string();
}

// True when the list under `key` names lm_head (bitsandbytes llm_int8_skip_modules, compressed-tensors
// ignore, GPTQ/AWQ modules_to_not_convert).
bool lists_head(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsArray()) return false;
    for (const auto& v : it->value.GetArray())
        if (v.IsString() && std::string(v.GetString()).find("lm_head") != std::string::npos) return true;
    return false;
}

bool has_list(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    return it != obj.MemberEnd() && it->value.IsArray();
}

result<quant_format> gptq_from_config(const rapidjson::Value& q) {
    auto bits = bits_key(q, "bits", 4, true);
    if (!bits) return bits.err();
    auto group = group_key(q, "group_size", 128);
    if (!group) return group.err();
    quant_format f = gptq_format(*bits, *group,
                                 "gptq-" + std::to_string(*bits) + "bit-" +
                                     (*group ? std::to_string(*group) + "g" : "pc"));
    f.quantize_head = bool_key(q, "lm_head", false); // GPTQModel's "quantize lm_head" switch
    return f;
}

result<quant_format> awq_from_config(const rapidjson::Value& q) {
    auto bits = bits_key(q, q.HasMember("w_bit") ? "w_bit" : "bits", 4, false);
    if (!bits) return bits.err();
    auto group = group_key(q, q.HasMember("q_group_size") ? "q_group_size" : "group_size", 128);
    if (!group) return group.err();
    quant_format f = awq_format(*bits, *group, "awq-4bit-" + (*group ? std::to_string(*group) + "g" : "pc"));
    f.zeros = bool_key(q, "zero_point", true);
    return f;
}

result<quant_format> bnb_from_config(const rapidjson::Value& q) {
    bool four = bool_key(q, "load_in_4bit", false);
    bool eight = bool_key(q, "load_in_8bit", false);
    if (four == eight)
        return config_error(error_code::inconsistent, "",
                            "bitsandbytes needs exactly one of load_in_4bit and load_in_8bit set to true");
    std::string name = "int8";
    if (four) {
        std::string type = string_key(q, "bnb_4bit_quant_type");
        if (type.empty()) type = "fp4"; // BitsAndBytesConfig's default
        if (type != "nf4" && type != "fp4")
            return config_error(error_code::out_of_range, "bnb_4bit_quant_type",
                                "expected \"nf4\" or \"fp4\", got \"" + type + "\"");
        name = type + (bool_key(q, "bnb_4bit_use_double_quant", false) ? "" : "-no-dq");
    }
    quant_format f = *parse_named(name);
    // transformers keeps lm_head unquantized unless llm_int8_skip_modules replaces the default list.
    f.quantize_head = has_list(q, "llm_int8_skip_modules") && !lists_head(q, "llm_int8_skip_modules");
    return f;
}

// transformers' FineGrainedFP8 / DeepSeek-V3 ("fp8", weight_block_size) and FBGEMM ("fbgemm_fp8", per row).
result<quant_format> fp8_from_config(const rapidjson::Value& q, const std::string& method_name) {
    quant_format f = *parse_named(method_name == "fbgemm_fp8" ? "fp8-channel" : "fp8");
    auto it = q.FindMember("weight_block_size");
    if (it != q.MemberEnd() && !it->value.IsNull()) {
        const auto& v = it->value;
        if (!v.IsArray() || v.Size() != 2 || !v[0].IsUint64() || !v[1].IsUint64() || v[0].GetUint64() == 0 ||
            v[0].GetUint64() != v[1].GetUint64())
            return config_error(error_code::out_of_range, "weight_block_size",
                                "expected two equal positive integers such as [128, 128], got " +
                                    describe_json(v));
        f.grid = scale_grid::block;
        f.block = v[0].GetUint64();
        f.name = "fp8-block" + std::to_string(f.block);
    }
    return f;
}

// compressed-tensors (llm-compressor): the weights entry of the first config group.
result<quant_format> compressed_from_config(const rapidjson::Value& q, dtype model_dtype) {
    auto groups = q.FindMember("config_groups");
    if (groups == q.MemberEnd() || !groups->value.IsObject() || groups->value.MemberCount() == 0)
        return config_error(error_code::missing_key, "config_groups", "expected an object with a group");
    const auto& first = groups->value.MemberBegin();
    std::string prefix = std::string("config_groups.") + first->name.GetString() + ".weights";
    auto wit = first->value.IsObject() ? first->value.FindMember("weights") : first->value.MemberEnd();
    if (!first->value.IsObject() || wit == first->value.MemberEnd() || !wit->value.IsObject())
        return config_error(error_code::missing_key, prefix, "expected the group's weights object");
    const auto& wq = wit->value;
    auto bits = int_key(wq, "num_bits", 8);
    if (!bits) return bits.err();
    std::string type = string_key(wq, "type");
    std::string strategy = string_key(wq, "strategy");
    quant_format f;
    if (type == "float") {
        if (*bits != 8)
            return config_error(error_code::out_of_range, prefix + ".num_bits",
                                "float weights must have 8 bits, got " + std::to_string(*bits));
        f = *parse_named(strategy == "channel" ? "fp8-channel" : "fp8");
        if (strategy == "block") {
            auto bs = wq.FindMember("block_structure");
            f.grid = scale_grid::block;
            f.block = bs != wq.MemberEnd() && bs->value.IsArray() && bs->value.Size() == 2 &&
                              bs->value[0].IsUint64() && bs->value[0].GetUint64() > 0
                          ? bs->value[0].GetUint64()
                          : 128;
            f.name = "fp8-block" + std::to_string(f.block);
        }
    } else {
        if (*bits != 4 && *bits != 8 && *bits != 2 && *bits != 3)
            return config_error(error_code::out_of_range, prefix + ".num_bits",
                                "expected 2, 3, 4 or 8, got " + std::to_string(*bits));
        f.kind = method::packed_int;
        f.bits = static_cast<uint64_t>(*bits);
        auto group = group_key(wq, "group_size", -1);
        if (!group) return group.err();
        f.group = strategy == "group" ? *group : 0;
        f.zeros = !bool_key(wq, "symmetric", true);
        f.scale_bytes = dtype_bytes(model_dtype);
        f.name = "w" + std::to_string(f.bits) + "a16" + (f.group ? "-" + std::to_string(f.group) + "g" : "");
    }
    f.quantize_head = !lists_head(q, "ignore");
    return f;
}

// transformers' Mxfp4Config (quant_method "mxfp4", gpt-oss): the experts' weights in blocks of 32 FP4 (e2m1)
// values with one shared 8-bit exponent (E8M0) each; dequantize: true loads them in the model's dtype.
result<quant_format> mxfp4_from_config(const rapidjson::Value& q) {
    quant_format f;
    f.kind = method::mxfp4;
    f.name = "mxfp4";
    f.bits = 4;
    f.group = 32;
    f.zeros = false;
    f.scale_bytes = 1;
    f.dequantize = bool_key(q, "dequantize", false);
    return f;
}

result<quant_format> parse_config_format(const std::string& json, dtype model_dtype) {
    rapidjson::Document doc;
    if (auto e = parse_json(json, doc, "quantization_config")) return *e;
    if (!doc.IsObject()) return config_error(error_code::wrong_type, "", "expected an object");
    std::string m = string_key(doc, "quant_method");
    if (m == "gptq") return gptq_from_config(doc);
    if (m == "awq") return awq_from_config(doc);
    if (m == "bitsandbytes") return bnb_from_config(doc);
    if (m == "fp8" || m == "fbgemm_fp8") return fp8_from_config(doc, m);
    if (m == "compressed-tensors") return compressed_from_config(doc, model_dtype);
    if (m == "mxfp4") return mxfp4_from_config(doc);
    return config_error(error_code::unsupported, "quant_method",
                        "\"" + m +
                            "\" is not supported (supported: gptq, awq, bitsandbytes, fp8, fbgemm_fp8, "
                            "compressed-tensors, mxfp4); set quant to size it as another format");
}

// ---------------------------------------------------------------------------------------------------------
// Which tensors a format quantizes.

bool is_linear_role(role r) {
    switch (r) {
    case role::attn_qkv:
    case role::attn_q:
    case role::attn_q_a:
    case role::attn_q_b:
    case role::attn_k:
    case role::attn_v:
    case role::attn_kv_a:
    case role::attn_kv_b:
    case role::attn_o:
    case role::cross_q:
    case role::cross_k:
    case role::cross_v:
    case role::cross_o:
    case role::ffn_gate:
    case role::ffn_up:
    case role::ffn_down:
    case role::ffn_gate_exp:
    case role::ffn_up_exp:
    case role::ffn_down_exp:
    case role::ffn_gate_shexp:
    case role::ffn_up_shexp:
    case role::ffn_down_shexp: return true;
    default: return false;
    }
}

bool in_vision_tower(const model_spec& spec, const tensor_info& t) {
    return t.what == role::vision || t.what == role::projector ||
           (t.layer != no_index && spec.layers[t.layer].stack == layer_stack::vision);
}

// transformers/AutoGPTQ/AutoAWQ/llm-compressor: the nn.Linear weights of the transformer layers (routers only
// for bitsandbytes), lm_head on request; never embeddings, norms, biases.
bool hf_quantizes(const quant_format& f, const model_spec& spec, const tensor_info& t) {
    // Mxfp4HfQuantizer.param_needs_quantization: the stacked expert weights of Mxfp4GptOssExperts, not their
    // biases (modules_to_not_convert keeps attention, routers, embeddings and lm_head).
    if (f.kind == method::mxfp4) return t.shape.size() == 3 && holds_stacked_experts(t);
    if (t.shape.size() != 2 || in_vision_tower(spec, t)) return false;
    if (t.what == role::lm_head) return f.quantize_head;
    if (t.what == role::ffn_router) return f.quantize_router && t.layer != no_index;
    return t.layer != no_index && is_linear_role(t.what);
}

// llama-quantize (tensor_allows_quantization) and convert_hf_to_gguf.py: 2-D+ weights except norms, MoE
// routers (ffn_gate_inp), position and token-type embeddings and T5's relative bias, which stay F32.
bool gguf_quantizes(const model_spec& spec, const tensor_info& t) {
    if (t.shape.size() < 2 || in_vision_tower(spec, t)) return false;
    switch (t.what) {
    case role::ffn_router:
    case role::pos_embed:
    case role::type_embed:
    case role::attn_rel_bias: return false;
    default: return true;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Bytes of one quantized tensor.

struct matrix {
    uint64_t in = 0;  // input features (columns of an nn.Linear weight)
    uint64_t out = 0; // output features (rows)
};

// HF stores nn.Linear weights [out, in]; GPT-2's Conv1D stores [in, out].
matrix matrix_of(const model_spec& spec, const tensor_info& t) {
    bool conv1d = spec.model_type == "gpt2" && is_linear_role(t.what);
    uint64_t in = conv1d ? t.shape[0] : t.shape.back();
    return {in, in ? t.elements / in : 0};
}

// bitsandbytes LLM.int8: int8 weight [out, in] plus the fp32 row scale SCB [out].
uint64_t bnb_int8_bytes(const matrix& m) {
    return add(mul(m.out, m.in), mul(m.out, 4));
}

// bitsandbytes 4-bit: two weights per byte; one absmax per block of `block` weights (fp32, or with double
// quantization uint8 plus per 256 blocks an fp32 absmax, the fp32 offset and state2's 256-entry fp32 code);
// the 16-entry fp32 quant_map.
uint64_t bnb_4bit_bytes(const quant_format& f, uint64_t n) {
    uint64_t blocks = ceil_div(n, f.block);
    uint64_t stats =
        f.double_quant ? add(blocks, add(mul(ceil_div(blocks, 256), 4), 4 + 256 * 4)) : mul(blocks, 4);
    return add(add(ceil_div(n, 2), stats), 16 * 4);
}

// Group scales (and packed zeros) of GPTQ/AWQ/compressed-tensors along the input dimension.
uint64_t groups_of(const quant_format& f, const matrix& m) {
    return f.group ? ceil_div(m.in, f.group) : 1;
}

uint64_t int32_words(uint64_t values, uint64_t bits) {
    return ceil_div(mul(values, bits), 32);
}

// GPTQ (AutoGPTQ QuantLinear): qweight int32 [in*bits/32, out], qzeros int32 [groups, out*bits/32],
// scales fp16 [groups, out], g_idx int32 [in].
uint64_t gptq_bytes(const quant_format& f, const matrix& m) {
    uint64_t g = groups_of(f, m);
    uint64_t bytes = mul(mul(int32_words(m.in, f.bits), m.out), 4);
    bytes = add(bytes, mul(mul(g, int32_words(m.out, f.bits)), 4));
    bytes = add(bytes, mul(mul(g, m.out), f.scale_bytes));
    return f.g_idx ? add(bytes, mul(m.in, 4)) : bytes;
}

// AWQ (AutoAWQ WQLinear_GEMM): qweight int32 [in, out*bits/32], qzeros int32 [groups, out*bits/32],
// scales fp16 [groups, out].
uint64_t awq_bytes(const quant_format& f, const matrix& m) {
    uint64_t g = groups_of(f, m);
    uint64_t bytes = mul(mul(m.in, int32_words(m.out, f.bits)), 4);
    if (f.zeros) bytes = add(bytes, mul(mul(g, int32_words(m.out, f.bits)), 4));
    return add(bytes, mul(mul(g, m.out), f.scale_bytes));
}

// compressed-tensors pack-quantized: weight_packed int32 [out, in*bits/32], weight_scale [out, groups] in the
// model dtype, weight_zero_point packed int32 [out*bits/32, groups] when asymmetric, weight_shape int64 [2].
uint64_t packed_int_bytes(const quant_format& f, const matrix& m) {
    uint64_t g = groups_of(f, m);
    uint64_t bytes = mul(mul(m.out, int32_words(m.in, f.bits)), 4);
    bytes = add(bytes, mul(mul(m.out, g), f.scale_bytes));
    if (f.zeros) bytes = add(bytes, mul(mul(int32_words(m.out, f.bits), g), 4));
    return add(bytes, 16);
}

// fp8 e4m3: one byte a weight plus fp32 scales per tensor, per output row, or per block x block tile
// (DeepSeek-V3 weight_scale_inv [ceil(out/128), ceil(in/128)]).
uint64_t fp8_bytes(const quant_format& f, const matrix& m) {
    uint64_t scales = f.grid == scale_grid::tensor ? 1
                      : f.grid == scale_grid::channel
                          ? m.out
                          : mul(ceil_div(m.out, f.block), ceil_div(m.in, f.block));
    return add(mul(m.out, m.in), mul(scales, 4));
}

// MXFP4 (transformers' Mxfp4GptOssExperts): a stacked expert weight [experts, in, out] is stored as
// *_blocks uint8 [experts, out, ceil(in / 32), 16] (two FP4 values a byte) and *_scales uint8
// [experts, out, ceil(in / 32)] (one E8M0 exponent per block of 32): 17 bytes per 32 weights, 4.25 bits.
uint64_t mxfp4_bytes(const tensor_info& t) {
    uint64_t experts = t.shape[0], in = t.shape[1], out = t.shape[2];
    return mul(mul(mul(experts, out), ceil_div(in, 32)), 16 + 1);
}

// GGUF: rows x blocks per row x bytes per block (ggml_row_size).
uint64_t gguf_bytes(const ggml_type_info& type, const matrix& m) {
    return mul(m.out, mul(ceil_div(m.in, type.block_size), type.type_size));
}

// ---------------------------------------------------------------------------------------------------------
// llama-quantize's choice of block type per tensor (llama-quant.cpp: llama_tensor_get_type_impl and
// tensor_type_fallback), for the categories that matter to the mixes named here.

enum class gguf_category : uint8_t {
    token_embd,
    output,
    attn_v,
    attn_k,
    attn_q,
    attn_output,
    ffn_down,
    other
};

gguf_category category_of(const tensor_info& t, bool tied) {
    switch (t.what) {
    case role::embed: return tied ? gguf_category::output : gguf_category::token_embd;
    case role::lm_head: return gguf_category::output;
    case role::attn_v:
    case role::attn_qkv:
    case role::attn_kv_b: return gguf_category::attn_v; // category_is_attn_v
    case role::attn_k: return gguf_category::attn_k;
    case role::attn_q: return gguf_category::attn_q;
    case role::attn_o: return gguf_category::attn_output;
    case role::ffn_down:
    case role::ffn_down_exp:
    case role::ffn_down_shexp: return gguf_category::ffn_down;
    default: return gguf_category::other;
    }
}

const ggml_type_info* ggml(const char* name) {
    return find_ggml_type(name);
}

// Layers that get more bits in the *_M mixes: the first and last eighth, and every third in between.
bool use_more_bits(uint64_t i, uint64_t n) {
    return i < n / 8 || i >= 7 * n / 8 || (i >= n / 8 && (i - n / 8) % 3 == 2);
}

struct gguf_context {
    const quant_format& f;
    uint64_t n_gqa = 1;
    uint64_t n_experts = 0;
    uint64_t n_layers = 0; // n_ffn_down: the model's layer count
    uint64_t n_attn_v = 0; // attention-v-like tensors in the model
    uint64_t i_attn_v = 0; // running index over them
};

const ggml_type_info* mixed_type(gguf_context& c, gguf_category cat, uint64_t layer) {
    const ggml_type_info* type = c.f.gguf_type;
    const quant_format& f = c.f;
    if (cat == gguf_category::output) {
        if (f.quantize_head) return type;
        return type == ggml("Q8_0") ? type : ggml("Q6_K");
    }
    if (cat == gguf_category::attn_v) {
        if (f.mix == gguf_mix::q2_k) type = ggml(c.n_gqa >= 4 ? "Q4_K" : "Q3_K");
        if ((f.mix == gguf_mix::q4_k_m || f.mix == gguf_mix::q5_k_m) && use_more_bits(c.i_attn_v, c.n_attn_v))
            type = ggml("Q6_K");
        if (f.mix == gguf_mix::q4_k_s && c.i_attn_v < 4) type = ggml("Q5_K");
        if (c.n_experts == 8) type = ggml("Q8_0");
        ++c.i_attn_v;
    } else if (cat == gguf_category::attn_k && c.n_experts == 8) {
        type = ggml("Q8_0");
    } else if (cat == gguf_category::ffn_down) {
        if (f.mix == gguf_mix::q2_k) type = ggml("Q3_K");
        if ((f.mix == gguf_mix::q4_k_m || f.mix == gguf_mix::q5_k_m) && use_more_bits(layer, c.n_layers))
            type = ggml("Q6_K");
        if (f.mix == gguf_mix::q4_k_s && layer < c.n_layers / 8) type = ggml("Q5_K");
    } else if (cat == gguf_category::attn_output) {
        bool eight = c.n_experts == 8;
        if (eight && (f.mix == gguf_mix::q2_k || f.mix == gguf_mix::q4_k_s || f.mix == gguf_mix::q4_k_m))
            type = ggml("Q5_K");
        if (!eight && f.mix == gguf_mix::q2_k) type = ggml("Q3_K");
    }
    return type;
}

// A row length the block type cannot split falls back to a type with 32-element blocks, then to F16.
const ggml_type_info* fallback_type(const ggml_type_info* type, uint64_t ncols, gguf_category cat) {
    if (ncols % type->block_size == 0) return type;
    if (cat == gguf_category::output) return ncols % 32 == 0 ? ggml("Q8_0") : ggml("F16");
    std::string name = type->name;
    const char* next = name == "Q4_K"     ? "Q5_0"
                       : name == "Q5_K"   ? "Q5_1"
                       : name == "Q6_K"   ? "Q8_0"
                       : name == "IQ4_XS" ? "IQ4_NL"
                                          : "Q4_0";
    const ggml_type_info* t = ggml(next);
    return ncols % t->block_size == 0 ? t : ggml("F16");
}

// ---------------------------------------------------------------------------------------------------------
// The plan item.

struct tally {
    uint64_t quantized = 0, kept = 0;
    uint64_t quantized_bytes = 0, kept_bytes = 0;
    uint64_t quantized_params = 0;
};

std::optional<error> check_group(const quant_format& f, const tensor_info& t, const matrix& m) {
    if (!f.group || m.in % f.group == 0) return std::nullopt;
    return make_error(error_code::not_divisible,
                      "quant: group size " + std::to_string(f.group) + " of " + f.name +
                          " does not divide the input size " + std::to_string(m.in) + " of " + t.name,
                      "quant");
}

result<uint64_t> quantized_bytes(const quant_format& f, const matrix& m, uint64_t n) {
    switch (f.kind) {
    case method::bnb_int8: return bnb_int8_bytes(m);
    case method::bnb_4bit: return bnb_4bit_bytes(f, n);
    case method::gptq: return gptq_bytes(f, m);
    case method::awq: return awq_bytes(f, m);
    case method::packed_int: return packed_int_bytes(f, m);
    case method::fp8: return fp8_bytes(f, m);
    case method::gguf:
    case method::mxfp4: break;
    }
    return make_error(error_code::internal, "quant: GGUF sizes go through gguf_tensor_bytes", "quant");
}

void add_to(tally& s, bool quantized, uint64_t bytes, uint64_t elements) {
    if (quantized) {
        ++s.quantized;
        s.quantized_bytes = add(s.quantized_bytes, bytes);
        s.quantized_params = add(s.quantized_params, elements);
    } else {
        ++s.kept;
        s.kept_bytes = add(s.kept_bytes, bytes);
    }
}

result<tally> tally_hf(const analysis& a, const workload& w, const quant_format& f,
                       std::vector<uint64_t>* per_tensor) {
    tally s;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loads_tensor(a.spec, w, t)) continue;
        if (!hf_quantizes(f, a.spec, t)) {
            uint64_t bytes = mul(t.elements, dtype_bytes(t.type));
            add_to(s, false, bytes, t.elements);
            if (per_tensor) (*per_tensor)[i] = bytes;
            continue;
        }
        if (f.kind == method::mxfp4) {
            uint64_t bytes = mxfp4_bytes(t);
            add_to(s, true, bytes, t.elements);
            if (per_tensor) (*per_tensor)[i] = bytes;
            continue;
        }
        matrix m = matrix_of(a.spec, t);
        if (auto e = check_group(f, t, m)) return *e;
        auto bytes = quantized_bytes(f, m, t.elements);
        if (!bytes) return bytes.err();
        add_to(s, true, *bytes, t.elements);
        if (per_tensor) (*per_tensor)[i] = *bytes;
    }
    return s;
}

uint64_t count_attn_v(const analysis& a, const workload& w, bool tied) {
    uint64_t n = 0;
    for (const tensor_info& t : a.sk.tensors)
        if (loads_tensor(a.spec, w, t) && gguf_quantizes(a.spec, t) &&
            category_of(t, tied) == gguf_category::attn_v)
            ++n;
    return n;
}

// Kept tensors of a GGUF file are F32 (convert_hf_to_gguf.py: 1-D tensors, norms, routers, position tables).
tally tally_gguf(const analysis& a, const workload& w, const quant_format& f,
                 std::vector<uint64_t>* per_tensor) {
    bool tied = a.spec.tie_embeddings();
    gguf_context c{f};
    c.n_gqa = a.spec.n_kv_heads ? a.spec.n_heads / a.spec.n_kv_heads : 1;
    c.n_experts = a.spec.n_experts;
    c.n_layers = a.spec.n_layers;
    c.n_attn_v = count_attn_v(a, w, tied);
    tally s;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loads_tensor(a.spec, w, t)) continue;
        if (!gguf_quantizes(a.spec, t)) {
            add_to(s, false, mul(t.elements, 4), t.elements);
            if (per_tensor) (*per_tensor)[i] = mul(t.elements, 4);
            continue;
        }
        gguf_category cat = category_of(t, tied);
        uint64_t layer = t.layer == no_index ? 0 : a.spec.layers[t.layer].index;
        matrix m = matrix_of(a.spec, t);
        const ggml_type_info* type = fallback_type(mixed_type(c, cat, layer), m.in, cat);
        uint64_t bytes = gguf_bytes(*type, m);
        add_to(s, true, bytes, t.elements);
        if (per_tensor) (*per_tensor)[i] = bytes;
    }
    return s;
}

std::string format_detail(const quant_format& f) {
    switch (f.kind) {
    case method::bnb_int8: return "int8 per-row absmax (fp32 SCB)";
    case method::bnb_4bit:
        return std::string(f.name.rfind("nf4", 0) == 0 ? "nf4" : "fp4") + ", absmax per " +
               std::to_string(f.block) + " weights" + (f.double_quant ? ", double-quantized" : "");
    case method::gptq:
    case method::awq:
    case method::packed_int:
        return std::to_string(f.bits) + "-bit, " +
               (f.group ? "group " + std::to_string(f.group) : std::string("per channel")) +
               (f.zeros ? ", zero points" : ", symmetric") + (f.g_idx ? ", g_idx" : "");
    case method::fp8:
        return std::string("e4m3, fp32 scales per ") +
               (f.grid == scale_grid::tensor ? "tensor"
                : f.grid == scale_grid::channel
                    ? "output row"
                    : std::to_string(f.block) + "x" + std::to_string(f.block) + " block");
    case method::gguf:
        return std::string(f.gguf_type->name) + " (" + std::to_string(f.gguf_type->type_size) +
               " bytes per " + std::to_string(f.gguf_type->block_size) + " weights)";
    case method::mxfp4: return "fp4 e2m1, one e8m0 exponent per 32 weights (routed experts only)";
    }
    return "";
}

const char* formula_of(method kind) {
    switch (kind) {
    case method::gguf:
        return "quantized tensors: rows x ceil(row / block) x block bytes, block type per llama-quantize's "
               "mix; "
               "other tensors F32";
    case method::bnb_int8:
        return "quantized tensors: out x in x 1 + out x 4 (SCB); other tensors at their dtype";
    case method::bnb_4bit:
        return "quantized tensors: n / 2 + absmax statistics per block + quant_map; other tensors at their "
               "dtype";
    case method::gptq:
    case method::awq:
    case method::packed_int:
        return "quantized tensors: packed int32 weights + zero points + scales per group (+ g_idx); other "
               "tensors at their dtype";
    case method::fp8: return "quantized tensors: out x in x 1 + fp32 scales; other tensors at their dtype";
    case method::mxfp4:
        return "routed experts' weights: experts x out x ceil(in / 32) x (16 bytes of blocks + 1 byte of "
               "scales); other tensors at their dtype";
    }
    return "";
}

plan_item quantized_item(const analysis& a, const quant_format& f, const tally& s,
                         const std::string& source) {
    plan_item item{"weights", add(s.quantized_bytes, s.kept_bytes), formula_of(f.kind), {}};
    std::string bpw = "0";
    if (s.quantized_params) {
        uint64_t p = s.quantized_params; // rounded to 1/1000 bit
        uint64_t milli = s.quantized_bytes / p * 8000 + ((s.quantized_bytes % p) * 8000 + p / 2) / p;
        bpw = std::to_string(milli / 1000) + "." + std::to_string(1000 + milli % 1000).substr(1);
    }
    item.inputs = {
        {"quant",                     f.name                                },
        {"quant_source",              source                                },
        {"layout",                    format_detail(f)                      },
        {"bits",                      std::to_string(f.bits)                },
        {"group_size",                f.group   ? std::to_string(f.group)
                       : f.block ? std::to_string(f.block)
                                 : "-"                },
        {"quantized_tensors",         std::to_string(s.quantized)           },
        {"quantized_bytes",           std::to_string(s.quantized_bytes)     },
        {"quantized_bits_per_weight", bpw                                   },
        {"kept_tensors",              std::to_string(s.kept)                },
        {"kept_bytes",                std::to_string(s.kept_bytes)          },
        {"lm_head",                   f.quantize_head ? "quantized" : "kept"},
        {"dtype",                     dtype_name(a.spec.weight_dtype)       }
    };
    if (f.kind == method::gguf) {
        item.inputs[3].value = "-";
        const ggml_type_info* head =
            f.quantize_head || f.gguf_type == ggml("Q8_0") ? f.gguf_type : ggml("Q6_K");
        item.inputs[10].value = std::string("quantized (") + head->name + ")";
    }
    return item;
}

plan_item unquantized_item(const analysis& a, const workload& w, std::vector<uint64_t>* per_tensor) {
    plan_item weights{"weights", 0, "sum over tensors of elements x bytes of the tensor's dtype", {}};
    uint64_t tensors = 0;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loads_tensor(a.spec, w, t)) continue;
        uint64_t bytes = mul(t.elements, dtype_bytes(t.type));
        weights.bytes = add(weights.bytes, bytes);
        if (per_tensor) (*per_tensor)[i] = bytes;
        ++tensors;
    }
    weights.inputs = {
        {"tensors",    std::to_string(tensors)                                            },
        {"parameters", std::to_string(a.counts.total + (w.include_mtp ? a.counts.mtp : 0))},
        {"dtype",      dtype_name(a.spec.weight_dtype)                                    }
    };
    return weights;
}

// A model read from checkpoint headers (header-model.h), or a family's weights taken from its checkpoint
// ("checkpoint_weights"): every tensor at the bytes `stored` gives it, quantized storage included.
plan_item stored_item(const analysis& a, const workload& w, const std::vector<uint64_t>& stored,
                      const std::string& source, std::vector<uint64_t>* per_tensor) {
    plan_item weights{
        "weights", 0, "sum over tensors of the bytes each takes in the checkpoint (its headers)", {}};
    uint64_t tensors = 0, params = 0;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loads_tensor(a.spec, w, t)) continue;
        uint64_t bytes = stored[i];
        weights.bytes = add(weights.bytes, bytes);
        params = add(params, t.elements);
        if (per_tensor) (*per_tensor)[i] = bytes;
        ++tensors;
    }
    weights.inputs = {
        {"tensors",    std::to_string(tensors)},
        {"parameters", std::to_string(params) },
        {"source",     source                 }
    };
    return weights;
}

} // namespace

result<plan_item> plan_weights(const analysis& a, const workload& w, std::vector<uint64_t>* per_tensor) {
    if (per_tensor) per_tensor->assign(a.sk.tensors.size(), 0);
    if (a.from_headers && w.quant.empty())
        return stored_item(a, w, a.from_headers->stored_bytes, "checkpoint headers", per_tensor);
    if (a.checkpoint_weights && w.quant.empty())
        return stored_item(a, w, a.checkpoint_weights->bytes,
                           "checkpoint headers of " + a.checkpoint_weights->checkpoint, per_tensor);
    if (a.from_headers && a.from_headers->quantized)
        return make_error(
            error_code::bad_request,
            "quant: " + a.model +
                " is read from checkpoint headers that store it quantized already; its weights are "
                "the bytes stored, so a quantization format cannot be applied to it",
            "quant");
    if (w.quant.empty() && a.spec.quantization_config.empty()) return unquantized_item(a, w, per_tensor);
    auto f = w.quant.empty() ? parse_config_format(a.spec.quantization_config, a.spec.weight_dtype)
                             : parse_user_format(w.quant);
    if (!f) return f.err();
    std::string source = w.quant.empty() ? "config.json quantization_config" : "--quant";
    if (f->dequantize) return unquantized_item(a, w, per_tensor); // Mxfp4Config(dequantize=True)
    if (f->kind == method::gguf) return quantized_item(a, *f, tally_gguf(a, w, *f, per_tensor), source);
    auto s = tally_hf(a, w, *f, per_tensor);
    if (!s) return s.err();
    return quantized_item(a, *f, *s, source);
}

} // namespace modelplan
