#include "modelplan/report.h"

#include <rapidjson/writer.h>

#include "api/header-json.h"
#include "model/config-json.h"
#include "model/header-internal.h"
#include "modelplan/devices.h"
#include "modelplan/fit.h"
#include "modelplan/gguf.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/safetensors.h"
#include "modelplan/serve.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"
#include "util/json-util.h"
#include "util/saturating.h"

namespace modelplan {

namespace {

void index_or_null(json_writer& w, int64_t i) {
    if (i == no_index)
        w.Null();
    else
        w.Int64(i);
}

void header(json_writer& w, const analysis& a) {
    w.Key("model");
    write_string(w, a.model);
    w.Key("model_type");
    write_string(w, a.spec.model_type);
    w.Key("architecture");
    write_string(w, a.spec.architecture);
    write_strings(w, "kinds",
                  model_kinds(a.spec)); // as `modelplan presets` groups it: "moe", "vision-language"
    w.Key("head");
    if (a.spec.family < 0) // read from checkpoint headers: the model as stored, no head chosen
        w.Null();
    else
        w.String(head_kind_name(families()[a.spec.family].heads[a.spec.head].kind));
    w.Key("dtype");
    w.String(dtype_name(a.spec.weight_dtype));
    w.Key("not_modelled");
    if (a.spec.not_modelled.empty())
        w.Null();
    else
        write_string(w, a.spec.not_modelled);
    write_header_source(w, a);
}

// `stored_dtype`: the dtype as a checkpoint stores it, for a model read from its headers ("Q4_K"); `bytes`:
// the bytes the tensor takes (elements x its dtype's bytes, or as a checkpoint stores it).
void tensor(json_writer& w, const tensor_info& t, uint64_t bytes, const std::string* stored_dtype = nullptr) {
    w.StartObject();
    w.Key("name");
    write_string(w, t.name);
    w.Key("shape");
    write_uint64s(w, t.shape);
    w.Key("dtype");
    if (stored_dtype)
        write_string(w, *stored_dtype);
    else
        w.String(dtype_name(t.type));
    w.Key("elements");
    w.Uint64(t.elements);
    w.Key("bytes");
    w.Uint64(bytes);
    w.Key("role");
    w.String(role_name(t.what));
    w.Key("layer");
    index_or_null(w, t.layer);
    w.Key("expert");
    index_or_null(w, t.expert);
    w.EndObject();
}

// The workload keys of a plan request, as set_workload_option names them; numbers, booleans and strings (and
// an array of strings for lora_targets) are accepted as their text.
result<workload> read_workload(const key_reader& keys) {
    workload w;
    for (const char* name :
         {"batch",     "seq",          "encoder_seq", "prefill_chunk", "kv_dtype", "state_dtype",
          "attention", "overhead",     "mtp",         "mode",          "quant",    "method",
          "lora_rank", "lora_targets", "optimizer",   "recompute",     "zero",     "gpus",
          "offload",   "images",       "image_size"}) {
        const rapidjson::Value* v = keys.find(name);
        if (!v) continue;
        std::string text;
        if (v->IsString())
            text.assign(v->GetString(), v->GetStringLength());
        else if (v->IsUint64())
            text = std::to_string(v->GetUint64());
        else if (v->IsBool())
            text = v->GetBool() ? "true" : "false";
        else if (v->IsArray() && std::string(name) == "lora_targets") {
            for (const auto& item : v->GetArray()) {
                if (!item.IsString())
                    return make_error(error_code::wrong_type, "lora_targets: expected an array of role names",
                                      "lora_targets");
                text += (text.empty() ? "" : ",") + std::string(item.GetString());
            }
        } else {
            return make_error(
                error_code::wrong_type,
                std::string(name) + ": expected a string, number or boolean, got " + describe_json(*v), name);
        }
        if (auto e = set_workload_option(w, name, text, name)) return *e;
    }
    return w;
}

// The placement keys of a place request: "devices", "gpu", "gpu_count", "cpu", "disk", "strategy",
// "experts_on_cpu", "pins" (array of "PATTERN=DEVICE"), "tp", "pp".
result<place_request> read_place_request(const key_reader& keys) {
    place_request r;
    for (auto [key, out] : {
             std::pair{"devices",  &r.devices },
             std::pair{"gpu",      &r.gpu     },
             std::pair{"cpu",      &r.cpu     },
             std::pair{"strategy", &r.strategy}
    }) {
        auto v = keys.optional_string(key);
        if (!v) return v.err();
        *out = *v;
    }
    for (auto [key, out] : {
             std::pair{"gpu_count", &r.gpu_count},
             std::pair{"tp",        &r.tp       },
             std::pair{"pp",        &r.pp       }
    }) {
        auto v = keys.optional_size(key);
        if (!v) return v.err();
        *out = *v;
    }
    for (auto [key, out] : {
             std::pair{"disk",           &r.disk          },
             std::pair{"experts_on_cpu", &r.experts_on_cpu},
             std::pair{"solve",          &r.solve         }
    }) {
        auto v = keys.optional_bool(key, false);
        if (!v) return v.err();
        *out = *v;
    }
    if (const rapidjson::Value* pins = keys.find("pins")) {
        if (!pins->IsArray())
            return make_error(
                error_code::wrong_type,
                "pins: expected an array of \"PATTERN=DEVICE\" strings, got " + describe_json(*pins), "pins");
        for (const auto& item : pins->GetArray()) {
            if (!item.IsString())
                return make_error(
                    error_code::wrong_type,
                    "pins: expected strings such as \"lm_head.*=cpu\", got " + describe_json(item), "pins");
            r.pins.emplace_back(item.GetString(), item.GetStringLength());
        }
    }
    return r;
}

// The held checkpoint a request names with "checkpoint", or nullptr when it names none.
result<const held_checkpoint*> requested_checkpoint(const key_reader& keys, const held_checkpoint* held) {
    auto label = keys.optional_string("checkpoint");
    if (!label) return label.err();
    if (!*label) return static_cast<const held_checkpoint*>(nullptr);
    if (!held || held->label != **label)
        return make_error(error_code::bad_request,
                          "checkpoint: the headers of " + quote_value(**label) +
                              " are not held here; read the checkpoint's files again",
                          "checkpoint");
    return held;
}

// With "checkpoint_weights": true, a family's weights are the bytes the held checkpoint stores them in (a
// model read from the headers has them already).
result<std::optional<analysis>> with_checkpoint_weights(const key_reader& keys, const held_checkpoint* ck,
                                                        analysis a) {
    auto stored = keys.optional_bool("checkpoint_weights", false);
    if (!stored) return stored.err();
    if (*stored && !a.from_headers) {
        if (!ck)
            return make_error(error_code::bad_request,
                              "checkpoint_weights: needs \"checkpoint\", the held headers whose bytes the "
                              "weights are",
                              "checkpoint_weights");
        auto bytes = checkpoint_weight_bytes(a, ck->ck);
        if (!bytes) return bytes.err();
        a.checkpoint_weights = std::make_shared<const analysis::stored_weights>(
            analysis::stored_weights{ck->label, std::move(*bytes)});
    }
    return std::optional<analysis>(std::move(a));
}

// The model a request names: {"model": preset} or {"config": object or text, "name": label}, with optional
// "dtype" and "head" overrides, and "checkpoint" naming held headers that answer for a config without a
// family (or alone); nullopt when it names none and none is required.
result<std::optional<analysis>> request_model(const key_reader& keys, bool required,
                                              const held_checkpoint* held = nullptr) {
    config_options options;
    auto dtype_name_r = keys.optional_string("dtype");
    if (!dtype_name_r) return dtype_name_r.err();
    if (*dtype_name_r) {
        auto t = parse_dtype(**dtype_name_r, "dtype");
        if (!t) return t.err();
        options.weight_dtype = *t;
    }
    auto head_r = keys.optional_string("head");
    if (!head_r) return head_r.err();
    if (*head_r) {
        options.head = parse_head_kind(**head_r);
        if (!options.head)
            return make_error(error_code::bad_request,
                              "head: unknown head \"" + **head_r +
                                  "\"; expected none, causal-lm, masked-lm, seq-cls, cond-gen or pretraining",
                              "head");
    }

    auto ck = requested_checkpoint(keys, held);
    if (!ck) return ck.err();
    auto model_r = keys.optional_string("model");
    if (!model_r) return model_r.err();
    const rapidjson::Value* config = keys.find("config");
    if (*model_r && config)
        return make_error(error_code::bad_request, "request: give either \"model\" or \"config\", not both");
    std::string name;
    result<model_spec> spec = make_error(error_code::internal, "no spec");
    if (*model_r) {
        auto p = find_preset(**model_r);
        if (!p) return p.err();
        name = p->name;
        spec = parse_config(p->config_json, options);
    } else if (config) {
        auto label = keys.optional_string("name");
        if (!label) return label.err();
        name = label->value_or("config.json");
        rapidjson::Document text;
        if (config->IsString()) {
            if (auto e = parse_json(std::string(config->GetString(), config->GetStringLength()), text,
                                    "config.json"))
                return *e;
            config = &text;
        } else if (!config->IsObject()) {
            return make_error(error_code::bad_request,
                              "config: expected an object or the text of config.json, got " +
                                  describe_json(*config),
                              "config");
        }
        if (*ck) {
            auto a = header_read::analyze_checkpoint(name, (*ck)->ck, config, options, (*ck)->label);
            if (!a) return a.err();
            return with_checkpoint_weights(keys, *ck, std::move(*a));
        }
        spec = parse_config(*config, options);
    } else if (*ck) {
        auto label = keys.optional_string("name");
        if (!label) return label.err();
        auto a = header_read::analyze_checkpoint(label->value_or((*ck)->label), (*ck)->ck, nullptr, options,
                                                 (*ck)->label);
        if (!a) return a.err();
        return std::optional<analysis>(std::move(*a));
    } else if (required) {
        return make_error(error_code::bad_request,
                          "request: missing \"model\" (a preset name) or \"config\" (a config.json)");
    } else {
        return std::optional<analysis>{};
    }

    auto a = analyze(name, std::move(spec));
    if (!a) return a.err();
    return with_checkpoint_weights(keys, *ck, std::move(*a));
}

} // namespace

result<analysis> analyze(const std::string& model, const std::string& config_json,
                         const config_options& options) {
    return analyze(model, parse_config(config_json, options));
}

result<analysis> analyze(const std::string& model, result<model_spec> spec) {
    if (!spec) return spec.err();
    auto sk = build_skeleton(*spec);
    if (!sk) return sk.err();
    auto counts = count_params(*spec, *sk);
    if (!counts) return counts.err();
    return analysis{model, std::move(*spec), std::move(*sk), std::move(*counts), nullptr, 0, {}, nullptr};
}

std::string params_json(const analysis& a) {
    json_out out;
    json_writer& w = out.w;
    const param_counts& c = a.counts;
    w.StartObject();
    header(w, a);
    w.Key("params");
    w.StartObject();
    w.Key("total");
    w.Uint64(c.total);
    w.Key("embedding");
    w.Uint64(c.embedding);
    w.Key("non_embedding");
    w.Uint64(c.non_embedding);
    w.Key("active");
    w.Uint64(c.active);
    w.Key("by_role");
    w.StartObject();
    for (int r = 0; r < role_count; ++r) {
        if (c.by_role[r] == 0) continue;
        w.Key(role_name(static_cast<role>(r)));
        w.Uint64(c.by_role[r]);
    }
    w.EndObject();
    w.Key("by_layer");
    write_uint64s(w, c.by_layer);
    w.Key("outside_layers");
    w.Uint64(c.outside_layers);
    w.Key("mtp");
    w.Uint64(c.mtp);
    w.EndObject();
    w.Key("weight_bytes");
    w.Uint64(c.weight_bytes);
    w.Key("tensors");
    w.Uint64(a.sk.tensors.size());
    w.EndObject();
    return out.str();
}

std::string skeleton_json(const analysis& a) {
    json_out out;
    json_writer& w = out.w;
    w.StartObject();
    header(w, a);
    w.Key("tensors");
    w.StartArray();
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        uint64_t bytes = a.from_headers         ? a.from_headers->stored_bytes[i]
                         : a.checkpoint_weights ? a.checkpoint_weights->bytes[i]
                                                : sat::mul(t.elements, dtype_bytes(t.type));
        tensor(w, t, bytes, a.from_headers ? &a.from_headers->stored_dtype[i] : nullptr);
    }
    w.EndArray();
    w.Key("aliases");
    w.StartObject();
    for (const tensor_alias& al : a.sk.aliases) {
        w.Key(al.name.c_str());
        write_string(w, al.target);
    }
    w.EndObject();
    w.Key("buffers");
    w.StartArray();
    for (const tensor_info& b : a.sk.buffers) tensor(w, b, sat::mul(b.elements, dtype_bytes(b.type)));
    w.EndArray();
    w.EndObject();
    return out.str();
}

