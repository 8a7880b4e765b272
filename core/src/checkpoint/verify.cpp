// Checkpoint versus skeleton: every problem in one report (docs/checkpoints.md, "Verification").
#include "modelplan/verify.h"

#include "modelplan/gguf.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace modelplan {

namespace {

// Split points for prefix suggestions: a name minus its first 0, 1 or 2 dot-separated components.
constexpr int max_prefix_components = 2;

// The name without its first `k` components, or nullopt when fewer than two components would remain.
std::optional<std::pair<std::string, std::string>> split_prefix(const std::string& name, int k) {
    size_t at = 0;
    for (int i = 0; i < k; ++i) {
        size_t dot = name.find('.', at);
        if (dot == std::string::npos) return std::nullopt;
        at = dot + 1;
    }
    std::string rest = name.substr(at);
    if (rest.find('.') == std::string::npos) return std::nullopt; // "weight" alone matches anything
    return std::make_pair(name.substr(0, at), rest);
}

std::vector<prefix_suggestion> suggest_prefixes(const std::vector<verify_tensor>& missing,
                                                const std::vector<verify_tensor>& unexpected) {
    // rest -> skeleton prefixes of missing names ending in it
    std::unordered_map<std::string, std::vector<std::pair<std::string, const std::string*>>> by_rest;
    for (const auto& m : missing)
        for (int k = 0; k <= max_prefix_components; ++k)
            if (auto split = split_prefix(m.name, k))
                by_rest[split->second].emplace_back(split->first, &m.name);

    std::map<std::pair<std::string, std::string>, prefix_suggestion> found;
    std::unordered_set<std::string> used; // each missing name explains one unexpected name
    for (const auto& u : unexpected) {
        for (int k = 0; k <= max_prefix_components; ++k) {
            auto split = split_prefix(u.name, k);
            if (!split) continue;
            auto it = by_rest.find(split->second);
            if (it == by_rest.end()) continue;
            bool matched = false;
            for (const auto& [skeleton_prefix, full] : it->second) {
                if (skeleton_prefix == split->first || used.count(*full)) continue;
                used.insert(*full);
                prefix_suggestion& s = found[{split->first, skeleton_prefix}];
                if (s.count++ == 0) {
                    s.checkpoint_prefix = split->first;
                    s.skeleton_prefix = skeleton_prefix;
                    s.example_checkpoint = u.name;
                    s.example_skeleton = *full;
                }
                matched = true;
                break;
            }
            if (matched) break;
        }
    }
    std::vector<prefix_suggestion> out;
    for (auto& [key, s] : found) out.push_back(std::move(s));
    std::stable_sort(out.begin(), out.end(), [](const prefix_suggestion& a, const prefix_suggestion& b) {
        return a.count > b.count;
    });
    if (out.size() > 3) out.resize(3);
    return out;
}

verify_tensor from_logical(const logical_tensor& l) {
    verify_tensor v;
    v.name = l.name;
    if (l.stored != l.name) v.stored = l.stored;
    v.shape = l.shape;
    v.shape_known = l.shape_known;
    v.dtype = l.dtype;
    v.file = l.file;
    return v;
}

// Shapes agree; with only an element count (bitsandbytes 4-bit), the packed count equals the skeleton's,
// rounded up to an even number.
bool same_size(const logical_tensor& l, const tensor_info& t) {
    if (l.shape_known) return l.shape == t.shape;
    return l.elements == t.elements || l.elements == t.elements + 1;
}

verify_mismatch mismatch(const logical_tensor& l, const tensor_info& t) {
    verify_mismatch m;
    m.name = l.name;
    if (l.stored != l.name) m.stored = l.stored;
    m.expected = t.shape;
    m.expected_elements = t.elements;
    m.actual = l.shape;
    m.actual_known = l.shape_known;
    m.actual_elements = l.elements;
    return m;
}

} // namespace

