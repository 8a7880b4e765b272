// llama.cpp's start-up accounting, llama-server of late 2025 (docs/serving.md, "llama.cpp", has every rule
// with its source):
//   layers     the last -ngl blocks on the GPUs (the output layer as layer n_layer, offloaded when -ngl is
//              above the blocks), split over the GPUs by equal fractions (the default --tensor-split for
//              alike GPUs); the token embedding always in host memory (mapped from the file)
//   model      per device, the stored bytes of its tensors; experts of the first --n-cpu-moe layers (every
//              layer with --cpu-moe) stay in host memory; -ot PATTERN=TYPE entries place every tensor whose
//              GGUF name a pattern finds in, the first matching entry deciding, before -ngl and --n-cpu-moe
//   KV         per layer on its layer's device: cells x (K row + V row) in the cache types; cells = the
//   context
//              padded to 256 (one unified stream for the auto 4 slots; -np N without -kvu: N streams of the
//              context / N, padded); a sliding-window layer holds min(context, window x slots + ubatch)
//              padded
//   compute    an estimate: the logits of one ubatch (vocabulary x ubatch x 4 bytes) on the output layer's
//   GPU
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/presets.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"
#include "serve/llamacpp-internal.h"
#include "serve/serve-util.h"
#include "serve/vllm-internal.h"
#include "util/saturating.h"
#include "util/text-internal.h"

namespace modelplan::llamacpp {

using sat::add;
using sat::mul;

namespace {

constexpr uint64_t mib = 1ull << 20;

std::string mib2(uint64_t bytes) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(bytes) / static_cast<double>(mib));
    return buf;
}

uint64_t pad256(uint64_t v) {
    return (v + 255) / 256 * 256;
}

// Bytes of one row of n values in a cache type (ggml's block sizes: 32 values a block).
struct cache_type {
    const char* name;
    uint64_t block_values, block_bytes;
};
const cache_type cache_types[] = {
    {"f32",    1,  4 },
    {"f16",    1,  2 },
    {"bf16",   1,  2 },
    {"q8_0",   32, 34},
    {"q4_0",   32, 18},
    {"q4_1",   32, 20},
    {"iq4_nl", 32, 18},
    {"q5_0",   32, 22},
    {"q5_1",   32, 24},
};

const cache_type* find_cache_type(const std::string& name) {
    for (const auto& t : cache_types)
        if (name == t.name) return &t;
    return nullptr;
}

uint64_t row_bytes(const cache_type& t, uint64_t values) {
    return (values + t.block_values - 1) / t.block_values * t.block_bytes;
}

bool is_expert(role r) {
    return r == role::ffn_gate_exp || r == role::ffn_up_exp || r == role::ffn_down_exp;
}

// The CUDA context llama.cpp's process holds besides its buffers: taken as vLLM's measured 0.51 GiB on an
// H100 (docs/serving.md); llama.cpp's own is not in the logs.
const uint64_t context_bytes = 547608330; // 0.51 GiB

// ---- -ot / --override-tensor (docs/serving.md, "llama.cpp": the rules and their sources)

error override_error(const std::string& message) {
    return make_error(error_code::bad_request, "override_tensor: " + message, "override_tensor");
}

