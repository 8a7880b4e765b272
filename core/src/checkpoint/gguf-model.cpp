// GGUF architecture metadata -> model_spec; GGUF tensor names <-> Hugging Face names, keyed by role; and the
// layout in which llama.cpp's converter stores each family.
// Key names: ggml docs/gguf.md ("LLM" section: [llm].embedding_length, .block_count, .feed_forward_length,
// .attention.head_count(_kv), .attention.key_length, .expert_count, .expert_used_count;
// tokenizer.ggml.tokens) and llama.cpp's LLM_KV_NAMES ({arch}.vocab_size, .expert_feed_forward_length,
// .rope.freq_base, .attention.layer_norm_rms_epsilon). The metadata mapping goes through a synthesized
// config.json so that every validation of parse_config applies.
// Tensor names: llama.cpp src/llama-arch.cpp LLM_TENSOR_NAMES (ggml-org/llama.cpp at
// 00395eb285c7c6821ff372e3ca41dae9da33c2c7: token_embd, position_embd, token_types, token_embd_norm,
// output_norm, output, blk.%d.attn_q ... blk.%d.ffn_gate_exps, blk.%d.exp_probs_b, blk.%d.attn_k_b,
// enc.blk.%d.* / dec.blk.%d.* for T5). Which Hugging Face tensor becomes which, and the layouts that differ
// (experts stacked, GPT-2's Conv1D transposed, StableLM's per-head norms stacked, MLA kv_b_proj split into
// attn_k_b and attn_v_b, RoBERTa's padding rows cropped, tensors left out): gguf-py/gguf/tensor_mapping.py
// and convert_hf_to_gguf.py (GPT2Model, BertModel, RobertaModel, StableLMModel, DeepseekV2Model,
// Gemma3Model, LlamaModel/Qwen2MoeModel expert merging) of the same repository.
#include <algorithm>
#include <cstring>

#include <rapidjson/document.h>

#include "model/config-json.h"
#include "modelplan/gguf.h"
#include "modelplan/text.h"
#include "modelplan/verify.h"

namespace modelplan {

namespace {

// clang-format off
// GGUF architectures whose metadata we read, and the model_type whose config keys they become.
struct gguf_arch {
    const char* arch;       // general.architecture
    const char* model_type; // config.json model_type (llama with experts becomes mixtral)
};
const gguf_arch arch_table[] = {
    {"llama", "llama"},
    {"qwen2", "qwen2"},
    {"qwen3", "qwen3"},
};

// The GGUF architecture each family converts to (convert_hf_to_gguf.py's ModelBase.register lines), or why
// llama.cpp cannot convert it.
struct gguf_family {
    const char* model_type;
    const char* arch;          // nullptr: not converted
    const char* why_not = nullptr;
};
const gguf_family gguf_families[] = {
    {"llama", "llama"}, {"mistral", "llama"}, {"mixtral", "llama"}, {"qwen2", "qwen2"}, {"qwen3", "qwen3"},
    {"qwen2_moe", "qwen2moe"}, {"qwen3_moe", "qwen3moe"}, {"deepseek_v2", "deepseek2"}, {"deepseek_v3", "deepseek2"},
    {"gemma", "gemma"}, {"gemma2", "gemma2"}, {"gemma3_text", "gemma3"}, {"gemma3", "gemma3"},
    {"phi", "phi2"}, {"phi3", "phi3"},
    {"opt", nullptr, "llama.cpp has no OPT architecture (convert_hf_to_gguf.py registers no OPT class)"},
    {"bloom", "bloom"}, {"falcon", "falcon"}, {"RefinedWeb", "falcon"}, {"RefinedWebModel", "falcon"},
    {"stablelm", "stablelm"}, {"starcoder2", "starcoder2"}, {"olmo", "olmo"}, {"olmo2", "olmo2"},
    {"gpt2", "gpt2"}, {"gpt_neox", "gptneox"}, {"bert", "bert"}, {"roberta", "bert"}, {"t5", "t5"},
    {"glm4", "glm4"}, {"glm4_moe", "glm4moe"}, {"minimax_m2", "minimax-m2"}, {"ernie4_5", "ernie4_5"},
    {"ernie4_5_moe", "ernie4_5-moe"}, {"bailing_moe", "bailingmoe2"}, {"hunyuan_v1_dense", "hunyuan-dense"},
    {"hunyuan_v1_moe", "hunyuan-moe"}, {"seed_oss", "seed_oss"},
    // Issue 13, group B (convert_hf_to_gguf.py: SmolLM3Model, GraniteModel, GraniteMoeModel, PhiMoeModel,
    // OlmoeModel, Olmo2Model (registered for Olmo3ForCausalLM too), CommandR2Model, Cohere2Model, Exaone4Model,
    // T5Model (MT5/UMT5ForConditionalGeneration), XLMRobertaModel (a BERT), ModernBertModel).
    {"smollm3", "smollm3"}, {"granite", "granite"}, {"granitemoe", "granitemoe"}, {"phimoe", "phimoe"},
    {"olmoe", "olmoe"}, {"olmo3", "olmo2"}, {"cohere", "command-r"}, {"cohere2", "cohere2"},
    {"exaone4", "exaone4"}, {"mt5", "t5"}, {"umt5", "t5"}, {"xlm-roberta", "bert"}, {"modernbert", "modern-bert"},
    {"gpt_oss", "gpt-oss"}, {"llama4_text", "llama4"}, {"llama4", "llama4"},
    // Issue 13, group VL (convert_hf_to_gguf.py: Qwen2VLModel for Qwen2VL and Qwen2_5_VL, Qwen3VLTextModel,
    // Qwen3VLMoeTextModel; the vision towers go to the mmproj file).
    {"qwen2_vl", "qwen2vl"}, {"qwen2_5_vl", "qwen2vl"}, {"qwen3_vl", "qwen3vl"}, {"qwen3_vl_moe", "qwen3vlmoe"},
    // Mistral3Model and LlamaModel (registered for LlavaForConditionalGeneration; the text models of
    // LLaVA-NeXT, Idefics3 and SmolVLM convert by their text_config's LlamaForCausalLM/MistralForCausalLM).
    {"mistral3", "llama"}, {"llava", "llama"}, {"llava_next", "llama"}, {"idefics3", "llama"}, {"smolvlm", "llama"},
};
// clang-format on

// How a Hugging Face tensor is stored in GGUF, beyond its name. Tensors repeated per expert or per head are
// stacked into one (scope, not a rule, says so).
enum class layout : uint8_t {
    as_is,
    transposed, // 2-D weights the model stores [in, out] (GPT-2's Conv1D); llama.cpp stores [out, in]
    cropped,    // the first rows left out: RoBERTa's position table starts at padding_idx + 1 = 2
    split_kv_b, // MLA kv_b_proj as attn_k_b [heads, kv_lora, qk_nope] and attn_v_b [heads, v_head, kv_lora]
    split_gate_rows, // Granite MoE's stacked input_linear [experts, 2 x ffn, hidden] as ffn_gate_exps and
                     // ffn_up_exps [experts, ffn, hidden] (the first half of the rows is the gate)
    split_gate_up,   // stacked experts' gate_up_proj [experts, hidden, 2 x ffn] as ffn_gate_exps and
                     // ffn_up_exps [experts, ffn, hidden] each (its bias [experts, 2 x ffn] as two [experts,
                     // ffn])
    left_out,        // not converted
};
constexpr uint64_t roberta_position_offset = 2; // RobertaConfig pad_token_id 1, plus one

// One row of the GGUF name table: the GGUF name of a role ("{layer}" is the block), for an architecture or
// family only, or for Hugging Face names holding `part` only, when one role has several GGUF tensors.
struct name_rule {
    role what = role::embed;
    const char* gguf = nullptr; // without .weight/.bias unless the row names a full name
    const char* only = nullptr; // a GGUF architecture or a model_type
    const char* part = nullptr;
    layout how = layout::as_is;

