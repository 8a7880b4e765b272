// vLLM's --speculative-config (V1 engine, v0.19): the model's own MTP layers, ngram (no GPU memory), a draft
// model, or an EAGLE / EAGLE-3 head. What this file takes from vLLM's sources (docs/serving.md,
// "Speculative decoding"):
//   config/speculative.py     the method: "method" when given; else "ngram" for model "ngram", else
//                             draft_model, turned into eagle when the model's name holds "eagle-" and eagle3
//                             when it holds "eagle3"; num_speculative_tokens required with a model;
//                             draft_tensor_parallel_size 1 or the target's (default the target's);
//                             "tensor_parallel_size" refused; max_model_len at most the draft's and the
//                             target's; equal vocabularies for a draft model; EAGLE-3 only on the target
//                             types that return auxiliary hidden states.
//   v1/spec_decode/draft_model.py  a draft model only at the target's tensor-parallel size, not for a
//                             multimodal target.
//   v1/spec_decode/eagle.py   load_model: the head's embed_tokens is the target's when there is one pipeline
//                             stage and the shapes agree; EAGLE (not EAGLE-3) also takes the target's
//                             lm_head.
//   models/llama_eagle.py, llama_eagle3.py  what a head holds: its decoder layers (EAGLE-1's first without
//                             input_layernorm; EAGLE-3's first with q/k/v over 2 x hidden and a hidden_norm),
//                             fc (2 x hidden, or 3 x the target's hidden for EAGLE-3; replicated on every
//                             rank), EAGLE-3's norm, lm_head over draft_vocab_size and d2t (int64); t2d is
//                             not loaded.
// The drafter loads in the target's dtype (its ModelConfig takes the target's), its attention layers use the
// target's cache dtype and join the KV cache spec, so every block holds them too.
#include <algorithm>
#include <cctype>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "modelplan/config.h"
#include "modelplan/memory.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"
#include "serve/vllm-internal.h"
#include "util/json-util.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan::vllm {

using sat::add;
using sat::ceil_div;
using sat::mul;

namespace {

const char* const field = "speculative_config";

error spec_error(error_code code, const std::string& message) {
    return make_error(code, std::string(field) + message, field);
}

std::string lowered(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool contains(const std::string& s, const char* part) {
    return s.find(part) != std::string::npos;
}

bool is_mtp_method(const std::string& m) {
    static const char* const mtp_methods[] = {
        "mtp",       "deepseek_mtp", "glm4_moe_mtp",     "qwen3_next_mtp",
        "ernie_mtp", "mimo_mtp",     "longcat_flash_mtp"};
    for (const char* x : mtp_methods)
        if (m == x) return true;
    return false;
}

// A whole number member of the speculative_config, or nullopt when absent; `min` .. `max` checked.
result<std::optional<uint64_t>> count_member(const rapidjson::Value& d, const char* key, uint64_t min,
                                             uint64_t max) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || it->value.IsNull()) return std::optional<uint64_t>();
    if (!it->value.IsUint64() || it->value.GetUint64() < min || it->value.GetUint64() > max)
        return spec_error(error_code::out_of_range,
                          std::string(".") + key + ": expected a whole number from " + num(min) + " to " +
                              num(max) + ", got " + describe_json(it->value));
    return std::optional<uint64_t>(it->value.GetUint64());
}

result<std::string> string_member(const rapidjson::Value& d, const char* key) {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || it->value.IsNull()) return std::string();
    if (!it->value.IsString() || it->value.GetStringLength() > 512)
        return spec_error(error_code::wrong_type,
                          std::string(".") + key + ": expected a string, got " + describe_json(it->value));
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

// ---- the drafter's config ----------------------------------------------------------------------------

// What a drafter's config.json says about it: an EAGLE head (by its architecture, or the speculators format's
// speculators_model_type) with the Llama config of its layers, or a model of its own.
struct drafter_config {
    std::string head;         // "eagle", "eagle3" or "" (not a head by its config)
    std::string architecture; // architectures[0], or the speculators type
    std::string model_text;   // the config to read the layers from (an EAGLE head's as a Llama's)
    uint64_t draft_vocab = 0, target_hidden = 0;
    bool aux_hidden = true;
};