// The -ot entries checked as llama-server checks them (common/arg.cpp, --override-tensor: each entry
// PATTERN=TYPE split at its first '=', TYPE one of the devices' buffer type names, exactly: CPU, CUDA0, ...),
// and beyond it: an empty pattern (which would match every tensor), a pattern too long, and one our matcher
// refuses.
result<std::vector<tensor_override>> read_overrides(const std::vector<std::string>& entries, uint64_t gpus) {
    std::vector<tensor_override> out;
    uint64_t steps = 0;
    const std::string types = "CPU, " + (gpus == 1 ? std::string("CUDA0") : "CUDA0 to CUDA" + num(gpus - 1));
    for (const std::string& entry : entries) {
        const size_t eq = entry.find('=');
        if (eq == std::string::npos)
            return override_error("expected PATTERN=TYPE (e.g. exps=CPU), got " + quote_value(entry) +
                                  ", which has no '='");
        tensor_override o;
        o.pattern = entry.substr(0, eq);
        o.buffer_type = entry.substr(eq + 1);
        if (o.pattern.empty())
            return override_error("empty pattern in " + quote_value(entry) +
                                  " (llama.cpp would match every tensor); name the tensors, e.g. exps=CPU");
        if (o.pattern.size() > regex::max_pattern_chars)
            return override_error("pattern of " + num(o.pattern.size()) + " characters; at most " +
                                  num(regex::max_pattern_chars) + " are taken (" + quote_value(o.pattern) +
                                  ")");
        const std::string& t = o.buffer_type;
        const bool cuda = t.size() > 4 && t.size() <= 6 && t.compare(0, 4, "CUDA") == 0 &&
                          t.find_first_not_of("0123456789", 4) == std::string::npos &&
                          (t[4] != '0' || t.size() == 5);
        if (t == "CPU") {
            o.device = 0;
        } else if (cuda) {
            const uint64_t i = std::stoull(t.substr(4));
            if (i >= gpus)
                return override_error(
                    t + " in " + quote_value(entry) + " is GPU " + num(i + 1) + ", but there " +
                    (gpus == 1 ? "is 1 GPU" : "are " + num(gpus) + " GPUs") + " (--gpus): " + types);
            o.device = i + 1;
        } else {
            return override_error("unknown buffer type " + quote_value(t) + " in " + quote_value(entry) +
                                  "; llama-server on " + num(gpus) + " CUDA GPU" + (gpus == 1 ? "" : "s") +
                                  " has " + types + " (names are case-sensitive)");
        }
        std::string why;
        if (!regex::compile(o.pattern, o.program, why))
            return override_error("bad pattern " + quote_value(o.pattern, regex::max_pattern_chars) + ": " +
                                  why);
        steps = add(steps, o.program.code.size());
        if (steps > max_override_steps)
            return override_error("the patterns together are too large (more than " +
                                  num(max_override_steps) + " automaton steps, at " + quote_value(entry) +
                                  "); use fewer or simpler ones");
        out.push_back(std::move(o));
    }
    return out;
}

// The GGUF tensors llama.cpp loads the skeleton's tensors as, by name: a GGUF file read by its headers has
// the names themselves; a model of a family has the names llama.cpp's converter gives it (gguf_layout_of: one
// GGUF tensor may hold many skeleton tensors, the experts stacked; one skeleton tensor may be split in two,
// gpt-oss's gate_up_proj), each part with its share of the tensor's elements.
struct gguf_names {
    std::vector<std::string> names;
    std::vector<std::vector<std::pair<size_t, uint64_t>>> of_tensor; // (index in names, elements)
};

result<gguf_names> gguf_names_of(const analysis& a) {
    gguf_names g;
    g.of_tensor.resize(a.sk.tensors.size());
    if (a.from_headers && a.from_headers->generic_keys == "GGUF metadata") {
        for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
            g.names.push_back(a.sk.tensors[i].name);
            g.of_tensor[i].push_back({i, a.sk.tensors[i].elements});
        }
        return g;
    }
    auto layout = gguf_layout_of(a.spec, a.sk);
    if (!layout)
        return override_error("llama.cpp's tensor names for this model are unknown (" + layout.err().message +
                              "); give its .gguf file");
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) index.emplace(a.sk.tensors[i].name, i);
    for (const auto& t : layout->tensors) {
        uint64_t elements = 1;
        for (uint64_t d : t.shape) elements = mul(elements, d);
        const uint64_t each = t.holds.empty() ? 0 : elements / t.holds.size();
        g.names.push_back(t.name);
        for (const std::string& h : t.holds) {
            auto it = index.find(h);
            if (it != index.end()) g.of_tensor[it->second].push_back({g.names.size() - 1, each});
        }
    }
    return g;
}

