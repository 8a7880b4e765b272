// The LibTorch adapter, part 1: a model's skeleton as a torch::nn::Module tree on the meta device.
//
// Every node is a meta_module: a plain torch::nn::Module that registers the skeleton's tensors directly, so
// nothing allocates or initializes weights (stock torch::nn::Linear would allocate real CPU tensors). The
// hierarchy mirrors the names ("model.layers.3.self_attn.q_proj.weight" is parameter "weight" of the module
// at "model.layers.3.self_attn.q_proj"), named_parameters() returns exactly the skeleton's tensors, in its
// order, with its shapes and dtypes, and a tied alias (lm_head.weight) is the same tensor as its target.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <torch/nn/module.h>

#include "modelplan/dtype.h"
#include "modelplan/error.h"
#include "modelplan/skeleton.h"

namespace modelplan::libtorch {

// A node of the meta tree. Parameters are registered directly; parameter_slot() gives the registered tensor
// itself so the loader can replace a meta tensor with a real one (LibTorch 1.13 refuses Module::to(),
// copy_ and set_data on meta tensors).
class meta_module : public torch::nn::Module {
  public:
    explicit meta_module(std::string type_name) : torch::nn::Module(std::move(type_name)) {}
    at::Tensor& add_parameter(const std::string& name, const at::Tensor& t, bool requires_grad) {
        return register_parameter(name, t, requires_grad);
    }
    std::shared_ptr<meta_module> add_child(const std::string& name, std::shared_ptr<meta_module> child) {
        return register_module(name, std::move(child));
    }
    at::Tensor& parameter_slot(const std::string& name) { return parameters_[name]; }
};

// The torch dtype a modelplan dtype is held as. LibTorch 1.13 has no float8: such tensors are held as raw
// bytes (kByte, same shape) and `raw` is set; LibTorch 2.1+ holds them as float8.
struct torch_type {
    at::ScalarType type = at::kFloat;
    bool raw = false; // bytes of another dtype, not values
};
torch_type torch_dtype(dtype t);

struct meta_options {
    bool requires_grad = false; // set on every parameter (false: inference)
};

struct meta_model {
    struct entry {
        std::string name;                  // full state_dict name
        meta_module* owner;                // the module holding it (kept alive by `root`)
        std::string local;                 // its name inside the owner ("weight")
        const tensor_info* info = nullptr; // the skeleton's entry (the skeleton must outlive the model)
        bool raw = false;                  // held as raw bytes (torch_type::raw)
    };
    std::shared_ptr<meta_module> root;
    std::vector<entry> params;                           // the skeleton's tensors, in its order
    std::vector<std::pair<std::string, size_t>> aliases; // tied name -> index in params
    std::vector<entry> buffers;                          // known buffers, registered as meta buffers
    std::string architecture;                            // root module's type name
    std::unordered_map<std::string, size_t> by_name;     // params and aliases -> index in params

    // The registered tensor of params[i], replaceable in place.
    at::Tensor& slot(size_t i) const { return params[i].owner->parameter_slot(params[i].local); }
    // Index in params of a name or a tied alias; -1 when neither.
    int64_t find(const std::string& name) const;
    // Every name a state_dict holds (parameters, then aliases), aliases sharing their target's tensor.
    std::vector<std::pair<std::string, at::Tensor>> state_dict() const;
    uint64_t parameter_count() const; // sum of numel over params (tied once)
    uint64_t modules = 0;             // nodes in the tree, root included
};

// Builds the tree on the meta device. Fails (error_code::overflow) only when a dimension exceeds int64.
result<meta_model> instantiate_meta(const skeleton& sk, const std::string& architecture = "Model",
                                    const meta_options& options = {});

// A readable summary of the tree: top-level modules, repeated children (layers, experts) collapsed to their
// first member with a count, parameter shapes and dtypes at the leaves.
std::string tree_summary(const meta_model& m, int max_depth = 6);

} // namespace modelplan::libtorch