    constexpr name_rule only_for(const char* arch_or_family) const {
        name_rule r = *this;
        r.only = arch_or_family;
        return r;
    }
    constexpr name_rule where(const char* hf_part) const {
        name_rule r = *this;
        r.part = hf_part;
        return r;
    }
    constexpr name_rule as(layout l) const {
        name_rule r = *this;
        r.how = l;
        return r;
    }
};
constexpr name_rule named(role what, const char* gguf) {
    name_rule r;
    r.what = what;
    r.gguf = gguf;
    return r;
}
constexpr name_rule left_out(role what) {
    return named(what, nullptr).as(layout::left_out);
}

// First match wins: the rows for one architecture or one Hugging Face name come before the general ones.
// clang-format off
constexpr name_rule name_rules[] = {
    // BERT (BertModel.filter_tensors: position_ids, the pooler and the cls.* pre-training heads are left out;
    // a classifier becomes cls (dense) and cls.output); RoBERTa converts as BERT with its padding rows cropped.
    named(role::attn_post_norm, "blk.{layer}.attn_output_norm") .only_for("bert"),
    named(role::ffn_post_norm,  "blk.{layer}.layer_output_norm").only_for("bert"),
    left_out(role::pooler)                                      .only_for("bert"),
    left_out(role::head_transform)                              .only_for("bert"),
    left_out(role::lm_head)                                     .only_for("bert"),
    left_out(role::classifier)                                  .only_for("bert").where("cls.seq_relationship"),
    named(role::classifier,     "cls")                          .only_for("bert").where("classifier.dense"),
    named(role::classifier,     "cls.output")                   .only_for("bert"),
    named(role::pos_embed,      "position_embd")                .only_for("roberta").as(layout::cropped),
    named(role::pos_embed,      "position_embd")                .only_for("xlm-roberta").as(layout::cropped),
    // Granite MoE: input_linear's first half of rows is the gate, the second the up projection
    // (GraniteMoeModel.modify_tensors).
    named(role::ffn_up_exp,     "blk.{layer}.ffn_gate_exps")    .where("input_linear").as(layout::split_gate_rows), // and ffn_up_exps
    // T5: the final norms by stack (the per-layer names take "enc." or "dec." from their layer's stack).
    named(role::output_norm,    "enc.output_norm")              .only_for("t5").where("encoder."),
    named(role::output_norm,    "dec.output_norm")              .only_for("t5").where("decoder."),
    named(role::attn_o,         "blk.{layer}.attn_o")           .only_for("t5"),
    // Falcon's new decoder architecture: ln_attn is ATTN_NORM_2, ln_mlp is ATTN_NORM (tensor_mapping.py).
    named(role::attn_norm,      "blk.{layer}.attn_norm_2")      .only_for("falcon").where(".ln_attn."),
    named(role::ffn_norm,       "blk.{layer}.attn_norm")        .only_for("falcon").where(".ln_mlp."),
    // GPT-2's Conv1D weights are transposed (GPT2Model.modify_tensors).
    named(role::attn_qkv,       "blk.{layer}.attn_qkv")         .only_for("gpt2").as(layout::transposed),
    named(role::attn_o,         "blk.{layer}.attn_output")      .only_for("gpt2").as(layout::transposed),
    named(role::ffn_up,         "blk.{layer}.ffn_up")           .only_for("gpt2").as(layout::transposed),
    named(role::ffn_down,       "blk.{layer}.ffn_down")         .only_for("gpt2").as(layout::transposed),
    // DeepSeek's router score-correction bias (DeepseekV2Model renames it e_score_correction.bias).
    named(role::ffn_router,     "blk.{layer}.exp_probs_b.bias") .where("e_score_correction_bias"),
    named(role::ffn_router,     "blk.{layer}.exp_probs_b.bias") .where("expert_bias"), // Ling 2.0's router bias
    // GLM-4.5's next-token-prediction layer is converted as block num_hidden_layers with its nextn tensors
    // (LLM_TENSOR_NEXTN_*).
    named(role::mtp, "blk.{layer}.nextn.embed_tokens")     .only_for("glm4moe").where(".embed_tokens."),
    named(role::mtp, "blk.{layer}.nextn.enorm")            .only_for("glm4moe").where(".enorm."),
    named(role::mtp, "blk.{layer}.nextn.hnorm")            .only_for("glm4moe").where(".hnorm."),
    named(role::mtp, "blk.{layer}.nextn.eh_proj")          .only_for("glm4moe").where(".eh_proj."),
    named(role::mtp, "blk.{layer}.nextn.shared_head_norm") .only_for("glm4moe").where(".shared_head.norm."),
    named(role::mtp, "blk.{layer}.nextn.shared_head_head") .only_for("glm4moe").where(".shared_head.head."),
    // Stacked experts (gpt-oss, Llama 4): GptOssModel and Llama4Model split gate_up_proj into gate and up
    // (gpt-oss interleaved, Llama 4 by halves) and transpose the weights to [experts, out, in].
    named(role::ffn_up_exp,     "blk.{layer}.ffn_gate_exps.bias").where("gate_up_proj_bias").as(layout::split_gate_up),
    named(role::ffn_up_exp,     "blk.{layer}.ffn_gate_exps")    .where("experts.gate_up_proj").as(layout::split_gate_up),
    named(role::ffn_down_exp,   "blk.{layer}.ffn_down_exps.bias").where("down_proj_bias"),
    named(role::ffn_down_exp,   "blk.{layer}.ffn_down_exps")    .where("experts.down_proj").as(layout::transposed),
    // gpt-oss: post_attention_layernorm is LLM_TENSOR_ATTN_POST_NORM (its architecture has no FFN_NORM).
    named(role::ffn_norm,       "blk.{layer}.post_attention_norm").only_for("gpt-oss"),
    // LLM_TENSOR_NAMES.
    named(role::embed,          "token_embd"),
    named(role::pos_embed,      "position_embd"),
    named(role::type_embed,     "token_types"),
    named(role::embed_norm,     "token_embd_norm"),
    named(role::attn_norm,      "blk.{layer}.attn_norm"),
    named(role::attn_qkv,       "blk.{layer}.attn_qkv"),
    named(role::attn_q,         "blk.{layer}.attn_q"),
    named(role::attn_q_a,       "blk.{layer}.attn_q_a"),
    named(role::attn_q_a_norm,  "blk.{layer}.attn_q_a_norm"),
    named(role::attn_q_b,       "blk.{layer}.attn_q_b"),
    named(role::attn_k,         "blk.{layer}.attn_k"),
    named(role::attn_v,         "blk.{layer}.attn_v"),
    named(role::attn_kv_a,      "blk.{layer}.attn_kv_a_mqa"),
    named(role::attn_kv_a_norm, "blk.{layer}.attn_kv_a_norm"),
    named(role::attn_kv_b,      "blk.{layer}.attn_k_b")         .as(layout::split_kv_b), // and blk.{layer}.attn_v_b
    named(role::attn_o,         "blk.{layer}.attn_output"),
    named(role::attn_q_norm,    "blk.{layer}.attn_q_norm"),
    named(role::attn_k_norm,    "blk.{layer}.attn_k_norm"),
    named(role::attn_post_norm, "blk.{layer}.post_attention_norm"),
    named(role::attn_rel_bias,  "blk.{layer}.attn_rel_b"),
    named(role::cross_norm,     "blk.{layer}.cross_attn_norm"),
    named(role::cross_q,        "blk.{layer}.cross_attn_q"),
    named(role::cross_k,        "blk.{layer}.cross_attn_k"),
    named(role::cross_v,        "blk.{layer}.cross_attn_v"),
    named(role::cross_o,        "blk.{layer}.cross_attn_o"),
    named(role::ffn_norm,       "blk.{layer}.ffn_norm"),
    named(role::ffn_gate,       "blk.{layer}.ffn_gate"),
    named(role::ffn_up,         "blk.{layer}.ffn_up"),
    named(role::ffn_down,       "blk.{layer}.ffn_down"),
    named(role::ffn_post_norm,  "blk.{layer}.post_ffw_norm"),
    named(role::ffn_router,     "blk.{layer}.ffn_gate_inp"),
    named(role::ffn_gate_exp,   "blk.{layer}.ffn_gate_exps"),
    named(role::ffn_up_exp,     "blk.{layer}.ffn_up_exps"),
    named(role::ffn_down_exp,   "blk.{layer}.ffn_down_exps"),
    named(role::ffn_gate_shexp, "blk.{layer}.ffn_gate_shexp"),
    named(role::ffn_up_shexp,   "blk.{layer}.ffn_up_shexp"),
    named(role::ffn_down_shexp, "blk.{layer}.ffn_down_shexp"),
    named(role::ffn_shexp_gate, "blk.{layer}.ffn_gate_inp_shexp"),
    named(role::output_norm,    "output_norm"),
    named(role::lm_head,        "output"),
    named(role::rope_freq,      "blk.{layer}.attn_rot_embd"),
    named(role::attn_sinks,     "blk.{layer}.attn_sinks"),
    // Not converted: task heads other than the LM head, the MTP modules (DeepseekV2Model skips every layer from
    // num_hidden_layers on), vision towers and projectors (their own mmproj file), OPT's projections, buffers.
    left_out(role::classifier),
    left_out(role::pooler),
    left_out(role::head_transform),
    left_out(role::mtp),
    left_out(role::vision),
    left_out(role::projector),
    left_out(role::embed_proj),
    left_out(role::attn_mask),
    left_out(role::position_ids),
};
// clang-format on

const gguf_family* gguf_family_of(const std::string& model_type) {
    for (const auto& f : gguf_families)
        if (model_type == f.model_type) return &f;
    return nullptr;
}

const name_rule* find_rule(role what, const std::string& hf_name, const char* arch, const char* model_type) {
    for (const auto& r : name_rules) {
        if (r.what != what) continue;
        if (r.only && std::strcmp(r.only, arch) != 0 && std::strcmp(r.only, model_type) != 0) continue;
        if (r.part && hf_name.find(r.part) == std::string::npos) continue;
        return &r;
    }
    return nullptr;
}

void replace_all(std::string& s, const char* from, const std::string& to) {
    size_t n = std::strlen(from);
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, n, to);
}

// The GGUF name of a rule for a Hugging Face name: the rule's pattern with "{layer}" as given, the stack's
// prefix (T5: "enc." / "dec.") before per-layer names, and the Hugging Face name's .weight/.bias suffix.
std::string gguf_name_of(const name_rule& r, const std::string& hf_name, const std::string& layer,
                         const char* stack_prefix, const char* pattern = nullptr) {
    std::string name = pattern ? pattern : r.gguf;
    replace_all(name, "{layer}", layer);
    if (name.compare(0, 4, "blk.") == 0) name = stack_prefix + name;
    if (ends_with(name, ".weight") || ends_with(name, ".bias")) return name;
    return name + (ends_with(hf_name, ".bias") ? ".bias" : ".weight");
}

// T5's encoder and decoder blocks are enc.blk.N and dec.blk.N (LLM_TENSOR_ENC_* / LLM_TENSOR_DEC_*).
const char* stack_prefix(const char* arch, uint64_t switches) {
    if (std::strcmp(arch, "t5") != 0) return "";
    if (switches & sw_encoder) return "enc.";
    if (switches & sw_decoder) return "dec.";
    return "";
}

// ---- GGUF names -> Hugging Face names, from the templates (no model at hand)

struct name_pattern {
    std::string gguf; // with {layer}, and {expert} for the per-expert names of older conversions
    std::string hf;   // full Hugging Face name with {layer} and {expert}
};

// Every template of the families converting to `arch` with its GGUF name pattern; the first family wins.
std::vector<name_pattern> patterns_of(const std::string& arch) {
    std::vector<name_pattern> out;
    auto add = [&](const tensor_template& t, const std::string& hf, const family_info& fam) {
        if (t.tied_to && t.tie_needs == 0) return; // always an alias (T5's encoder/decoder embed_tokens)
        const name_rule* r = find_rule(t.what, hf, arch.c_str(), fam.model_type);
        if (!r || r->how == layout::left_out) return;
        const char* stack = stack_prefix(arch.c_str(), t.needs);
        std::string gguf = gguf_name_of(*r, hf, "{layer}", stack);
        for (const auto& p : out)
            if (p.gguf == gguf) return;
        out.push_back({gguf, hf});
        if (t.where == scope::expert) { // blk.N.ffn_gate.E.weight (LLM_TENSOR_FFN_GATE_EXP)
            std::string per_expert = r->gguf;
            replace_all(per_expert, "_exps", ".{expert}");
            out.push_back({gguf_name_of(*r, hf, "{layer}", stack, per_expert.c_str()), hf});
        }
    };
    auto add_groups = [&](const std::vector<template_table>& groups, const std::string& prefix,
                          const family_info& fam) {
        for (const auto& group : groups)
            for (size_t i = 0; i < group.size; ++i)
                add(group.rows[i], prefix + group.prefix + group.rows[i].name, fam);
    };
    for (const auto& fam : families()) {
        const gguf_family* g = gguf_family_of(fam.model_type);
        if (!g || !g->arch || arch != g->arch) continue;
        const head_info& head = fam.heads.front();
        std::string base_prefix = head.kind == head_kind::none ? "" : fam.base_prefix;
        add_groups(fam.base, base_prefix, fam);
        add_groups(head.tensors, "", fam);
        add_groups(fam.buffers, base_prefix, fam);
    }
    return out;
}

const std::vector<name_pattern>* name_patterns(const std::string& arch) {
    static const std::vector<std::pair<std::string, std::vector<name_pattern>>> all = [] {
        std::vector<std::pair<std::string, std::vector<name_pattern>>> out;
        for (const auto& f : gguf_families) {
            if (!f.arch) continue;
            bool seen = false;
            for (const auto& a : out) seen = seen || a.first == f.arch;
            if (!seen) out.emplace_back(f.arch, patterns_of(f.arch));
        }
        return out;
    }();
    for (const auto& a : all)
        if (a.first == arch) return &a.second;
    return nullptr;
}

// A GGUF name with its numeric components replaced: the first by {layer}, the second by {expert}.
struct numbered_name {
    std::string pattern;
    std::string layer, expert;
};
std::optional<numbered_name> number_pattern(const std::string& name) {
    numbered_name out;
    for (size_t start = 0; start <= name.size();) {
        size_t dot = std::min(name.find('.', start), name.size());
        std::string part = name.substr(start, dot - start);
        if (part.empty()) return std::nullopt;
        bool digits = part.size() <= 9 &&
                      std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (digits && out.layer.empty()) {
            out.layer = part;
            part = "{layer}";
        } else if (digits && out.expert.empty()) {
            out.expert = part;
            part = "{expert}";
        } else if (digits) {
            return std::nullopt;
        }
        out.pattern += (start ? "." : "") + part;
        start = dot + 1;
    }
    return out;
}

const gguf_arch* find_arch(const std::string& arch) {
    for (const auto& a : arch_table)
        if (arch == a.arch) return &a;
    return nullptr;
}

std::string supported_archs() {
    std::string out;
    for (const auto& a : arch_table) out += (out.empty() ? "" : ", ") + std::string(a.arch);
    return out;
}

bool is_integer(const gguf_value& v) {
    switch (v.type) {
    case gguf_uint8:
    case gguf_uint16:
    case gguf_uint32:
    case gguf_uint64:
    case gguf_int8:
    case gguf_int16:
    case gguf_int32:
    case gguf_int64: return true;
    }
    return false;
}

bool is_float(const gguf_value& v) {
    return v.type == gguf_float32 || v.type == gguf_float64;
}

// Reads GGUF metadata keys into config.json keys, naming the GGUF key in every error.
class gguf_keys {
  public:
    gguf_keys(const checkpoint& ck, std::string arch) : ck_(ck), arch_(std::move(arch)) {}

