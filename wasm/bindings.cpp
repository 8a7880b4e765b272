// Embind bindings: JSON in, JSON out. Every call goes through modelplan::handle_request, the same function
// whose output the CLI prints with --json, and nothing thrown crosses into JavaScript (it would arrive as a
// bare number): anything unexpected becomes an {"error": {...}} object too.
#include <exception>
#include <string>

#include <emscripten/bind.h>

#include "modelplan/report.h"

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

std::string guarded(const std::string& command, const std::string& request) {
    return guarded_call([&] { return modelplan::handle_request(command, request); });
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
    return "0.1.0";
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
    emscripten::function("presets", &presets);
    emscripten::function("version", &version);
}