std::string presets_json() {
    json_out out;
    json_writer& w = out.w;
    w.StartObject();
    w.Key("default");
    w.String(default_preset().name);
    w.Key("presets");
    w.StartArray();
    for (const preset& p : presets()) {
        auto a = analyze(p.name, p.config_json, {});
        w.StartObject();
        w.Key("name");
        w.String(p.name);
        w.Key("repo");
        w.String(p.repo);
        if (a) {
            w.Key("model_type");
            write_string(w, a->spec.model_type);
            w.Key("architecture");
            write_string(w, a->spec.architecture);
            w.Key("kinds");
            w.StartArray();
            for (const std::string& k : model_kinds(a->spec)) w.String(k);
            w.EndArray();
            w.Key("params");
            w.Uint64(a->counts.total);
            w.Key("active");
            w.Uint64(a->counts.active);
        } else {
            w.Key("error");
            write_string(w, a.err().message);
        }
        w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return out.str();
}

std::string error_json(const error& e) {
    json_out out;
    json_writer& w = out.w;
    w.StartObject();
    w.Key("error");
    w.StartObject();
    w.Key("code");
    w.String(error_code_name(e.code));
    w.Key("message");
    write_string(w, e.message);
    w.Key("path");
    write_string(w, e.path);
    w.EndObject();
    w.EndObject();
    return out.str();
}

namespace {

// The members of a request that decide its model, as compact JSON: the analysis cache's key; "" (not
// cached) for values nested too deep to write without deep recursion (such configs are rejected anyway).
std::string model_key(const rapidjson::Value& req) {
    for (const char* key : {"model", "config", "name", "dtype", "head", "checkpoint", "checkpoint_weights"}) {
        auto it = req.FindMember(key);
        if (it != req.MemberEnd() && json_deeper_than(it->value, 64)) return "";
    }
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartArray();
    for (const char* key : {"model", "config", "name", "dtype", "head", "checkpoint", "checkpoint_weights"}) {
        auto it = req.FindMember(key);
        if (it == req.MemberEnd())
            w.Null();
        else
            it->value.Accept(w);
    }
    w.EndArray();
    return std::string(sb.GetString(), sb.GetSize());
}

// A request's text as a JSON object, or the error naming what it is instead.
std::optional<error> parse_request(const std::string& request_json, rapidjson::Document& req) {
    if (auto e = parse_json(request_json, req, "request")) return e;
    if (!req.IsObject())
        return make_error(error_code::bad_request,
                          "request: expected a JSON object, got " + describe_json(req));
    return std::nullopt;
}

// A knob's JSON value as the text `set_serve_option` reads (what the command line would give).
result<std::string> knob_text(const rapidjson::Value& v, const std::string& path) {
    if (v.IsString()) return std::string(v.GetString(), v.GetStringLength());
    if (v.IsBool()) return std::string(v.GetBool() ? "true" : "false");
    if (v.IsUint64()) return std::to_string(v.GetUint64());
    if (v.IsNumber()) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v.GetDouble());
        return std::string(buf);
    }
    return make_error(error_code::wrong_type,
                      path + ": expected a number, a string or true/false, got " + describe_json(v), path);
}

