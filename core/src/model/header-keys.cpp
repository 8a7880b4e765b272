// The generic keys of a model without a family (header-internal.h): PretrainedConfig's common attribute names
// (transformers configuration_utils.py; GPT-2's n_layer / n_head / n_embd through its attribute_map), read
// from config.json, or the GGUF metadata keys that mean the same (ggml docs/gguf.md, "LLM":
// [llm].block_count, .attention.head_count, ...; the same keys gguf-model.cpp reads for the families it
// knows).
#include "model/header-internal.h"
#include "modelplan/gguf.h"
#include "modelplan/text.h"
#include "util/json-util.h"
#include "util/text-internal.h"

namespace modelplan::header_read {

namespace {

// One generic key and the other names configs give it (first match wins).
struct key_names {
    std::optional<uint64_t> generic_keys::*field;
    const char* names; // space-separated
};
// clang-format off
const key_names config_sizes[] = {
    {&generic_keys::layers,              "num_hidden_layers n_layer num_layers"},
    {&generic_keys::heads,               "num_attention_heads n_head num_heads"},
    {&generic_keys::kv_heads,            "num_key_value_heads num_kv_heads"},
    {&generic_keys::head_dim,            "head_dim"},
    {&generic_keys::hidden,              "hidden_size n_embd d_model"},
    {&generic_keys::intermediate,        "intermediate_size n_inner"},
    {&generic_keys::expert_intermediate, "moe_intermediate_size"},
    {&generic_keys::vocab,               "vocab_size"},
    {&generic_keys::max_positions,       "max_position_embeddings n_positions"},
    {&generic_keys::sliding_window,      "sliding_window"},
    {&generic_keys::experts,             "num_local_experts num_experts n_routed_experts"},
    {&generic_keys::experts_per_tok,     "num_experts_per_tok"},
};
// Recurrent mixers: Nemotron-H, Granite 4 and Falcon-H1 (mamba_*), Mamba and Mamba-2 (state_size,
// ssm_state_size, conv_kernel), Qwen3-Next (linear_*). What they size is the recurrent_state item's note.
const key_names mixer_sizes[] = {
    {&generic_keys::ssm_state,             "mamba_d_state ssm_state_size state_size"},
    {&generic_keys::ssm_heads,             "mamba_n_heads mamba_num_heads"},
    {&generic_keys::ssm_head_dim,          "mamba_d_head mamba_head_dim"},
    {&generic_keys::conv_kernel,           "conv_kernel mamba_d_conv"},
    {&generic_keys::linear_value_heads,    "linear_num_value_heads"},
    {&generic_keys::linear_key_head_dim,   "linear_key_head_dim"},
    {&generic_keys::linear_value_head_dim, "linear_value_head_dim"},
    {&generic_keys::linear_conv_kernel,    "linear_conv_kernel_dim"},
};
// clang-format on
constexpr uint64_t max_mixer_width = 1ull << 24; // as the state-space families read them (ssm-parts.h)

std::vector<std::string> words(const char* names) {
    std::vector<std::string> out;
    std::string s = names;
    for (size_t start = 0; start < s.size();) {
        size_t space = s.find(' ', start);
        if (space == std::string::npos) space = s.size();
        out.push_back(s.substr(start, space - start));
        start = space + 1;
    }
    return out;
}

// The key readers to look in, in order: the text model's config (a vision-language model's language model
// holds the KV cache), then the whole config.
std::vector<key_reader> readers_of(const rapidjson::Value& config) {
    std::vector<key_reader> out;
    auto text = config.FindMember("text_config");
    if (text != config.MemberEnd() && text->value.IsObject()) out.emplace_back(text->value, "text_config");
    out.emplace_back(config, "");
    return out;
}

} // namespace

result<generic_keys> read_config_keys(const rapidjson::Value& config) {
    generic_keys g;
    g.source = "config.json";
    std::vector<key_reader> readers = readers_of(config);
    const key_reader& top = readers.back();
    auto model_type = top.optional_string("model_type");
    if (!model_type) return model_type.err();
    g.model_type = model_type->value_or("");
    if (const rapidjson::Value* archs = top.find("architectures");
        archs && archs->IsArray() && !archs->Empty() && (*archs)[0].IsString())
        g.architecture = (*archs)[0].GetString();

    auto read_sizes = [&](const auto& table, std::vector<std::string>& read,
                          uint64_t maximum) -> std::optional<error> {
        for (const key_names& k : table) {
            bool found = false;
            for (const key_reader& keys : readers) {
                for (const std::string& name : words(k.names)) {
                    if (!keys.has(name.c_str())) continue;
                    auto v = keys.optional_size(name.c_str());
                    if (!v) return v.err();
                    if (**v > maximum)
                        return make_error(error_code::out_of_range,
                                          keys.path(name.c_str()) + " (" + num(**v) +
                                              ") exceeds the supported maximum of " + num(maximum),
                                          keys.path(name.c_str()));
                    g.*(k.field) = *v;
                    read.push_back(keys.path(name.c_str()) + " " + num(**v));
                    found = true;
                    break;
                }
                if (found) break;
            }
        }
        return std::nullopt;
    };
    if (auto e = read_sizes(config_sizes, g.read, UINT64_MAX)) return *e;
    if (auto e = read_sizes(mixer_sizes, g.mixer_read, max_mixer_width)) return *e;
    for (const key_reader& keys : readers) {
        const rapidjson::Value* types = keys.find("layer_types");
        if (!types) continue;
        std::string path = keys.path("layer_types");
        if (!types->IsArray())
            return make_error(error_code::wrong_type,
                              path + ": expected an array of strings, got " + describe_json(*types), path);
        std::vector<std::string> list;
        for (rapidjson::SizeType i = 0; i < types->Size(); ++i) {
            if (!(*types)[i].IsString())
                return make_error(error_code::wrong_type,
                                  path + "[" + num(i) + "]: expected a string, got " +
                                      describe_json((*types)[i]),
                                  path + "[" + num(i) + "]");
            list.emplace_back((*types)[i].GetString(), (*types)[i].GetStringLength());
        }
        g.layer_types = std::move(list);
        g.read.push_back(path + " (" + num(g.layer_types->size()) + " entries)");
        break;
    }
    for (const key_reader& keys : readers) {
        if (!keys.has("use_sliding_window")) continue;
        auto use = keys.optional_bool("use_sliding_window", true);
        if (!use) return use.err();
        g.sliding_disabled = !*use;
        break;
    }
    for (const key_reader& keys : readers) {
        if (!keys.has("tie_word_embeddings")) continue;
        auto tie = keys.optional_bool("tie_word_embeddings", true);
        if (!tie) return tie.err();
        g.tie_embeddings = *tie;
        break;
    }
    for (const key_reader& keys : readers) {
        const char* key = keys.has("torch_dtype") ? "torch_dtype" : keys.has("dtype") ? "dtype" : nullptr;
        if (!key) continue;
        auto name = keys.optional_string(key);
        if (!name) return name.err();
        auto t = parse_dtype(**name, keys.path(key));
        if (!t) return t.err();
        g.torch_dtype = *t;
        break;
    }
    for (const key_reader& keys : readers) {
        if (!keys.has("mamba_ssm_dtype")) continue;
        auto name = keys.optional_string("mamba_ssm_dtype");
        if (!name) return name.err();
        auto t = parse_dtype(**name, keys.path("mamba_ssm_dtype"));
        if (!t) return t.err();
        g.ssm_state_dtype = *t;
        g.mixer_read.push_back(keys.path("mamba_ssm_dtype") + " " + quote_value(**name));
        break;
    }
    return g;
}

namespace {

// {arch}.KEY as a count; arrays (per-layer values) are noted and left out.
result<std::optional<uint64_t>> gguf_size(const checkpoint& ck, const std::string& key, generic_keys& g) {
    const gguf_value* v = find_gguf_value(ck, key);
    if (!v) return std::optional<uint64_t>{};
    if (v->type == gguf_array) {
        g.notes.push_back(key + " holds one value per layer (an array), which is not read");
        return std::optional<uint64_t>{};
    }
    auto n = gguf_count(ck, key);
    if (!n) return n.err();
    if (*n) g.read.push_back(key + " " + num(**n));
    return n;
}

} // namespace

result<generic_keys> read_gguf_keys(const checkpoint& ck) {
    generic_keys g;
    g.source = "GGUF metadata";
    const gguf_value* arch = find_gguf_value(ck, "general.architecture");
    if (!arch || arch->type != gguf_string) {
        g.notes.push_back(
            "the GGUF metadata has no general.architecture, so none of its model keys are read");
        return g;
    }
    g.model_type = printable_utf8(arch->s);
    g.architecture = g.model_type;
    const std::string a = arch->s + ".";
    struct gguf_key {
        std::optional<uint64_t> generic_keys::*field;
        const char* suffix;
    };
    // clang-format off
    const gguf_key sizes[] = {
        {&generic_keys::layers,              "block_count"},
        {&generic_keys::heads,               "attention.head_count"},
        {&generic_keys::kv_heads,            "attention.head_count_kv"},
        {&generic_keys::head_dim,            "attention.key_length"},
        {&generic_keys::hidden,              "embedding_length"},
        {&generic_keys::intermediate,        "feed_forward_length"},
        {&generic_keys::expert_intermediate, "expert_feed_forward_length"},
        {&generic_keys::vocab,               "vocab_size"},
        {&generic_keys::max_positions,       "context_length"},
        {&generic_keys::experts,             "expert_count"},
        {&generic_keys::experts_per_tok,     "expert_used_count"},
    };
    // clang-format on
    for (const gguf_key& k : sizes) {
        auto v = gguf_size(ck, a + k.suffix, g);
        if (!v) return v.err();
        if (*v && **v > 0) g.*(k.field) = **v;
    }
    // llama.cpp's state-space keys (LLM_KV_SSM_*): Mamba, Mamba-2 and the hybrids built on them.
    const gguf_key mixers[] = {
        {&generic_keys::conv_kernel, "ssm.conv_kernel"},
        {&generic_keys::ssm_state,   "ssm.state_size" },
        {&generic_keys::ssm_inner,   "ssm.inner_size" },
    };
    for (const gguf_key& k : mixers) {
        const gguf_value* present = find_gguf_value(ck, a + k.suffix);
        if (!present || present->type == gguf_array) continue;
        auto n = gguf_count(ck, a + k.suffix);
        if (!n) return n.err();
        if (*n && **n > max_mixer_width)
            return make_error(error_code::out_of_range,
                              a + k.suffix + " (" + num(**n) + ") exceeds the supported maximum of " +
                                  num(max_mixer_width),
                              a + k.suffix);
        if (*n && **n > 0) {
            g.*(k.field) = **n;
            g.mixer_read.push_back(a + k.suffix + " " + num(**n));
        }
    }
    auto value_length = gguf_size(ck, a + "attention.value_length", g);
    if (!value_length) return value_length.err();
    if (*value_length && g.head_dim && **value_length != *g.head_dim)
        g.notes.push_back(a + "attention.value_length (" + num(**value_length) + ") differs from " + a +
                          "attention.key_length (" + num(*g.head_dim) +
                          "): keys and values are both counted at the key length");
    if (find_gguf_value(ck, a + "attention.sliding_window"))
        g.notes.push_back(a +
                          "attention.sliding_window is set, but which layers use it is the architecture's "
                          "code: every layer is counted with full attention (an upper bound)");
    if (!g.vocab)
        if (const gguf_value* tokens = find_gguf_value(ck, "tokenizer.ggml.tokens");
            tokens && tokens->type == gguf_array && tokens->count > 0) {
            g.vocab = tokens->count;
            g.read.push_back("tokenizer.ggml.tokens (" + num(tokens->count) + " tokens)");
        }
    return g;
}

} // namespace modelplan::header_read
