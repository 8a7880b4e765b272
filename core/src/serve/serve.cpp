// Serving plans: the request's knobs, the engine's plan with its fixes (each checked by planning again), the
// start-up lines the engine will log, the command that runs it, and the JSON answer (docs/serving.md).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include <rapidjson/writer.h>

#include "modelplan/presets.h"
#include "modelplan/serve.h"
#include "modelplan/text.h"
#include "serve/llamacpp-internal.h"
#include "serve/serve-internal.h"
#include "serve/sglang-internal.h"
#include "serve/transformers-internal.h"
#include "serve/vllm-internal.h"
#include "util/json-util.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

constexpr double gib = 1073741824.0;

std::string fixed2(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

std::string gib2(double bytes) {
    return fixed2(bytes / gib);
}

// "gpu-memory-utilization" -> "gpu_memory_utilization"
std::string field_name(std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    while (!name.empty() && name[0] == '_') name.erase(0, 1);
    return name;
}

std::optional<error> read_count(const std::string& value, const std::string& label, const std::string& field,
                                uint64_t& out) {
    if (value.empty() || value.size() > 12 || value.find_first_not_of("0123456789") != std::string::npos)
        return make_error(error_code::bad_request,
                          label + ": expected a whole number of at most 12 digits, got \"" + value + "\"",
                          field);
    out = std::stoull(value);
    return std::nullopt;
}

std::optional<error> read_flag(const std::string& value, const std::string& label, const std::string& field,
                               bool& out) {
    if (value == "true" || value == "1" || value.empty()) return out = true, std::nullopt;
    if (value == "false" || value == "0") return out = false, std::nullopt;
    return make_error(error_code::bad_request, label + ": expected true or false, got \"" + value + "\"",
                      field);
}

// The Hugging Face repository `vllm serve` takes: a preset's, an id as given, else the path.
std::string served_model(const analysis& a) {
    auto p = find_preset(a.model);
    if (p) return p->repo;
    return a.model;
}

// The speculative_config as given, with a drafter named by a preset name replaced by its Hugging Face
// repository (what `vllm serve` loads).
std::string speculative_flag(const serve_plan& p) {
    if (p.draft_model.empty()) return p.speculative_config;
    auto preset = find_preset(p.draft_model);
    if (!preset) return p.speculative_config;
    rapidjson::Document d;
    if (parse_json(p.speculative_config, d, "speculative_config") || !d.IsObject())
        return p.speculative_config;
    d["model"].SetString(preset->repo, d.GetAllocator());
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    d.Accept(w);
    return std::string(sb.GetString(), sb.GetSize());
}

std::string command_of(const analysis& a, const serve_plan& p) {
    // The V0 engine is the default before 0.8 and chosen with VLLM_USE_V1=0 from 0.8 to 0.10.
    const vllm::engine_version v = vllm::parse_engine_version(p.engine_version);
    std::string c = v.v0 && v.minor >= 8 ? "VLLM_USE_V1=0 vllm serve " : "vllm serve ";
    c += served_model(a);
    c += " --tensor-parallel-size " + num(p.tp);
    if (p.pp > 1) c += " --pipeline-parallel-size " + num(p.pp);
    c += " --gpu-memory-utilization " + fixed2(p.gpu_memory_utilization);
    c += " --max-model-len " + num(p.max_model_len);
    c += " --max-num-seqs " + num(p.max_num_seqs);
    c += " --max-num-batched-tokens " + num(p.max_num_batched_tokens);
    if (p.kv_cache_dtype != "auto") c += " --kv-cache-dtype " + p.kv_cache_dtype;
    if (p.block_size != 16) c += " --block-size " + num(p.block_size);
    if (!p.quantization.empty()) c += " --quantization " + p.quantization;
    if (!p.dtype.empty() && p.dtype != "auto") c += " --dtype " + p.dtype;
    if (p.enforce_eager) c += " --enforce-eager";
    if (!p.speculative_config.empty()) c += " --speculative-config '" + speculative_flag(p) + "'";
    if (p.enable_lora)
        c += " --enable-lora --max-loras " + num(p.max_loras) + " --max-lora-rank " + num(p.max_lora_rank);
    return c;
}

// The lines vLLM's V0 engine logs (model_runner, worker.determine_num_available_blocks, executor_base).
std::vector<std::string> v0_log_lines_of(const serve_plan& p) {
    std::vector<std::string> lines;
    const serve_rank& r = p.ranks.back();
    char buf[400];
    std::snprintf(buf, sizeof buf, "Loading model weights took %.4f GB",
                  static_cast<double>(r.weights_bytes) / gib);
    lines.push_back(buf);
    std::snprintf(
        buf, sizeof buf,
        "the current vLLM instance can use total_gpu_memory (%.2fGiB) x gpu_memory_utilization (%.2f) "
        "= %.2fGiB",
        static_cast<double>(r.total_bytes) / gib, p.gpu_memory_utilization,
        static_cast<double>(r.requested_bytes) / gib);
    lines.push_back(buf);
    std::snprintf(
        buf, sizeof buf,
        "model weights take %.2fGiB; non_torch_memory takes %.2fGiB; PyTorch activation peak memory "
        "takes %.2fGiB; the rest of the memory reserved for KV Cache is %.2fGiB.",
        static_cast<double>(r.weights_bytes) / gib, static_cast<double>(r.non_torch_bytes) / gib,
        static_cast<double>(r.activation_peak_bytes) / gib, static_cast<double>(r.kv_cache_bytes) / gib);
    lines.push_back(buf);
    // The device's word: "# GPU blocks" in 0.6 (gpu_executor; #12330), the platform's dispatch key "CUDA" in
    // 0.7.0-0.7.2 (#15815, #15196), its device name "cuda" from 0.7.3 (executor_base; #13882).
    const vllm::engine_version v = vllm::parse_engine_version(p.engine_version);
    const char* device = v.minor == 6 ? "GPU" : v.minor == 7 && v.patch < 3 ? "CUDA" : "cuda";
    lines.push_back(std::string("# ") + device + " blocks: " + num(p.num_gpu_blocks) +
                    ", # CPU blocks: " + num(p.num_cpu_blocks));
    lines.push_back("Maximum concurrency for " + num(p.max_model_len) +
                    " tokens per request: " + fixed2(p.max_concurrency) + "x");
    return lines;
}

// The lines vLLM logs at start-up (gpu_model_runner, gpu_worker, kv_cache_utils), with our figures.
std::vector<std::string> log_lines_of(const serve_plan& p) {
    std::vector<std::string> lines;
    if (p.ranks.empty()) return lines;
    if (vllm::parse_engine_version(p.engine_version).v0) return v0_log_lines_of(p);
    const serve_rank& r = p.ranks.back();
    lines.push_back("Model loading took " + gib2(static_cast<double>(r.weights_bytes)) + " GiB memory");
    uint64_t non_kv = r.weights_bytes + r.activation_peak_bytes + r.non_torch_bytes;
    lines.push_back(
        "Total non KV cache memory: " + gib2(static_cast<double>(non_kv)) +
        "GiB; torch peak memory increase: " + gib2(static_cast<double>(r.activation_peak_bytes)) +
        "GiB; non-torch forward increase memory: " + gib2(static_cast<double>(r.non_torch_bytes)) +
        "GiB; weights memory: " + gib2(static_cast<double>(r.weights_bytes)) + "GiB.");
    if (r.cudagraph_in_budget && r.total_bytes) {
        // vLLM's own arithmetic: the utilization with the graphs' estimate as a fraction of the total taken
        // off, and put on to keep the cache of earlier versions.
        const double u = p.gpu_memory_utilization;
        const double g = static_cast<double>(r.cudagraph_bytes) / static_cast<double>(r.total_bytes);
        char buf[320];
        std::snprintf(
            buf, sizeof buf,
            "CUDA graph memory profiling is enabled (default since v0.21.0). The current "
            "--gpu-memory-utilization=%.4f is equivalent to --gpu-memory-utilization=%.4f without CUDA "
            "graph memory profiling. To maintain the same effective KV cache size as before, increase "
            "--gpu-memory-utilization to %.4f.",
            u, u - g, u + g);
        lines.push_back(buf);
    }
    lines.push_back("Available KV cache memory: " + gib2(static_cast<double>(r.kv_cache_bytes)) + " GiB");
    if (!p.starts) return lines;
    lines.push_back("GPU KV cache size: " + with_thousands(p.kv_tokens) + " tokens");
    lines.push_back("Maximum concurrency for " + with_thousands(p.max_model_len) +
                    " tokens per request: " + fixed2(p.max_concurrency) + "x");
    return lines;
}

std::vector<std::string> notes_of(const analysis& a, const serve_plan& p) {
    std::vector<std::string> notes;
    if (!p.ranks.empty() && !p.ranks[0].total_measured)
        notes.push_back(
            "total_bytes: estimated as nvidia-smi's total less 470 MiB (the H100's measured gap); "
            "no published vLLM log gives this GPU's CUDA total");
    const std::string range = vllm::version_range_of(p.engine_version);
    notes.push_back(
        range == "0.18-0.20" || range == "0.21"
            ? "activation_peak_bytes and non_torch_bytes: vLLM measures them in its profiling run; these "
              "are estimates fitted on published vLLM 0.19.0 logs from H100s (docs/serving.md)"
            : "activation_peak_bytes and non_torch_bytes: vLLM measures them in its profiling run; these "
              "are estimates for vLLM " +
                  range + ", fitted on a few of its published logs (docs/serving.md, \"Versions\")");
    if (p.enable_lora)
        notes.push_back("LoRA: " + num(p.max_loras) + " adapter slot(s) of rank " + num(p.max_lora_rank) +
                        " for every attention and MLP projection, in the weights (" +
                        gib2(static_cast<double>(p.ranks.empty() ? 0 : p.ranks[0].lora_bytes)) +
                        " GiB on the first rank); experts, embeddings and the head not counted, nor the LoRA "
                        "kernels' workspace; no published log checks it yet");
    const bool graphs_in_budget = !p.ranks.empty() && p.ranks[0].cudagraph_in_budget;
    const bool v0 = vllm::parse_engine_version(p.engine_version).v0;
    if (v0)
        notes.push_back(
            "the V0 engine (VLLM_USE_V1=0): one block holds every layer's tokens, every layer keeps "
            "the whole context (no hybrid groups), and the concurrency is the cache's tokens / "
            "max_model_len");
    if (!p.enforce_eager && v0)
        notes.push_back(
            "cudagraph_bytes: an estimate; vLLM's V0 engine captures the graphs after allocating the "
            "KV cache, so they come out of the headroom the utilization leaves");
    else if (!p.enforce_eager)
        notes.push_back(
            graphs_in_budget
                ? "cudagraph_bytes: an estimate; vLLM " + p.engine_version +
                      " profiles the CUDA graphs' memory (default since v0.21.0) and takes it from "
                      "the budget before sizing the KV cache, so the cache is smaller by it"
                : "cudagraph_bytes: an estimate; vLLM " + p.engine_version +
                      " captures the graphs after sizing the KV cache and does not subtract them" +
                      // The switch is named in 0.18-era logs ("In v0.19, CUDA graph memory profiling will
                      // be enabled by default (VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1)").
                      (vllm::minor_version(p.engine_version) >= 18
                           ? " (unless VLLM_MEMORY_PROFILER_ESTIMATE_CUDAGRAPHS=1)"
                           : "") +
                      ", so they come out of the headroom the utilization leaves");
    if (!p.speculative_method.empty() && !p.ranks.empty()) {
        const serve_rank& last = p.ranks.back();
        std::string shared;
        for (const auto& t : p.draft_shared) shared += (shared.empty() ? "" : ", ") + t;
        const char* what = p.speculative_method == "draft_model" ? "the draft model "
                           : p.speculative_method == "eagle3"    ? "the EAGLE-3 head "
                                                                 : "the EAGLE head ";
        notes.push_back(
            "speculative decoding: " + std::string(what) + p.draft_model + " adds " +
            gib2(static_cast<double>(last.draft_bytes)) + " GiB of weights per GPU (in Model loading took" +
            (shared.empty() ? std::string() : "; it takes " + shared + " from the target") + ") and its " +
            num(p.draft_layers) +
            " attention layer(s) to every KV-cache block; its CUDA graphs are in cudagraph_bytes as layers, "
            "its profiling pass (after the target's) is not added to the activation estimate");
    }
    bool hybrid = p.groups.size() > 1;
    if (hybrid)
        notes.push_back(
            "hybrid KV cache: " + num(p.groups.size()) +
            " groups of layers share the blocks; GPU KV cache size is blocks / groups x block_size, "
            "as vLLM logs it");
    for (const auto& l : a.spec.layers)
        if (l.stack == layer_stack::decoder && (l.switches & sw_no_kv_cache)) {
            notes.push_back(
                "layers without a KV cache (state-space or linear attention): vLLM's state pages for "
                "them are not modelled");
            break;
        }
    if (!a.spec.not_modelled.empty() || a.spec.vision_hidden)
        notes.push_back(
            "a vision tower: vLLM also profiles the encoder with its largest multimodal input, not "
            "modelled in the activation estimate");
    return notes;
}

struct attempt {
    serve_request request;
    std::string fix;
};

// Changes that make a plan start, each planned again: a shorter context, a larger utilization, an fp8 cache,
// more tensor-parallel GPUs.
std::vector<std::string> fixes_for(const analysis& a, const serve_request& r, const gpu_row& gpu,
                                   const vllm::knobs& k, const serve_plan& failed) {
    std::vector<attempt> tries;
    if (failed.error.rfind("Bfloat16", 0) == 0)
        return {"--dtype half (float16 weights: plan it with --dtype f16)"};
    if (failed.error.rfind("Free memory on device", 0) == 0) {
        serve_request t = r;
        t.vllm.gpu_memory_utilization =
            std::floor(failed.ranks[0].total_bytes > 0
                           ? 100.0 * (failed.ranks[0].total_bytes - 0.51 * gib) / failed.ranks[0].total_bytes
                           : 90.0) /
            100.0;
        tries.push_back({t, "--gpu-memory-utilization " + fixed2(t.vllm.gpu_memory_utilization)});
    }
    size_t len_at = failed.error.find("estimated maximum model length is ");
    const std::string v0_words = "maximum number of tokens that can be stored in KV cache (";
    size_t v0_at = failed.error.find(v0_words);
    if (len_at != std::string::npos || v0_at != std::string::npos) {
        uint64_t len = len_at != std::string::npos
                           ? std::strtoull(failed.error.c_str() + len_at + 34, nullptr, 10)
                           : std::strtoull(failed.error.c_str() + v0_at + v0_words.size(), nullptr, 10);
        if (len > 0) {
            serve_request t = r;
            t.vllm.max_model_len = len;
            tries.push_back({t, "--max-model-len " + num(len)});
        }
    }
    if (k.util < 0.95) {
        serve_request t = r;
        t.vllm.gpu_memory_utilization = 0.95;
        tries.push_back({t, "--gpu-memory-utilization 0.95"});
    }
    if (k.kv_cache_dtype == "auto" && failed.error.find("cache") != std::string::npos) {
        serve_request t = r;
        t.vllm.kv_cache_dtype = "fp8";
        tries.push_back({t, "--kv-cache-dtype fp8"});
    }
    for (uint64_t tp = k.tp + 1; tp <= 64; ++tp) {
        serve_request t = r;
        t.vllm.tensor_parallel_size = tp;
        t.gpus = 0;
        auto kk = vllm::resolve(a, t, gpu);
        if (!kk) continue;
        auto again = vllm::plan_once(a, t, gpu, *kk);
        if (!again || !again->starts) continue;
        tries.push_back({t, "--tensor-parallel-size " + num(tp) + " (" + num(tp * k.pp) + " GPUs)"});
        break;
    }
    std::vector<std::string> fixes;
    for (const auto& t : tries) {
        auto kk = vllm::resolve(a, t.request, gpu);
        if (!kk) continue;
        auto again = vllm::plan_once(a, t.request, gpu, *kk);
        if (again && again->starts) fixes.push_back(t.fix);
    }
    return fixes;
}

void write_rank(json_writer& w, const serve_rank& r) {
    w.StartObject();
    w.Key("name");
    write_string(w, r.name);
    w.Key("tp_rank");
    w.Uint64(r.tp_rank);
    w.Key("stage");
    w.Uint64(r.stage);
    w.Key("total_bytes");
    w.Uint64(r.total_bytes);
    w.Key("total_measured");
    w.Bool(r.total_measured);
    w.Key("requested_bytes");
    w.Uint64(r.requested_bytes);
    w.Key("weights_bytes");
    w.Uint64(r.weights_bytes);
    w.Key("non_torch_bytes");
    w.Uint64(r.non_torch_bytes);
    w.Key("activation_peak_bytes");
    w.Uint64(r.activation_peak_bytes);
    w.Key("cudagraph_bytes");
    w.Uint64(r.cudagraph_bytes);
    w.Key("cudagraph_in_budget");
    w.Bool(r.cudagraph_in_budget);
    w.Key("lora_bytes");
    w.Uint64(r.lora_bytes);
    w.Key("draft_bytes");
    w.Uint64(r.draft_bytes);
    w.Key("kv_cache_bytes");
    w.Int64(r.kv_cache_bytes);
    w.Key("num_blocks");
    w.Uint64(r.num_blocks);
    w.EndObject();
}

} // namespace