    std::string key(const char* suffix) const { return arch_ + "." + suffix; }

    // An unsigned integer of any integer type; nullopt when absent.
    result<std::optional<uint64_t>> count(const std::string& key) const {
        const gguf_value* v = find_gguf_value(ck_, key);
        if (!v) return std::optional<uint64_t>{};
        if (v->type == gguf_array)
            return make_error(
                error_code::unsupported,
                "GGUF metadata " + key + " is an array (per-layer values), which is not supported", key);
        if (!is_integer(*v))
            return make_error(
                error_code::wrong_type,
                "GGUF metadata " + key + ": expected an integer, got a " + gguf_type_name(v->type), key);
        bool is_signed =
            v->type == gguf_int8 || v->type == gguf_int16 || v->type == gguf_int32 || v->type == gguf_int64;
        if (is_signed && v->i < 0)
            return make_error(error_code::out_of_range,
                              "GGUF metadata " + key + " must not be negative, got " + std::to_string(v->i),
                              key);
        return std::optional<uint64_t>{is_signed ? static_cast<uint64_t>(v->i) : v->u};
    }

    result<uint64_t> required(const char* suffix, const char* config_key) const {
        auto v = count(key(suffix));
        if (!v) return v.err();
        if (!*v)
            return make_error(error_code::missing_key,
                              "GGUF metadata has no " + key(suffix) + " (needed for " + config_key + ")",
                              key(suffix));
        return **v;
    }

