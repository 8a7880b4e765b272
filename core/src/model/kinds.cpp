// model_kinds: the few words `modelplan presets` groups models by, read off the layer stacks and switches.
#include "modelplan/model-spec.h"

namespace modelplan {

std::vector<std::string> model_kinds(const model_spec& spec) {
    bool moe = spec.n_experts > 0, vision = false, hybrid = false, encoder = false, decoder = false,
         mtp = false;
    for (const layer_spec& l : spec.layers) {
        moe = moe || l.ffn == ffn_kind::moe;
        vision = vision || l.stack == layer_stack::vision;
        encoder = encoder || l.stack == layer_stack::encoder;
        decoder = decoder || l.stack == layer_stack::cross_decoder;
        mtp = mtp || l.stack == layer_stack::mtp;
        hybrid = hybrid || (l.stack == layer_stack::decoder && (l.switches & sw_no_kv_cache));
    }
    std::vector<std::string> kinds;
    if (moe) kinds.emplace_back("moe");
    if (vision) kinds.emplace_back("vision-language");
    if (hybrid) kinds.emplace_back("hybrid");
    if (encoder) kinds.emplace_back(decoder ? "encoder-decoder" : "encoder");
    if (mtp) kinds.emplace_back("mtp");
    return kinds;
}

} // namespace modelplan
