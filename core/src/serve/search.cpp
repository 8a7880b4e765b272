// The inverse questions of a serving plan (docs/serving.md, "Inverse questions"): every answer is a plan made
// with the answer's knobs, so what is reported is what `serve` would say for them.
#include <algorithm>
#include <cmath>

#include "modelplan/serve.h"
#include "modelplan/text.h"
#include "serve/serve-internal.h"
#include "serve/vllm-internal.h"
#include "util/json-util.h"
#include "util/text-internal.h"

namespace modelplan {

namespace {

enum class engine_kind { vllm, sglang, llamacpp };

engine_kind kind_of(const serve_request& r) {
    return r.engine == "sglang"      ? engine_kind::sglang
           : r.engine == "llama.cpp" ? engine_kind::llamacpp
                                     : engine_kind::vllm;
}

void set_layout(serve_request& r, uint64_t tp, uint64_t pp) {
    switch (kind_of(r)) {
    case engine_kind::sglang:
        r.sglang.tp_size = tp;
        r.gpus = 0;
        break;
    case engine_kind::llamacpp: r.gpus = tp * pp; break;
    default:
        r.vllm.tensor_parallel_size = tp;
        r.vllm.pipeline_parallel_size = pp;
        r.gpus = 0;
    }
}

// The request's context set to `len` for `n` requests at once (llama.cpp: n slots of len cells each).
void set_context(serve_request& r, uint64_t len, double n) {
    switch (kind_of(r)) {
    case engine_kind::sglang: r.sglang.context_length = len; break;
    case engine_kind::llamacpp: {
        const uint64_t slots = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(n)));
        r.llamacpp.parallel = slots;
        r.llamacpp.kv_unified = false;
        r.llamacpp.ctx_size = len * slots;
        break;
    }
    default: r.vllm.max_model_len = len;
    }
}

std::string layout_flags(const serve_request& r, uint64_t tp, uint64_t pp) {
    switch (kind_of(r)) {
    case engine_kind::sglang: return "--tp-size " + num(tp);
    case engine_kind::llamacpp: return "--gpus " + num(tp * pp) + " (the layers split over them)";
    default:
        return "--tensor-parallel-size " + num(tp) + (pp > 1 ? " --pipeline-parallel-size " + num(pp) : "");
    }
}

const char* context_flag(const serve_request& r) {
    switch (kind_of(r)) {
    case engine_kind::sglang: return "--context-length";
    case engine_kind::llamacpp: return "-c (per slot, -np the requests)";
    default: return "--max-model-len";
    }
}

// Whether a plan starts and holds n requests of its context (llama.cpp: its slots were set to n).
bool holds(const serve_request& r, const result<serve_plan>& p, double n) {
    if (!p || !p->starts) return false;
    if (kind_of(r) == engine_kind::llamacpp) return true;
    return p->max_concurrency + 1e-9 >= n;
}

// The request's context: what it names, else the model's derived maximum.
uint64_t context_of(const analysis& a, const serve_request& r) {
    std::optional<uint64_t> given;
    switch (kind_of(r)) {
    case engine_kind::sglang: given = r.sglang.context_length; break;
    case engine_kind::llamacpp:
        if (r.llamacpp.ctx_size)
            given = r.llamacpp.ctx_size / std::max<uint64_t>(1, r.llamacpp.parallel.value_or(1));
        break;
    default: given = r.vllm.max_model_len;
    }
    return given ? *given : vllm::max_len_of(a.spec);
}

void write_cell(json_writer& w, const serve_sweep_cell& c) {
    w.StartObject();
    w.Key("tp");
    w.Uint64(c.tp);
    w.Key("context");
    w.Uint64(c.context);
    w.Key("starts");
    w.Bool(c.starts);
    w.Key("concurrency");
    w.Double(std::round(c.concurrency * 100.0) / 100.0);
    w.Key("kv_tokens");
    w.Uint64(c.kv_tokens);
    w.EndObject();
}

} // namespace

