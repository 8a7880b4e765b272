// `modelplan serve`: what an inference engine (vLLM) will do on these GPUs, figure by figure as it logs them
// at start-up, whether it starts, and the command that runs it (docs/serving.md).
#include "modelplan/serve.h"
#include "commands.h"
#include "io/model-source.h"
#include "modelplan/text.h"
#include "output.h"
#include "table.h"

namespace modelplan::cli {

const char* const serve_help =
    R"(usage: modelplan serve [MODEL] [--engine vllm|sglang|llama.cpp] --gpu NAME [--gpus N] [engine options] [--json]

What vLLM (V1 engine, the accounting of 0.19) will do on GPUs of the catalog, figure by figure as it logs
them at start-up, per GPU: the memory it sees (CUDA's total, not the marketing size), the memory it may use
(total x --gpu-memory-utilization), the weights in its layout ("Model loading took"), the non-torch
memory and the profiling run's peak (estimates from published logs), the CUDA-graph pool (an estimate;
0.19 does not take it from the cache), and what is left: "Available KV cache memory". Then the blocks,
"GPU KV cache size: N tokens" and "Maximum concurrency for L tokens per request", computed as vLLM
computes them (sliding-window, chunked and MLA layers included), a verdict in vLLM's own words with the
changes that make it start (each planned again), the log lines to compare, and the command to run.

With --engine sglang: what SGLang will do: the free memory it sees before loading, the static part
(free x --mem-fraction-static, its default by SGLang's own rule for the GPU and version), the weights
("Load weight end ... mem usage"), the KV pool ("KV Cache is allocated. #tokens"), the running requests
and what its reserve heuristic keeps for the prefill and the CUDA graphs.

options:
  --engine NAME                    vllm (the default), sglang, llama.cpp or transformers
  --engine-version V               vllm: 0.19 (default), 0.20, 0.21 (the CUDA-graph estimate taken from
                                   the budget before the cache), 0.18, 0.17, 0.15-0.16 (a larger
                                   profiling peak), 0.10-0.11, or the V0 engine as 0.6.5-v0 to 0.10-v0
                                   (VLLM_USE_V1=0; docs/serving.md, "Versions"); sglang: 0.5.3 (default), 0.4.7 to
                                   0.5.2, or 0.4.6 and older (their default fractions differ); llama.cpp:
                                   2025-11 (llama-server builds from November 2025 on)
  --gpu NAME                       a GPU of the catalog (see modelplan gpus); required
  --gpus N                         GPUs of that kind (default and what is used: tensor x pipeline
                                   parallel size; data parallelism is not modelled)
  --tensor-parallel-size T         default 1
  --pipeline-parallel-size P       default 1
  --gpu-memory-utilization U       in (0, 1], default 0.9
  --max-model-len L                default: the config's max_position_embeddings (rope-scaled)
  --max-num-seqs S                 default 1024 on GPUs of 70 GiB or more but the A100, else 256
  --max-num-batched-tokens N       default 8192 on those GPUs, else 2048
  --kv-cache-dtype D               auto (the model's dtype), bfloat16, fp8, fp8_e4m3 or fp8_e5m2
  --block-size B                   1, 8, 16 (default), 32, 64, 128 or 256
  --quantization Q                 fp8 quantizes a 16-bit checkpoint at load; a quantized checkpoint's own
                                   format is read from its config.json
  --dtype D                        auto (float32 configs run in bfloat16), half, bfloat16, float32
  --enforce-eager                  no CUDA graphs
  --speculative-config JSON        {"method": "mtp" (deepseek_mtp, glm4_moe_mtp, ...) or "ngram",
                                   "num_speculative_tokens": N}: MTP layers load and cache; or
                                   {"model": DRAFT, "num_speculative_tokens": N} with a draft model or an
                                   EAGLE head ("method": "draft_model", "eagle", "eagle3"; found from the
                                   name as vLLM does), DRAFT a preset, a local folder or config.json:
                                   its weights load beside the model's, its layers join the KV cache
  --enable-lora                    LoRA buffers in the weights: --max-loras N (default 1) adapters of
                                   --max-lora-rank R (default 16; 1, 8, 16, 32, 64, 128, 256, 320 or 512)
SGLang's (--engine sglang; dtype, quantization and --kv-cache-dtype as above, fp8_e5m2 or fp8_e4m3):
  --tp-size T, --tp T              default 1
  --mem-fraction-static F          in (0, 1); default: SGLang's heuristic for the GPU, TP and version
  --context-length L               default: the config's max_position_embeddings (rope-scaled)
  --page-size P                    default 1
  --chunked-prefill-size N         default by GPU memory (2048 to 16384)
  --max-running-requests N         default: from the pool (at most tokens / 2, 2048 to 4096)
  --cuda-graph-max-bs N            default by GPU memory and TP
  --disable-cuda-graph             no CUDA graphs
  --free-memory SIZE               modelplan's: the GPU's free memory when SGLang starts, per GPU (default:
                                   the CUDA total less the CUDA context); SGLang sizes from it
llama.cpp's (--engine llama.cpp; llama-server's short forms -ngl, -np, -ctk, -ctv, -kvu, -ub, -ncmoe, -cmoe,
-ot are read too; --gpus N splits the layers over N GPUs as the default --tensor-split does):
  -ngl, --n-gpu-layers N           layers offloaded, the output layer counted last (default: all)
  -c, --ctx-size N                 default 0: the model's training context; padded to 256
  -np, --parallel N                slots; default: llama-server's auto, 4 sharing one unified cache
  -kvu, --kv-unified               one cache for the N slots of an explicit -np
  -ctk, --cache-type-k T           f16 (default), f32, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1
  -ctv, --cache-type-v T           likewise
  -ncmoe, --n-cpu-moe N            the experts of the first N layers in host memory
  -cmoe, --cpu-moe                 every layer's experts in host memory
  -ot, --override-tensor P=T,...   every tensor whose GGUF name (blk.N.ffn_up_exps.weight, token_embd.weight,
                                   ...) the regular expression P finds in goes to T: CPU (host memory) or
                                   CUDAi; repeatable, the first matching pattern wins; before --n-cpu-moe
  -ub, --ubatch-size N             default 512
  --quant Q                        modelplan's: the GGUF type a model that is not a .gguf file is converted
                                   to (q4_k_m, q8_0, ...; default its own type); a .gguf file's types are read

transformers' (--engine transformers: from_pretrained with accelerate's device map, as modelplan place
places it; --gpus N GPUs, --quantization a bitsandbytes or other format of docs/quantization.md):
  --device-map M                   auto (balanced, the default), balanced or sequential
  --batch-size N                   sequences generated at once (default 1)
  --max-length N                   tokens per sequence in the cache (default: the model's default context)
  --max-memory SIZE                each GPU's budget (max_memory); default the placement's
  --cpu-memory SIZE                host memory to offload to (max_memory["cpu"])
inverse questions (each answer planned again; docs/serving.md):
  --target-concurrency N           the smallest layout (GPUs, tensor and pipeline parallel sizes) that holds N
                                   requests of the context, and the longest context the given layout holds N at
  --longest-context                the longest context the given layout holds one request (or N) of
  --sweep                          requests at full length over TP 1, 2, 4, 8 and contexts 4K to 128K

--json prints {"engine", "engine_version", "gpu", "starts", "error", "fixes", "knobs", "ranks": [{"name",
"total_bytes", "requested_bytes", "weights_bytes", "non_torch_bytes", "activation_peak_bytes",
"cudagraph_bytes", "kv_cache_bytes", "num_blocks", ...}], "kv_groups", "num_gpu_blocks", "kv_bytes_per_token",
"kv_tokens", "max_concurrency", "log_lines", "notes", "command"} (docs/json.md).
exit status: 0 it starts, 3 it does not (the answer still printed), 2 bad input.
)";

namespace {

std::string gib(int64_t bytes) {
    return (bytes < 0 ? "-" : "") + fixed(static_cast<double>(bytes < 0 ? -bytes : bytes) / 1073741824.0, 2) +
           " GiB";
}

// The verdict, the fixes, the lines to compare, the command and the notes: every engine's answer ends so.
std::string render_tail(const serve_plan& p, const char* verdict, const std::string& log_heading,
                        const char* command_heading) {
    std::string out = std::string("  ") + verdict + std::string(15 - std::string(verdict).size(), ' ') +
                      (p.starts ? "yes" : "no: " + p.error) + "\n";
    for (const auto& f : p.fixes) out += "  fix            " + f + "\n";
    out += "\n" + log_heading + ":\n";
    for (const auto& l : p.log_lines) out += "  " + l + "\n";
    out += std::string("\n") + command_heading + ":\n  " + p.command + "\n";
    if (!p.notes.empty()) {
        out += "\nnotes:\n";
        for (const auto& n : p.notes) out += "  " + n + "\n";
    }
    return out;
}

std::string render_serve(const analysis& a, const serve_plan& p) {
    std::string out = model_title(a) + "vLLM " + p.engine_version + " on " + std::to_string(p.ranks.size()) +
                      " x " + p.gpu + " (tensor parallel " + std::to_string(p.tp) + ", pipeline parallel " +
                      std::to_string(p.pp) + ")\n\n";
    table t({
        {"rank",               align::left },
        {"total",              align::right},
        {"requested",          align::right},
        {"weights",            align::right},
        {"non-torch",          align::right},
        {"activation peak",    align::right},
        {"KV cache",           align::right},
        {"blocks",             align::right},
        {"CUDA graphs (est.)", align::right},
    });
    for (const auto& r : p.ranks)
        t.row({r.name, gib(static_cast<int64_t>(r.total_bytes)) + (r.total_measured ? "" : "*"),
               gib(static_cast<int64_t>(r.requested_bytes)), gib(static_cast<int64_t>(r.weights_bytes)),
               gib(static_cast<int64_t>(r.non_torch_bytes)),
               gib(static_cast<int64_t>(r.activation_peak_bytes)), gib(r.kv_cache_bytes),
               with_thousands(r.num_blocks), gib(static_cast<int64_t>(r.cudagraph_bytes))});
    out += t.render();
    out += "\n  knobs          max_model_len " + with_thousands(p.max_model_len) + ", max_num_seqs " +
           with_thousands(p.max_num_seqs) + ", max_num_batched_tokens " +
           with_thousands(p.max_num_batched_tokens) + "\n                 block_size " +
           std::to_string(p.block_size) + ", kv_cache_dtype " + p.kv_cache_dtype +
           ", gpu_memory_utilization " + fixed(p.gpu_memory_utilization, 2) + "\n";
    out += "  KV per token   " + with_thousands(p.kv_bytes_per_token) + " bytes per GPU";
    if (p.groups.size() > 1) {
        out += "; " + std::to_string(p.groups.size()) + " groups of " + std::to_string(p.groups[0].layers) +
               " layers (";
        for (size_t i = 0; i < p.groups.size(); ++i)
            out += (i ? ", " : "") + p.groups[i].kind +
                   (p.groups[i].window ? " " + with_thousands(p.groups[i].window) : std::string());
        out += ")";
    }
    out += "\n";
    if (!p.speculative_method.empty() && !p.ranks.empty())
        out += "  drafter        " + p.speculative_method + " " + p.draft_model + ": " +
               fixed(static_cast<double>(p.ranks.back().draft_bytes) / 1073741824.0, 2) +
               " GiB of the weights, " + std::to_string(p.draft_layers) + " layer(s) in every KV block, " +
               std::to_string(p.num_speculative_tokens) + " speculative tokens\n";
    out += "  KV cache       " + with_thousands(p.num_gpu_blocks) + " blocks, " +
           with_thousands(p.kv_tokens) + " tokens\n";
    out += "  concurrency    " + fixed(p.max_concurrency, 2) + "x requests of " +
           with_thousands(p.max_model_len) + " tokens\n";
    out += render_tail(p, "starts", "vLLM will log (compare with its start-up output)", "command");
    if (!p.ranks.empty() && !p.ranks[0].total_measured) out += "  * total estimated (see notes)\n";
    return out + header_notes(a);
}

std::string render_sglang(const analysis& a, const serve_plan& p) {
    std::string out = model_title(a) + "SGLang " + p.engine_version + " on " +
                      std::to_string(p.ranks.size()) + " x " + p.gpu + " (--tp-size " + std::to_string(p.tp) +
                      ")\n\n";
    table t({
        {"rank",                       align::left },
        {"total",                      align::right},
        {"free at start",              align::right},
        {"static (x fraction)",        align::right},
        {"weights",                    align::right},
        {"KV pool",                    align::right},
        {"reserve (prefill + graphs)", align::right},
    });
    for (const auto& r : p.ranks)
        t.row({r.name, gib(static_cast<int64_t>(r.total_bytes)) + (r.total_measured ? "" : "*"),
               gib(static_cast<int64_t>(p.free_bytes)), gib(static_cast<int64_t>(r.requested_bytes)),
               gib(static_cast<int64_t>(r.weights_bytes)), gib(r.kv_cache_bytes),
               gib(static_cast<int64_t>(r.activation_peak_bytes + r.cudagraph_bytes))});
    out += t.render();
    out += "\n  knobs          mem_fraction_static " + fixed(p.mem_fraction_static, 3) + ", context_length " +
           with_thousands(p.max_model_len) + ", page_size " + std::to_string(p.block_size) +
           "\n                 chunked_prefill_size " + with_thousands(p.chunked_prefill_size) +
           ", cuda_graph_max_bs " + std::to_string(p.cuda_graph_max_bs) + ", kv_cache_dtype " +
           p.kv_cache_dtype + "\n";
    out += "  KV per token   " + with_thousands(p.kv_bytes_per_token) + " bytes per GPU\n";
    out += "  KV pool        " + with_thousands(p.kv_tokens) + " tokens (max_total_num_tokens)\n";
    out += "  requests       " + with_thousands(p.max_running_requests) + " running at most; " +
           fixed(p.max_concurrency, 2) + "x requests of " + with_thousands(p.max_model_len) + " tokens fit\n";
    out += render_tail(p, "starts", "SGLang will log (compare with its start-up output)", "command");
    if (!p.ranks.empty() && !p.ranks[0].total_measured) out += "  * total estimated (see notes)\n";
    return out + header_notes(a);
}

std::string mib(uint64_t bytes) {
    return fixed(static_cast<double>(bytes) / 1048576.0, 2) + " MiB";
}

std::string render_llamacpp(const analysis& a, const serve_plan& p) {
    std::string out = model_title(a) + "llama.cpp (llama-server, " + p.engine_version + ") on " +
                      std::to_string(p.ranks.size()) + " x " + p.gpu + ", " + std::to_string(p.n_gpu_layers) +
                      "/" + std::to_string(p.n_layers + 1) + " layers offloaded\n\n";
    table t({
        {"device",                align::left },
        {"total",                 align::right},
        {"model buffer",          align::right},
        {"KV buffer",             align::right},
        {"compute buffer (est.)", align::right},
        {"CUDA context",          align::right},
    });
    for (const auto& r : p.ranks)
        t.row({r.name, mib(r.total_bytes) + (r.total_measured ? "" : "*"), mib(r.weights_bytes),
               mib(static_cast<uint64_t>(std::max<int64_t>(r.kv_cache_bytes, 0))),
               mib(r.activation_peak_bytes), mib(r.non_torch_bytes)});
    t.row({"host", "", mib(p.host_weights_bytes) + " (mapped)", mib(p.host_kv_bytes), mib(p.host_other_bytes),
           ""});
    out += t.render();
    out += "\n  context        " + with_thousands(p.n_ctx) + " cells, " + std::to_string(p.n_parallel) +
           " slots" +
           (p.kv_unified ? " sharing one unified cache"
                         : " of " + with_thousands(p.max_model_len) + " cells each") +
           (p.swa_cells ? "; sliding-window layers hold " + with_thousands(p.swa_cells) + " cells" : "") +
           "\n";
    out += "  KV per token   " + with_thousands(p.kv_bytes_per_token) + " bytes (f16, every layer)\n";
    out += render_tail(p, "starts", "llama.cpp will log (compare with its start-up output)", "command");
    return out + header_notes(a);
}

std::string render_search(const serve_search_request& q, const serve_search_answer& s) {
    const double n = q.target_concurrency.value_or(1.0);
    std::string out = "\ninverse questions (each answer planned again):\n";
    if (s.searched_layout)
        out += s.found_layout
                   ? "  smallest layout for " + fixed(n, 2) + " requests: " + s.layout_flags + " (" +
                         std::to_string(s.gpus) + " GPUs): " + fixed(s.concurrency, 2) + "x\n"
                   : "  smallest layout for " + fixed(n, 2) + " requests: none up to 64 GPUs\n";
    if (s.searched_context)
        out += s.longest_context
                   ? "  longest context for " + fixed(n, 2) + " requests: " + s.context_flag + " " +
                         with_thousands(s.longest_context) + " (" + fixed(s.concurrency_at_longest, 2) +
                         "x)\n"
                   : "  longest context for " + fixed(n, 2) + " requests: none, not even 1 token\n";
    if (!s.sweep_tps.empty()) {
        std::vector<std::pair<std::string, align>> cols = {
            {"TP / context", align::left}
        };
        for (uint64_t c : s.sweep_contexts) cols.push_back({with_thousands(c), align::right});
        table t(cols);
        for (size_t i = 0; i < s.sweep_tps.size(); ++i) {
            std::vector<std::string> row = {std::to_string(s.sweep_tps[i])};
            for (size_t j = 0; j < s.sweep_contexts.size(); ++j) {
                const serve_sweep_cell& c = s.sweep[i * s.sweep_contexts.size() + j];
                row.push_back(c.starts ? fixed(c.concurrency, 2) + "x" : "no");
            }
            t.row(row);
        }
        out += "  requests at full length, by tensor-parallel size (GPUs for llama.cpp) and context:\n" +
               t.render();
    }
    return out;
}

std::string render_transformers(const analysis& a, const serve_plan& p) {
    std::string out = model_title(a) + "transformers (from_pretrained with accelerate's device map) on " +
                      std::to_string(p.ranks.size()) + " x " + p.gpu + "\n\n";
    table t({
        {"device",              align::left },
        {"budget",              align::right},
        {"weights",             align::right},
        {"KV cache",            align::right},
        {"activations, logits", align::right},
        {"overhead",            align::right},
    });
    for (const auto& r : p.ranks)
        t.row({r.name, gib(static_cast<int64_t>(r.total_bytes)), gib(static_cast<int64_t>(r.weights_bytes)),
               gib(r.kv_cache_bytes), gib(static_cast<int64_t>(r.activation_peak_bytes)),
               gib(static_cast<int64_t>(r.non_torch_bytes))});
    if (p.host_weights_bytes || p.host_kv_bytes)
        t.row({"cpu", "", gib(static_cast<int64_t>(p.host_weights_bytes)),
               gib(static_cast<int64_t>(p.host_kv_bytes)), "", ""});
    out += t.render();
    out += "\n  batch          " + with_thousands(p.max_num_seqs) + " sequences of " +
           with_thousands(p.max_model_len) + " tokens\n";
    out += render_tail(p, "fits", "the device map", "call");
    return out + header_notes(a);
}

} // namespace

int run_serve(const command_line& given) {
    command_line cl = given;
    serve_request r;
    if (cl.dtype && *cl.dtype == "auto") cl.dtype.reset(); // vLLM's default: the analysis keeps the config's
    if (cl.engine) r.engine = *cl.engine;
    if (cl.engine_version) r.engine_version = *cl.engine_version;
    if (!cl.gpu) return usage_error("serve needs --gpu NAME (see modelplan gpus)", "serve");
    r.gpu = *cl.gpu;
    if (cl.gpu_count)
        if (auto e = set_serve_option(r, "gpus", *cl.gpu_count, "--gpus")) return fail(*e);
    for (const auto& [field, text] : cl.workload)
        if (auto e = set_serve_option(r, field, text, field)) return fail(*e);
    if (cl.enforce_eager)
        if (auto e = set_serve_option(r, "enforce_eager", "true", "--enforce-eager")) return fail(*e);
    if (cl.disable_cuda_graph)
        if (auto e = set_serve_option(r, "disable_cuda_graph", "true", "--disable-cuda-graph"))
            return fail(*e);
    if (cl.enable_lora)
        if (auto e = set_serve_option(r, "enable_lora", "true", "--enable-lora")) return fail(*e);
    if (cl.kv_unified)
        if (auto e = set_serve_option(r, "kv_unified", "true", "--kv-unified")) return fail(*e);
    if (cl.cpu_moe)
        if (auto e = set_serve_option(r, "cpu_moe", "true", "--cpu-moe")) return fail(*e);
    for (const std::string& v : cl.override_tensor) // in the order given: the first matching pattern wins
        if (auto e = set_serve_option(r, "override_tensor", v, "--override-tensor")) return fail(*e);
    if (given.dtype) r.vllm.dtype = r.sglang.dtype = *given.dtype;
    auto a = read_model(cl);
    if (!a) return fail(a.err().message);
    // --speculative-config's "model" (a draft model or an EAGLE head), resolved as MODEL is: a preset, a
    // local folder or config.json.
    const std::string draft = speculative_model(r);
    if (!draft.empty()) {
        auto source = resolve_model_input(draft);
        if (!source)
            return fail(
                make_error(source.err().code,
                           "--speculative-config: model " + quote_value(draft) + ": " + source.err().message,
                           "speculative_config.model"));
        if (!source->config_json)
            return fail(make_error(error_code::missing_key,
                                   "--speculative-config: model " + quote_value(draft) +
                                       " has no config.json (its config is what the drafter is planned from)",
                                   "speculative_config.model"));
        r.draft_config = *source->config_json;
    }
    auto p = plan_serve(*a, r);
    if (!p) return fail(p.err());
    serve_search_request q;
    if (cl.target_concurrency) {
        char* end = nullptr;
        double n = std::strtod(cl.target_concurrency->c_str(), &end);
        if (cl.target_concurrency->empty() || *end != '\0' || !(n > 0 && n <= 1e6))
            return usage_error(
                "--target-concurrency: expected a number of requests in (0, 1,000,000], got \"" +
                    *cl.target_concurrency + "\"",
                "serve");
        q.target_concurrency = n;
    }
    q.longest_context = cl.longest_context;
    q.sweep = cl.sweep;
    if (q.target_concurrency || q.longest_context || q.sweep) {
        auto found = search_serve(*a, r, q);
        if (!found) return fail(found.err());
        if (cl.json) {
            std::string plan = serve_json(*a, *p);
            while (!plan.empty() && (plan.back() == '\n' || plan.back() == ' ')) plan.pop_back();
            if (!plan.empty() && plan.back() == '}') plan.pop_back(); // the search joins the same object
            print(plan + ",\"search\":" + serve_search_json(q, *found) + "}");
        } else {
            print((p->engine == "sglang"         ? render_sglang(*a, *p)
                   : p->engine == "llama.cpp"    ? render_llamacpp(*a, *p)
                   : p->engine == "transformers" ? render_transformers(*a, *p)
                                                 : render_serve(*a, *p)) +
                  render_search(q, *found));
        }
        return p->starts ? exit_ok : exit_does_not_fit;
    }
    print(cl.json                       ? serve_json(*a, *p)
          : p->engine == "sglang"       ? render_sglang(*a, *p)
          : p->engine == "llama.cpp"    ? render_llamacpp(*a, *p)
          : p->engine == "transformers" ? render_transformers(*a, *p)
                                        : render_serve(*a, *p));
    return p->starts ? exit_ok : exit_does_not_fit;
}

} // namespace modelplan::cli
