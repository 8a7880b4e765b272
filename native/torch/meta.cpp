// The skeleton as a meta-device module tree (meta.h).
#include "modelplan/libtorch/meta.h"

#include <torch/version.h>

#include <ATen/ops/empty.h>

#include <limits>

#include "modelplan/text.h"

namespace modelplan::libtorch {

torch_type torch_dtype(dtype t) {
    switch (t) {
    case dtype::f32: return {at::kFloat, false};
    case dtype::f16: return {at::kHalf, false};
    case dtype::bf16: return {at::kBFloat16, false};
    case dtype::f64: return {at::kDouble, false};
    case dtype::i8: return {at::kChar, false};
    case dtype::u8: return {at::kByte, false};
    case dtype::i32: return {at::kInt, false};
    case dtype::i64: return {at::kLong, false};
    case dtype::boolean: return {at::kBool, false};
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    case dtype::f8_e4m3: return {at::kFloat8_e4m3fn, false};
    case dtype::f8_e5m2: return {at::kFloat8_e5m2, false};
#else
    case dtype::f8_e4m3:
    case dtype::f8_e5m2: return {at::kByte, true};
#endif
    }
    return {at::kByte, true};
}

int64_t meta_model::find(const std::string& name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? -1 : static_cast<int64_t>(it->second);
}

std::vector<std::pair<std::string, at::Tensor>> meta_model::state_dict() const {
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.reserve(params.size() + aliases.size());
    for (size_t i = 0; i < params.size(); ++i) out.emplace_back(params[i].name, slot(i));
    for (const auto& [name, i] : aliases) out.emplace_back(name, slot(i));
    return out;
}

uint64_t meta_model::parameter_count() const {
    uint64_t n = 0;
    for (size_t i = 0; i < params.size(); ++i) n += static_cast<uint64_t>(slot(i).numel());
    return n;
}

namespace {

// Finds or creates the module at a dotted path ("model.layers.3.mlp"), creating every node on the way.
class tree_builder {
  public:
    explicit tree_builder(std::shared_ptr<meta_module> root) : root_(std::move(root)) {}

    meta_module* module_at(const std::string& path) {
        if (path.empty()) return root_.get();
        auto it = nodes_.find(path);
        if (it != nodes_.end()) return it->second;
        size_t dot = path.rfind('.');
        meta_module* parent = module_at(dot == std::string::npos ? std::string() : path.substr(0, dot));
        std::string local = dot == std::string::npos ? path : path.substr(dot + 1);
        auto child = parent->add_child(local, std::make_shared<meta_module>(type_name(local)));
        ++count_;
        nodes_.emplace(path, child.get());
        return child.get();
    }
    uint64_t count() const { return count_; }