result<serve_search_answer> search_serve(const analysis& a, const serve_request& r,
                                         const serve_search_request& q) {
    serve_search_answer s;
    const double n = q.target_concurrency.value_or(1.0);
    if (q.target_concurrency && !(*q.target_concurrency > 0 && *q.target_concurrency <= 1e6))
        return make_error(error_code::out_of_range,
                          "target_concurrency: expected a number of requests in (0, 1,000,000]",
                          "target_concurrency");
    const uint64_t context = context_of(a, r);
    if (!context)
        return make_error(error_code::missing_key,
                          "context: the model gives no maximum length; name the context", "max_model_len");
    const bool pp_ok = kind_of(r) == engine_kind::vllm;

    if (q.target_concurrency) {
        s.searched_layout = true;
        for (uint64_t g = 1; g <= 64 && !s.found_layout; ++g) {
            // For g GPUs: tensor parallel over all of them first, then fewer with pipeline stages (vLLM).
            for (uint64_t tp = g; tp >= 1 && !s.found_layout; --tp) {
                if (g % tp) continue;
                const uint64_t pp = g / tp;
                if (pp > 1 && !pp_ok) continue;
                if (kind_of(r) == engine_kind::llamacpp && tp != g)
                    continue; // llama.cpp: one layout per count
                serve_request t = r;
                set_layout(t, kind_of(r) == engine_kind::llamacpp ? 1 : tp,
                           kind_of(r) == engine_kind::llamacpp ? g : pp);
                set_context(t, context, n);
                auto p = serve_detail::plan_without_fixes(a, t);
                if (!holds(t, p, n)) continue;
                s.found_layout = true;
                s.tp = kind_of(r) == engine_kind::llamacpp ? 1 : tp;
                s.pp = kind_of(r) == engine_kind::llamacpp ? g : pp;
                s.gpus = g;
                s.concurrency = kind_of(r) == engine_kind::llamacpp ? n : p->max_concurrency;
                s.layout_flags = layout_flags(r, s.tp, s.pp);
            }
        }
    }
    if (q.longest_context || q.target_concurrency) {
        s.searched_context = true;
        s.context_flag = context_flag(r);
        const uint64_t most = vllm::max_len_of(a.spec);
        uint64_t lo = 0, hi = most ? most : context; // lo holds (0: none yet), hi + 1 does not
        {
            serve_request t = r;
            set_context(t, hi, n);
            if (holds(t, serve_detail::plan_without_fixes(a, t), n)) lo = hi;
        }
        if (lo == 0) {
            uint64_t left = 1, right = hi; // the answer is in [left - 1, right - 1]
            while (left < right) {
                const uint64_t mid = left + (right - left) / 2;
                serve_request t = r;
                set_context(t, mid, n);
                if (holds(t, serve_detail::plan_without_fixes(a, t), n))
                    lo = mid, left = mid + 1;
                else
                    right = mid;
            }
        }
        s.longest_context = lo;
        if (lo) {
            serve_request t = r;
            set_context(t, lo, n);
            auto p = serve_detail::plan_without_fixes(a, t);
            s.concurrency_at_longest = p && kind_of(r) != engine_kind::llamacpp ? p->max_concurrency : n;
        }
    }
    if (q.sweep) {
        const uint64_t most = vllm::max_len_of(a.spec);
        for (uint64_t c : {4096u, 8192u, 32768u, 131072u})
            if (!most || c <= most) s.sweep_contexts.push_back(c);
        if (s.sweep_contexts.empty()) s.sweep_contexts.push_back(most);
        for (uint64_t tp : {1u, 2u, 4u, 8u}) {
            std::vector<serve_sweep_cell> row;
            bool valid = true;
            for (uint64_t c : s.sweep_contexts) {
                serve_request t = r;
                set_layout(t, kind_of(r) == engine_kind::llamacpp ? 1 : tp,
                           kind_of(r) == engine_kind::llamacpp ? tp : 1);
                set_context(t, c, kind_of(r) == engine_kind::llamacpp ? n : 1);
                auto p = serve_detail::plan_without_fixes(a, t);
                if (!p) {
                    valid = false; // a layout the engine refuses (heads, vocabulary)
                    break;
                }
                serve_sweep_cell cell;
                cell.tp = tp;
                cell.context = c;
                cell.starts = p->starts;
                cell.concurrency =
                    p->starts ? (kind_of(r) == engine_kind::llamacpp ? n : p->max_concurrency) : 0;
                cell.kv_tokens = p->starts ? p->kv_tokens : 0;
                row.push_back(cell);
            }
            if (!valid) continue;
            s.sweep_tps.push_back(tp);
            s.sweep.insert(s.sweep.end(), row.begin(), row.end());
        }
    }
    return s;
}

std::string serve_search_json(const serve_search_request& q, const serve_search_answer& s) {
    json_out out;
    json_writer& w = out.w;
    w.StartObject();
    w.Key("target_concurrency");
    w.Double(q.target_concurrency.value_or(1.0));
    w.Key("smallest_layout");
    if (!s.searched_layout) {
        w.Null();
    } else {
        w.StartObject();
        w.Key("found");
        w.Bool(s.found_layout);
        w.Key("tp");
        w.Uint64(s.tp);
        w.Key("pp");
        w.Uint64(s.pp);
        w.Key("gpus");
        w.Uint64(s.gpus);
        w.Key("concurrency");
        w.Double(std::round(s.concurrency * 100.0) / 100.0);
        w.Key("flags");
        write_string(w, s.layout_flags);
        w.EndObject();
    }
    w.Key("longest_context");
    if (!s.searched_context) {
        w.Null();
    } else {
        w.StartObject();
        w.Key("context");
        w.Uint64(s.longest_context);
        w.Key("concurrency");
        w.Double(std::round(s.concurrency_at_longest * 100.0) / 100.0);
        w.Key("flag");
        write_string(w, s.context_flag);
        w.EndObject();
    }
    w.Key("sweep");
    if (s.sweep_tps.empty()) {
        w.Null();
    } else {
        w.StartObject();
        w.Key("tps");
        w.StartArray();
        for (uint64_t t : s.sweep_tps) w.Uint64(t);
        w.EndArray();
        w.Key("contexts");
        w.StartArray();
        for (uint64_t c : s.sweep_contexts) w.Uint64(c);
        w.EndArray();
        w.Key("cells");
        w.StartArray();
        for (const auto& c : s.sweep) write_cell(w, c);
        w.EndArray();
        w.EndObject();
    }
    w.EndObject();
    return out.str();
}

} // namespace modelplan