// The GGUF names against the entries in order; the first match wins (src/llama-model-loader.cpp,
// create_tensor: std::regex_search over tensor_buft_overrides, break at the first). The fixes and the inverse
// questions plan the same model with the same entries dozens of times: the last answer is kept, by model and
// entries.
result<std::shared_ptr<const override_matches>>
override_matches_of(const analysis& a, const std::vector<std::string>& entries,
                    const std::vector<tensor_override>& overrides) {
    struct memo {
        std::string key;
        std::shared_ptr<const override_matches> value;
    };
    thread_local memo last;
    const auto& ts = a.sk.tensors;
    std::string key = a.model + '\n' + a.spec.model_type + '\n' +
                      num(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ts.data()))) + '\n' +
                      num(ts.size()) + '\n' + (ts.empty() ? "" : ts.front().name + '\n' + ts.back().name);
    for (const auto& e : entries) key += '\n' + e;
    if (last.value && last.key == key) return last.value;

    auto g = gguf_names_of(a);
    if (!g) return g.err();
    auto m = std::make_shared<override_matches>();
    std::vector<int32_t> rule_of(g->names.size(), -1);
    m->tensors_matched.assign(overrides.size(), 0);
    for (size_t n = 0; n < g->names.size(); ++n)
        for (size_t r = 0; r < overrides.size(); ++r)
            if (regex::search(overrides[r].program, g->names[n])) {
                rule_of[n] = static_cast<int32_t>(r);
                ++m->tensors_matched[r];
                break;
            }
    m->parts.resize(ts.size());
    for (size_t i = 0; i < ts.size(); ++i)
        for (auto [name, elements] : g->of_tensor[i]) m->parts[i].push_back({elements, rule_of[name]});
    last = {std::move(key), m};
    return std::shared_ptr<const override_matches>(m);
}
} // namespace

result<knobs> resolve(const analysis& a, const serve_request& r, const gpu_row& gpu) {
    (void)gpu;
    const model_spec& s = a.spec;
    const llamacpp_options& o = r.llamacpp;
    knobs k;
    const std::string& v = r.engine_version;
    if (!(v.empty() || v == "2025-11"))
        return make_error(error_code::unsupported,
                          "engine_version: " + quote_value(v) +
                              " is not a llama.cpp version modelled; 2025-11 (llama-server builds from "
                              "November 2025 on) is",
                          "engine_version");
    k.gpus = r.gpus ? r.gpus : 1;
    if (k.gpus > 64)
        return make_error(error_code::out_of_range, "gpus: expected 1 to 64, got " + num(k.gpus), "gpus");
    for (const auto& l : s.layers) k.n_layer += l.stack == layer_stack::decoder;
    if (!k.n_layer)
        return make_error(
            error_code::unsupported,
            "engine: " + s.architecture + " has no decoder layers; llama-server serves decoders", "engine");
    k.ngl = o.n_gpu_layers ? std::min<uint64_t>(*o.n_gpu_layers, k.n_layer + 1) : k.n_layer + 1;
    k.ngl_given = o.n_gpu_layers.has_value();
    const uint64_t train = s.max_positions;
    if (o.ctx_size == 0 && !train)
        return make_error(error_code::missing_key,
                          "ctx_size: the model gives no training context (n_ctx_train); name one with -c",
                          "ctx_size");
    if (o.ctx_size > (1ull << 24))
        return make_error(error_code::out_of_range,
                          "ctx_size: expected at most 16,777,216 tokens, got " + num(o.ctx_size), "ctx_size");
    k.n_ctx = pad256(o.ctx_size ? o.ctx_size : train);
    k.ctx_given = o.ctx_size != 0;
    if (o.parallel) {
        if (*o.parallel == 0 || *o.parallel > 256)
            return make_error(error_code::out_of_range,
                              "parallel: expected 1 to 256 slots, got " + num(*o.parallel), "parallel");
        k.n_seq = *o.parallel;
        k.unified = o.kv_unified;
    } else {
        // llama-server's auto: 4 slots sharing one unified cache.
        k.n_seq = 4;
        k.unified = true;
    }
    k.parallel_given = o.parallel.has_value();
    if (k.unified) {
        k.n_ctx_seq = k.n_ctx;
    } else {
        k.n_ctx_seq = pad256(k.n_ctx / k.n_seq);
        k.n_ctx = k.n_ctx_seq * k.n_seq;
    }
    for (auto [name, value] : {
             std::pair<const char*, const std::string*>{"cache_type_k", &o.cache_type_k},
             std::pair<const char*, const std::string*>{"cache_type_v", &o.cache_type_v}
    })
        if (!find_cache_type(*value))
            return make_error(
                error_code::unknown_dtype,
                std::string(name) +
                    ": llama.cpp takes f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1, got " +
                    quote_value(*value),
                name);
    k.type_k = o.cache_type_k;
    k.type_v = o.cache_type_v;
    if (o.ubatch_size == 0 || o.ubatch_size > 65536)
        return make_error(error_code::out_of_range,
                          "ubatch_size: expected 1 to 65,536, got " + num(o.ubatch_size), "ubatch_size");
    k.n_ubatch = std::min(o.ubatch_size, k.n_ctx);
    k.n_cpu_moe = o.cpu_moe ? k.n_layer : std::min(o.n_cpu_moe, k.n_layer);
    k.cpu_moe = o.cpu_moe;
    if (!o.quant.empty() && a.from_headers)
        return make_error(error_code::bad_request,
                          "quant: the model is read from checkpoint headers, whose stored types llama.cpp "
                          "loads as they are; give a model without headers to convert it",
                          "quant");
    k.quant = o.quant;
    if (!o.override_tensor.empty()) {
        auto overrides = read_overrides(o.override_tensor, k.gpus);
        if (!overrides) return overrides.err();
        k.overrides = std::move(*overrides);
        auto m = override_matches_of(a, o.override_tensor, k.overrides);
        if (!m) return m.err();
        k.matches = *m;
    }
    return k;
}