uint64_t uint_member(const rapidjson::Value& v, const char* key) {
    auto it = v.FindMember(key);
    return it != v.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

result<drafter_config> read_drafter_config(const std::string& text) {
    rapidjson::Document d;
    if (auto e = parse_json(text, d, "speculative_config.model's config.json")) return *e;
    if (!d.IsObject())
        return spec_error(error_code::wrong_type,
                          ".model: its config.json is not a JSON object but " + describe_json(d));
    drafter_config c;
    const rapidjson::Value* layers = &d;
    auto sp = d.FindMember("speculators_model_type");
    if (sp != d.MemberEnd() && sp->value.IsString()) {
        // The speculators format (RedHatAI's *-speculator.eagle3): the head's type, and its decoder layers'
        // Llama config under transformer_layer_config.
        c.architecture = sp->value.GetString();
        if (c.architecture != "eagle" && c.architecture != "eagle3")
            return spec_error(error_code::unsupported, ".model: speculators_model_type " +
                                                           quote_value(c.architecture) +
                                                           " is not planned; eagle and eagle3 heads are");
        c.head = c.architecture;
        auto tl = d.FindMember("transformer_layer_config");
        if (tl == d.MemberEnd() || !tl->value.IsObject())
            return spec_error(error_code::missing_key,
                              ".model: a speculators config needs transformer_layer_config, the Llama config "
                              "of its decoder layers");
        layers = &tl->value;
    } else {
        auto arch = d.FindMember("architectures");
        if (arch != d.MemberEnd() && arch->value.IsArray() && !arch->value.Empty() &&
            arch->value[0].IsString())
            c.architecture = arch->value[0].GetString();
        const std::string a = lowered(c.architecture);
        if (contains(a, "eagle3"))
            c.head = "eagle3";
        else if (contains(a, "eagle"))
            c.head = "eagle";
    }
    c.draft_vocab = uint_member(d, "draft_vocab_size");
    if (!c.draft_vocab) c.draft_vocab = uint_member(*layers, "draft_vocab_size");
    c.target_hidden = uint_member(d, "target_hidden_size");
    auto eagle_config = d.FindMember("eagle_config");
    if (eagle_config != d.MemberEnd() && eagle_config->value.IsObject()) {
        auto aux = eagle_config->value.FindMember("use_aux_hidden_state");
        if (aux != eagle_config->value.MemberEnd() && aux->value.IsBool())
            c.aux_hidden = aux->value.GetBool();
    }
    // An EAGLE head's layers are vLLM's Llama decoder layers whatever the config calls itself: read them as
    // a Llama's (its embed_tokens, layers and norm; the head's own tensors are counted below).
    rapidjson::Document copy;
    copy.CopyFrom(*layers, copy.GetAllocator());
    if (!copy.IsObject())
        return spec_error(error_code::wrong_type, ".model: transformer_layer_config is not an object");
    const bool as_llama = !c.head.empty();
    if (as_llama) {
        copy.RemoveMember("architectures");
        copy.RemoveMember("model_type");
        rapidjson::Value archs(rapidjson::kArrayType);
        archs.PushBack(rapidjson::Value("LlamaForCausalLM", copy.GetAllocator()), copy.GetAllocator());
        copy.AddMember("architectures", archs, copy.GetAllocator());
        copy.AddMember("model_type", rapidjson::Value("llama", copy.GetAllocator()), copy.GetAllocator());
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    copy.Accept(w);
    c.model_text.assign(sb.GetString(), sb.GetSize());
    return c;
}

// ---- the drafter's weights on one rank ---------------------------------------------------------------

// Whether vLLM's get_rope gives the drafter the target's rotary cache object (its cache is keyed by head
// size, rotary dims, positions, base and scaling).
bool same_rope(const model_spec& a, const model_spec& b) {
    return a.head_dim == b.head_dim && a.rope.rotary_dim == b.rope.rotary_dim &&
           a.max_positions == b.max_positions && a.rope.theta == b.rope.theta &&
           a.rope.scaling_type == b.rope.scaling_type && a.rope.scaling_factor == b.rope.scaling_factor;
}

// An EAGLE head as vLLM builds it (llama_eagle.py, llama_eagle3.py), on one of T ranks: attention and MLP
// projections split like the target's, norms and fc whole, EAGLE-3's lm_head over its padded draft
// vocabulary split, d2t whole.
uint64_t eagle_head_bytes(const analysis& target, drafter& d, uint64_t tp, uint64_t pp) {
    const model_spec& s = d.a.spec;
    const bool three = d.method == "eagle3";
    const uint64_t wb = dtype_bytes(compute_dtype(target.spec.weight_dtype));
    const uint64_t lin = d.quant == "fp8" ? 1 : wb; // online fp8: one byte per linear weight
    const uint64_t kv_heads = s.n_kv_heads ? s.n_kv_heads : s.n_heads;
    const uint64_t q_rank = ceil_div(s.q_dim(), tp);
    const uint64_t kv_rank = mul(kv_heads >= tp ? kv_heads / tp : 1, s.head_dim);
    const uint64_t ffn_rank = ceil_div(s.intermediate, tp);
    const uint64_t h = s.hidden;
    uint64_t total = 0;
    const uint64_t n_layers = s.layers.size();
    for (uint64_t l = 0; l < n_layers; ++l) {
        const uint64_t in = three && l == 0 ? mul(2, h) : h;
        uint64_t elems = add(mul(q_rank, in), mul(mul(2, kv_rank), in)); // q, k, v
        elems = add(elems, mul(h, q_rank));                              // o
        elems = add(elems, mul(mul(3, h), ffn_rank));                    // gate, up, down
        total = add(total, mul(elems, lin));
        uint64_t norms = 1;              // post_attention_layernorm
        if (three || l > 0) norms += 1;  // input_layernorm (EAGLE-1's first layer has none)
        if (three && l == 0) norms += 1; // hidden_norm
        total = add(total, mul(mul(norms, h), wb));
    }
    // fc: EAGLE-1 fuses the token's embedding with the target's hidden state; EAGLE-3 three of the target's
    // hidden states (its layers 2, L/2 and L-3).
    const uint64_t fc_in =
        three ? (d.aux_hidden ? mul(3, d.target_hidden ? d.target_hidden : h) : 0) : mul(2, h);
    total = add(total, mul(mul(fc_in, h), lin));
    if (three) {
        total = add(total, mul(h, wb));                                                          // norm
        total = add(total, mul(mul(ceil_div(mul(ceil_div(d.draft_vocab, 64), 64), tp), h), wb)); // lm_head
        total = add(total, mul(d.draft_vocab, 8)); // d2t (int64)
    }
    // embed_tokens: the target's when one stage holds both and the shapes agree.
    if (pp == 1 && s.vocab == target.spec.vocab && h == target.spec.hidden)
        d.shared.push_back("embed_tokens");
    else
        total = add(total, mul(mul(ceil_div(mul(ceil_div(s.vocab, 64), 64), tp), h), wb));
    if (!three) d.shared.push_back("lm_head");
    return total;
}

std::optional<error> weigh_drafter(const analysis& target, drafter& d, uint64_t tp, uint64_t pp) {
    if (d.method == "draft_model") {
        auto sw = weights_by_stage(d.a, d.quant, tp, 1);
        if (!sw) {
            error e = sw.err();
            return spec_error(e.code, ".model (" + d.model + "): " + e.message);
        }
        d.weight_bytes = sw->bytes[0];
    } else {
        d.weight_bytes = eagle_head_bytes(target, d, tp, pp);
        d.weight_bytes = add(d.weight_bytes, rope_bytes(d.a.spec));
    }
    if (same_rope(d.a.spec, target.spec) && d.a.spec.rope.rotary_dim) {
        d.weight_bytes -= std::min(d.weight_bytes, rope_bytes(d.a.spec));
        d.shared.push_back("rotary cache");
    }
    return std::nullopt;
}

// ---- the checks -------------------------------------------------------------------------------------

// The target types whose models return the auxiliary hidden states EAGLE-3 reads (SpeculativeConfig's
// aux_hidden_states_supported, matched as a part of the target's model_type).
bool eagle3_target(const std::string& model_type) {
    static const char* const supported[] = {
        "llama", "qwen", "minicpm", "gpt_oss", "hunyuan_vl", "hunyuan_v1_dense", "afmoe"};
    for (const char* m : supported)
        if (contains(model_type, m)) return true;
    return false;
}

result<std::string> drafter_text(const serve_request& r, const std::string& model) {
    if (!r.draft_config.empty()) return r.draft_config;
    auto p = find_preset(model);
    if (!p)
        return spec_error(error_code::unknown_model,
                          ".model: " + quote_value(model) +
                              " is not a bundled preset and no config was given for it (the CLI reads a "
                              "preset, a local folder or config.json; a request's \"draft_config\" takes the "
                              "config itself): " +
                              p.err().message);
    return std::string(p->config_json);
}

std::optional<error> read_drafter(const analysis& target, const serve_request& r, const rapidjson::Value& d,
                                  const std::string& given_method, knobs& k) {
    auto model = string_member(d, "model");
    if (!model) return model.err();
    if (model->empty())
        return spec_error(error_code::missing_key,
                          ": method " + quote_value(given_method) +
                              " needs a \"model\": the draft model or EAGLE head to load");
    auto text = drafter_text(r, *model);
    if (!text) return text.err();
    auto cfg = read_drafter_config(*text);
    if (!cfg) return cfg.err();

    drafter dr;
    dr.model = *model;
    // SpeculativeConfig: an explicit eagle or eagle3 stays; a draft model (named so, or by default) becomes
    // eagle or eagle3 by the model's name; without a method, a config that says it is a head decides.
    const std::string name = lowered(*model);
    dr.method = given_method;
    if (given_method == "draft_model") {
        if (contains(name, "eagle-"))
            dr.method = "eagle";
        else if (contains(name, "eagle3"))
            dr.method = "eagle3";
        else if (!cfg->head.empty() && !d.HasMember("method"))
            dr.method = cfg->head;
    }
    if (dr.method == "draft_model" && !cfg->head.empty())
        return spec_error(error_code::inconsistent,
                          ".model: " + quote_value(*model) + " is an " +
                              (cfg->head == "eagle3" ? "EAGLE-3" : "EAGLE") + " head (" + cfg->architecture +
                              "), not a model of its own; load it with \"method\": \"" + cfg->head + "\"");
    if ((dr.method == "eagle" && cfg->head == "eagle3") || (dr.method == "eagle3" && cfg->head == "eagle"))
        return spec_error(error_code::inconsistent,
                          ".method: " + quote_value(dr.method) +
                              " names the other kind of head: " + quote_value(*model) + " is an " +
                              (cfg->head == "eagle3" ? "EAGLE-3" : "EAGLE") + " head (" + cfg->architecture +
                              ")");

    // The drafter in the target's dtype (its ModelConfig takes the target's), unless it is quantized.
    config_options opts;
    auto first = parse_config(cfg->model_text, opts);
    if (!first) {
        error e = first.err();
        return spec_error(e.code, ".model (" + *model + "): " + e.message);
    }
    if (first->quantization_config.empty()) opts.weight_dtype = compute_dtype(target.spec.weight_dtype);
    auto a = analyze(*model, cfg->model_text, opts);
    if (!a) {
        error e = a.err();
        return spec_error(e.code, ".model (" + *model + "): " + e.message);
    }
    dr.a = std::move(*a);
    const model_spec& ds = dr.a.spec;
    dr.draft_vocab = cfg->draft_vocab ? cfg->draft_vocab : ds.vocab;
    dr.target_hidden = cfg->target_hidden ? cfg->target_hidden : ds.hidden;
    dr.aux_hidden = cfg->aux_hidden;

    // num_speculative_tokens: required with a model (no draft config here carries n_predict).
    if (!k.num_speculative_tokens)
        return spec_error(error_code::missing_key,
                          ": num_speculative_tokens must be provided with speculative model unless the draft "
                          "model config contains an n_predict parameter");
    // draft_tensor_parallel_size: 1 or the target's, the target's by default; V1's draft model only the
    // target's. An EAGLE head is built inside the target's model runner, split like the target.
    auto dtp = count_member(d, "draft_tensor_parallel_size", 1, 1024);
    if (!dtp) return dtp.err();
    dr.tp = dtp->value_or(k.tp);
    if (dr.tp != 1 && dr.tp != k.tp)
        return spec_error(
            error_code::out_of_range,
            ".draft_tensor_parallel_size: speculative_draft_tensor_parallel_size=" + num(dr.tp) +
                " cannot be other value than 1 or target model tensor_parallel_size (" + num(k.tp) + ")");
    if (dr.method == "draft_model" && dr.tp != k.tp)
        return spec_error(error_code::unsupported,
                          ".draft_tensor_parallel_size: Currently, 'draft_tensor_parallel_size' and "
                          "'tensor_parallel_size' must be the same. Got " +
                              num(dr.tp) + " and " + num(k.tp) + " (vLLM's V1 draft model)");
    if (k.pp > 1)
        return spec_error(error_code::unsupported,
                          ": a draft model or EAGLE head with pipeline_parallel_size " + num(k.pp) +
                              " is not planned (vLLM runs the drafter on the last stage and an EAGLE head "
                              "then loads its own embed_tokens); plan it with one stage");
    // The drafter's attention heads and padded vocabulary split over the target's ranks
    // (verify_with_parallel_config, VocabParallelEmbedding).
    if (ds.n_heads % k.tp != 0)
        return spec_error(error_code::not_divisible,
                          ".model (" + *model + "): Total number of attention heads (" + num(ds.n_heads) +
                              ") must be divisible by tensor parallel size (" + num(k.tp) + ")");
    bool has_cache = false;
    for (uint64_t il = 0; il < ds.layers.size(); ++il)
        has_cache = has_cache || kv_bytes_per_token_in_layer(ds, il, dtype::bf16) > 0;
    if (!has_cache)
        return spec_error(error_code::unsupported,
                          ".model (" + *model + "): " + ds.architecture +
                              " has no attention layers with a KV cache; vLLM's drafters are decoders");
    if (dr.method == "draft_model") {
        if (ds.vocab != target.spec.vocab)
            return spec_error(error_code::inconsistent,
                              ".model: Target and draft model should have the same vocabulary size. Target "
                              "model vocab_size=" +
                                  num(target.spec.vocab) + ". Draft model vocab_size=" + num(ds.vocab) +
                                  ". Using models with different tokenizers can cause out-of-bounds errors "
                                  "during speculative decoding.");
        if (target.spec.vision_hidden)
            return spec_error(error_code::unsupported,
                              ".model: Speculative Decoding with draft models does not support multimodal "
                              "models yet (" +
                                  target.spec.architecture + " has a vision tower)");
    } else {
        if (dr.method == "eagle3" && !eagle3_target(target.spec.model_type))
            return spec_error(error_code::unsupported,
                              ".method: eagle3 is only supported for llama, qwen, minicpm, gpt_oss, "
                              "hunyuan_vl, hunyuan_v1_dense and afmoe models. Got model_type=" +
                                  quote_value(target.spec.model_type));
        if (dr.draft_vocab > ds.vocab && ds.vocab)
            return spec_error(error_code::inconsistent, ".model: draft_vocab_size (" + num(dr.draft_vocab) +
                                                            ") is larger than the head's vocab_size (" +
                                                            num(ds.vocab) + ")");
        if (dr.method == "eagle3" && dr.target_hidden != target.spec.hidden)
            return spec_error(error_code::inconsistent,
                              ".model: the EAGLE-3 head reads hidden states of size " +
                                  num(dr.target_hidden) + " (target_hidden_size), the target's are " +
                                  num(target.spec.hidden));
    }
    // quantization: the drafter's own ("fp8": online, as for the target).
    auto q = string_member(d, "quantization");
    if (!q) return q.err();
    auto quant = weight_quant(ds, *q, "vLLM");
    if (!quant) {
        error e = quant.err();
        return spec_error(e.code, ".quantization (the drafter's): " + e.message);
    }
    dr.quant = *quant;
    // max_model_len: the drafter's, at most its own and the target's.
    auto len = count_member(d, "max_model_len", 1, UINT64_MAX);
    if (!len) return len.err();
    if (*len) {
        const uint64_t draft_max = max_len_of(ds);
        if (draft_max && **len > draft_max)
            return spec_error(error_code::out_of_range,
                              ".max_model_len: speculative_max_model_len=" + num(**len) +
                                  " cannot be larger than draft_max_model_len=" + num(draft_max));
        if (**len > k.max_model_len)
            return spec_error(error_code::out_of_range,
                              ".max_model_len: speculative_max_model_len=" + num(**len) +
                                  " cannot be larger than target_max_model_len=" + num(k.max_model_len));
    }
    if (auto e = weigh_drafter(target, dr, k.tp, k.pp)) return e;
    k.draft = std::make_shared<const drafter>(std::move(dr));
    return std::nullopt;
}

} // namespace

std::optional<error> read_speculative(const analysis& a, const serve_request& r, knobs& k) {
    const std::string& text = r.vllm.speculative_config;
    if (text.empty()) return std::nullopt;
    const model_spec& s = a.spec;
    rapidjson::Document d;
    if (auto e = parse_json(text, d, field)) return *e;
    if (!d.IsObject())
        return spec_error(error_code::bad_request,
                          ": expected an object with a \"method\" or a \"model\" (e.g. {\"method\": \"mtp\", "
                          "\"num_speculative_tokens\": 1} or {\"model\": \"llama-3.2-1b\", "
                          "\"num_speculative_tokens\": 4})");
    if (d.HasMember("tensor_parallel_size"))
        return spec_error(
            error_code::bad_request,
            ": 'tensor_parallel_size' is not a valid argument in the speculative_config. Please "
            "pass 'draft_tensor_parallel_size' instead.");
    auto method = string_member(d, "method");
    if (!method) return method.err();
    auto model = string_member(d, "model");
    if (!model) return model.err();
    if (method->empty() && model->empty())
        return spec_error(error_code::bad_request,
                          ": expected a \"method\" or a \"model\" (e.g. {\"method\": \"mtp\", "
                          "\"num_speculative_tokens\": 1})");
    // SpeculativeConfig.__post_init__: no method means ngram for model "ngram", a draft model otherwise.
    std::string m = *method;
    if (m.empty()) m = *model == "ngram" || *model == "[ngram]" ? "ngram" : "draft_model";
    auto n = count_member(d, "num_speculative_tokens", 1, 64);
    if (!n) return n.err();
    k.num_speculative_tokens = n->value_or(0);
    if (is_mtp_method(m)) {
        bool has = false;
        for (uint64_t il = 0; il < s.layers.size(); ++il) has = has || s.is_mtp_layer(il);
        if (!has)
            return spec_error(error_code::bad_request,
                              ": method " + quote_value(m) +
                                  " needs the model's MTP layers (num_nextn_predict_layers); " +
                                  s.architecture + " has none");
        k.speculative_method = m;
        return std::nullopt;
    }
    if (m == "ngram") return std::nullopt;
    if (m == "draft_model" || m == "eagle" || m == "eagle3") return read_drafter(a, r, d, m, k);
    return spec_error(error_code::unsupported,
                      ": method " + quote_value(m) +
                          " is not planned; MTP methods, ngram, draft_model, eagle and eagle3 are");
}

} // namespace modelplan::vllm

namespace modelplan {

std::string speculative_model(const serve_request& r) {
    if (r.vllm.speculative_config.empty()) return std::string();
    rapidjson::Document d;
    if (parse_json(r.vllm.speculative_config, d, "speculative_config") || !d.IsObject()) return std::string();
    auto it = d.FindMember("model");
    if (it == d.MemberEnd() || !it->value.IsString()) return std::string();
    std::string model(it->value.GetString(), it->value.GetStringLength());
    return model == "ngram" || model == "[ngram]" ? std::string() : model;
}

} // namespace modelplan