verify_report verify_checkpoint(const skeleton& sk, const checkpoint_view& view) {
    verify_report r;
    std::unordered_map<std::string, const tensor_info*> params, buffers;
    for (const auto& t : sk.tensors) params.emplace(t.name, &t);
    for (const auto& b : sk.buffers) buffers.emplace(b.name, &b);
    std::unordered_map<std::string, const tensor_info*> aliases;
    for (const auto& a : sk.aliases) {
        auto target = params.find(a.target);
        if (target != params.end()) aliases.emplace(a.name, target->second);
    }

    std::unordered_set<std::string> seen;
    for (const logical_tensor& l : view.tensors) {
        if (auto p = params.find(l.name); p != params.end()) {
            if (!seen.insert(l.name).second) { // stored twice (merged and per-expert GGUF tensors)
                r.unexpected.push_back(from_logical(l));
                continue;
            }
            const tensor_info& t = *p->second;
            if (!same_size(l, t)) {
                r.mismatched.push_back(mismatch(l, t));
                continue;
            }
            ++r.matched;
            if (l.dtype_comparable && l.dtype != dtype_name(t.type))
                r.dtype_differences.push_back({l.name, dtype_name(t.type), l.dtype});
        } else if (auto a = aliases.find(l.name); a != aliases.end()) {
            if (same_size(l, *a->second))
                r.aliases_present.push_back(l.name);
            else
                r.mismatched.push_back(mismatch(l, *a->second));
        } else if (auto b = buffers.find(l.name); b != buffers.end()) {
            if (same_size(l, *b->second))
                ++r.buffers_present;
            else
                r.mismatched.push_back(mismatch(l, *b->second));
        } else if (l.kind == logical_kind::buffer) {
            ++r.buffers_present; // a buffer the skeleton does not list (GGUF rope_freqs)
        } else {
            r.unexpected.push_back(from_logical(l));
        }
    }
    for (const auto& t : sk.tensors) {
        if (__builtin_add_overflow(r.expected_params, t.elements, &r.expected_params))
            r.expected_params = UINT64_MAX; // saturate: count_params reports the overflow itself
        if (!seen.count(t.name)) r.missing.push_back({t.name, "", t.shape, true, dtype_name(t.type), ""});
    }
    r.found_params = view.totals.params;
    r.suggestions = suggest_prefixes(r.missing, r.unexpected);
    r.ok = r.missing.empty() && r.unexpected.empty() && r.mismatched.empty();
    return r;
}

result<inspection> inspect(std::string path, checkpoint ck, std::optional<analysis> model,
                           std::string model_source) {
    // A GGUF file is read and verified as llama.cpp's converter lays the model out.
    std::optional<gguf_layout> layout;
    std::string layout_note;
    if (ck.format == checkpoint_format::gguf && model && model->spec.family >= 0) { // a family's layout
        auto l = gguf_layout_of(model->spec, model->sk);
        if (l)
            layout = std::move(*l);
        else
            layout_note = l.err().message;
    }
    auto view = logical_view(ck, layout ? &*layout : nullptr);
    if (!view) return view.err();
    if (!layout_note.empty()) view->notes.push_back(layout_note);
    if (layout && !layout->left_out.empty())
        view->notes.push_back("llama.cpp's converter leaves out " + std::to_string(layout->left_out.size()) +
                              " tensors of this model (" + layout->left_out.front() +
                              ", ...); they are not expected");
    inspection in;
    in.path = std::move(path);
    in.ck = std::move(ck);
    in.view = std::move(*view);
    in.model = std::move(model);
    in.model_source = std::move(model_source);
    if (in.model) in.verify = verify_checkpoint(layout ? layout->expected : in.model->sk, in.view);
    return in;
}

result<analysis> gguf_analysis(const checkpoint& ck) {
    std::string label = ck.files.empty() ? "gguf" : ck.files.front().name;
    if (const gguf_value* name = find_gguf_value(ck, "general.name"); name && name->type == gguf_string)
        label = printable_utf8(name->s);
    return analyze(label, gguf_model_spec(ck));
}

} // namespace modelplan
