// The logical view of a checkpoint (quantized groups folded, GGUF names mapped) and its totals.
#include "modelplan/checkpoint.h"

#include <unordered_map>

#include "modelplan/config.h"
#include "modelplan/gguf.h"
#include "modelplan/text.h"

namespace modelplan {

namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629: no overlongs, no surrogates, <=
// U+10FFFF).
size_t utf8_sequence(const std::string& s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    if (c < 0x80) return 1;
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (n == 0 || c > 0xF4 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((byte(i + k) & 0xC0) != 0x80) return 0;
    unsigned char c1 = byte(i + 1);
    if (c == 0xE0 && c1 < 0xA0) return 0; // overlong
    if (c == 0xED && c1 > 0x9F) return 0; // surrogate
    if (c == 0xF0 && c1 < 0x90) return 0; // overlong
    if (c == 0xF4 && c1 > 0x8F) return 0; // above U+10FFFF
    return n;
}

bool add(uint64_t& sum, uint64_t v) {
    return !__builtin_add_overflow(sum, v, &sum);
}

void add_by_dtype(checkpoint_totals& totals, const std::string& dtype, uint64_t elements) {
    for (auto& [name, n] : totals.params_by_dtype)
        if (name == dtype) {
            add(n, elements);
            return;
        }
    totals.params_by_dtype.emplace_back(dtype, elements);
}

std::string group_dtype(const quantized_group& g, const checkpoint_tensor& main) {
    if (g.scheme == "gptq" || g.scheme == "awq" || g.scheme == "compressed-tensors")
        return g.scheme + "-int" + std::to_string(g.bits);
    if (g.scheme == "fp8" || g.scheme == "scaled-int8") return main.dtype;
    return g.scheme;
}

} // namespace

const char* checkpoint_format_name(checkpoint_format f) {
    switch (f) {
    case checkpoint_format::safetensors: return "safetensors";
    case checkpoint_format::gguf: return "gguf";
    }
    return "?";
}

bool valid_utf8(const std::string& text) {
    for (size_t i = 0; i < text.size();) {
        size_t n = utf8_sequence(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string printable_utf8(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t n = utf8_sequence(text, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD"; // U+FFFD
            ++i;
        } else {
            out.append(text, i, n);
            i += n;
        }
    }
    return out;
}

std::string quoted(const std::string& name) {
    std::string p = printable_utf8(name);
    if (p.size() > 200) p = p.substr(0, 200) + "...";
    return "\"" + p + "\"";
}

logical_tensor logical_tensor_as_stored(const checkpoint_tensor& t) {
    logical_tensor l;
    l.name = t.name;
    l.stored = t.name;
    l.shape = t.shape;
    l.elements = t.elements;
    l.dtype = t.dtype;
    l.file = t.file;
    return l;
}

result<checkpoint_view> logical_view(const checkpoint& ck, const gguf_layout* layout) {
    checkpoint_view view;
    view.quantized = find_quantized_groups(ck, &view.notes);
    std::unordered_map<std::string, size_t> member_of;
    for (size_t i = 0; i < view.quantized.size(); ++i)
        for (const auto& m : view.quantized[i].members) member_of.emplace(m, i);

    std::string arch;
    if (ck.format == checkpoint_format::gguf)
        if (const gguf_value* v = find_gguf_value(ck, "general.architecture"); v && v->type == gguf_string)
            arch = v->s;

    checkpoint_totals& totals = view.totals;
    totals.quantized_groups = view.quantized.size();
    for (size_t index = 0; index < ck.tensors.size(); ++index) {
        const checkpoint_tensor& t = ck.tensors[index];
        ++totals.tensors;
        if (!add(totals.stored_elements, t.elements) || !add(totals.bytes, t.bytes()))
            return make_error(error_code::overflow, "the checkpoint's total size overflows 64 bits");
        auto group = member_of.find(t.name);
        if (group != member_of.end()) {
            const quantized_group& g = view.quantized[group->second];
            if (g.members.front() != t.name) continue; // folded into its group's entry
            logical_tensor l;
            l.name = g.name;
            l.stored = t.name;
            l.shape = g.shape;
            l.shape_known = !g.shape.empty();
            l.elements = g.elements;
            l.dtype = group_dtype(g, t);
            l.quantized = true;
            l.dtype_comparable = false;
            l.file = t.file;
            view.tensors.push_back(std::move(l));
            continue;
        }
        if (ck.format == checkpoint_format::gguf) {
            add_gguf_logical_tensors(ck, index, arch, layout, view.tensors, view.notes);
            continue;
        }
        logical_tensor l = logical_tensor_as_stored(t);
        if (ends_with(t.name, ".inv_freq")) l.kind = logical_kind::buffer;
        view.tensors.push_back(std::move(l));
    }
    for (const logical_tensor& l : view.tensors) {
        if (l.kind == logical_kind::buffer) {
            if (!add(totals.buffer_elements, l.elements))
                return make_error(error_code::overflow, "the checkpoint's buffer elements overflow 64 bits");
            continue;
        }
        if (!add(totals.params, l.elements))
            return make_error(error_code::overflow, "the checkpoint's parameter count overflows 64 bits");
        add_by_dtype(totals, l.dtype, l.elements);
    }
    return view;
}

} // namespace modelplan