// The serve keys of a request: "engine", "engine_version", "gpu", "gpus" and "knobs" (the engine's flags
// under their names with underscores, e.g. {"tensor_parallel_size": 2}); docs/json.md, "serve".
result<serve_request> read_serve_request(const rapidjson::Value& req) {
    serve_request r;
    for (const char* key : {"engine", "engine_version", "gpu", "gpus"}) {
        auto it = req.FindMember(key);
        if (it == req.MemberEnd() || it->value.IsNull()) continue;
        auto text = knob_text(it->value, key);
        if (!text) return text.err();
        if (auto e = set_serve_option(r, key, *text, key)) return *e;
    }
    // "draft_config": the config.json of the speculative_config's "model" (an object, or its text).
    auto draft = req.FindMember("draft_config");
    if (draft != req.MemberEnd() && !draft->value.IsNull()) {
        if (draft->value.IsString()) {
            r.draft_config.assign(draft->value.GetString(), draft->value.GetStringLength());
        } else if (draft->value.IsObject()) {
            rapidjson::StringBuffer sb;
            rapidjson::Writer<rapidjson::StringBuffer> w(sb);
            draft->value.Accept(w);
            r.draft_config.assign(sb.GetString(), sb.GetSize());
        } else {
            return make_error(error_code::wrong_type,
                              "draft_config: expected the draft model's config.json as an object, got " +
                                  describe_json(draft->value),
                              "draft_config");
        }
    }
    auto knobs = req.FindMember("knobs");
    if (knobs == req.MemberEnd() || knobs->value.IsNull()) return r;
    if (!knobs->value.IsObject())
        return make_error(
            error_code::wrong_type,
            "knobs: expected an object of the engine's flags, got " + describe_json(knobs->value), "knobs");
    for (auto it = knobs->value.MemberBegin(); it != knobs->value.MemberEnd(); ++it) {
        std::string name(it->name.GetString(), it->name.GetStringLength());
        std::string path = "knobs." + quote_value(name, 64);
        if (name.rfind("engine", 0) == 0 || name == "gpu" || name == "gpus")
            return make_error(error_code::bad_request, path + ": give it beside \"knobs\", not in it", path);
        if (it->value.IsNull()) continue;
        auto text = knob_text(it->value, path);
        if (!text) return text.err();
        if (auto e = set_serve_option(r, name, *text, path)) return *e;
    }
    return r;
}

} // namespace

