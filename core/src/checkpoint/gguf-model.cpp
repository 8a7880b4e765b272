// GGUF architecture metadata -> model_spec, and GGUF tensor names -> Hugging Face names.
// Key names: ggml docs/gguf.md ("LLM" section: [llm].embedding_length, .block_count, .feed_forward_length,
// .attention.head_count(_kv), .attention.key_length, .expert_count, .expert_used_count;
// tokenizer.ggml.tokens) and llama.cpp's LLM_KV_NAMES ({arch}.vocab_size, .expert_feed_forward_length,
// .rope.freq_base, .attention.layer_norm_rms_epsilon). Tensor names: llama.cpp's LLM_TENSOR_NAMES for
// LLM_ARCH_LLAMA (token_embd, output_norm, output, rope_freqs, blk.%d.attn_q, ..., blk.%d.ffn_gate.%d,
// blk.%d.ffn_gate_exps). The mapping goes through a synthesized config.json so that every validation of
// parse_config applies.
#include <cstring>

#include <rapidjson/document.h>

#include "model/config-json.h"
#include "modelplan/gguf.h"
#include "modelplan/text.h"

namespace modelplan {

namespace {

// clang-format off
// GGUF architectures we model, and the model_type whose config keys they become.
struct gguf_arch {
    const char* arch;       // general.architecture
    const char* model_type; // config.json model_type (llama with experts becomes mixtral)
};
const gguf_arch arch_table[] = {
    {"llama", "llama"},
    {"qwen2", "qwen2"},
    {"qwen3", "qwen3"},
};

// Per-layer tensors: the part after "blk.N." -> the part after "model.layers.N.".
struct name_row {
    const char* gguf;
    const char* hf;
};
const name_row layer_names[] = {
    {"attn_norm.weight",      "input_layernorm.weight"},
    {"attn_q.weight",         "self_attn.q_proj.weight"},
    {"attn_q.bias",           "self_attn.q_proj.bias"},
    {"attn_k.weight",         "self_attn.k_proj.weight"},
    {"attn_k.bias",           "self_attn.k_proj.bias"},
    {"attn_v.weight",         "self_attn.v_proj.weight"},
    {"attn_v.bias",           "self_attn.v_proj.bias"},
    {"attn_output.weight",    "self_attn.o_proj.weight"},
    {"attn_output.bias",      "self_attn.o_proj.bias"},
    {"attn_q_norm.weight",    "self_attn.q_norm.weight"},
    {"attn_k_norm.weight",    "self_attn.k_norm.weight"},
    {"attn_rot_embd",         "self_attn.rotary_emb.inv_freq"},
    {"ffn_norm.weight",       "post_attention_layernorm.weight"},
    {"ffn_gate.weight",       "mlp.gate_proj.weight"},
    {"ffn_gate.bias",         "mlp.gate_proj.bias"},
    {"ffn_up.weight",         "mlp.up_proj.weight"},
    {"ffn_up.bias",           "mlp.up_proj.bias"},
    {"ffn_down.weight",       "mlp.down_proj.weight"},
    {"ffn_down.bias",         "mlp.down_proj.bias"},
    {"ffn_gate_inp.weight",   "block_sparse_moe.gate.weight"},
    {"ffn_gate_exps.weight",  "block_sparse_moe.experts.{expert}.w1.weight"},
    {"ffn_down_exps.weight",  "block_sparse_moe.experts.{expert}.w2.weight"},
    {"ffn_up_exps.weight",    "block_sparse_moe.experts.{expert}.w3.weight"},
};
// Per-expert tensors of older Mixtral conversions: blk.N.ffn_gate.E.weight.
const name_row expert_names[] = {
    {"ffn_gate", "w1"},
    {"ffn_down", "w2"},
    {"ffn_up",   "w3"},
};
const name_row global_names[] = {
    {"token_embd.weight",  "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight",      "lm_head.weight"},
};
// clang-format on

const gguf_arch* find_arch(const std::string& arch) {
    for (const auto& a : arch_table)
        if (arch == a.arch) return &a;
    return nullptr;
}

std::string supported_archs() {
    std::string out;
    for (const auto& a : arch_table) out += (out.empty() ? "" : ", ") + std::string(a.arch);
    return out;
}

// Digits at s[pos...] up to the next '.'; advances pos past the dot.
std::optional<uint64_t> index_at(const std::string& s, size_t& pos) {
    size_t dot = s.find('.', pos);
    if (dot == std::string::npos || dot == pos || dot - pos > 9) return std::nullopt;
    uint64_t v = 0;
    for (size_t i = pos; i < dot; ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    }
    pos = dot + 1;
    return v;
}

bool is_integer(const gguf_value& v) {
    switch (v.type) {
    case gguf_uint8:
    case gguf_uint16:
    case gguf_uint32:
    case gguf_uint64:
    case gguf_int8:
    case gguf_int16:
    case gguf_int32:
    case gguf_int64: return true;
    }
    return false;
}

bool is_float(const gguf_value& v) {
    return v.type == gguf_float32 || v.type == gguf_float64;
}

// Reads GGUF metadata keys into config.json keys, naming the GGUF key in every error.
class gguf_keys {
  public:
    gguf_keys(const checkpoint& ck, std::string arch) : ck_(ck), arch_(std::move(arch)) {}