result<serve_plan> plan_once(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k) {
    (void)r;
    const model_spec& s = a.spec;
    serve_plan p;
    p.engine = "llama.cpp";
    p.engine_version = "2025-11";
    p.gpu = gpu.key;
    p.tp = 1;
    p.pp = k.gpus;
    p.starts = true;
    p.n_layers = k.n_layer;
    p.n_gpu_layers = k.ngl;
    p.n_ctx = k.n_ctx;
    p.max_model_len = k.n_ctx_seq;
    p.n_parallel = k.n_seq;
    p.max_num_seqs = k.n_seq;
    p.max_num_batched_tokens = k.n_ubatch;
    p.kv_unified = k.unified;
    p.kv_cache_dtype = k.type_k == k.type_v ? k.type_k : k.type_k + "/" + k.type_v;
    p.quantization = k.quant;

    workload w;
    w.quant = k.quant;
    w.seq = 1;
    auto mem = plan_memory(a, w);
    if (!mem) return mem.err();
    const std::vector<uint64_t>& bytes = mem->weight_bytes_by_tensor;

    // Devices: 0 = host, 1..G = the GPUs. Layer il (n_layer is the output layer) on a GPU when il >=
    // i_gpu_start and within the offloaded count; which GPU by the cumulative equal fractions.
    const uint64_t n_layer = k.n_layer;
    const uint64_t i_gpu_start = n_layer > k.ngl ? n_layer - k.ngl : 0;
    const uint64_t act = std::min(k.ngl, n_layer + 1);
    auto device_of = [&](uint64_t il) -> uint64_t {
        if (il < i_gpu_start || il - i_gpu_start >= act) return 0;
        const double f = static_cast<double>(il - i_gpu_start) / static_cast<double>(act);
        uint64_t g = static_cast<uint64_t>(std::floor(f * static_cast<double>(k.gpus) + 1e-9));
        return std::min(g, k.gpus - 1) + 1;
    };
    // Decoder layer index of each layer of the spec (vision layers: none).
    std::vector<int64_t> decoder_index(s.layers.size(), -1);
    {
        int64_t d = 0;
        for (size_t i = 0; i < s.layers.size(); ++i)
            if (s.layers[i].stack == layer_stack::decoder) decoder_index[i] = d++;
    }
    std::vector<uint64_t> model(k.gpus + 1, 0), kv(k.gpus + 1, 0), compute(k.gpus + 1, 0);
    const uint64_t output_device = device_of(n_layer);
    bool head_seen = false, vision = false;
    uint64_t embed_bytes = 0;
    int32_t embed_rule = -1;
    p.tensor_overrides.resize(k.overrides.size());
    for (size_t r = 0; r < k.overrides.size(); ++r) {
        p.tensor_overrides[r].pattern = k.overrides[r].pattern;
        p.tensor_overrides[r].buffer_type = k.overrides[r].buffer_type;
        p.tensor_overrides[r].tensors = k.matches->tensors_matched[r];
    }
    // Bytes of one GGUF part on the device its -ot entry names, or on `dev` without one.
    auto place = [&](uint64_t part_bytes, int32_t rule, uint64_t dev) {
        if (rule < 0) {
            model[dev] = add(model[dev], part_bytes);
            return;
        }
        serve_tensor_override& o = p.tensor_overrides[static_cast<size_t>(rule)];
        const uint64_t to = k.overrides[static_cast<size_t>(rule)].device;
        model[to] = add(model[to], part_bytes);
        o.bytes = add(o.bytes, part_bytes);
        if (to != dev) o.moved_bytes = add(o.moved_bytes, part_bytes);
    };
    for (size_t i = 0; i < a.sk.tensors.size() && i < bytes.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        uint64_t dev = output_device;
        if (t.layer != no_index && static_cast<uint64_t>(t.layer) < s.layers.size()) {
            int64_t d = decoder_index[static_cast<size_t>(t.layer)];
            if (d < 0) {
                vision = true; // a vision tower: llama.cpp loads it from a separate mmproj file
                continue;
            }
            dev = device_of(static_cast<uint64_t>(d));
            if (is_expert(t.what) && static_cast<uint64_t>(d) < k.n_cpu_moe) dev = 0;
        } else if (t.what == role::embed) {
            dev = 0; // the input layer stays in host memory
            embed_bytes = add(embed_bytes, bytes[i]);
        } else if (t.what == role::lm_head) {
            head_seen = true;
        }
        if (!k.matches || i >= k.matches->parts.size() || k.matches->parts[i].empty()) {
            model[dev] = add(model[dev], bytes[i]);
            continue;
        }
        // Split over its GGUF tensors by their share of the elements (one part for nearly every tensor).
        const auto& parts = k.matches->parts[i];
        uint64_t elements = 0, placed = 0;
        for (const auto& part : parts) elements = add(elements, part.elements);
        for (size_t j = 0; j < parts.size(); ++j) {
            const uint64_t share = j + 1 == parts.size() || elements == 0
                                       ? bytes[i] - placed
                                       : static_cast<uint64_t>(static_cast<long double>(bytes[i]) *
                                                               parts[j].elements / elements);
            placed += share;
            place(share, parts[j].rule, dev);
        }
        if (t.what == role::embed) embed_rule = parts.front().rule;
    }
    // A tied head: llama.cpp duplicates the token embedding as the output on the output layer's device; the
    // copy has the embedding's name (token_embd.weight, created again for the output layer), so an -ot entry
    // matching that name places it too. In host memory it is mapped from the file again: no new bytes.
    if (!head_seen) {
        const uint64_t to =
            embed_rule >= 0 ? k.overrides[static_cast<size_t>(embed_rule)].device : output_device;
        if (to != 0) place(embed_bytes, embed_rule, output_device);
    }

    // The KV cache, layer by layer, on the layer's device.
    const cache_type& tk = *find_cache_type(k.type_k);
    const cache_type& tv = *find_cache_type(k.type_v);
    const uint64_t streams = k.unified ? 1 : k.n_seq;
    uint64_t full_layers = 0, swa_layers = 0, k_total = 0, v_total = 0, swa_k = 0, swa_v = 0, swa_cells = 0;
    for (size_t il = 0; il < s.layers.size(); ++il) {
        if (decoder_index[il] < 0) continue;
        const uint64_t per_token = kv_bytes_per_token_in_layer(s, il, dtype::f16);
        if (!per_token) continue;
        const uint64_t values = per_token / 4; // K's values per token (f16 K + V)
        const layer_spec& l = s.layers[il];
        uint64_t cells = k.n_ctx_seq;
        const bool swa = (l.attn == attn_kind::sliding || l.attn == attn_kind::chunked) && l.window;
        if (swa) {
            cells = pad256(std::min(k.n_ctx_seq, add(mul(l.window, k.unified ? k.n_seq : 1), k.n_ubatch)));
            swa_cells = cells;
        }
        const uint64_t kb = mul(mul(row_bytes(tk, values), cells), streams);
        const uint64_t vb = mul(mul(row_bytes(tv, values), cells), streams);
        if (swa) {
            ++swa_layers;
            swa_k = add(swa_k, kb);
            swa_v = add(swa_v, vb);
        } else {
            ++full_layers;
            k_total = add(k_total, kb);
            v_total = add(v_total, vb);
        }
        const uint64_t dev = device_of(static_cast<uint64_t>(decoder_index[il]));
        kv[dev] = add(kv[dev], add(kb, vb));
    }
    p.swa_cells = swa_cells;
    // Compute buffers (an estimate): one ubatch's logits in f32 where the output layer runs; elsewhere one
    // ubatch's hidden states and FFN activations in f32.
    const uint64_t vocab = s.vocab;
    for (uint64_t d = 1; d <= k.gpus; ++d) {
        bool used = model[d] > 0;
        if (!used) continue;
        compute[d] = d == output_device ? mul(mul(vocab, k.n_ubatch), 4)
                                        : mul(mul(k.n_ubatch, add(mul(s.hidden, 4), s.intermediate)), 4);
    }
    // Host: the output buffer (one row of logits per slot), and the logits when the output layer is there.
    const uint64_t output_buffer = mul(mul(k.n_seq, vocab), 4);
    p.host_weights_bytes = model[0];
    p.host_kv_bytes = kv[0];
    p.host_other_bytes = add(output_buffer, output_device == 0 ? mul(mul(vocab, k.n_ubatch), 4) : 0);

    bool total_measured = false;
    const uint64_t total = vllm::cuda_total_bytes(gpu, &total_measured);
    for (uint64_t d = 1; d <= k.gpus; ++d) {
        serve_rank rank;
        rank.name = "CUDA" + num(d - 1);
        rank.stage = d - 1;
        rank.total_bytes = total;
        rank.total_measured = total_measured;
        rank.requested_bytes = total;
        rank.weights_bytes = model[d];
        rank.non_torch_bytes = context_bytes;
        rank.activation_peak_bytes = compute[d];
        rank.kv_cache_bytes = static_cast<int64_t>(std::min<uint64_t>(kv[d], INT64_MAX));
        rank.num_blocks = 0;
        p.ranks.push_back(rank);
    }
    p.kv_tokens = mul(k.n_ctx_seq, streams);
    p.num_gpu_blocks = p.kv_tokens;
    uint64_t per_token_total = 0;
    for (size_t il = 0; il < s.layers.size(); ++il)
        if (decoder_index[il] >= 0)
            per_token_total = add(per_token_total, kv_bytes_per_token_in_layer(s, il, dtype::f16));
    p.kv_bytes_per_token = per_token_total;
    // Requests of a slot's full context that the cache holds at once.
    p.max_concurrency = k.unified ? 1.0 : static_cast<double>(k.n_seq);
    serve_kv_group g;
    g.kind = swa_layers ? "full+sliding_window" : "full";
    g.layers = full_layers + swa_layers;
    g.window = swa_cells;
    g.page_bytes = 0;
    g.blocks_per_request = k.n_ctx_seq;
    p.groups.push_back(g);
    p.block_size = 1;
    p.gpu_memory_utilization = 1.0;
    p.max_running_requests = k.n_seq;
    (void)vision;

    // The verdict: a GPU whose buffers and context exceed its memory fails to allocate.
    for (const auto& rank : p.ranks) {
        const uint64_t need = add(add(add(rank.weights_bytes, static_cast<uint64_t>(rank.kv_cache_bytes)),
                                      rank.activation_peak_bytes),
                                  rank.non_torch_bytes);
        if (need > rank.total_bytes) {
            p.starts = false;
            if (p.error.empty())
                p.error = "ggml_backend_cuda_buffer_type_alloc_buffer: allocating on device " +
                          rank.name.substr(4) + ": cudaMalloc failed: out of memory (" + rank.name +
                          " needs " + mib2(need) + " MiB with the CUDA context, has " +
                          mib2(rank.total_bytes) + " MiB)";
        }
    }
    p.kv_cache_dtype = k.type_k == k.type_v ? k.type_k : k.type_k + "/" + k.type_v;
    p.k_bytes_total = k_total;
    p.v_bytes_total = v_total;
    p.full_layers = full_layers;
    p.swa_layers = swa_layers;
    p.swa_k_bytes = swa_k;
    p.swa_v_bytes = swa_v;
    return p;
}

