// Embind bindings: JSON in, JSON out. Every call goes through modelplan::handle_request, the same function
// whose output the CLI prints with --json, and nothing thrown crosses into JavaScript (it would arrive as a
// bare number): anything unexpected becomes an {"error": {...}} object too.
#include <exception>
#include <optional>
#include <string>
#include <vector>

#include <emscripten/bind.h>
#include <emscripten/val.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "modelplan/architectures.h"
#include "modelplan/config.h"
#include "modelplan/gguf.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"
#include "modelplan/safetensors.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"
#include "modelplan/version.h"

namespace {

// Runs `call`, turning anything thrown into an {"error": ...} object.
template <class Call>
std::string guarded_call(Call call) {
    try {
        return call();
    } catch (const std::exception& e) {
        return modelplan::error_json(modelplan::make_error(modelplan::error_code::internal,
                                                           std::string("internal error: ") + e.what()));
    } catch (...) {
        return modelplan::error_json(
            modelplan::make_error(modelplan::error_code::internal, "internal error"));
    }
}

// The page recomputes on every input change, mostly with the same model: keep its analysis between calls.
modelplan::analysis_cache last_model;
// The headers of the checkpoint last read by inspect / inspect_files, under the inspection's "path": requests
// that name it ({"config": ..., "checkpoint": path}) read a model without a family table from them.
std::optional<modelplan::held_checkpoint> held;

void hold(std::string label, modelplan::checkpoint ck) {
    held = modelplan::held_checkpoint{std::move(label), std::move(ck)};
    last_model = {}; // a cached analysis may have been read from the headers held before
}

std::string guarded(const std::string& command, const std::string& request) {
    return guarded_call(
        [&] { return modelplan::handle_request(command, request, &last_model, held ? &*held : nullptr); });
}

std::string params(const std::string& request) {
    return guarded("params", request);
}
std::string fit(const std::string& request) {
    return guarded("fit", request);
}
std::string gpus() {
    return guarded("gpus", "{}");
}
// `bytes`: the file's first bytes (a Uint8Array or ArrayBuffer from File.slice); `file_size`: the whole
// file's size. Returns {"need_bytes": N} until the header is complete, then the inspection; its headers are
// then held under the file's name (`held`).
std::string inspect(const std::string& bytes, double file_size, const std::string& file_name,
                    const std::string& request) {
    return guarded_call([&] {
        if (!(file_size >= 0) || file_size > 9007199254740992.0)
            return modelplan::error_json(modelplan::make_error(modelplan::error_code::bad_request,
                                                               "file size must be a non-negative number"));
        modelplan::checkpoint parsed;
        std::string out =
            modelplan::inspect_bytes(bytes, static_cast<uint64_t>(file_size), file_name, request, &parsed);
        if (!parsed.files.empty()) hold(file_name, std::move(parsed));
        return out;
    });
}
// ---- Several checkpoint files at once: an index with its shards, several .safetensors, or GGUF splits ----
// The page hands over every file's leading bytes; which files form the checkpoint and how they fit together
// is the core's rule (checkpoint.h), the same one native/io/checkpoint-files.cpp applies to a folder.

using modelplan::checkpoint_file_set;
using modelplan::error_code;
using modelplan::error_json;
using modelplan::make_error;

// The kind of a file by its name alone: {"kind": "gguf_split", "format": "gguf", "split_no": 2,
// "split_count": 5} (format only for checkpoint files, split_* only for GGUF split parts). The page sorts
// dropped files with it.
std::string classify_file(const std::string& name) {
    return guarded_call([&] {
        auto c = modelplan::classify_checkpoint_file(name);
        rapidjson::StringBuffer sb;
        rapidjson::Writer<rapidjson::StringBuffer> w(sb);
        w.StartObject();
        w.Key("kind");
        w.String(modelplan::checkpoint_file_kind_name(c.kind));
        if (auto format = c.format()) {
            w.Key("format");
            w.String(modelplan::checkpoint_format_name(*format));
        }
        if (c.kind == modelplan::checkpoint_file_kind::gguf_split) {
            w.Key("split_no");
            w.Uint(c.split_no);
            w.Key("split_count");
            w.Uint(c.split_count);
        }
        w.EndObject();
        return std::string(sb.GetString(), sb.GetSize()) + "\n";
    });
}

std::string need_json(uint64_t bytes, const std::string& file) {
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("need_bytes");
    w.Uint64(bytes);
    w.Key("file");
    w.String(file.c_str(), static_cast<rapidjson::SizeType>(file.size()));
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

struct file_prefix {
    std::string name;
    uint64_t size = 0;
    std::string bytes;
};

// A step of inspect_files: a value, or the answer to give now ({"need_bytes"} or {"error"}).
template <class T>
struct step {
    std::optional<T> value;
    std::string answer;
};
template <class T>
step<T> answer(std::string text) {
    return {std::nullopt, std::move(text)};
}

modelplan::result<std::vector<file_prefix>> file_prefixes(const emscripten::val& files) {
    std::vector<file_prefix> in;
    const unsigned n = files["length"].as<unsigned>();
    for (unsigned i = 0; i < n; ++i) {
        const emscripten::val f = files[i];
        double size = f["size"].as<double>();
        if (!(size >= 0) || size > 9007199254740992.0)
            return make_error(error_code::bad_request, "file size must be a non-negative number");
        in.push_back(
            {f["name"].as<std::string>(), static_cast<uint64_t>(size), f["bytes"].as<std::string>()});
    }
    return in;
}

const file_prefix* find_file(const std::vector<file_prefix>& in, const std::string& name) {
    for (const auto& f : in)
        if (f.name == name) return &f;
    return nullptr;
}

// The index, read whole; every shard it names must be among the files given.
step<modelplan::safetensors_index> read_index(const std::vector<file_prefix>& in, checkpoint_file_set& set) {
    const file_prefix* index = find_file(in, set.index);
    if (index->bytes.size() < index->size)
        return answer<modelplan::safetensors_index>(need_json(index->size, index->name));
    auto parsed = modelplan::parse_safetensors_index(index->bytes, index->name);
    if (!parsed) return answer<modelplan::safetensors_index>(error_json(parsed.err()));
    modelplan::add_index_shards(set, *parsed);
    for (const std::string& shard : set.files)
        if (!find_file(in, shard))
            return answer<modelplan::safetensors_index>(
                error_json(make_error(error_code::io, index->name + " names the shard " + shard +
                                                          "; give it together with the index")));
    return {std::move(*parsed), {}};
}

// The header of every file of the set, in the set's order, once its prefix holds all of it.
step<std::vector<modelplan::checkpoint>> parse_headers(const std::vector<file_prefix>& in,
                                                       const checkpoint_file_set& set) {
    using parts = std::vector<modelplan::checkpoint>;
    const auto format = modelplan::checkpoint_layout_format(set.layout);
    parts out;
    for (const std::string& name : set.files) {
        const file_prefix* f = find_file(in, name);
        auto parsed = modelplan::parse_checkpoint_header(format, f->bytes, f->size, f->name);
        if (!parsed) return answer<parts>(error_json(parsed.err()));
        if (!parsed->parsed) return answer<parts>(need_json(parsed->need_bytes, f->name));
        out.push_back(std::move(*parsed->parsed));
    }
    return {std::move(out), {}};
}

// `files`: [{name, size, bytes}] with each file's leading bytes (an index: the whole file). Returns
// {"need_bytes": N, "file": NAME} until every header needed is complete, then the inspection of the whole
// checkpoint (docs/json.md, "inspect"), verified against the request's model (GGUF: else its own metadata).
std::string inspect_files(const emscripten::val& files, const std::string& request) {
    return guarded_call([&]() -> std::string {
        auto in = file_prefixes(files);
        if (!in) return error_json(in.err());
        std::vector<std::string> names;
        for (const auto& f : *in) names.push_back(f.name);
        auto set = modelplan::select_checkpoint_files(names, modelplan::checkpoint_names_from::selection);
        if (!set) return error_json(set.err());
        auto model = modelplan::analyze_request(request, false);
        if (!model) return error_json(model.err());

        std::optional<modelplan::safetensors_index> index;
        if (set->layout == modelplan::checkpoint_layout::sharded_safetensors) {
            auto read = read_index(*in, *set);
            if (!read.value) return read.answer;
            index = std::move(read.value);
        }
        auto parts = parse_headers(*in, *set);
        if (!parts.value) return parts.answer;
        auto ck = modelplan::assemble_checkpoint(*set, std::move(*parts.value), index ? &*index : nullptr);
        if (!ck) return error_json(ck.err());

        std::string path = index             ? set->index
                           : in->size() == 1 ? in->front().name
                                             : std::to_string(in->size()) + " files";
        std::string source = *model ? "request" : "";
        if (!*model && ck->format == modelplan::checkpoint_format::gguf) {
            auto a = modelplan::gguf_analysis(*ck);
            if (a) {
                *model = std::move(*a);
                source = "GGUF metadata";
            } else {
                ck->warnings.push_back("not verified: " + a.err().message);
            }
        }
        modelplan::checkpoint kept = *ck;
        auto result = modelplan::inspect(path, std::move(*ck), std::move(*model), source);
        if (!result) return error_json(result.err());
        hold(path, std::move(kept));
        return modelplan::inspect_json(*result);
    });
}

std::string plan(const std::string& request) {
    return guarded("plan", request);
}
// Device placement: the model, an inference workload and devices ("gpu" + "gpu_count", "cpu", "disk", or
// "devices"), with "strategy", "experts_on_cpu", "pins", "tp", "pp" (docs/json.md, "place").
std::string place(const std::string& request) {
    return guarded("place", request);
}
// A serving plan: the model, "engine", "gpu", "gpus" and the engine's "knobs" (docs/json.md, "serve").
std::string serve(const std::string& request) {
    return guarded("serve", request);
}
std::string skeleton(const std::string& request) {
    return guarded("skeleton", request);
}
std::string presets() {
    return guarded("presets", "{}");
}
std::string version() {
    return modelplan::version;
}

} // namespace

EMSCRIPTEN_BINDINGS(modelplan) {
    emscripten::function("params", &params);
    emscripten::function("skeleton", &skeleton);
    emscripten::function("plan", &plan);
    emscripten::function("fit", &fit);
    emscripten::function("place", &place);
    emscripten::function("serve", &serve);
    emscripten::function("gpus", &gpus);
    emscripten::function("inspect", &inspect);
    emscripten::function("inspect_files", &inspect_files);
    emscripten::function("classify_file", &classify_file);
    emscripten::function("presets", &presets);
    emscripten::function("version", &version);
}
