// Speculative-decoding heads: EAGLE-3 drafters of a Llama-layered target. Their configs say model_type
// "llama"; the class in architectures[0] says what they are, so the family is found by it
// (family_info::by_class). Names are the heads' checkpoint names, top-level (no "model." prefix):
//   EAGLE-3 (SpecForge's LlamaForCausalLMEagle3, yuhuili/EAGLE3-*; vLLM's Eagle3LlamaForCausalLM loads them,
//   llama_eagle3.py): one decoder layer "midlayer" whose q/k/v read the token's embedding and the fused
//   hidden state side by side (2 x hidden), with a hidden_norm; fc over three of the target's hidden states;
//   a final norm; lm_head over its own draft_vocab_size; d2t (draft -> target token offsets, int64) and t2d
//   (target -> draft, bool). No embed_tokens: the head uses the target's (a published head's tensor list,
//   NVIDIA/TensorRT-LLM#6158, starts d2t, fc.weight, ...). vLLM does not load t2d.
// EAGLE-1 heads publish configs of class LlamaForCausalLM (a one-layer Llama): they read as Llama; the
// serving plan knows them by vLLM's rule (the name) and holds them as vLLM's EagleLlamaForCausalLM does. The
// serving plan (serve/vllm-spec.cpp) holds them as vLLM builds them, beside the target.
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

// clang-format off
const tensor_template eagle3_rows[] = {
    once(role::embed_proj,  "fc.weight",                                dim::hidden, dim::hidden_x3),
    once(role::attn_norm,   "midlayer.hidden_norm.weight",              dim::hidden),
    once(role::attn_norm,   "midlayer.input_layernorm.weight",          dim::hidden),
    once(role::attn_q,      "midlayer.self_attn.q_proj.weight",         dim::q_dim,  dim::hidden_x2),
    once(role::attn_k,      "midlayer.self_attn.k_proj.weight",         dim::kv_dim, dim::hidden_x2),
    once(role::attn_v,      "midlayer.self_attn.v_proj.weight",         dim::kv_dim, dim::hidden_x2),
    once(role::attn_o,      "midlayer.self_attn.o_proj.weight",         dim::hidden, dim::q_dim),
    once(role::ffn_norm,    "midlayer.post_attention_layernorm.weight", dim::hidden),
    once(role::ffn_gate,    "midlayer.mlp.gate_proj.weight",            dim::ffn,    dim::hidden),
    once(role::ffn_up,      "midlayer.mlp.up_proj.weight",              dim::ffn,    dim::hidden),
    once(role::ffn_down,    "midlayer.mlp.down_proj.weight",            dim::hidden, dim::ffn),
    once(role::output_norm, "norm.weight",                              dim::hidden),
};
const tensor_template eagle3_lm_head[] = {
    once(role::lm_head, "lm_head.weight", dim::draft_vocab, dim::hidden),
};
// The vocabulary maps, buffers the heads store beside the weights.
const tensor_template eagle3_maps[] = {
    once(role::lm_head, "d2t", dim::draft_vocab).stored_as("I64"),
    once(role::lm_head, "t2d", dim::vocab)      .stored_as("BOOL"),
};
// clang-format on

// A Llama decoder's keys, then draft_vocab_size (default: the vocabulary). One layer for EAGLE-3, whose
// tables hold the one "midlayer".
std::optional<error> read_eagle3(const key_reader& keys, model_spec& spec) {
    MP_CHECK(read_llama_opening(keys, spec));
    MP_CHECK(read_rope(keys, spec));
    spec.draft_vocab = spec.vocab;
    MP_CHECK(read_size(keys, "draft_vocab_size", spec.draft_vocab));
    if (spec.draft_vocab > spec.vocab)
        return make_error(error_code::inconsistent,
                          keys.path("draft_vocab_size") + " (" + std::to_string(spec.draft_vocab) +
                              ") must be at most vocab_size (" + std::to_string(spec.vocab) + ")",
                          keys.path("draft_vocab_size"));
    if (spec.layers.size() != 1)
        return make_error(error_code::unsupported,
                          keys.path("num_hidden_layers") + ": an EAGLE-3 head of " +
                              std::to_string(spec.layers.size()) +
                              " layers is not modelled; its checkpoint holds one \"midlayer\"",
                          keys.path("num_hidden_layers"));
    return std::nullopt;
}

} // namespace

void add_eagle_families(std::vector<family_info>& out) {
    const std::vector<head_info> eagle3_heads = {
        {head_kind::causal_lm, "LlamaForCausalLMEagle3", {rows(eagle3_lm_head)}},
        {head_kind::causal_lm, "Eagle3LlamaForCausalLM", {rows(eagle3_lm_head)}},
    };
    out.push_back(family("eagle3", "", read_eagle3, {rows(eagle3_rows)}, eagle3_heads)
                      .prefix("")
                      .found_by_class()
                      .stores_buffers({rows(eagle3_maps)}));
}

} // namespace modelplan::family_tables