std::vector<std::string> log_lines(const serve_plan& p, const knobs& k) {
    std::vector<std::string> lines;
    lines.push_back("load_tensors: offloaded " + num(p.n_gpu_layers) + "/" + num(p.n_layers + 1) +
                    " layers to GPU");
    for (const auto& r : p.ranks)
        lines.push_back("load_tensors: " + std::string(12 - std::min<size_t>(12, r.name.size()), ' ') +
                        r.name + " model buffer size = " + mib2(r.weights_bytes) + " MiB");
    lines.push_back("load_tensors:   CPU_Mapped model buffer size = " + mib2(p.host_weights_bytes) + " MiB");
    for (const auto& r : p.ranks)
        if (r.kv_cache_bytes > 0)
            lines.push_back("llama_kv_cache: " + std::string(10 - std::min<size_t>(10, r.name.size()), ' ') +
                            r.name + " KV buffer size = " + mib2(static_cast<uint64_t>(r.kv_cache_bytes)) +
                            " MiB");
    if (p.host_kv_bytes)
        lines.push_back("llama_kv_cache:        CPU KV buffer size = " + mib2(p.host_kv_bytes) + " MiB");
    const uint64_t streams = p.kv_unified ? 1 : p.n_parallel;
    auto size_line = [&](uint64_t kb, uint64_t vb, uint64_t cells, uint64_t layers) {
        return "llama_kv_cache: size = " + mib2(kb + vb) + " MiB (" + num(cells) + " cells, " + num(layers) +
               " layers, " + num(p.n_parallel) + "/" + num(streams) + " seqs), K (" + k.type_k +
               "): " + mib2(kb) + " MiB, V (" + k.type_v + "): " + mib2(vb) + " MiB";
    };
    if (p.swa_layers) {
        lines.push_back("llama_kv_cache_iswa: creating non-SWA KV cache, size = " + num(p.max_model_len) +
                        " cells");
        lines.push_back(size_line(p.k_bytes_total, p.v_bytes_total, p.max_model_len, p.full_layers));
        lines.push_back("llama_kv_cache_iswa: creating     SWA KV cache, size = " + num(p.swa_cells) +
                        " cells");
        lines.push_back(size_line(p.swa_k_bytes, p.swa_v_bytes, p.swa_cells, p.swa_layers));
    } else {
        lines.push_back(size_line(p.k_bytes_total, p.v_bytes_total, p.max_model_len, p.full_layers));
    }
    for (const auto& r : p.ranks)
        if (r.activation_peak_bytes)
            lines.push_back("llama_context: " + std::string(10 - std::min<size_t>(10, r.name.size()), ' ') +
                            r.name + " compute buffer size = " + mib2(r.activation_peak_bytes) +
                            " MiB (estimate)");
    return lines;
}

