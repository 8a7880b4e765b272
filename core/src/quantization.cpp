// Weight storage per tensor (docs/quantization.md).
#include "modelplan/quantization.h"

namespace modelplan {

namespace {
uint64_t mul(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t add(uint64_t a, uint64_t b) {
    uint64_t r = 0;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
} // namespace

result<plan_item> plan_weights(const analysis& a, const workload& w) {
    if (!w.quant.empty())
        return make_error(error_code::bad_request, "quantization \"" + w.quant + "\" is not supported yet", "quant");
    const model_spec& spec = a.spec;
    plan_item weights{"weights", 0, "sum over tensors of elements x bytes of the tensor's dtype", {}};
    uint64_t tensors = 0;
    for (const tensor_info& t : a.sk.tensors) {
        if (!w.include_mtp && t.layer != no_index && spec.layers[t.layer].stack == layer_stack::mtp) continue;
        weights.bytes = add(weights.bytes, mul(t.elements, dtype_bytes(t.type)));
        ++tensors;
    }
    weights.inputs = {{"tensors", std::to_string(tensors)},
                      {"parameters", std::to_string(a.counts.total + (w.include_mtp ? a.counts.mtp : 0))},
                      {"dtype", dtype_name(spec.weight_dtype)}};
    return weights;
}

} // namespace modelplan
