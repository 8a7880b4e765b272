// config.json -> model_spec: the family from model_type, the head from architectures (or the caller), then
// the family's own reader (core/src/model/families/*.cpp) for its keys. Defaults are those of the
// transformers configuration classes where a config omits a key.
#include "model/config-json.h"

#include <memory>

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "model/family-readers.h"
#include "modelplan/architectures.h"
#include "modelplan/header-model.h"
#include "modelplan/text.h"
#include "util/json-util.h"

namespace modelplan {

namespace {

std::string class_name(const family_info& fam, const head_info& h) {
    return std::string(fam.class_prefix) + h.class_suffix;
}

// For a remote-code config (one with "auto_map", whose class transformers loads whatever the model_type), the
// family one of whose classes architectures[0] names, or -1: Kimi-K2's "kimi_k2" config declares
// DeepseekV3ForCausalLM, Ling 2.0's BailingMoeV2ForCausalLM. Without auto_map the model_type decides.
// With `by_class_only`, only the families found by their class (EAGLE heads, whose configs say "llama").
int family_of_architecture(const key_reader& top, bool by_class_only = false) {
    if (!by_class_only && !top.has("auto_map")) return -1;
    const rapidjson::Value* archs = top.find("architectures");
    if (!archs || !archs->IsArray() || archs->Empty() || !(*archs)[0].IsString()) return -1;
    const std::string wanted = (*archs)[0].GetString();
    const auto& table = families();
    for (size_t i = 0; i < table.size(); ++i)
        for (const auto& h : table[i].heads)
            if ((!by_class_only || table[i].by_class) && wanted == class_name(table[i], h))
                return static_cast<int>(i);
    return -1;
}

result<int> resolve_family(const key_reader& keys) {
    MP_TRY(model_type, keys.optional_string("model_type"));
    if (!model_type)
        return make_error(
            error_code::missing_key,
            "missing required key " + keys.path("model_type") +
                " (a string naming the architecture family; supported: " + supported_model_types() + ")",
            keys.path("model_type"));
    int family = family_of_architecture(keys, true);
    if (family < 0) family = find_family(*model_type);
    if (family < 0) family = family_of_architecture(keys);
    if (family >= 0) return family;
    std::vector<std::string> names;
    for (const auto& f : families()) names.push_back(f.model_type);
    // A typo is short; a long value is no name at all (and its edit distance would cost seconds).
    std::string hint = model_type->size() <= 64 ? closest_name(*model_type, names) : std::string();
    // Not a typo: the model is still answered from its checkpoint's headers (header-model.h).
    std::string close;
    for (const std::string& name : close_model_types(*model_type))
        close += (close.empty() ? "" : ", ") + name;
    std::string headers =
        "; to plan it without a table, add its checkpoint's headers (model.safetensors.index.json with its "
        "shards, the .safetensors files, or a .gguf file): the skeleton is then read from them" +
        (close.empty() ? std::string() : "; close model types: " + close);
    return make_error(error_code::unknown_model_type,
                      keys.path("model_type") + ": unknown model_type " + quote_value(*model_type) +
                          "; supported: " + supported_model_types() +
                          (hint.empty() ? std::string() : "; did you mean \"" + hint + "\"?") + headers,
                      keys.path("model_type"));
}

std::string head_list(const family_info& fam) {
    std::string out;
    for (const auto& h : fam.heads)
        out += (out.empty() ? "" : ", ") + class_name(fam, h) + " (" + head_kind_name(h.kind) + ")";
    return out;
}

// The head: the caller's choice, else the class in "architectures", else the family's default.
result<int> resolve_head(const key_reader& top, const family_info& fam, const config_options& options) {
    if (options.head) {
        for (size_t i = 0; i < fam.heads.size(); ++i)
            if (fam.heads[i].kind == *options.head) return static_cast<int>(i);
        return make_error(error_code::bad_request, std::string("head \"") + head_kind_name(*options.head) +
                                                       "\" is not available for " + fam.model_type +
                                                       "; available: " + head_list(fam));
    }
    const rapidjson::Value* archs = top.find("architectures");
    if (!archs) return 0;
    bool well_formed = archs->IsArray();
    for (rapidjson::SizeType i = 0; well_formed && i < archs->Size(); ++i)
        well_formed = (*archs)[i].IsString();
    if (!well_formed)
        return make_error(error_code::wrong_type,
                          top.path("architectures") + ": expected an array of class names, got " +
                              describe_json(*archs),
                          top.path("architectures"));
    if (archs->Empty()) return 0;
    std::string wanted = (*archs)[0].GetString();
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < fam.heads.size(); ++i) {
        if (wanted == class_name(fam, fam.heads[i])) return static_cast<int>(i);
        std::string suffix = fam.heads[i].class_suffix;
        if (ends_with(wanted, suffix) && suffix.size() > best_len) {
            best = static_cast<int>(i);
            best_len = suffix.size();
        }
    }
    if (best >= 0) return best;
    return make_error(error_code::unknown_model_type,
                      top.path("architectures") + "[0]: class \"" + wanted + "\" is not modelled for " +
                          fam.model_type + "; modelled: " + head_list(fam) + " (choose one with --head)",
                      top.path("architectures"));
}

// Labels of a classification head: num_labels, else the size of id2label, else 2 (PretrainedConfig).
result<uint64_t> resolve_labels(const key_reader& top) {
    MP_TRY(labels, top.optional_size("num_labels"));
    if (labels) return *labels;
    if (const rapidjson::Value* id2label = top.find("id2label")) {
        if (!id2label->IsObject())
            return make_error(error_code::wrong_type,
                              top.path("id2label") + ": expected an object, got " + describe_json(*id2label),
                              top.path("id2label"));
        if (id2label->MemberCount() > 0) return static_cast<uint64_t>(id2label->MemberCount());
    }
    return uint64_t{2};
}

// Weight dtype: the override, else "torch_dtype" (transformers 4.x) or "dtype" (newer) of the (nested, then
// top-level) config, else float32, which is what from_pretrained gives when neither names one; but an MXFP4
// checkpoint (gpt-oss, which names no dtype) loads its other weights as bfloat16
// (transformers' Mxfp4HfQuantizer.update_dtype).
result<dtype> resolve_dtype(const key_reader& keys, const key_reader& top, const config_options& options) {
    if (options.weight_dtype) return *options.weight_dtype;
    for (const key_reader* k : {&keys, &top}) {
        const char* key = k->has("torch_dtype") ? "torch_dtype" : "dtype";
        MP_TRY(name, k->optional_string(key));
        if (name) return parse_dtype(*name, k->path(key));
    }
    if (const rapidjson::Value* quant = top.find("quantization_config"); quant && quant->IsObject()) {
        auto method = quant->FindMember("quant_method");
        if (method != quant->MemberEnd() && method->value.IsString() &&
            std::string(method->value.GetString()) == "mxfp4")
            return dtype::bf16;
    }
    return dtype::f32;
}

// The family's configuration-class defaults, parsed once.
const rapidjson::Value* class_defaults(int family) {
    static std::vector<std::unique_ptr<rapidjson::Document>> parsed(families().size());
    const char* text = families()[family].config_defaults;
    if (!text) return nullptr;
    if (!parsed[family]) {
        parsed[family] = std::make_unique<rapidjson::Document>();
        parsed[family]->Parse(text);
    }
    return parsed[family]->HasParseError() ? nullptr : parsed[family].get();
}

} // namespace