std::vector<std::string> notes(const analysis& a, const serve_plan& p, const knobs& k) {
    std::vector<std::string> out;
    out.push_back("compute buffers: an estimate (one ubatch's logits in f32 on the output layer's GPU); "
                  "llama.cpp sizes them by reserving its graphs, within about 15% of the two logs checked");
    if (!k.parallel_given)
        out.push_back("slots: llama-server's auto, 4 slots sharing one unified cache of " + num(p.n_ctx) +
                      " cells (a request may use it all; 4 requests share it)");
    else if (!k.unified)
        out.push_back("slots: " + num(k.n_seq) + " streams of " + num(k.n_ctx_seq) +
                      " cells each (-np without -kvu: the context divided, padded to 256)");
    if (!k.ctx_given)
        out.push_back("context: -c 0, the model's training context (" + num(a.spec.max_positions) +
                      "), padded to 256");
    if (!k.ngl_given)
        out.push_back(
            "layers: every layer offloaded (-ngl -1, the default); newer builds' --fit (on by default) "
            "may lower the context or the layers to fit the free memory");
    if (a.from_headers == nullptr)
        out.push_back(k.quant.empty()
                          ? "weights: the model's own type as converted to GGUF (convert_hf_to_gguf.py)"
                          : "weights: converted to GGUF and quantized to " + k.quant +
                                " (llama-quantize's per-tensor mix, docs/quantization.md)");
    for (const auto& l : a.spec.layers)
        if (l.stack != layer_stack::decoder) {
            out.push_back("a vision tower: llama.cpp loads it from a separate mmproj file, not counted here");
            break;
        }
    for (const auto& l : a.spec.layers)
        if (l.stack == layer_stack::decoder && (l.switches & sw_no_kv_cache)) {
            out.push_back(
                "layers without a KV cache (state-space or linear attention): their recurrent state "
                "buffers are not counted here (modelplan plan shows them)");
            break;
        }
    for (const auto& o : p.tensor_overrides) {
        const std::string entry = "-ot " + o.pattern + "=" + o.buffer_type + ": ";
        if (!o.tensors) {
            out.push_back(
                entry + "matches no tensor of this model (llama.cpp's names: token_embd.weight, "
                        "blk.0.attn_q.weight, blk.0.ffn_up_exps.weight, output.weight, ...); nothing moves");
            continue;
        }
        out.push_back(entry + num(o.tensors) + " GGUF tensor" + (o.tensors == 1 ? "" : "s") + ", " +
                      mib2(o.bytes) + " MiB on " + o.buffer_type + " (" + mib2(o.moved_bytes) +
                      " MiB of it moved there); the KV cache stays with each layer's device");
    }
    if (!k.overrides.empty() && (k.cpu_moe || k.n_cpu_moe))
        out.push_back(
            "-ot comes before --n-cpu-moe/--cpu-moe in the command: a tensor both match goes where -ot "
            "says (llama.cpp takes the first matching pattern)");
    if (!p.ranks.empty() && !p.ranks[0].total_measured)
        out.push_back("total_bytes: estimated as nvidia-smi's total less 470 MiB");
    return out;
}

