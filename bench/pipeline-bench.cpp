// config.json text -> spec -> skeleton -> counts, on the largest presets. Target: well under 1 ms natively.
// Also the placement of an analysed model on devices (a fitting case, and one that does not fit, which adds
// the suggestions: more GPUs, a quantization, a shorter context, each checked by placing again).
// Run: build/bench/pipeline_bench  (scripts/bench.sh builds and runs it)
#include <map>
#include <string>

#include <benchmark/benchmark.h>

#include "modelplan/placement.h"
#include "modelplan/presets.h"
#include "modelplan/report.h"

namespace {

const std::string& config_of(const char* name) {
    static std::map<std::string, std::string> cache;
    auto it = cache.find(name);
    if (it == cache.end()) it = cache.emplace(name, modelplan::find_preset(name)->config_json).first;
    return it->second;
}

void parse_only(benchmark::State& state, const char* name) {
    const std::string& text = config_of(name);
    for (auto _ : state) benchmark::DoNotOptimize(modelplan::parse_config(text));
}

void full_pipeline(benchmark::State& state, const char* name) {
    const std::string& text = config_of(name);
    size_t tensors = 0;
    for (auto _ : state) {
        auto a = modelplan::analyze(name, text, {});
        if (!a) {
            state.SkipWithError(a.err().message.c_str());
            return;
        }
        tensors = a->sk.tensors.size();
        benchmark::DoNotOptimize(a->counts.total);
    }
    state.counters["tensors"] = static_cast<double>(tensors);
}

void params_json(benchmark::State& state, const char* name) {
    auto a = modelplan::analyze(name, config_of(name), {});
    for (auto _ : state) benchmark::DoNotOptimize(modelplan::params_json(*a));
}

void place(benchmark::State& state, const char* name, const char* gpu, uint64_t count) {
    auto a = modelplan::analyze(name, config_of(name), {});
    auto devices = modelplan::catalog_devices(gpu, count, std::nullopt, false);
    modelplan::place_options o;
    o.gpu_name = gpu;
    bool fits = false;
    for (auto _ : state) {
        auto p = modelplan::place_model(*a, modelplan::workload{}, *devices, o);
        fits = p && p->fits;
        benchmark::DoNotOptimize(p);
    }
    state.counters["fits"] = fits ? 1 : 0;
}

} // namespace

BENCHMARK_CAPTURE(place, llama_3_1_70b_4x_h100, "llama-3.1-70b", "h100-80gb", 4)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(place, deepseek_v3_16x_h200, "deepseek-v3", "h200-141gb", 16)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(place, kimi_k2_16x_h200, "kimi-k2-instruct", "h200-141gb", 16)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(place, llama_3_1_70b_1x_4090_no_fit, "llama-3.1-70b", "rtx-4090", 1)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(place, deepseek_v3_1x_4090_no_fit, "deepseek-v3", "rtx-4090", 1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(parse_only, llama_3_1_405b, "llama-3.1-405b")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, llama_3_1_405b, "llama-3.1-405b")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, mixtral_8x22b, "mixtral-8x22b-v0.1")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, llama_3_1_8b, "llama-3.1-8b")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, deepseek_v3, "deepseek-v3")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, gemma_3_4b, "gemma-3-4b")->Unit(benchmark::kMicrosecond);
// The largest of the 2025-26 families (issue 13): the most tensors (Kimi-K2: 384 experts x 60 MoE layers),
// a trillion parameters (Ling-1T), Llama 4 Maverick with its vision tower, gpt-oss-120b's MXFP4 experts.
BENCHMARK_CAPTURE(full_pipeline, kimi_k2, "kimi-k2-instruct")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, ling_1t, "ling-1t")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, llama_4_maverick, "llama-4-maverick-17b-128e-instruct")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, gpt_oss_120b, "gpt-oss-120b")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, glm_4_6, "glm-4.6")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, qwen2_5_vl_72b, "qwen2.5-vl-72b-instruct")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, qwen3_vl_30b_a3b, "qwen3-vl-30b-a3b-instruct")
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(params_json, llama_3_1_405b, "llama-3.1-405b")->Unit(benchmark::kMicrosecond);
// The largest state-space and hybrid presets (issue 13): Qwen3-Next's 75,944 tensors, Jamba's MoE hybrid.
BENCHMARK_CAPTURE(full_pipeline, qwen3_next_80b, "qwen3-next-80b-a3b")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(full_pipeline, jamba_v0_1, "jamba-v0.1")->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(place, qwen3_next_80b_2x_h100, "qwen3-next-80b-a3b", "h100-80gb", 2)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