result<model_spec> parse_config(const std::string& json_text, const config_options& options) {
    rapidjson::Document doc;
    if (auto e = parse_json(json_text, doc, "config.json")) return *e;
    return parse_config(doc, options);
}

result<model_spec> parse_config(const rapidjson::Value& doc, const config_options& options) {
    if (!doc.IsObject())
        return make_error(error_code::wrong_type,
                          "config.json: expected a JSON object at the top level, got " + describe_json(doc));
    key_reader top(doc, "");
    MP_TRY(family, resolve_family(top));
    const family_info& fam = families()[family];

    const rapidjson::Value* nested = &doc;
    if (fam.nested_config) {
        nested = top.find(fam.nested_config);
        if (!nested)
            return make_error(error_code::missing_key,
                              std::string("missing required key ") + fam.nested_config +
                                  " (the text model's config)",
                              fam.nested_config);
        if (!nested->IsObject())
            return make_error(error_code::wrong_type,
                              std::string(fam.nested_config) + ": expected an object, got " +
                                  describe_json(*nested),
                              fam.nested_config);
    }
    key_reader keys(*nested, fam.nested_config ? fam.nested_config : "", class_defaults(family), &doc);

    model_spec spec;
    spec.family = family;
    spec.model_type = fam.model_type;
    MP_TRY(head, resolve_head(top, fam, options));
    spec.head = head;
    spec.architecture = class_name(fam, fam.heads[head]);
    MP_TRY(weight_dtype, resolve_dtype(keys, top, options));
    spec.weight_dtype = weight_dtype;
    if (fam.heads[head].kind == head_kind::seq_cls) {
        MP_TRY(labels, resolve_labels(top));
        spec.n_labels = labels;
    }

    MP_CHECK(fam.read(keys, spec));

    spec.switches &= ~fam.heads[head].clears; // the head may turn base parts off
    if (fam.not_modelled) spec.not_modelled = fam.not_modelled;
    if (const rapidjson::Value* quant = top.find("quantization_config")) {
        if (!quant->IsObject())
            return make_error(error_code::wrong_type,
                              "quantization_config: expected an object, got " + describe_json(*quant),
                              "quantization_config");
        if (json_deeper_than(*quant, 32))
            return make_error(error_code::out_of_range, "quantization_config: nested deeper than 32 levels",
                              "quantization_config");
        rapidjson::StringBuffer text;
        rapidjson::Writer<rapidjson::StringBuffer> writer(text);
        quant->Accept(writer);
        spec.quantization_config.assign(text.GetString(), text.GetSize());
    }
    return spec;
}

} // namespace modelplan