namespace {

// A word for a POSIX shell: in single quotes, each ' written as '\''.
std::string shell_quoted(const std::string& word) {
    std::string out = "'";
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

} // namespace

std::string command(const analysis& a, const serve_plan& p, const knobs& k) {
    std::string model = a.model;
    const bool gguf_file = model.size() > 5 && model.compare(model.size() - 5, 5, ".gguf") == 0;
    if (!gguf_file) {
        auto preset = find_preset(a.model);
        std::string repo = preset ? preset->repo : "model";
        std::string stem = repo.substr(repo.find('/') + 1);
        model = stem + "-" + (k.quant.empty() ? "F16" : k.quant) + ".gguf";
    }
    std::string c = "llama-server -m " + model + " -ngl " + num(p.n_gpu_layers) + " -c " + num(p.n_ctx);
    if (k.parallel_given) c += " -np " + num(k.n_seq) + (k.unified ? " -kvu" : "");
    if (k.type_k != "f16") c += " -ctk " + k.type_k;
    if (k.type_v != "f16") c += " -ctv " + k.type_v;
    if (!k.overrides.empty()) {
        // One -ot with the entries joined by commas, as llama.cpp splits them; before --n-cpu-moe, whose own
        // patterns come after in the same list (first match wins).
        std::string entries;
        for (const auto& o : k.overrides)
            entries += (entries.empty() ? "" : ",") + o.pattern + "=" + o.buffer_type;
        c += " -ot " + shell_quoted(entries);
    }
    if (k.cpu_moe)
        c += " --cpu-moe";
    else if (k.n_cpu_moe)
        c += " --n-cpu-moe " + num(k.n_cpu_moe);
    if (k.n_ubatch != 512) c += " -ub " + num(k.n_ubatch);
    return c;
}

std::vector<std::string> fixes(const analysis& a, const serve_request& r, const gpu_row& gpu, const knobs& k,
                               const serve_plan& failed) {
    (void)failed;
    std::vector<serve_util::attempt> tries;
    // The most layers that fit.
    for (uint64_t n = k.ngl; n-- > 0;) {
        serve_request t = r;
        t.llamacpp.n_gpu_layers = n;
        auto kk = resolve(a, t, gpu);
        if (!kk) break;
        auto again = plan_once(a, t, gpu, *kk);
        if (again && again->starts) {
            tries.push_back({t, "-ngl " + num(n) + " (the other layers on the CPU)"});
            break;
        }
    }
    // A shorter context, halving.
    for (uint64_t c = k.n_ctx / 2; c >= 2048; c /= 2) {
        serve_request t = r;
        t.llamacpp.ctx_size = c;
        auto kk = resolve(a, t, gpu);
        if (!kk) break;
        auto again = plan_once(a, t, gpu, *kk);
        if (again && again->starts) {
            tries.push_back({t, "-c " + num(c)});
            break;
        }
    }
    if (k.type_k == "f16" && k.type_v == "f16") {
        serve_request t = r;
        t.llamacpp.cache_type_k = t.llamacpp.cache_type_v = "q8_0";
        tries.push_back({t, "-ctk q8_0 -ctv q8_0"});
    }
    for (uint64_t g = k.gpus + 1; g <= 16; ++g) {
        serve_request t = r;
        t.gpus = g;
        auto kk = resolve(a, t, gpu);
        if (!kk) break;
        auto again = plan_once(a, t, gpu, *kk);
        if (again && again->starts) {
            tries.push_back({t, "--gpus " + num(g) + " (the layers split over them)"});
            break;
        }
    }
    return serve_util::fixes_that_start(tries, [&](const serve_request& t) -> result<serve_plan> {
        auto kk = resolve(a, t, gpu);
        if (!kk) return kk.err();
        return plan_once(a, t, gpu, *kk);
    });
}

} // namespace modelplan::llamacpp