    std::string key(const char* suffix) const { return arch_ + "." + suffix; }

    // An unsigned integer of any integer type; nullopt when absent.
    result<std::optional<uint64_t>> count(const std::string& key) const {
        const gguf_value* v = find_gguf_value(ck_, key);
        if (!v) return std::optional<uint64_t>{};
        if (v->type == gguf_array)
            return make_error(
                error_code::unsupported,
                "GGUF metadata " + key + " is an array (per-layer values), which is not supported", key);
        if (!is_integer(*v))
            return make_error(
                error_code::wrong_type,
                "GGUF metadata " + key + ": expected an integer, got a " + gguf_type_name(v->type), key);
        bool is_signed =
            v->type == gguf_int8 || v->type == gguf_int16 || v->type == gguf_int32 || v->type == gguf_int64;
        if (is_signed && v->i < 0)
            return make_error(error_code::out_of_range,
                              "GGUF metadata " + key + " must not be negative, got " + std::to_string(v->i),
                              key);
        return std::optional<uint64_t>{is_signed ? static_cast<uint64_t>(v->i) : v->u};
    }

    result<uint64_t> required(const char* suffix, const char* config_key) const {
        auto v = count(key(suffix));
        if (!v) return v.err();
        if (!*v)
            return make_error(error_code::missing_key,
                              "GGUF metadata has no " + key(suffix) + " (needed for " + config_key + ")",
                              key(suffix));
        return **v;
    }

    std::optional<double> number(const char* suffix) const {
        const gguf_value* v = find_gguf_value(ck_, key(suffix));
        if (!v) return std::nullopt;
        if (is_float(*v)) return v->f;
        if (is_integer(*v)) return v->i ? static_cast<double>(v->i) : static_cast<double>(v->u);
        return std::nullopt;
    }

    const gguf_value* find(const std::string& key) const { return find_gguf_value(ck_, key); }

