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

std::string guarded(const std::string& command, const std::string& request) {
    return guarded_call([&] { return modelplan::handle_request(command, request, &last_model); });
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
// file's size. Returns {"need_bytes": N} until the header is complete, then the inspection.
std::string inspect(const std::string& bytes, double file_size, const std::string& file_name,
                    const std::string& request) {
    return guarded_call([&] {
        if (!(file_size >= 0) || file_size > 9007199254740992.0)
            return modelplan::error_json(modelplan::make_error(modelplan::error_code::bad_request,
                                                               "file size must be a non-negative number"));
        return modelplan::inspect_bytes(bytes, static_cast<uint64_t>(file_size), file_name, request);
    });
}
// ---- Several checkpoint files at once: an index with its shards, several .safetensors, or GGUF splits ----
// The page hands over every file's leading bytes; this is the browser's counterpart of native/'s
// checkpoint-files.cpp (which reads a folder), built from the same core parsers and merges.

using modelplan::error_code;
using modelplan::make_error;

using modelplan::ends_with;

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

// `files`: [{name, size, bytes}] with each file's leading bytes (an index: the whole file). Returns
// {"need_bytes": N, "file": NAME} until every header needed is complete, then the inspection of the whole
// checkpoint (docs/json.md, "inspect"), verified against the request's model (GGUF: else its own metadata).
std::string inspect_files(const emscripten::val& files, const std::string& request) {
    return guarded_call([&]() -> std::string {
        std::vector<file_prefix> in;
        const unsigned n = files["length"].as<unsigned>();
        for (unsigned i = 0; i < n; ++i) {
            const emscripten::val f = files[i];
            double size = f["size"].as<double>();
            if (!(size >= 0) || size > 9007199254740992.0)
                return modelplan::error_json(make_error(error_code::bad_request, "file size must be a non-negative number"));
            in.push_back({f["name"].as<std::string>(), static_cast<uint64_t>(size), f["bytes"].as<std::string>()});
        }
        if (in.empty()) return modelplan::error_json(make_error(error_code::bad_request, "no files"));
        const file_prefix* index = nullptr;
        std::vector<const file_prefix*> safetensors, ggufs;
        for (const auto& f : in) {
            if (ends_with(f.name, ".index.json")) {
                if (index)
                    return modelplan::error_json(make_error(error_code::bad_request,
                                                            "several index files (" + index->name + ", " + f.name + "); give one"));
                index = &f;
            } else if (ends_with(f.name, ".safetensors")) {
                safetensors.push_back(&f);
            } else if (ends_with(f.name, ".gguf")) {
                ggufs.push_back(&f);
            } else {
                return modelplan::error_json(make_error(error_code::unsupported,
                                                        f.name + ": not a .safetensors, .gguf or .index.json file"));
            }
        }
        if (!ggufs.empty() && (index || !safetensors.empty()))
            return modelplan::error_json(make_error(error_code::bad_request, "GGUF and safetensors files together; give one checkpoint"));

        auto model = modelplan::analyze_request(request, false);
        if (!model) return modelplan::error_json(model.err());
        std::string path;
        modelplan::checkpoint ck;
        if (index) {
            if (index->bytes.size() < index->size) return need_json(index->size, index->name);
            auto idx = modelplan::parse_safetensors_index(index->bytes, index->name);
            if (!idx) return modelplan::error_json(idx.err());
            std::vector<modelplan::checkpoint> shards;
            for (const std::string& shard : idx->shards) {
                const file_prefix* f = nullptr;
                for (const auto* s : safetensors)
                    if (s->name == shard) f = s;
                if (!f)
                    return modelplan::error_json(make_error(error_code::io, index->name + " names the shard " + shard +
                                                                                 "; give it together with the index"));
                auto parsed = modelplan::parse_safetensors_header(f->bytes, f->size, f->name);
                if (!parsed) return modelplan::error_json(parsed.err());
                if (!parsed->parsed) return need_json(parsed->need_bytes, f->name);
                shards.push_back(std::move(*parsed->parsed));
            }
            auto merged = modelplan::merge_safetensors_shards(*idx, std::move(shards));
            if (!merged) return modelplan::error_json(merged.err());
            ck = std::move(*merged);
            path = index->name;
        } else {
            std::vector<modelplan::checkpoint> parts;
            for (const auto* f : ggufs.empty() ? safetensors : ggufs) {
                auto parsed = ggufs.empty() ? modelplan::parse_safetensors_header(f->bytes, f->size, f->name)
                                            : modelplan::parse_gguf(f->bytes, f->size, f->name);
                if (!parsed) return modelplan::error_json(parsed.err());
                if (!parsed->parsed) return need_json(parsed->need_bytes, f->name);
                parts.push_back(std::move(*parsed->parsed));
            }
            auto merged = modelplan::merge_checkpoints(std::move(parts));
            if (!merged) return modelplan::error_json(merged.err());
            ck = std::move(*merged);
            path = in.size() == 1 ? in[0].name : std::to_string(in.size()) + " files";
        }
        std::string source = *model ? "request" : "";
        if (!*model && !ggufs.empty()) {
            auto a = modelplan::gguf_analysis(ck);
            if (a) {
                *model = std::move(*a);
                source = "GGUF metadata";
            } else {
                ck.warnings.push_back("not verified: " + a.err().message);
            }
        }
        auto result = modelplan::inspect(path, std::move(ck), std::move(*model), source);
        if (!result) return modelplan::error_json(result.err());
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
    emscripten::function("gpus", &gpus);
    emscripten::function("inspect", &inspect);
    emscripten::function("inspect_files", &inspect_files);
    emscripten::function("presets", &presets);
    emscripten::function("version", &version);
}
