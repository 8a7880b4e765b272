// The family table, assembled from the family files (core/src/model/families/*.cpp), and the names of roles
// and heads.
#include "modelplan/architectures.h"

#include "model/families/families.h"

namespace modelplan {

namespace {

std::vector<family_info> build_table() {
    std::vector<family_info> table;
    family_tables::add_llama_families(table);
    family_tables::add_moe_families(table);
    family_tables::add_gemma_families(table);
    family_tables::add_phi_families(table);
    family_tables::add_bigscience_families(table);
    family_tables::add_open_decoder_families(table);
    family_tables::add_gpt_families(table);
    family_tables::add_bert_families(table);
    family_tables::add_t5_families(table);
    family_tables::add_glm_families(table);
    family_tables::add_2025_families(table);
    family_tables::add_llama_variant_families(table);
    family_tables::add_moe_variant_families(table);
    family_tables::add_encoder_variant_families(table);
    family_tables::add_gpt_oss_families(table);
    family_tables::add_llama4_families(table);
    family_tables::add_qwen_vl_families(table);
    family_tables::add_vl_families(table);
    family_tables::add_ssm_families(table);
    family_tables::add_ssm_hybrid_families(table);
    family_tables::add_qwen3_next_families(table);
    family_tables::add_lfm2_families(table);
    family_tables::add_whisper_families(table);
    family_tables::add_eagle_families(table);
    return table;
}

// clang-format off
const char* const role_names[role_count] = {
    "embed", "pos_embed", "type_embed", "embed_norm", "embed_proj",
    "attn_norm", "attn_qkv", "attn_q", "attn_q_a", "attn_q_a_norm", "attn_q_b", "attn_k", "attn_v",
    "attn_kv_a", "attn_kv_a_norm", "attn_kv_b", "attn_o", "attn_q_norm", "attn_k_norm", "attn_post_norm",
    "attn_rel_bias", "cross_norm", "cross_q", "cross_k", "cross_v", "cross_o",
    "ffn_norm", "ffn_gate", "ffn_up", "ffn_down", "ffn_post_norm", "ffn_router",
    "ffn_gate_exp", "ffn_up_exp", "ffn_down_exp", "ffn_gate_shexp", "ffn_up_shexp", "ffn_down_shexp",
    "ffn_shexp_gate", "output_norm", "pooler", "head_transform", "lm_head", "classifier", "mtp",
    "vision", "projector",
    "rope_freq", "attn_mask", "position_ids",
    "attn_sinks",
    "ssm_in", "ssm_conv", "ssm_dt", "ssm_params", "ssm_norm", "ssm_out",
    "audio_conv", "unclassified",
};
const char* const head_names[] = {"none", "causal-lm", "masked-lm", "seq-cls", "cond-gen", "pretraining"};
// clang-format on

} // namespace

const char* role_name(role r) {
    return role_names[static_cast<int>(r)];
}

const char* head_kind_name(head_kind h) {
    return head_names[static_cast<int>(h)];
}

std::optional<head_kind> parse_head_kind(const std::string& name) {
    for (int i = 0; i < static_cast<int>(std::size(head_names)); ++i)
        if (name == head_names[i]) return static_cast<head_kind>(i);
    if (name == "base" || name == "model") return head_kind::none;
    return std::nullopt;
}

family_info family(const char* model_type, const char* class_prefix, family_reader read,
                   std::vector<template_table> base, std::vector<head_info> heads) {
    family_info f;
    f.model_type = model_type;
    f.class_prefix = class_prefix;
    f.read = read;
    f.base = std::move(base);
    f.heads = std::move(heads);
    return f;
}

const std::vector<family_info>& families() {
    static const std::vector<family_info> table = build_table();
    return table;
}

int find_family(const std::string& model_type) {
    const auto& table = families();
    for (size_t i = 0; i < table.size(); ++i)
        if (model_type == table[i].model_type) return static_cast<int>(i);
    return -1;
}

std::string supported_model_types() {
    std::string out;
    for (const auto& f : families()) {
        if (!out.empty()) out += ", ";
        out += f.model_type;
    }
    return out;
}

} // namespace modelplan
