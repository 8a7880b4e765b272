// What the name of a checkpoint tensor says when no family table describes it: its block, its expert and its
// role (header-internal.h). Roles come first from the tensor names of the families we model, since a new
// model mostly reuses the names of an older one (Llama's "self_attn.q_proj", GPT-2's "attn.c_attn"); then
// from the usual meaning of a name's last components; for GGUF files from llama.cpp's own tensor names.
#include <algorithm>
#include <cctype>
#include <unordered_map>

#include "model/header-internal.h"
#include "modelplan/gguf.h"

namespace modelplan::header_read {

namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
}

std::vector<std::string> components(const std::string& name) {
    std::vector<std::string> out;
    for (size_t start = 0;;) {
        size_t dot = name.find('.', start);
        out.push_back(name.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
        if (dot == std::string::npos) return out;
        start = dot + 1;
    }
}

std::string joined(const std::vector<std::string>& parts, size_t begin, size_t end) {
    std::string out;
    for (size_t i = begin; i < end; ++i) out += (i > begin ? "." : "") + parts[i];
    return out;
}

// A name with every number and every {layer} / {expert} as "#": the key under which names of one shape
// compare (T5's "block.{layer}.layer.0.SelfAttention" has a literal 0 where a checkpoint has a number too).
std::string shape_key(const std::string& name) {
    std::vector<std::string> parts = components(name);
    for (auto& p : parts)
        if (all_digits(p) || p == "{layer}" || p == "{expert}") p = "#";
    return joined(parts, 0, parts.size());
}

// Every tensor name pattern of the families we model, under its shape key, with its role; the first family
// in table order wins where two differ. Base-model names are kept with and without the base prefix, since a
// checkpoint of the bare model has no "model.".
const std::unordered_map<std::string, role>& family_names() {
    static const std::unordered_map<std::string, role> table = [] {
        std::unordered_map<std::string, role> out;
        auto add = [&](const std::vector<template_table>& groups, const std::string& prefix) {
            for (const auto& g : groups)
                for (size_t i = 0; i < g.size; ++i)
                    out.emplace(shape_key(prefix + g.prefix + g.rows[i].name), g.rows[i].what);
        };
        for (const family_info& fam : families()) {
            for (const std::string& prefix : {std::string(fam.base_prefix), std::string()}) {
                add(fam.base, prefix);
                add(fam.buffers, prefix);
            }
            for (const head_info& h : fam.heads) add(h.tensors, "");
        }
        return out;
    }();
    return table;
}

// The usual meaning of a module's name (the component before .weight / .bias), for names no family has.
// Context decides a few: inside experts, shared experts, or an attention module.
struct ending_row {
    const char* names; // space-separated module names
    role plain, expert, shared;
};
// clang-format off
const ending_row endings[] = {
    {"embed_tokens wte word_embeddings tok_embeddings embed_in",          role::embed,       role::embed,        role::embed},
    {"wpe embed_positions position_embeddings",                           role::pos_embed,   role::pos_embed,    role::pos_embed},
    {"lm_head embed_out",                                                 role::lm_head,     role::lm_head,      role::lm_head},
    {"q_proj query wq",                                                   role::attn_q,      role::attn_q,       role::attn_q},
    {"k_proj key wk",                                                     role::attn_k,      role::attn_k,       role::attn_k},
    {"v_proj value wv",                                                   role::attn_v,      role::attn_v,       role::attn_v},
    {"qkv_proj query_key_value c_attn wqkv Wqkv qkv",                     role::attn_qkv,    role::attn_qkv,     role::attn_qkv},
    {"o_proj wo out_proj",                                                role::attn_o,      role::attn_o,       role::attn_o},
    {"q_norm q_layernorm",                                                role::attn_q_norm, role::attn_q_norm,  role::attn_q_norm},
    {"k_norm k_layernorm",                                                role::attn_k_norm, role::attn_k_norm,  role::attn_k_norm},
    {"gate_proj w1",                                                      role::ffn_gate,    role::ffn_gate_exp, role::ffn_gate_shexp},
    {"up_proj w3 fc1 c_fc dense_h_to_4h gate_up_proj",                    role::ffn_up,      role::ffn_up_exp,   role::ffn_up_shexp},
    {"down_proj w2 fc2 dense_4h_to_h",                                    role::ffn_down,    role::ffn_down_exp, role::ffn_down_shexp},
    {"router e_score_correction_bias",                                    role::ffn_router,  role::ffn_router,   role::ffn_router},
    {"shared_expert_gate",                                                role::ffn_shexp_gate, role::ffn_shexp_gate, role::ffn_shexp_gate},
    {"input_layernorm ln_1 attention_norm attn_norm ln_attn",             role::attn_norm,   role::attn_norm,    role::attn_norm},
    {"post_attention_layernorm ln_2 ffn_norm pre_feedforward_layernorm",  role::ffn_norm,    role::ffn_norm,     role::ffn_norm},
    {"post_feedforward_layernorm",                                        role::ffn_post_norm, role::ffn_post_norm, role::ffn_post_norm},
    {"norm ln_f final_layernorm final_layer_norm final_norm",             role::output_norm, role::output_norm,  role::output_norm},
};
// clang-format on

bool listed(const char* names, const std::string& word) {
    std::string list = std::string(" ") + names + " ";
    return list.find(" " + word + " ") != std::string::npos;
}

std::optional<role> role_by_ending(const std::vector<std::string>& parts, bool in_block) {
    if (parts.size() < 2) return std::nullopt;
    const std::string& module = parts[parts.size() - 2];
    bool expert = false, shared = false, attention = false;
    for (size_t i = 0; i + 2 < parts.size(); ++i) {
        const std::string& p = parts[i];
        expert = expert || p == "experts";
        shared = shared || p.find("shared_expert") != std::string::npos || p == "shared_mlp";
        attention =
            attention || p.find("attn") != std::string::npos || p.find("attention") != std::string::npos;
    }
    // c_proj and dense are the attention output inside an attention module, the FFN's down projection
    // elsewhere (GPT-2's attn.c_proj and mlp.c_proj).
    if (module == "c_proj" || module == "dense") return attention ? role::attn_o : role::ffn_down;
    for (const ending_row& row : endings)
        if (listed(row.names, module)) {
            if (row.plain == role::output_norm && in_block) return std::nullopt; // a norm of its own block
            return shared ? row.shared : expert ? row.expert : row.plain;
        }
    return std::nullopt;
}

} // namespace

