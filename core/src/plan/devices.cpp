// GPU catalog lookup, runnability checks and roofline estimates (docs/devices.md).
#include "modelplan/devices.h"

#include <algorithm>
#include <cctype>

#include "modelplan/text.h"

namespace modelplan {

extern const gpu_row embedded_gpus[];
extern const size_t embedded_gpu_count;

namespace {

// Lower-case letters and digits only, without vendor words: "NVIDIA GeForce RTX 4090" -> "rtx4090".
std::string normalize(std::string s) {
    std::string out;
    for (unsigned char c : s)
        if (std::isalnum(c)) out += static_cast<char>(std::tolower(c));
    for (const char* word : {"nvidia", "geforce", "tesla", "amd", "instinct"}) {
        size_t at = out.find(word);
        if (at != std::string::npos) out.erase(at, std::char_traits<char>::length(word));
    }
    return out;
}

std::string lower_trimmed(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.erase(s.begin());
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

double compute_capability(const gpu_row& g) {
    return std::string(g.compute).rfind("gfx", 0) == 0 ? 0.0 : std::atof(g.compute);
}

} // namespace

const std::vector<gpu_row>& gpu_catalog() {
    static const std::vector<gpu_row> all(embedded_gpus, embedded_gpus + embedded_gpu_count);
    return all;
}

result<gpu_row> custom_gpu(const std::string& text) {
    auto bad = [&](const std::string& why) {
        return make_error(
            error_code::bad_request,
            "gpu: " + quote_value(text) + ": " + why +
                "; expected custom:MEMORY[,bw=GB/s][,tflops=T], e.g. custom:24GiB,bw=1008,tflops=165",
            "gpu");
    };
    std::string spec = text.substr(text.find(':') + 1);
    while (!spec.empty() && std::isspace(static_cast<unsigned char>(spec.back()))) spec.pop_back();
    std::vector<std::string> parts;
    for (size_t begin = 0;;) {
        size_t comma = spec.find(',', begin);
        parts.push_back(spec.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
        if (comma == std::string::npos) break;
        begin = comma + 1;
    }
    auto memory = parse_memory_size(parts[0]);
    if (!memory || *memory == 0)
        return bad("memory " + quote_value(parts[0]) + " is not a size such as 24GiB");
    gpu_row g{};
    g.key = "custom:" + spec;
    g.arch = "custom";
    g.compute = "";
    g.exact_bytes = *memory;
    g.memory_mib = *memory >> 20;
    g.bf16 = true;
    g.fp8 = true;
    for (size_t i = 1; i < parts.size(); ++i) {
        std::string part = parts[i];
        size_t eq = part.find('=');
        std::string key = lower_trimmed(part.substr(0, eq == std::string::npos ? 0 : eq));
        std::string value = eq == std::string::npos ? std::string() : lower_trimmed(part.substr(eq + 1));
        for (const char* unit : {"gb/s", "tflops"})
            if (ends_with(value, unit)) value.resize(value.size() - std::char_traits<char>::length(unit));
        char* end = nullptr;
        double number = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
        bool ok = !value.empty() && end && *end == '\0' && number > 0 && number < 1e7;
        if (key == "bw" && ok)
            g.bandwidth_gbps = number;
        else if (key == "tflops" && ok)
            g.bf16_tflops = g.fp16_tflops = number;
        else if (key == "bw" || key == "tflops")
            return bad(key + " " + quote_value(part.substr(eq + 1)) + " is not a positive number");
        else
            return bad("unknown part " + quote_value(part) + " (only bw= and tflops=)");
    }
    g.name = "Custom GPU, " + binary_size(g.memory_bytes());
    return g;
}

result<gpu_row> find_gpu(const std::string& name) {
    if (lower_trimmed(name).rfind("custom:", 0) == 0) return custom_gpu(name);
    std::string wanted = normalize(name);
    std::vector<std::string> keys;
    for (const gpu_row& g : gpu_catalog()) {
        if (wanted == normalize(g.key)) return g;
        keys.push_back(g.key);
    }
    // A unique catalog entry whose key or name starts with what was typed ("rtx 4090", "H100 SXM").
    std::vector<const gpu_row*> matches;
    for (const gpu_row& g : gpu_catalog())
        if (!wanted.empty() &&
            (normalize(g.key).rfind(wanted, 0) == 0 || normalize(g.name).rfind(wanted, 0) == 0))
            matches.push_back(&g);
    if (matches.size() == 1) return *matches[0];
    if (matches.size() > 1) {
        std::string which;
        for (const gpu_row* g : matches) which += (which.empty() ? "" : ", ") + std::string(g->key);
        return make_error(error_code::unknown_gpu, "gpu: " + quote_value(name) + " is ambiguous: " + which,
                          "gpu");
    }
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
    std::string hint = name.size() <= 64 ? closest_name(name, keys) : std::string();
    return make_error(error_code::unknown_gpu,
                      "gpu: no GPU named " + quote_value(name) +
                          (hint.empty() ? std::string() : "; did you mean \"" + hint + "\"?") +
                          " (catalog: " + list +
                          "; or a GPU of your own: custom:24GiB[,bw=1008][,tflops=165])",
                      "gpu");
}

device_check check_workload(const analysis& a, const workload& w, const gpu_row& gpu) {
    device_check c;
    const model_spec& spec = a.spec;
    double cc = compute_capability(gpu);
    bool nvidia = cc > 0;
    dtype weights = spec.weight_dtype;
    dtype kv = w.kv_dtype.value_or(compute_dtype(weights));
    if ((weights == dtype::bf16 || kv == dtype::bf16) && !gpu.bf16)
        c.errors.push_back(std::string(gpu.key) + " (" + gpu.arch +
                           ") has no bfloat16 support; use dtype fp16");
    bool fp8_weights = weights == dtype::f8_e4m3 || weights == dtype::f8_e5m2;
    bool fp8_kv = kv == dtype::f8_e4m3 || kv == dtype::f8_e5m2;
    if ((fp8_weights || fp8_kv) && !gpu.fp8)
        c.errors.push_back(
            std::string(gpu.key) + " (" + gpu.arch +
            ") has no fp8 support (Ada, Hopper or newer): " + (fp8_weights ? "fp8 weights" : "fp8 KV cache"));
    if (gpu.custom()) nvidia = false; // nothing known about a custom GPU's kernels
    if (w.attention == attention_impl::flash && cc < 8.0 && !gpu.custom())
        c.errors.push_back(std::string("flash attention needs Ampere or newer; ") + gpu.key + " is " +
                           gpu.arch + " (compute " + gpu.compute + ")");
    if (w.attention == attention_impl::sdpa && nvidia) {
        // FlashAttention-2 (the fast SDPA backend) needs Ampere or newer, fp16/bf16 and head_dim <= 256.
        std::string why;
        if (cc < 8.0)
            why = std::string(gpu.arch) + " is older than Ampere";
        else if (weights == dtype::f32)
            why = "fp32 weights";
        else if (spec.head_dim > 256)
            why = "head_dim " + std::to_string(spec.head_dim) + " > 256";
        if (!why.empty())
            c.warnings.push_back("flash attention cannot run (" + why +
                                 "); PyTorch SDPA falls back to the memory-efficient or math kernel");
    }
    if (spec.max_positions > 0 && w.seq > spec.max_positions)
        c.warnings.push_back("seq (" + std::to_string(w.seq) + ") is longer than max_position_embeddings (" +
                             std::to_string(spec.max_positions) + ")");
    return c;
}

roofline estimate_roofline(const analysis& a, const workload& w_in, const memory_plan& p,
                           const gpu_row& gpu) {
    roofline r;
    const model_spec& spec = a.spec;
    workload w = w_in;
    if (w.seq == 0) w.seq = default_seq(spec);
    // Bytes per decode step: the weights a token touches (the active share of them), the whole KV cache and
    // the recurrent state (read and written once per step).
    double active_share =
        a.counts.total ? static_cast<double>(a.counts.active) / static_cast<double>(a.counts.total) : 1.0;
    r.bytes_per_decode_step = static_cast<uint64_t>(static_cast<double>(p.bytes.weights) * active_share) +
                              p.bytes.kv_cache + p.bytes.recurrent_state;
    if (gpu.bandwidth_gbps > 0 && r.bytes_per_decode_step > 0)
        r.decode_tokens_per_s = static_cast<double>(w.batch) * gpu.bandwidth_gbps * 1e9 /
                                static_cast<double>(r.bytes_per_decode_step);
    // Forward FLOPs per token: 2 per active parameter (multiply and add), plus attention scores and values:
    // 2 x 2 x layers x seq x q_dim (Kaplan et al. 2020, C_forward = 2N + 2 n_layer n_ctx d_attn).
    uint64_t attn_layers = 0;
    const uint64_t mixer_only = sw_mamba | sw_linear_attn | sw_short_conv | sw_no_attn;
    for (const auto& l : spec.layers)
        if (l.stack != layer_stack::vision && l.stack != layer_stack::mtp &&
            !((l.switches & mixer_only) && (l.switches & sw_no_kv_cache)))
            ++attn_layers; // recurrent and MLP-only layers attend to nothing
    r.flops_per_token = 2.0 * static_cast<double>(a.counts.active) + 4.0 * static_cast<double>(attn_layers) *
                                                                         static_cast<double>(w.seq) *
                                                                         static_cast<double>(spec.q_dim());
    double peak = (spec.weight_dtype == dtype::f16 || !gpu.bf16) ? gpu.fp16_tflops : gpu.bf16_tflops;
    if (peak > 0)
        r.prefill_seconds =
            static_cast<double>(w.batch) * static_cast<double>(w.seq) * r.flops_per_token / (peak * 1e12);
    r.training_flops =
        6.0 * static_cast<double>(a.counts.total) * static_cast<double>(w.batch) * static_cast<double>(w.seq);
    return r;
}

void attach_device(const analysis& a, const workload& w, const gpu_row& gpu, memory_plan& p) {
    plan_device d;
    d.gpu = gpu.key;
    d.memory_bytes = gpu.memory_bytes();
    device_check checks = check_workload(a, w, gpu);
    d.errors = checks.errors;
    d.warnings = checks.warnings;
    d.headroom_bytes = static_cast<int64_t>(d.memory_bytes) - static_cast<int64_t>(p.total_bytes);
    d.fits = p.total_bytes <= d.memory_bytes && d.errors.empty();
    roofline r = estimate_roofline(a, w, p, gpu);
    d.decode_tokens_per_s = r.decode_tokens_per_s;
    d.prefill_seconds = r.prefill_seconds;
    d.flops_per_token = r.flops_per_token;
    d.training_flops = r.training_flops;
    p.device = std::move(d);
}

} // namespace modelplan