result<std::optional<analysis>> analyze_request(const std::string& request_json, bool required) {
    rapidjson::Document req;
    if (auto e = parse_request(request_json, req)) return *e;
    return request_model(key_reader(req, ""), required);
}

std::string handle_request(const std::string& command, const std::string& request_json, analysis_cache* cache,
                           const held_checkpoint* held) {
    if (command == "presets") return presets_json();
    if (command == "gpus") return gpus_json();
    if (command != "params" && command != "skeleton" && command != "plan" && command != "fit" &&
        command != "place" && command != "serve")
        return error_json(
            make_error(error_code::bad_request,
                       "unknown command \"" + command +
                           "\"; expected params, skeleton, plan, fit, place, serve, gpus or presets"));
    rapidjson::Document req;
    if (auto e = parse_request(request_json, req)) return error_json(*e);
    key_reader keys(req, "");

    std::shared_ptr<const analysis> a;
    std::string key = cache ? model_key(req) : std::string();
    if (cache && !key.empty() && cache->value && cache->key == key) {
        a = cache->value;
    } else {
        auto model = request_model(keys, true, held);
        if (!model) return error_json(model.err());
        a = std::make_shared<const analysis>(std::move(**model));
        if (cache && !key.empty()) {
            cache->key = std::move(key);
            cache->value = a;
        }
    }
    if (command == "place") {
        auto w = read_workload(keys);
        if (!w) return error_json(w.err());
        auto r = read_place_request(keys);
        if (!r) return error_json(r.err());
        auto setup = resolve_place(*r, false);
        if (!setup) return error_json(setup.err());
        auto out = place_json(*a, *w, *setup);
        return out ? *out : error_json(out.err());
    }
    if (command == "serve") {
        auto r = read_serve_request(req);
        if (!r) return error_json(r.err());
        auto p = plan_serve(*a, *r);
        if (!p) return error_json(p.err());
        // "search": the inverse questions, {"target_concurrency": N, "longest_context": true, "sweep": true}.
        auto search = req.FindMember("search");
        if (search == req.MemberEnd() || search->value.IsNull()) return serve_json(*a, *p);
        if (!search->value.IsObject())
            return error_json(make_error(error_code::wrong_type,
                                         "search: expected an object, got " + describe_json(search->value),
                                         "search"));
        key_reader sk(search->value, "search");
        serve_search_request q;
        if (sk.has("target_concurrency")) {
            auto n = sk.optional_number("target_concurrency", 0);
            if (!n) return error_json(n.err());
            q.target_concurrency = *n;
        }
        auto longest = sk.optional_bool("longest_context", false);
        if (!longest) return error_json(longest.err());
        auto sweep = sk.optional_bool("sweep", false);
        if (!sweep) return error_json(sweep.err());
        q.longest_context = *longest;
        q.sweep = *sweep;
        auto found = search_serve(*a, *r, q);
        if (!found) return error_json(found.err());
        std::string plan = serve_json(*a, *p);
        while (!plan.empty() && (plan.back() == '\n' || plan.back() == ' ')) plan.pop_back();
        if (!plan.empty() && plan.back() == '}') plan.pop_back();
        return plan + ",\"search\":" + serve_search_json(q, *found) + "}";
    }
    if (command == "plan" || command == "fit") {
        auto w = read_workload(keys);
        if (!w) return error_json(w.err());
        auto gpu_name = keys.optional_string("gpu");
        if (!gpu_name) return error_json(gpu_name.err());
        std::optional<gpu_row> gpu;
        if (*gpu_name) {
            auto g = find_gpu(**gpu_name);
            if (!g) return error_json(g.err());
            gpu = *g;
        }
        if (command == "fit") {
            if (!gpu) return error_json(make_error(error_code::bad_request, "fit: missing \"gpu\"", "gpu"));
            auto f = solve_fit(*a, *w, *gpu);
            if (!f) return error_json(f.err());
            return fit_json(*a, *w, *gpu, *f, check_workload(*a, *w, *gpu));
        }
        auto p = plan_memory(*a, *w);
        if (!p) return error_json(p.err());
        if (gpu) attach_device(*a, *w, *gpu, *p);
        return plan_json(*a, *p);
    }
    return command == "params" ? params_json(*a) : skeleton_json(*a);
}