name_parts split_name(const std::string& name) {
    name_parts out;
    std::vector<std::string> parts = components(name);
    std::optional<size_t> block_at, expert_at;
    for (size_t i = 0; i < parts.size(); ++i) {
        if (!all_digits(parts[i])) continue;
        if (!block_at) {
            block_at = i;
        } else if (!expert_at && i > 0 && parts[i - 1] == "experts") {
            expert_at = i;
        }
    }
    if (block_at) {
        out.stack = joined(parts, 0, *block_at);
        out.block = std::stoull(parts[*block_at]);
        parts[*block_at] = "{layer}";
    }
    if (expert_at) {
        out.expert = std::stoull(parts[*expert_at]);
        parts[*expert_at] = "{expert}";
    }
    out.pattern = joined(parts, 0, parts.size());
    return out;
}

guessed_role guess_role(const std::string& name, bool gguf) {
    const auto& table = family_names();
    auto it = table.find(shape_key(name));
    if (it != table.end()) return {it->second, role_match::family_name};
    if (gguf)
        if (auto r = gguf_name_role(name)) return {*r, role_match::gguf_name};
    if (auto r = role_by_ending(components(name), split_name(name).block.has_value()))
        return {*r, role_match::name_ending};
    return {role::unclassified, role_match::none};
}

} // namespace modelplan::header_read
