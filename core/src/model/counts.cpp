#include "modelplan/counts.h"

namespace modelplan {

namespace {
bool add_to(uint64_t& sum, uint64_t v) {
    return !__builtin_add_overflow(sum, v, &sum);
}

error overflow(const char* what) {
    return make_error(error_code::overflow, std::string(what) + " overflows 64 bits");
}
} // namespace

result<param_counts> count_params(const model_spec& spec, const skeleton& sk) {
    param_counts c;
    c.by_layer.assign(spec.layers.size(), 0);
    std::vector<uint64_t> one_expert(spec.layers.size(), 0); // parameters of expert 0 in each layer
    for (const tensor_info& t : sk.tensors) {
        uint64_t bytes = 0;
        if (__builtin_mul_overflow(t.elements, dtype_bytes(t.type), &bytes) || !add_to(c.weight_bytes, bytes))
            return overflow("the weights' size in bytes");
        if (t.layer != no_index && spec.is_mtp_layer(t.layer)) {
            add_to(c.by_layer[t.layer], t.elements); // each sum <= weight_bytes
            add_to(c.mtp, t.elements);
            continue;
        }
        if (!add_to(c.total, t.elements)) return overflow("the total parameter count");
        add_to(c.by_role[static_cast<size_t>(t.what)], t.elements); // each role sum <= total
        if (t.what == role::embed || t.what == role::lm_head) add_to(c.embedding, t.elements);
        if (t.layer == no_index) {
            add_to(c.outside_layers, t.elements);
        } else {
            add_to(c.by_layer[t.layer], t.elements);
            if (t.expert == 0) add_to(one_expert[t.layer], t.elements);
            // Experts stored stacked in one tensor [experts, ...] (gpt-oss, Llama 4, Granite MoE): one
            // expert's share is a 1/n_experts slice.
            if (holds_stacked_experts(t) && spec.n_experts)
                add_to(one_expert[t.layer], t.elements / spec.n_experts);
        }
    }
    for (const tensor_info& b : sk.buffers) add_to(c.buffer_elements, b.elements);
    c.non_embedding = c.total - c.embedding;

    // A token visits n_experts_per_tok of the n_experts routed experts in each MoE layer.
    c.active = c.total;
    for (uint64_t il = 0; il < spec.layers.size(); ++il) {
        if (!spec.is_moe_layer(il) || spec.is_mtp_layer(il)) continue;
        c.active -= (spec.n_experts - spec.n_experts_per_tok) * one_expert[il];
    }
    return c;
}

} // namespace modelplan