  private:
    // A repeated child ("3" in layers.3) is a list member; others are named for their attribute.
    static std::string type_name(const std::string& local) {
        bool digits = !local.empty() && local.find_first_not_of("0123456789") == std::string::npos;
        return digits ? "Item" : local;
    }
    std::shared_ptr<meta_module> root_;
    std::unordered_map<std::string, meta_module*> nodes_;
    uint64_t count_ = 1;
};

result<std::vector<int64_t>> sizes_of(const tensor_info& t) {
    std::vector<int64_t> sizes;
    sizes.reserve(t.shape.size());
    for (uint64_t d : t.shape) {
        if (d > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return make_error(error_code::overflow,
                              t.name + ": dimension " + std::to_string(d) + " does not fit in int64");
        sizes.push_back(static_cast<int64_t>(d));
    }
    return sizes;
}

result<meta_model::entry> add_tensor(tree_builder& tree, const tensor_info& t, bool buffer,
                                     bool requires_grad) {
    auto sizes = sizes_of(t);
    if (!sizes) return sizes.err();
    torch_type tt = torch_dtype(t.type);
    at::Tensor meta = at::empty(*sizes, at::TensorOptions().device(at::kMeta).dtype(tt.type));
    size_t dot = t.name.rfind('.');
    std::string owner_path = dot == std::string::npos ? std::string() : t.name.substr(0, dot);
    std::string local = dot == std::string::npos ? t.name : t.name.substr(dot + 1);
    meta_module* owner = tree.module_at(owner_path);
    if (buffer)
        owner->register_buffer(local, meta);
    else
        owner->add_parameter(local, meta, requires_grad && at::isFloatingType(tt.type) && !tt.raw);
    return meta_model::entry{t.name, owner, local, &t, tt.raw};
}

} // namespace

result<meta_model> instantiate_meta(const skeleton& sk, const std::string& architecture,
                                    const meta_options& options) {
    meta_model m;
    m.architecture = architecture;
    m.root = std::make_shared<meta_module>(architecture);
    tree_builder tree(m.root);
    m.params.reserve(sk.tensors.size());
    m.by_name.reserve(sk.tensors.size() + sk.aliases.size());
    for (const tensor_info& t : sk.tensors) {
        auto e = add_tensor(tree, t, false, options.requires_grad);
        if (!e) return e.err();
        m.by_name.emplace(t.name, m.params.size());
        m.params.push_back(std::move(*e));
    }
    for (const tensor_alias& a : sk.aliases) {
        auto it = m.by_name.find(a.target);
        if (it == m.by_name.end())
            return make_error(error_code::internal,
                              "tied alias " + a.name + " names " + a.target + ", which is not a parameter");
        size_t target = it->second;
        m.aliases.emplace_back(a.name, target);
        m.by_name.emplace(a.name, target);
    }
    for (const tensor_info& b : sk.buffers) {
        auto e = add_tensor(tree, b, true, false);
        if (!e) return e.err();
        m.buffers.push_back(std::move(*e));
    }
    m.modules = tree.count();
    return m;
}

// ---- tree summary
// -------------------------------------------------------------------------------------------

namespace {

std::string shape_text(const at::Tensor& t) {
    std::string s = "[";
    for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
    return s + "]";
}

uint64_t numel_below(const torch::nn::Module& m) {
    uint64_t n = 0;
    for (const auto& p : m.parameters(true)) n += static_cast<uint64_t>(p.numel());
    return n;
}

bool is_index(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

void summarize(const torch::nn::Module& m, const std::string& name, int depth, int max_depth,
               std::string& out) {
    std::string indent(2 * static_cast<size_t>(depth), ' ');
    auto children = m.named_children();
    out += indent + name;
    if (!children.is_empty() || m.named_parameters(false).is_empty())
        out += "  (" + with_thousands(numel_below(m)) + " params)";
    out += "\n";
    for (const auto& p : m.named_parameters(false))
        out += indent + "  ." + p.key() + "  " + shape_text(p.value()) + "  " +
               std::string(c10::toString(p.value().scalar_type())) + "\n";
    if (depth + 1 >= max_depth) {
        if (!children.is_empty()) out += indent + "  ...\n";
        return;
    }
    // Runs of list members ("0".."N-1") are shown once, with their count.
    for (size_t i = 0; i < children.size();) {
        const auto& c = children[i];
        size_t j = i + 1;
        if (is_index(c.key())) {
            uint64_t each = numel_below(*c.value());
            while (j < children.size() && is_index(children[j].key()) &&
                   numel_below(*children[j].value()) == each)
                ++j;
        }
        std::string label =
            j - i > 1 ? c.key() + ".." + children[j - 1].key() + "  ×" + std::to_string(j - i) + ", each:"
                      : c.key();
        summarize(*c.value(), label, depth + 1, max_depth, out);
        i = j;
    }
}

} // namespace

std::string tree_summary(const meta_model& m, int max_depth) {
    std::string out;
    summarize(*m.root, m.architecture, 0, max_depth, out);
    for (const auto& [name, i] : m.aliases)
        out += "tied: " + name + " is " + m.params[i].name + " (one tensor)\n";
    if (!m.buffers.empty())
        out += std::to_string(m.buffers.size()) + " buffer(s) on meta, e.g. " + m.buffers.front().name + "\n";
    return out;
}

} // namespace modelplan::libtorch