namespace {

// Each engine's own knobs (dtype, quantization and kv_cache_dtype are every engine's).
const char* const vllm_knobs[] = {"tensor_parallel_size",
                                  "pipeline_parallel_size",
                                  "gpu_memory_utilization",
                                  "max_model_len",
                                  "max_num_seqs",
                                  "max_num_batched_tokens",
                                  "block_size",
                                  "enforce_eager",
                                  "enable_lora",
                                  "max_loras",
                                  "max_lora_rank"};
const char* const sglang_knobs[] = {"tp_size",           "mem_fraction_static",  "context_length",
                                    "page_size",         "chunked_prefill_size", "max_running_requests",
                                    "cuda_graph_max_bs", "disable_cuda_graph",   "free_memory"};
const char* const llamacpp_knobs[] = {"n_gpu_layers", "ctx_size",     "parallel",       "kv_unified",
                                      "cache_type_k", "cache_type_v", "n_cpu_moe",      "cpu_moe",
                                      "ubatch_size",  "quant",        "override_tensor"};
const char* const transformers_knobs[] = {"device_map", "batch_size", "max_length", "max_memory",
                                          "cpu_memory"};

template <size_t N>
bool among(const std::string& f, const char* const (&names)[N]) {
    for (const char* n : names)
        if (f == n) return true;
    return false;
}

// A knob given for another engine: the error names the engine's own flag for the same thing.
std::optional<error> check_knobs(const serve_request& r) {
    const std::string& e = r.engine;
    const char* engine = e == "sglang"         ? "an SGLang"
                         : e == "llama.cpp"    ? "a llama.cpp"
                         : e == "transformers" ? "a transformers"
                                               : "a vLLM";
    static const char* const same[][4] = {
  // vLLM, SGLang, llama.cpp, transformers
        {"tensor_parallel_size",   "tp_size",              "",             ""          },
        {"max_model_len",          "context_length",       "ctx_size",     "max_length"},
        {"block_size",             "page_size",            "",             ""          },
        {"max_num_seqs",           "max_running_requests", "parallel",     "batch_size"},
        {"max_num_batched_tokens", "chunked_prefill_size", "ubatch_size",  ""          },
        {"enforce_eager",          "disable_cuda_graph",   "",             ""          },
        {"kv_cache_dtype",         "kv_cache_dtype",       "cache_type_k", ""          },
    };
    const int ours = e == "sglang" ? 1 : e == "llama.cpp" ? 2 : e == "transformers" ? 3 : 0;
    for (const std::string& f : r.given) {
        bool own = ours == 0   ? among(f, vllm_knobs)
                   : ours == 1 ? among(f, sglang_knobs)
                   : ours == 2 ? among(f, llamacpp_knobs)
                               : among(f, transformers_knobs);
        if (own || f == "dtype" || f == "quantization" || (f == "kv_cache_dtype" && ours < 2)) continue;
        std::string theirs;
        for (const auto& row : same)
            for (const char* name : row)
                if (f == name && *row[ours]) theirs = row[ours];
        std::string flag = theirs;
        std::replace(flag.begin(), flag.end(), '_', '-');
        const char* who = ours == 1   ? "SGLang"
                          : ours == 2 ? "llama.cpp"
                          : ours == 3 ? "transformers"
                                      : "vLLM";
        return make_error(
            error_code::bad_request,
            f + ": not " + engine + " flag" +
                (theirs.empty() ? std::string() : " (" + std::string(who) + "'s is --" + flag + ")"),
            f);
    }
    return std::nullopt;
}

} // namespace