std::string inspect_bytes(std::string_view prefix, uint64_t file_size, const std::string& file_name,
                          const std::string& request_json, checkpoint* parsed_out) {
    rapidjson::Document req;
    if (auto e = parse_request(request_json, req)) return error_json(*e);
    key_reader keys(req, "");
    auto model = request_model(keys, false);
    if (!model) return error_json(model.err());

    bool gguf = classify_checkpoint_file(file_name).format() == checkpoint_format::gguf;
    auto parsed = parse_checkpoint_header(gguf ? checkpoint_format::gguf : checkpoint_format::safetensors,
                                          prefix, file_size, file_name);
    if (!parsed) return error_json(parsed.err());
    if (!parsed->parsed) {
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("need_bytes");
        w.Uint64(parsed->need_bytes);
        w.EndObject();
        return std::string(sb.GetString(), sb.GetSize()) + "\n";
    }
    checkpoint ck = std::move(*parsed->parsed);
    if (parsed_out) *parsed_out = ck;
    std::string source = *model ? "request" : "";
    if (!*model && gguf) {
        auto a = gguf_analysis(ck);
        if (a) {
            *model = std::move(*a);
            source = "GGUF metadata";
        } else {
            ck.warnings.push_back("not verified: " + a.err().message);
        }
    }
    auto in = inspect(file_name, std::move(ck), std::move(*model), source);
    if (!in) return error_json(in.err());
    return inspect_json(*in);
}

} // namespace modelplan