  private:
    const checkpoint& ck_;
    std::string arch_;
};

const checkpoint_tensor* find_tensor(const checkpoint& ck, const char* name) {
    for (const auto& t : ck.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void set(rapidjson::Document& doc, const char* key, uint64_t v) {
    doc.AddMember(rapidjson::StringRef(key), rapidjson::Value(v), doc.GetAllocator());
}

// general.file_type (llama_ftype) for unquantized files: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
const char* torch_dtype_of(uint64_t file_type) {
    switch (file_type) {
    case 0: return "float32";
    case 1: return "float16";
    case 32: return "bfloat16";
    }
    return nullptr;
}

} // namespace

std::optional<std::string> gguf_to_hf_name(const std::string& arch, const std::string& name) {
    if (!find_arch(arch)) return std::nullopt;
    for (const auto& row : global_names)
        if (name == row.gguf) return std::string(row.hf);
    if (name.compare(0, 4, "blk.") != 0) return std::nullopt;
    size_t pos = 4;
    auto layer = index_at(name, pos);
    if (!layer) return std::nullopt;
    std::string rest = name.substr(pos);
    std::string prefix = "model.layers." + std::to_string(*layer) + ".";
    for (const auto& row : layer_names)
        if (rest == row.gguf) return prefix + row.hf;
    for (const auto& row : expert_names) {
        size_t n = std::strlen(row.gguf);
        if (rest.compare(0, n, row.gguf) != 0 || rest.size() <= n || rest[n] != '.') continue;
        size_t at = n + 1;
        auto expert = index_at(rest, at);
        if (expert && rest.substr(at) == "weight")
            return prefix + "block_sparse_moe.experts." + std::to_string(*expert) + "." + row.hf + ".weight";
    }
    return std::nullopt;
}

result<model_spec> gguf_model_spec(const checkpoint& ck) {
    const gguf_value* arch_v = find_gguf_value(ck, "general.architecture");
    if (!arch_v)
        return make_error(error_code::missing_key, "GGUF metadata has no general.architecture",
                          "general.architecture");
    if (arch_v->type != gguf_string)
        return make_error(error_code::wrong_type,
                          std::string("GGUF metadata general.architecture: expected a string, got a ") +
                              gguf_type_name(arch_v->type),
                          "general.architecture");
    const gguf_arch* arch = find_arch(arch_v->s);
    if (!arch)
        return make_error(error_code::unsupported,
                          "GGUF general.architecture \"" + printable_utf8(arch_v->s) +
                              "\" is not supported; supported: " + supported_archs(),
                          "general.architecture");
    gguf_keys keys(ck, arch->arch);

    auto hidden = keys.required("embedding_length", "hidden_size");
    if (!hidden) return hidden.err();
    auto layers = keys.required("block_count", "num_hidden_layers");
    if (!layers) return layers.err();
    auto heads = keys.required("attention.head_count", "num_attention_heads");
    if (!heads) return heads.err();
    auto kv_heads = keys.count(keys.key("attention.head_count_kv"));
    if (!kv_heads) return kv_heads.err();
    auto key_length = keys.count(keys.key("attention.key_length"));
    if (!key_length) return key_length.err();
    auto context = keys.count(keys.key("context_length"));
    if (!context) return context.err();
    auto experts = keys.count(keys.key("expert_count"));
    if (!experts) return experts.err();
    auto experts_used = keys.count(keys.key("expert_used_count"));
    if (!experts_used) return experts_used.err();
    bool moe = experts->value_or(0) > 0;
    if (moe && std::strcmp(arch->arch, "llama") != 0)
        return make_error(error_code::unsupported,
                          "GGUF " + std::string(arch->arch) + " with experts (" + keys.key("expert_count") +
                              ") is not supported; supported mixtures of experts: llama (Mixtral)",
                          keys.key("expert_count"));
    auto expert_ffn = keys.count(keys.key("expert_feed_forward_length"));
    if (!expert_ffn) return expert_ffn.err();
    result<std::optional<uint64_t>> ffn = keys.count(keys.key("feed_forward_length"));
    if (!ffn) return ffn.err();
    if (moe && *expert_ffn) ffn = *expert_ffn;
    if (!*ffn)
        return make_error(error_code::missing_key,
                          "GGUF metadata has no " + keys.key("feed_forward_length") +
                              " (needed for intermediate_size)",
                          keys.key("feed_forward_length"));

    // Vocabulary: {arch}.vocab_size, else the token list's length, else the embedding's rows.
    auto vocab = keys.count(keys.key("vocab_size"));
    if (!vocab) return vocab.err();
    if (!*vocab) {
        const gguf_value* tokens = keys.find("tokenizer.ggml.tokens");
        const checkpoint_tensor* embed = find_tensor(ck, "token_embd.weight");
        if (tokens && tokens->type == gguf_array)
            vocab = std::optional<uint64_t>{tokens->count};
        else if (embed && embed->shape.size() == 2)
            vocab = std::optional<uint64_t>{embed->shape[0]};
        else
            return make_error(error_code::missing_key,
                              "GGUF metadata has neither " + keys.key("vocab_size") +
                                  " nor tokenizer.ggml.tokens, and there is no token_embd.weight to size the "
                                  "vocabulary",
                              keys.key("vocab_size"));
    }

    rapidjson::Document doc(rapidjson::kObjectType);
    auto& alloc = doc.GetAllocator();
    const char* model_type = moe ? "mixtral" : arch->model_type;
    doc.AddMember("model_type", rapidjson::StringRef(model_type), alloc);
    set(doc, "hidden_size", *hidden);
    set(doc, "num_hidden_layers", *layers);
    set(doc, "num_attention_heads", *heads);
    set(doc, "intermediate_size", **ffn);
    set(doc, "vocab_size", **vocab);
    if (*kv_heads) set(doc, "num_key_value_heads", **kv_heads);
    if (*key_length) set(doc, "head_dim", **key_length);
    if (*context) set(doc, "max_position_embeddings", **context);
    if (moe) {
        set(doc, "num_local_experts", **experts);
        if (*experts_used) set(doc, "num_experts_per_tok", **experts_used);
    }
    // llama.cpp writes no output.weight when the head is tied to the embedding.
    doc.AddMember("tie_word_embeddings", find_tensor(ck, "output.weight") == nullptr, alloc);
    if (std::strcmp(arch->arch, "llama") == 0)
        doc.AddMember("attention_bias", find_tensor(ck, "blk.0.attn_q.bias") != nullptr, alloc);
    if (auto eps = keys.number("attention.layer_norm_rms_epsilon"))
        doc.AddMember("rms_norm_eps", *eps, alloc);
    if (auto theta = keys.number("rope.freq_base")) doc.AddMember("rope_theta", *theta, alloc);
    auto file_type = keys.count("general.file_type");
    if (file_type && *file_type)
        if (const char* t = torch_dtype_of(**file_type))
            doc.AddMember("torch_dtype", rapidjson::StringRef(t), alloc);

    auto spec = parse_config(doc);
    if (!spec)
        return make_error(spec.err().code, "GGUF metadata (read as config.json keys): " + spec.err().message,
                          spec.err().path);
    return spec;
}

} // namespace modelplan