std::optional<error> set_serve_option(serve_request& r, const std::string& name, const std::string& value,
                                      const std::string& label) {
    std::string f = field_name(name);
    if (f == "tp") f = "tp_size"; // SGLang's --tp, argparse's abbreviation of --tp-size
    vllm_options& o = r.vllm;
    sglang_options& g = r.sglang;
    uint64_t n = 0;
    if (f == "engine") return r.engine = value, std::nullopt;
    if (f == "engine_version") return r.engine_version = value, std::nullopt;
    if (f == "gpu") return r.gpu = value, std::nullopt;
    if (f == "gpus") {
        if (auto e = read_count(value, label, f, n)) return e;
        return r.gpus = n, std::nullopt;
    }
    if (among(f, vllm_knobs) || among(f, sglang_knobs) || among(f, llamacpp_knobs) ||
        among(f, transformers_knobs) || f == "kv_cache_dtype" || f == "quantization" || f == "dtype")
        r.given.push_back(f);
    transformers_options& t = r.transformers;
    if (f == "device_map") return t.device_map = value, std::nullopt;
    if (f == "batch_size" || f == "max_length") {
        if (auto e = read_count(value, label, f, n)) return e;
        (f == "batch_size" ? t.batch_size : t.max_length) = n;
        return std::nullopt;
    }
    if (f == "max_memory" || f == "cpu_memory") {
        auto bytes = parse_memory_size(value);
        if (!bytes)
            return make_error(error_code::bad_request,
                              label + ": expected a size such as 70GiB, got \"" + value + "\"", f);
        (f == "max_memory" ? t.max_memory : t.cpu_memory) = *bytes;
        return std::nullopt;
    }
    llamacpp_options& l = r.llamacpp;
    if (f == "n_gpu_layers") {
        if (value == "-1" || value == "all" || value == "auto") return l.n_gpu_layers.reset(), std::nullopt;
        if (auto e = read_count(value, label, f, n)) return e;
        return l.n_gpu_layers = n, std::nullopt;
    }
    if (f == "ctx_size" || f == "parallel" || f == "n_cpu_moe" || f == "ubatch_size") {
        if (auto e = read_count(value, label, f, n)) return e;
        if (f == "ctx_size")
            l.ctx_size = n;
        else if (f == "parallel")
            l.parallel = n;
        else if (f == "n_cpu_moe")
            l.n_cpu_moe = n;
        else
            l.ubatch_size = n;
        return std::nullopt;
    }
    if (f == "override_tensor") {
        // llama.cpp splits each -ot value at its commas (common/arg.cpp); every entry is checked when
        // planning.
        for (size_t start = 0;;) {
            const size_t comma = std::min(value.find(',', start), value.size());
            if (l.override_tensor.size() >= llamacpp::max_overrides)
                return make_error(error_code::out_of_range,
                                  label + ": expected at most " + num(llamacpp::max_overrides) +
                                      " PATTERN=TYPE entries, got more (at " + quote_value(value) + ")",
                                  f);
            l.override_tensor.push_back(value.substr(start, comma - start));
            if (comma == value.size()) break;
            start = comma + 1;
        }
        return std::nullopt;
    }
    if (f == "cache_type_k") return l.cache_type_k = value, std::nullopt;
    if (f == "cache_type_v") return l.cache_type_v = value, std::nullopt;
    if (f == "quant") return l.quant = value, std::nullopt;
    if (f == "kv_unified") return read_flag(value, label, f, l.kv_unified);
    if (f == "cpu_moe") return read_flag(value, label, f, l.cpu_moe);
    if (f == "tensor_parallel_size" || f == "pipeline_parallel_size" || f == "max_model_len" ||
        f == "max_num_seqs" || f == "max_num_batched_tokens" || f == "block_size") {
        if (auto e = read_count(value, label, f, n)) return e;
        if (f == "tensor_parallel_size")
            o.tensor_parallel_size = n;
        else if (f == "pipeline_parallel_size")
            o.pipeline_parallel_size = n;
        else if (f == "max_model_len")
            o.max_model_len = n;
        else if (f == "max_num_seqs")
            o.max_num_seqs = n;
        else if (f == "max_num_batched_tokens")
            o.max_num_batched_tokens = n;
        else
            o.block_size = n;
        return std::nullopt;
    }
    if (f == "tp_size" || f == "context_length" || f == "page_size" || f == "chunked_prefill_size" ||
        f == "max_running_requests" || f == "cuda_graph_max_bs") {
        if (auto e = read_count(value, label, f, n)) return e;
        if (f == "tp_size")
            g.tp_size = n;
        else if (f == "context_length")
            g.context_length = n;
        else if (f == "page_size")
            g.page_size = n;
        else if (f == "chunked_prefill_size")
            g.chunked_prefill_size = n;
        else if (f == "max_running_requests")
            g.max_running_requests = n;
        else
            g.cuda_graph_max_bs = n;
        return std::nullopt;
    }
    if (f == "gpu_memory_utilization" || f == "mem_fraction_static") {
        char* end = nullptr;
        double v = value.empty() ? NAN : std::strtod(value.c_str(), &end);
        if (value.empty() || *end != '\0' || !std::isfinite(v))
            return make_error(error_code::bad_request,
                              label + ": expected a number in (0, 1], got \"" + value + "\"", f);
        if (f == "mem_fraction_static")
            g.mem_fraction_static = v;
        else
            o.gpu_memory_utilization = v;
        return std::nullopt;
    }
    if (f == "free_memory") {
        auto bytes = parse_memory_size(value);
        if (!bytes)
            return make_error(error_code::bad_request,
                              label + ": expected a size such as 21.6GiB or 22000MiB, got \"" + value + "\"",
                              f);
        g.free_memory = *bytes;
        return std::nullopt;
    }
    if (f == "kv_cache_dtype") return o.kv_cache_dtype = g.kv_cache_dtype = value, std::nullopt;
    if (f == "quantization") return o.quantization = g.quantization = value, std::nullopt;
    if (f == "dtype") return o.dtype = g.dtype = value, std::nullopt;
    if (f == "enforce_eager") return read_flag(value, label, f, o.enforce_eager);
    if (f == "enable_lora") return read_flag(value, label, f, o.enable_lora);
    if (f == "speculative_config") {
        if (value.size() > 4096)
            return make_error(error_code::bad_request,
                              label + ": expected a JSON object of at most 4,096 bytes", f);
        return o.speculative_config = value, std::nullopt;
    }
    if (f == "max_loras" || f == "max_lora_rank") {
        if (auto e = read_count(value, label, f, n)) return e;
        (f == "max_loras" ? o.max_loras : o.max_lora_rank) = n;
        return std::nullopt;
    }
    if (f == "disable_cuda_graph") return read_flag(value, label, f, g.disable_cuda_graph);
    return make_error(error_code::bad_request, label + ": not a knob serve knows", f);
}

