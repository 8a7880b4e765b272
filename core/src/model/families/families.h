// Internal: each family file appends its rows to the family table.
#pragma once

#include <vector>

#include "modelplan/architectures.h"

namespace modelplan::family_tables {

// Parts of the Llama decoder that other families reuse (names relative to the base model).
struct llama_parts {
    static template_table embed();         // embed_tokens
    static template_table attention();     // q/k/v/o projections, optional biases and q/k norms
    static template_table mlp();           // dense gated FFN (needs sw_dense_ffn)
    static template_table layer_norms();   // input_layernorm, post_attention_layernorm
    static template_table final_norm();    // norm
    static std::vector<head_info> heads(); // ForCausalLM (lm_head), Model, ForSequenceClassification (score)
};

// score.weight [labels, hidden]: the sequence-classification head of most decoders.
template_table score_head();

// The heads most decoders have: `causal_suffix` with `lm_head` (the default head), the bare Model, and
// ForSequenceClassification with `score`.
std::vector<head_info> decoder_heads(template_table lm_head, template_table score = score_head(),
                                     const char* causal_suffix = "ForCausalLM");

void add_llama_families(std::vector<family_info>& out); // llama.cpp: llama, mistral, mixtral, qwen2, qwen3
void add_moe_families(
    std::vector<family_info>& out); // moe.cpp: qwen2_moe, qwen3_moe, deepseek_v2, deepseek_v3
void add_gpt_families(std::vector<family_info>& out);        // gpt.cpp: gpt2, gpt_neox
void add_bert_families(std::vector<family_info>& out);       // bert.cpp: bert, roberta
void add_t5_families(std::vector<family_info>& out);         // t5.cpp: t5
void add_gemma_families(std::vector<family_info>& out);      // gemma.cpp: gemma, gemma2, gemma3_text, gemma3
void add_phi_families(std::vector<family_info>& out);        // phi.cpp: phi, phi3
void add_bigscience_families(std::vector<family_info>& out); // bigscience.cpp: opt, bloom, falcon
void add_open_decoder_families(
    std::vector<family_info>& out); // open-decoders.cpp: stablelm, starcoder2, olmo, olmo2
void add_gpt_oss_families(std::vector<family_info>& out); // gpt-oss.cpp: gpt_oss
void add_llama4_families(std::vector<family_info>& out);  // llama4.cpp: llama4_text, llama4

} // namespace modelplan::family_tables
