// model_kinds: the few words `modelplan presets` groups models by, read off the layer stacks and switches.
#include "modelplan/model-spec.h"

namespace modelplan {

std::vector<std::string> model_kinds(const model_spec& spec) {
    bool moe = spec.n_experts > 0, vision = false, hybrid = false, encoder = false, decoder = false,
         mtp = false;
    uint64_t recurrent = 0, attention = 0; // decoder layers with a recurrent mixer, with attention
    for (const layer_spec& l : spec.layers) {
        moe = moe || l.ffn == ffn_kind::moe;
        vision = vision || l.stack == layer_stack::vision;
        encoder = encoder || l.stack == layer_stack::encoder;
        decoder = decoder || l.stack == layer_stack::cross_decoder;
        mtp = mtp || l.stack == layer_stack::mtp;
        if (l.stack != layer_stack::decoder) continue;
        const bool mlp_only = l.switches & sw_no_attn; // Nemotron-H's "-" blocks
        // A recurrent mixer, or (a model read from headers) a mixer that caches no keys and values.
        if ((l.switches & (sw_mamba | sw_linear_attn | sw_short_conv)) ||
            ((l.switches & sw_no_kv_cache) && !mlp_only))
            ++recurrent;
        if (!(l.switches & sw_no_kv_cache) && !mlp_only) ++attention; // Falcon-H1: both in one layer
    }
    if (recurrent > 0 && attention > 0) hybrid = true;
    std::vector<std::string> kinds;
    if (moe) kinds.emplace_back("moe");
    if (vision) kinds.emplace_back("vision-language");
    if (hybrid)
        kinds.emplace_back("hybrid");
    else if (recurrent > 0)
        kinds.emplace_back("state-space");
    if (encoder) kinds.emplace_back(decoder ? "encoder-decoder" : "encoder");
    if (mtp) kinds.emplace_back("mtp");
    return kinds;
}

} // namespace modelplan