namespace {

// The type vLLM runs the weights in (ModelConfig's dtype): --dtype when given; with "auto", the config's
// 16-bit type, and a float32 config in bfloat16 (float16 on GPUs without bfloat16). nullopt: keep the
// analysis's type (quantized or 16-bit weights).
result<std::optional<dtype>> serving_dtype(const model_spec& s, const std::string& flag, const gpu_row& gpu) {
    if (!flag.empty() && flag != "auto") {
        auto t = parse_dtype(flag, "dtype");
        if (!t) return t.err();
        if (*t != dtype::f32 && *t != dtype::f16 && *t != dtype::bf16)
            return make_error(
                error_code::unknown_dtype,
                "dtype: vLLM runs weights in auto, half, float16, bfloat16, float or float32; got \"" + flag +
                    "\"",
                "dtype");
        return std::optional<dtype>(*t);
    }
    if (s.weight_dtype == dtype::f32) return std::optional<dtype>(gpu.bf16 ? dtype::bf16 : dtype::f16);
    return std::optional<dtype>();
}

} // namespace

namespace {

result<serve_plan> plan_serve_impl(const analysis& a_given, const serve_request& r, bool with_fixes) {
    if (r.engine != "vllm" && r.engine != "sglang" && r.engine != "llama.cpp" && r.engine != "transformers")
        return make_error(error_code::unsupported,
                          "engine: " + quote_value(r.engine) +
                              " is not one serve plans; vllm, sglang, llama.cpp and transformers are",
                          "engine");
    if (auto e = check_knobs(r)) return *e;
    const bool sglang = r.engine == "sglang";
    const std::string& v = r.engine_version;
    if (r.engine == "transformers") {
        if (r.gpu.empty())
            return make_error(error_code::missing_key, "gpu: serve needs the GPU (see the catalog)", "gpu");
        auto gpu = find_gpu(r.gpu);
        if (!gpu) return gpu.err();
        return transformers_engine::plan(a_given, r, *gpu);
    }
    if (r.engine == "llama.cpp") {
        if (r.gpu.empty())
            return make_error(error_code::missing_key, "gpu: serve needs the GPU (see the catalog)", "gpu");
        auto gpu = find_gpu(r.gpu);
        if (!gpu) return gpu.err();
        auto k = llamacpp::resolve(a_given, r, *gpu);
        if (!k) return k.err();
        auto p = llamacpp::plan_once(a_given, r, *gpu, *k);
        if (!p) return p.err();
        if (!p->starts && with_fixes) p->fixes = llamacpp::fixes(a_given, r, *gpu, *k, *p);
        p->log_lines = llamacpp::log_lines(*p, *k);
        p->notes = llamacpp::notes(a_given, *p, *k);
        p->command = llamacpp::command(a_given, *p, *k);
        return p;
    }
    if (!sglang && vllm::minor_version(v) == 0)
        return make_error(error_code::unsupported,
                          "engine_version: " + quote_value(v) + " is not a vLLM version modelled; " +
                              vllm::versions_modelled(),
                          "engine_version");
    if (r.gpu.empty())
        return make_error(error_code::missing_key, "gpu: serve needs the GPU (see the catalog)", "gpu");
    auto gpu = find_gpu(r.gpu);
    if (!gpu) return gpu.err();
    auto run_as = serving_dtype(a_given.spec, sglang ? r.sglang.dtype : r.vllm.dtype, *gpu);
    if (!run_as) return run_as.err();
    const bool float_weights = a_given.spec.weight_dtype == dtype::f32 ||
                               a_given.spec.weight_dtype == dtype::f16 ||
                               a_given.spec.weight_dtype == dtype::bf16;
    analysis retyped;
    if (*run_as && **run_as != a_given.spec.weight_dtype && float_weights && !a_given.from_headers) {
        model_spec s = a_given.spec;
        s.weight_dtype = **run_as;
        auto again = analyze(a_given.model, result<model_spec>(s));
        if (!again) return again.err();
        retyped = std::move(*again);
    }
    const analysis& a = retyped.spec.layers.empty() ? a_given : retyped;
    if (sglang) {
        auto k = sglang::resolve(a, r, *gpu);
        if (!k) return k.err();
        auto p = sglang::plan_once(a, r, *gpu, *k);
        if (!p) return p.err();
        if (!p->starts && with_fixes) p->fixes = sglang::fixes(a, r, *gpu, *k, *p);
        p->log_lines = sglang::log_lines(a, *p);
        p->notes = sglang::notes(a, *p, *k);
        p->command = sglang::command(a, *p, *k);
        return p;
    }
    auto k = vllm::resolve(a, r, *gpu);
    if (!k) return k.err();
    auto p = vllm::plan_once(a, r, *gpu, *k);
    if (!p) return p.err();
    if (!p->starts && with_fixes) p->fixes = fixes_for(a, r, *gpu, *k, *p);
    p->log_lines = log_lines_of(*p);
    p->notes = notes_of(a, *p);
    p->command = command_of(a, *p);
    return p;
}

} // namespace

