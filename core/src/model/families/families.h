// Internal: each family file appends its rows to the family table.
#pragma once

#include <optional>
#include <vector>

#include "modelplan/architectures.h"

namespace modelplan::family_tables {

// Parts of the Llama decoder that other families reuse (names relative to the base model).
struct llama_parts {
    static template_table embed();       // embed_tokens
    static template_table attention();   // q/k/v/o projections, optional biases and q/k norms
    static template_table mlp();         // dense gated FFN (needs sw_dense_ffn)
    static template_table layer_norms(); // input_layernorm, post_attention_layernorm
    static template_table final_norm();  // norm
    static template_table
    mixtral_experts();                     // block_sparse_moe router and experts w1/w2/w3 (needs sw_moe_ffn)
    static std::vector<head_info> heads(); // ForCausalLM (lm_head), Model, ForSequenceClassification (score)
};

// Parts of DeepSeek-V3 that other families reuse (GLM-4.5's MoE layers and next-token modules).
struct deepseek_parts {
    static template_table moe_block(); // routed experts, gate (+ e_score_correction_bias), shared experts
    static template_table mtp();       // the extra tensors of a multi-token-prediction layer
    // n_routed_experts, num_experts_per_tok, moe_intermediate_size, n_shared_experts, first_k_dense_replace,
    // moe_layer_freq: the routed and shared experts and which layers are MoE layers.
    static std::optional<error> read_experts(const key_reader& keys, model_spec& spec);
    // num_nextn_predict_layers: copies of the last layer stored after it, counted apart (layer_stack::mtp).
    static std::optional<error> read_mtp_layers(const key_reader& keys, model_spec& spec);
};

// ForCausalLM (lm_head, tied per sw_tied) and the bare Model: the heads of classes that define no
// sequence-classification head (Glm4Moe, MiniMaxM2, Ernie 4.5, BailingMoeV2). glm.cpp.
std::vector<head_info> causal_lm_and_model_heads();
// Parts of T5 that mT5 and UMT5 reuse (t5.cpp).
struct t5_parts {
    static template_table base();    // shared embedding, encoder and decoder stacks, final norms
    static template_table buffers(); // the unused cross-attention relative bias of some checkpoints
    static template_table lm_head(); // lm_head, tied to shared.weight when sw_tied
    static family_reader reader();   // T5's reader (class defaults come from the family row)
};

// Parts of BERT/RoBERTa that XLM-RoBERTa reuses (bert.cpp).
struct bert_parts {
    static template_table base();                  // embeddings, encoder layers, optional pooler
    static template_table buffers();               // embeddings.position_ids
    static std::vector<head_info> roberta_heads(); // RoBERTa's heads (lm_head, classifier)
    static family_reader reader();                 // BERT's reader
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
    std::vector<family_info>& out);                   // open-decoders.cpp: stablelm, starcoder2, olmo, olmo2
void add_glm_families(std::vector<family_info>& out); // glm.cpp: glm4, glm4_moe
void add_2025_families(
    std::vector<family_info>& out); // families-2025.cpp: minimax_m2, ernie4_5,
                                    // ernie4_5_moe, bailing_moe, hunyuan_v1_dense/moe, seed_oss

// Issue 13, group B (sources in the files' headers):
void add_llama_variant_families(
    std::vector<family_info>& out); // llama-variants.cpp: smollm3, granite, olmo3, cohere, cohere2, exaone4
void add_moe_variant_families(std::vector<family_info>& out); // moe-variants.cpp: granitemoe, phimoe, olmoe
void add_eagle_families(std::vector<family_info>& out);       // eagle.cpp: eagle3 (EAGLE-3 speculative heads)
void add_encoder_variant_families(std::vector<family_info>& out); // encoder-variants.cpp: mt5, umt5,
                                                                  // xlm-roberta, modernbert
// q_norm [q_dim] and k_norm [kv_dim]: RMSNorm over whole projections (OLMo 3, OLMoE; llama-variants.cpp).
template_table whole_projection_qk_norms();
void add_gpt_oss_families(std::vector<family_info>& out); // gpt-oss.cpp: gpt_oss
void add_llama4_families(std::vector<family_info>& out);  // llama4.cpp: llama4_text, llama4
// Issue 13, vision-language group VL (sources in the files' headers and models/SOURCES-VL.md):
void add_qwen_vl_families(
    std::vector<family_info>& out); // qwen-vl.cpp: qwen2_vl, qwen2_5_vl, qwen3_vl, qwen3_vl_moe
void add_vl_families(std::vector<family_info>& out); // vl-families.cpp: mistral3, llava, llava_next,
                                                     // idefics3, smolvlm
// Issue 13, state-space and hybrid models (recurrent state; sources in the files' headers):
void add_ssm_families(std::vector<family_info>& out);        // ssm.cpp: mamba, falcon_mamba, mamba2
void add_ssm_hybrid_families(std::vector<family_info>& out); // ssm-hybrids.cpp: granitemoehybrid, nemotron_h,
                                                             // falcon_h1, jamba
void add_qwen3_next_families(std::vector<family_info>& out); // qwen3-next.cpp: qwen3_next
void add_lfm2_families(std::vector<family_info>& out);       // lfm2.cpp: lfm2
// Issue 13, speech (sources in the file's header and models/SOURCES-WH.md):
void add_whisper_families(std::vector<family_info>& out); // whisper.cpp: whisper

} // namespace modelplan::family_tables