    std::optional<double> number(const char* suffix) const {
        const gguf_value* v = find_gguf_value(ck_, key(suffix));
        if (!v) return std::nullopt;
        if (is_float(*v)) return v->f;
        if (is_integer(*v)) return v->i ? static_cast<double>(v->i) : static_cast<double>(v->u);
        return std::nullopt;
    }

    const gguf_value* find(const std::string& key) const { return find_gguf_value(ck_, key); }

  private:
    const checkpoint& ck_;
    std::string arch_;
};

const checkpoint_tensor* find_tensor(const checkpoint& ck, const char* name) {
    for (const auto& t : ck.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void set(rapidjson::Document& doc, const char* key, uint64_t v) {
    doc.AddMember(rapidjson::StringRef(key), rapidjson::Value(v), doc.GetAllocator());
}

// general.file_type (llama_ftype) for unquantized files: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32.
const char* torch_dtype_of(uint64_t file_type) {
    switch (file_type) {
    case 0: return "float32";
    case 1: return "float16";
    case 32: return "bfloat16";
    }
    return nullptr;
}

} // namespace

std::optional<std::string> gguf_to_hf_name(const std::string& arch, const std::string& name) {
    const std::vector<name_pattern>* patterns = name_patterns(arch);
    auto numbered = number_pattern(name);
    if (!patterns || !numbered) return std::nullopt;
    for (const auto& p : *patterns) {
        if (p.gguf != numbered->pattern) continue;
        std::string hf = p.hf;
        replace_all(hf, "{layer}", numbered->layer);
        if (!numbered->expert.empty()) replace_all(hf, "{expert}", numbered->expert);
        return hf;
    }
    return std::nullopt;
}

std::optional<role> gguf_name_role(const std::string& name) {
    auto numbered = number_pattern(name);
    if (!numbered) return std::nullopt;
    for (const auto& r : name_rules) {
        if (r.only || r.part || !r.gguf || r.how == layout::left_out) continue;
        if (gguf_name_of(r, name, "{layer}", "") == numbered->pattern) return r.what;
    }
    return std::nullopt;
}

namespace {

// Builds a gguf_layout from the skeleton, tensor by tensor in state_dict order.
class layout_builder {
  public:
    layout_builder(const model_spec& spec, const skeleton& sk, const char* arch)
        : spec_(spec), sk_(sk), arch_(arch) {
        out_.arch = arch;
        out_.expected.base_prefix = sk.base_prefix;
        out_.expected.aliases = sk.aliases;
    }

    gguf_layout run() {
        for (const tensor_info& t : sk_.tensors) add(t);
        add_gpt2_output();
        return std::move(out_);
    }

  private:
    void add(const tensor_info& t) {
        const layer_spec* layer = t.layer == no_index ? nullptr : &spec_.layers[static_cast<size_t>(t.layer)];
        const name_rule* r = find_rule(t.what, t.name, arch_, spec_.model_type.c_str());
        // DeepseekV2Model skips every tensor of the multi-token-prediction layers; Glm4MoeModel keeps them.
        bool mtp_skipped = layer && layer->stack == layer_stack::mtp && std::strcmp(arch_, "glm4moe") != 0;
        if (!r || r->how == layout::left_out || mtp_skipped) {
            out_.left_out.push_back(t.name);
            return;
        }
        uint64_t switches = spec_.switches | (layer ? layer->switches : 0);
        std::string block = layer ? std::to_string(layer->index) : std::string();
        std::string name = gguf_name_of(*r, t.name, block, stack_prefix(arch_, switches));
        tensor_info kept = t;
        if (r->how == layout::cropped && !kept.shape.empty() && kept.shape[0] > roberta_position_offset) {
            kept.shape[0] -= roberta_position_offset;
            kept.elements = kept.elements / t.shape[0] * kept.shape[0];
        }
        out_.expected.tensors.push_back(kept);
        if (r->how == layout::split_kv_b) return add_split_kv_b(name, kept);
        if (r->how == layout::split_gate_up) return add_split_gate_up(name, kept, false);
        if (r->how == layout::split_gate_rows) return add_split_gate_up(name, kept, true);
        const scope where = t.source ? t.source->where : scope::global;
        bool stacked = where == scope::expert || where == scope::q_head || where == scope::kv_head;
        if (stacked) return add_stacked(*r, name, kept, switches);
        std::vector<uint64_t> shape = kept.shape;
        if (r->how == layout::transposed && shape.size() >= 2) // the last two dimensions
            std::swap(shape[shape.size() - 2], shape[shape.size() - 1]);
        store(name, shape, kept, "");
    }

    // Experts (LlamaModel, Qwen2MoeModel, DeepseekV2Model: torch.stack(dim=0)) and StableLM's per-head norms
    // (StableLMModel._stack_qk_norm) stacked into one tensor [count, ...].
    void add_stacked(const name_rule& r, const std::string& name, const tensor_info& t, uint64_t switches) {
        auto at = out_.by_name.find(name);
        if (at == out_.by_name.end()) {
            std::vector<uint64_t> shape = {1};
            shape.insert(shape.end(), t.shape.begin(), t.shape.end());
            store(name, shape, t, "");
            at = out_.by_name.find(name);
        } else {
            gguf_stored_tensor& st = out_.tensors[at->second.first];
            st.holds.push_back(t.name);
            st.shape[0] = st.holds.size();
        }
        if (!t.source || t.source->where != scope::expert) return;
        // Older conversions store one tensor per expert: blk.N.ffn_gate.E.weight (LLM_TENSOR_FFN_GATE_EXP).
        std::string per_expert = r.gguf;
        replace_all(per_expert, "_exps", ".{expert}");
        replace_all(per_expert, "{expert}", std::to_string(t.expert));
        const layer_spec& layer = spec_.layers[static_cast<size_t>(t.layer)];
        std::string old_name = gguf_name_of(r, t.name, std::to_string(layer.index),
                                            stack_prefix(arch_, switches), per_expert.c_str());
        gguf_stored_tensor& st = out_.tensors[at->second.first];
        out_.by_name[old_name] = {at->second.first, static_cast<int64_t>(st.holds.size() - 1)};
    }

    // MLA: kv_b_proj [heads x (nope + v), kv_lora] becomes attn_k_b [heads, kv_lora, nope] (transposed per
    // head) and attn_v_b [heads, v_head, kv_lora] (DeepseekV2Model.modify_tensors, absorption).
    void add_split_kv_b(const std::string& k_name, const tensor_info& t) {
        std::string v_name = k_name;
        replace_all(v_name, "attn_k_b", "attn_v_b");
        const uint64_t heads = spec_.n_heads, kv_lora = spec_.kv_lora_rank;
        store(k_name, {heads, kv_lora, spec_.qk_nope_head_dim}, t, v_name);
        store(v_name, {heads, spec_.v_head_dim, kv_lora}, t, k_name);
    }

    // Stacked experts' gate_up_proj [experts, hidden, 2 x ffn] becomes ffn_gate_exps and ffn_up_exps
    // [experts, ffn, hidden]; its bias [experts, 2 x ffn] two [experts, ffn] (GptOssModel.modify_tensors,
    // Llama4Model.modify_tensors). Granite MoE's input_linear [experts, 2 x ffn, hidden] (`rows`) is split
    // along the rows without a transpose (GraniteMoeModel.modify_tensors).
    void add_split_gate_up(const std::string& gate_name, const tensor_info& t, bool rows) {
        std::string up_name = gate_name;
        replace_all(up_name, "ffn_gate_exps", "ffn_up_exps");
        std::vector<uint64_t> half = t.shape;
        if (rows && half.size() == 3)
            half[1] /= 2;
        else if (half.size() == 3)
            half = {t.shape[0], t.shape[2] / 2, t.shape[1]};
        else if (!half.empty())
            half.back() /= 2;
        store(gate_name, half, t, up_name);
        store(up_name, half, t, gate_name);
    }

    // GPT2Model.modify_tensors writes token_embd again as output: the tied head is stored.
    void add_gpt2_output() {
        if (std::strcmp(arch_, "gpt2") != 0 || !spec_.tie_embeddings()) return;
        auto embed = out_.by_name.find("token_embd.weight");
        if (embed == out_.by_name.end()) return;
        const gguf_stored_tensor& stored = out_.tensors[embed->second.first];
        for (const tensor_alias& a : sk_.aliases)
            if (a.target == stored.holds[0]) {
                gguf_stored_tensor copy = stored;
                copy.name = "output.weight";
                copy.holds = {a.name};
                out_.by_name[copy.name] = {out_.tensors.size(), -1};
                out_.tensors.push_back(std::move(copy));
                return;
            }
    }

    void store(const std::string& name, std::vector<uint64_t> shape, const tensor_info& t,
               const std::string& joined) {
        out_.by_name[name] = {out_.tensors.size(), -1};
        out_.tensors.push_back({name, std::move(shape), {t.name}, t.shape, joined});
    }

    const model_spec& spec_;
    const skeleton& sk_;
    const char* arch_;
    gguf_layout out_;
};

const checkpoint_tensor* find_stored(const checkpoint& ck, const std::string& name) {
    for (const auto& t : ck.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

logical_tensor logical_of(const checkpoint_tensor& t) {
    logical_tensor l = logical_tensor_as_stored(t);
    const ggml_type_info* type = find_ggml_type(t.dtype);
    l.quantized = type && ggml_type_is_quantized(*type);
    l.dtype_comparable = false;
    if (t.name == "rope_freqs.weight") l.kind = logical_kind::buffer; // llama 3 rope factors
    return l;
}

uint64_t product(const std::vector<uint64_t>& shape) {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
}

// By the model's layout: the skeleton tensors a GGUF tensor holds, with their skeleton shapes when its own
// shape is the expected one; under the first one's name with the stored shape (a mismatch) when it is not.
bool add_by_layout(const checkpoint& ck, const checkpoint_tensor& t, const gguf_layout& layout,
                   std::vector<logical_tensor>& out) {
    auto found = layout.by_name.find(t.name);
    if (found == layout.by_name.end()) return false;
    const gguf_stored_tensor& st = layout.tensors[found->second.first];
    const int64_t one = found->second.second; // one expert of an older per-expert conversion
    const std::vector<uint64_t>& expected = one >= 0 ? st.held_shape : st.shape;
    logical_tensor l = logical_of(t);
    l.name = st.holds[one >= 0 ? static_cast<size_t>(one) : 0];
    if (t.shape != expected) {
        out.push_back(std::move(l));
        return true;
    }
    if (!st.joined_with.empty()) { // the pair's second tensor stands for both when the first is right too
        const gguf_stored_tensor& other = layout.tensors[layout.by_name.at(st.joined_with).first];
        if (&other > &st) return true;
        const checkpoint_tensor* first = find_stored(ck, other.name);
        if (!first || first->shape != other.shape) return true;
        l.shape = st.held_shape;
        l.elements = product(st.held_shape);
        out.push_back(std::move(l));
        return true;
    }
    if (one >= 0) {
        out.push_back(std::move(l));
        return true;
    }
    for (const std::string& held : st.holds) {
        logical_tensor x = l;
        x.name = held;
        x.shape = st.held_shape;
        x.elements = t.elements / st.holds.size();
        out.push_back(std::move(x));
    }
    return true;
}

// By the architecture's names: a stacked tensor ("{expert}" in its name) is split along its first dimension.
void add_by_names(const std::string& arch, const checkpoint_tensor& t, std::vector<logical_tensor>& out,
                  std::vector<std::string>& notes) {
    logical_tensor l = logical_of(t);
    auto hf = gguf_to_hf_name(arch, t.name);
    if (!hf) {
        out.push_back(std::move(l));
        return;
    }
    if (ends_with(*hf, ".inv_freq")) l.kind = logical_kind::buffer;
    size_t at = hf->find("{expert}");
    if (at == std::string::npos) {
        l.name = *hf;
        out.push_back(std::move(l));
        return;
    }
    if (t.shape.size() < 2 || t.shape[0] == 0 || t.shape[0] > max_experts) {
        notes.push_back(t.name + ": merged expert tensor of shape with " + std::to_string(t.shape.size()) +
                        " dimensions (expected [experts, rows, columns]); kept as stored");
        out.push_back(std::move(l));
        return;
    }
    const uint64_t count = t.shape[0];
    for (uint64_t e = 0; e < count; ++e) {
        logical_tensor x = l;
        x.name = hf->substr(0, at) + std::to_string(e) + hf->substr(at + 8);
        x.shape.assign(t.shape.begin() + 1, t.shape.end());
        x.elements = t.elements / count;
        out.push_back(std::move(x));
    }
}

} // namespace

result<gguf_layout> gguf_layout_of(const model_spec& spec, const skeleton& sk) {
    const gguf_family* fam = gguf_family_of(spec.model_type);
    if (!fam)
        return make_error(error_code::unsupported,
                          "no GGUF layout is known for model_type \"" + spec.model_type + "\"");
    if (!fam->arch)
        return make_error(error_code::unsupported,
                          "model_type \"" + spec.model_type + "\" has no GGUF form: " + fam->why_not);
    return layout_builder(spec, sk, fam->arch).run();
}

void add_gguf_logical_tensors(const checkpoint& ck, size_t index, const std::string& arch,
                              const gguf_layout* layout, std::vector<logical_tensor>& out,
                              std::vector<std::string>& notes) {
    const checkpoint_tensor& t = ck.tensors[index];
    if (layout && add_by_layout(ck, t, *layout, out)) return;
    if (layout) {
        out.push_back(logical_of(t));
        return;
    }
    add_by_names(arch, t, out, notes);
}

result<model_spec> gguf_model_spec(const checkpoint& ck) {
    const gguf_value* arch_v = find_gguf_value(ck, "general.architecture");
    if (!arch_v)
        return make_error(error_code::missing_key, "GGUF metadata has no general.architecture",
                          "general.architecture");
    if (arch_v->type != gguf_string)
        return make_error(error_code::wrong_type,
                          std::string("GGUF metadata general.architecture: expected a string, got a ") +
                              gguf_type_name(arch_v->type),
                          "general.architecture");
    const gguf_arch* arch = find_arch(arch_v->s);
    if (!arch)
        return make_error(error_code::unsupported,
                          "GGUF general.architecture \"" + printable_utf8(arch_v->s) +
                              "\" is not supported; supported: " + supported_archs(),
                          "general.architecture");
    gguf_keys keys(ck, arch->arch);

    auto hidden = keys.required("embedding_length", "hidden_size");
    if (!hidden) return hidden.err();
    auto layers = keys.required("block_count", "num_hidden_layers");
    if (!layers) return layers.err();
    auto heads = keys.required("attention.head_count", "num_attention_heads");
    if (!heads) return heads.err();
    auto kv_heads = keys.count(keys.key("attention.head_count_kv"));
    if (!kv_heads) return kv_heads.err();
    auto key_length = keys.count(keys.key("attention.key_length"));
    if (!key_length) return key_length.err();
    auto context = keys.count(keys.key("context_length"));
    if (!context) return context.err();
    auto experts = keys.count(keys.key("expert_count"));
    if (!experts) return experts.err();
    auto experts_used = keys.count(keys.key("expert_used_count"));
    if (!experts_used) return experts_used.err();
    bool moe = experts->value_or(0) > 0;
    if (moe && std::strcmp(arch->arch, "llama") != 0)
        return make_error(error_code::unsupported,
                          "GGUF " + std::string(arch->arch) + " with experts (" + keys.key("expert_count") +
                              ") is not supported; supported mixtures of experts: llama (Mixtral)",
                          keys.key("expert_count"));
    auto expert_ffn = keys.count(keys.key("expert_feed_forward_length"));
    if (!expert_ffn) return expert_ffn.err();
    result<std::optional<uint64_t>> ffn = keys.count(keys.key("feed_forward_length"));
    if (!ffn) return ffn.err();
    if (moe && *expert_ffn) ffn = *expert_ffn;
    if (!*ffn)
        return make_error(error_code::missing_key,
                          "GGUF metadata has no " + keys.key("feed_forward_length") +
                              " (needed for intermediate_size)",
                          keys.key("feed_forward_length"));

    // Vocabulary: {arch}.vocab_size, else the token list's length, else the embedding's rows.
    auto vocab = keys.count(keys.key("vocab_size"));
    if (!vocab) return vocab.err();
    if (!*vocab) {
        const gguf_value* tokens = keys.find("tokenizer.ggml.tokens");
        const checkpoint_tensor* embed = find_tensor(ck, "token_embd.weight");
        if (tokens && tokens->type == gguf_array)
            vocab = std::optional<uint64_t>{tokens->count};
        else if (embed && embed->shape.size() == 2)
            vocab = std::optional<uint64_t>{embed->shape[0]};
        else
            return make_error(error_code::missing_key,
                              "GGUF metadata has neither " + keys.key("vocab_size") +
                                  " nor tokenizer.ggml.tokens, and there is no token_embd.weight to size the "
                                  "vocabulary",
                              keys.key("vocab_size"));
    }

    rapidjson::Document doc(rapidjson::kObjectType);
    auto& alloc = doc.GetAllocator();
    const char* model_type = moe ? "mixtral" : arch->model_type;
    doc.AddMember("model_type", rapidjson::StringRef(model_type), alloc);
    set(doc, "hidden_size", *hidden);
    set(doc, "num_hidden_layers", *layers);
    set(doc, "num_attention_heads", *heads);
    set(doc, "intermediate_size", **ffn);
    set(doc, "vocab_size", **vocab);
    if (*kv_heads) set(doc, "num_key_value_heads", **kv_heads);
    if (*key_length) set(doc, "head_dim", **key_length);
    if (*context) set(doc, "max_position_embeddings", **context);
    if (moe) {
        set(doc, "num_local_experts", **experts);
        if (*experts_used) set(doc, "num_experts_per_tok", **experts_used);
    }
    // llama.cpp writes no output.weight when the head is tied to the embedding.
    doc.AddMember("tie_word_embeddings", find_tensor(ck, "output.weight") == nullptr, alloc);
    if (std::strcmp(arch->arch, "llama") == 0)
        doc.AddMember("attention_bias", find_tensor(ck, "blk.0.attn_q.bias") != nullptr, alloc);
    if (auto eps = keys.number("attention.layer_norm_rms_epsilon"))
        doc.AddMember("rms_norm_eps", *eps, alloc);
    if (auto theta = keys.number("rope.freq_base")) doc.AddMember("rope_theta", *theta, alloc);
    auto file_type = keys.count("general.file_type");
    if (file_type && *file_type)
        if (const char* t = torch_dtype_of(**file_type))
            doc.AddMember("torch_dtype", rapidjson::StringRef(t), alloc);

    auto spec = parse_config(doc);
    if (!spec)
        return make_error(spec.err().code, "GGUF metadata (read as config.json keys): " + spec.err().message,
                          spec.err().path);
    return spec;
}

} // namespace modelplan