result<serve_plan> plan_serve(const analysis& a, const serve_request& r) {
    return plan_serve_impl(a, r, true);
}

result<serve_plan> serve_detail::plan_without_fixes(const analysis& a, const serve_request& r) {
    return plan_serve_impl(a, r, false);
}

std::string serve_json(const analysis& a, const serve_plan& p) {
    json_out out;
    json_writer& w = out.w;
    out.begin_model_answer(a.model, a.spec.architecture);
    w.Key("engine");
    write_string(w, p.engine);
    w.Key("engine_version");
    write_string(w, p.engine_version);
    w.Key("gpu");
    write_string(w, p.gpu);
    w.Key("starts");
    w.Bool(p.starts);
    w.Key("error");
    if (p.error.empty())
        w.Null();
    else
        write_string(w, p.error);
    write_strings(w, "fixes", p.fixes);
    w.Key("knobs");
    w.StartObject();
    if (p.engine == "transformers") {
        w.Key("device_map");
        write_string(w, p.device_map);
        w.Key("batch_size");
        w.Uint64(p.max_num_seqs);
        w.Key("max_length");
        w.Uint64(p.max_model_len);
        w.Key("quantization");
        write_string(w, p.quantization);
        w.Key("host_weights_bytes");
        w.Uint64(p.host_weights_bytes);
        w.Key("host_kv_bytes");
        w.Uint64(p.host_kv_bytes);
    } else if (p.engine == "llama.cpp") {
        w.Key("n_gpu_layers");
        w.Uint64(p.n_gpu_layers);
        w.Key("ctx_size");
        w.Uint64(p.n_ctx);
        w.Key("parallel");
        w.Uint64(p.n_parallel);
        w.Key("kv_unified");
        w.Bool(p.kv_unified);
        w.Key("cache_types");
        write_string(w, p.kv_cache_dtype);
        w.Key("ubatch_size");
        w.Uint64(p.max_num_batched_tokens);
        w.Key("quant");
        write_string(w, p.quantization);
        w.Key("n_ctx_seq");
        w.Uint64(p.max_model_len);
        w.Key("swa_cells");
        w.Uint64(p.swa_cells);
        w.Key("host_weights_bytes");
        w.Uint64(p.host_weights_bytes);
        w.Key("host_kv_bytes");
        w.Uint64(p.host_kv_bytes);
        w.Key("host_other_bytes");
        w.Uint64(p.host_other_bytes);
        w.Key("k_bytes");
        w.Uint64(p.k_bytes_total);
        w.Key("v_bytes");
        w.Uint64(p.v_bytes_total);
        w.Key("override_tensor");
        w.StartArray();
        for (const auto& o : p.tensor_overrides) {
            w.StartObject();
            w.Key("pattern");
            write_string(w, o.pattern);
            w.Key("buffer_type");
            write_string(w, o.buffer_type);
            w.Key("tensors");
            w.Uint64(o.tensors);
            w.Key("bytes");
            w.Uint64(o.bytes);
            w.Key("moved_bytes");
            w.Uint64(o.moved_bytes);
            w.EndObject();
        }
        w.EndArray();
    } else if (p.engine == "sglang") {
        w.Key("tp_size");
        w.Uint64(p.tp);
        w.Key("mem_fraction_static");
        w.Double(p.mem_fraction_static);
        w.Key("context_length");
        w.Uint64(p.max_model_len);
        w.Key("kv_cache_dtype");
        write_string(w, p.kv_cache_dtype);
        w.Key("page_size");
        w.Uint64(p.block_size);
        w.Key("chunked_prefill_size");
        w.Uint64(p.chunked_prefill_size);
        w.Key("max_running_requests");
        w.Uint64(p.max_running_requests);
        w.Key("cuda_graph_max_bs");
        w.Uint64(p.cuda_graph_max_bs);
        w.Key("disable_cuda_graph");
        w.Bool(p.disable_cuda_graph);
        w.Key("quantization");
        write_string(w, p.quantization);
        w.Key("free_memory");
        w.Uint64(p.free_bytes);
        w.Key("free_memory_given");
        w.Bool(p.free_given);
    } else {
        w.Key("tensor_parallel_size");
        w.Uint64(p.tp);
        w.Key("pipeline_parallel_size");
        w.Uint64(p.pp);
        w.Key("gpu_memory_utilization");
        w.Double(p.gpu_memory_utilization);
        w.Key("max_model_len");
        w.Uint64(p.max_model_len);
        w.Key("max_num_seqs");
        w.Uint64(p.max_num_seqs);
        w.Key("max_num_batched_tokens");
        w.Uint64(p.max_num_batched_tokens);
        w.Key("kv_cache_dtype");
        write_string(w, p.kv_cache_dtype);
        w.Key("block_size");
        w.Uint64(p.block_size);
        w.Key("enforce_eager");
        w.Bool(p.enforce_eager);
        w.Key("enable_lora");
        w.Bool(p.enable_lora);
        w.Key("max_loras");
        w.Uint64(p.max_loras);
        w.Key("max_lora_rank");
        w.Uint64(p.max_lora_rank);
        w.Key("speculative_config");
        write_string(w, p.speculative_config);
        w.Key("speculative_method");
        write_string(w, p.speculative_method);
        w.Key("draft_model");
        write_string(w, p.draft_model);
        w.Key("num_speculative_tokens");
        w.Uint64(p.num_speculative_tokens);
        w.Key("draft_layers");
        w.Uint64(p.draft_layers);
        write_strings(w, "draft_shared", p.draft_shared);
        w.Key("quantization");
        write_string(w, p.quantization);
    }
    w.EndObject();
    w.Key("ranks");
    w.StartArray();
    for (const auto& r : p.ranks) write_rank(w, r);
    w.EndArray();
    w.Key("kv_groups");
    w.StartArray();
    for (const auto& g : p.groups) {
        w.StartObject();
        w.Key("kind");
        write_string(w, g.kind);
        w.Key("window");
        w.Uint64(g.window);
        w.Key("layers");
        w.Uint64(g.layers);
        w.Key("page_bytes");
        w.Uint64(g.page_bytes);
        w.Key("block_bytes");
        w.Uint64(g.block_bytes);
        w.Key("blocks_per_request");
        w.Uint64(g.blocks_per_request);
        w.EndObject();
    }
    w.EndArray();
    w.Key("num_gpu_blocks");
    w.Uint64(p.num_gpu_blocks);
    if (p.engine == "vllm") {
        w.Key("num_cpu_blocks"); // the V0 engine's "# CPU blocks" (its 4 GiB swap space); 0 for V1
        w.Uint64(p.num_cpu_blocks);
    }
    w.Key("kv_bytes_per_token");
    w.Uint64(p.kv_bytes_per_token);
    w.Key("kv_tokens");
    w.Uint64(p.kv_tokens);
    w.Key("max_concurrency");
    w.Double(std::round(p.max_concurrency * 100.0) / 100.0);
    write_strings(w, "log_lines", p.log_lines);
    write_strings(w, "notes", p.notes);
    w.Key("command");
    write_string(w, p.command);
    w.EndObject();
    return out.str();
}

} // namespace modelplan
