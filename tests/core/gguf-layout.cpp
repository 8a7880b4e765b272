// Every family as llama.cpp's converter writes it to GGUF: the tensor names (llama.cpp src/llama-arch.cpp
// LLM_TENSOR_NAMES, ggml-org/llama.cpp at 00395eb285c7c6821ff372e3ca41dae9da33c2c7) and layouts
// (convert_hf_to_gguf.py and gguf-py/gguf/tensor_mapping.py of the same repository: experts stacked by
// torch.stack(dim=0), GPT-2's Conv1D weights transposed and its tied head written again as output.weight,
// StableLM per-head norms stacked, DeepSeek's kv_b_proj split into attn_k_b / attn_v_b and its MTP layers
// skipped, RoBERTa's position table cropped by pad_token_id + 1, BERT's pooler and cls.* heads dropped,
// Gemma 3's vision tower left to the mmproj file). Shapes are outermost first, as parse_gguf reports them
// (GGUF lists ne[0] first). Hyperparameters are the presets' published config.json values.
#include <string>

#include <gtest/gtest.h>

#include "modelplan/gguf.h"
#include "modelplan/verify.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

using shape = std::vector<uint64_t>;

gguf_layout layout_of(const analysis& a) {
    auto l = gguf_layout_of(a.spec, a.sk);
    EXPECT_TRUE(l.ok()) << a.spec.model_type << ": " << (l.ok() ? "" : l.err().message);
    return l.ok() ? std::move(*l) : gguf_layout{};
}

gguf_layout preset_layout(const std::string& name) {
    return layout_of(analyze_preset(name));
}

const gguf_stored_tensor* find(const gguf_layout& l, const std::string& name) {
    for (const auto& t : l.tensors)
        if (t.name == name) return &t;
    return nullptr;
}

void expect_tensor(const gguf_layout& l, const std::string& name, const shape& expected) {
    const gguf_stored_tensor* t = find(l, name);
    ASSERT_TRUE(t) << name << " not in the " << l.arch << " layout";
    EXPECT_EQ(t->shape, expected) << name;
}

// A GGUF checkpoint holding exactly the layout's tensors (F16, as a converter with --outtype f16 writes).
checkpoint gguf_checkpoint(const gguf_layout& l) {
    checkpoint ck;
    ck.format = checkpoint_format::gguf;
    gguf_value arch;
    arch.type = gguf_string;
    arch.s = l.arch;
    ck.gguf_metadata.emplace_back("general.architecture", arch);
    ck.files.push_back({"m.gguf", 0, 0, l.tensors.size()});
    uint64_t at = 0;
    for (const auto& t : l.tensors) {
        checkpoint_tensor c;
        c.name = t.name;
        c.shape = t.shape;
        c.dtype = "F16";
        c.file = "m.gguf";
        c.elements = 1;
        for (uint64_t d : t.shape) c.elements *= d;
        c.begin = at;
        c.end = at += 2 * c.elements;
        ck.tensors.push_back(std::move(c));
    }
    return ck;
}

// Every preset of every family that llama.cpp converts: the GGUF-named inventory of its skeleton verifies
// against the model, with every GGUF tensor mapped back to the Hugging Face tensors it holds.
TEST(gguf_layout, every_preset_verifies_as_its_gguf_conversion) {
    for (const preset& p : presets()) {
        analysis a = analyze_preset(p.name);
        if (a.spec.model_type == "opt") continue; // no_gguf_form_for_opt
        // The state-space and hybrid families' GGUF layouts (llama.cpp mamba, mamba2, granitehybrid,
        // nemotron_h, qwen3next, lfm2: squeezed conv1d, A = -exp(A_log)) are not written yet
        // (models/SOURCES-SSM.md).
        if (a.spec.ssm_conv_kernel != 0) continue;
        // Whisper: llama.cpp's convert_hf_to_gguf has no whisper text model (whisper.cpp keeps its own
        // format).
        if (a.spec.model_type == "whisper") continue;
        gguf_layout l = layout_of(a);
        auto in = inspect("m.gguf", gguf_checkpoint(l), a, "preset");
        ASSERT_TRUE(in.ok()) << p.name;
        ASSERT_TRUE(in->verify) << p.name;
        const verify_report& r = *in->verify;
        EXPECT_TRUE(r.ok) << p.name;
        EXPECT_TRUE(r.missing.empty()) << p.name << ": missing " << r.missing.front().name;
        EXPECT_TRUE(r.unexpected.empty()) << p.name << ": unexpected " << r.unexpected.front().name;
        EXPECT_TRUE(r.mismatched.empty()) << p.name << ": mismatched " << r.mismatched.front().name;
        EXPECT_EQ(r.matched, l.expected.tensors.size()) << p.name;
        // Left out: only what the converter drops, never an attention projection of the text model.
        for (const auto& name : l.left_out)
            if (name.find("vision_tower.") == std::string::npos &&
                name.find("vision_model.") == std::string::npos)
                EXPECT_EQ(name.find("self_attn.q_proj"), std::string::npos) << p.name << ": " << name;
    }
}

// A GGUF tensor of the wrong shape is a mismatch under its Hugging Face name; an extra one is unexpected.
TEST(gguf_layout, wrong_and_extra_tensors_are_reported) {
    analysis a = analyze_preset("qwen3-30b-a3b");
    gguf_layout l = layout_of(a);
    checkpoint ck = gguf_checkpoint(l);
    for (auto& t : ck.tensors)
        if (t.name == "blk.2.ffn_up_exps.weight") t.shape = {128, 768, 2047};
    ck.tensors.push_back(ck.tensors.back());
    ck.tensors.back().name = "blk.2.attn_gate.weight";
    auto in = inspect("m.gguf", ck, a, "preset");
    ASSERT_TRUE(in.ok() && in->verify);
    EXPECT_FALSE(in->verify->ok);
    ASSERT_EQ(in->verify->mismatched.size(), 1u);
    EXPECT_EQ(in->verify->mismatched[0].name, "model.layers.2.mlp.experts.0.up_proj.weight");
    ASSERT_EQ(in->verify->unexpected.size(), 1u);
    EXPECT_EQ(in->verify->unexpected[0].name, "blk.2.attn_gate.weight");
}

// ---- per family: names and shapes as llama.cpp writes them

TEST(gguf_layout, llama_mistral_and_mixtral_are_llama) {
    gguf_layout l = preset_layout("llama-3.1-8b"); // hidden 4096, 8 KV heads of 128, FFN 14336, vocab 128256
    EXPECT_EQ(l.arch, "llama");
    expect_tensor(l, "token_embd.weight", {128256, 4096});
    expect_tensor(l, "blk.31.attn_k.weight", {1024, 4096});
    expect_tensor(l, "blk.0.ffn_gate.weight", {14336, 4096});
    expect_tensor(l, "output_norm.weight", {4096});
    expect_tensor(l, "output.weight", {128256, 4096});
    EXPECT_EQ(preset_layout("mistral-7b-v0.1").arch, "llama");
    gguf_layout m = preset_layout("mixtral-8x7b-v0.1"); // 8 experts of 14336
    EXPECT_EQ(m.arch, "llama");
    expect_tensor(m, "blk.0.ffn_gate_inp.weight", {8, 4096});
    expect_tensor(m, "blk.0.ffn_gate_exps.weight", {8, 14336, 4096});
    expect_tensor(m, "blk.0.ffn_down_exps.weight", {8, 4096, 14336});
}

TEST(gguf_layout, tied_heads_write_no_output) {
    gguf_layout l = preset_layout("llama-3.2-1b"); // tie_word_embeddings true
    EXPECT_FALSE(find(l, "output.weight"));
}

TEST(gguf_layout, qwen_families) {
    gguf_layout q2 = preset_layout("qwen2.5-7b"); // 28 heads of 128, 4 KV heads
    EXPECT_EQ(q2.arch, "qwen2");
    expect_tensor(q2, "blk.0.attn_q.bias", {3584});
    expect_tensor(q2, "blk.0.attn_k.bias", {512});
    gguf_layout q3 = preset_layout("qwen3-8b");
    EXPECT_EQ(q3.arch, "qwen3");
    expect_tensor(q3, "blk.0.attn_q_norm.weight", {128});
    gguf_layout q3m = preset_layout("qwen3-30b-a3b"); // 128 experts of 768
    EXPECT_EQ(q3m.arch, "qwen3moe");
    expect_tensor(q3m, "blk.0.ffn_up_exps.weight", {128, 768, 2048});
    gguf_layout q2m = preset_layout("qwen1.5-moe-a2.7b"); // 60 experts of 1408, shared expert 5632
    EXPECT_EQ(q2m.arch, "qwen2moe");
    expect_tensor(q2m, "blk.0.ffn_gate_exps.weight", {60, 1408, 2048});
    expect_tensor(q2m, "blk.0.ffn_gate_shexp.weight", {5632, 2048});
    expect_tensor(q2m, "blk.0.ffn_gate_inp_shexp.weight", {1, 2048});
}

// DeepSeek-V3: 61 layers (3 dense), 128 heads, kv_lora_rank 512, qk_nope 128, v_head 128, 256 experts of
// 2048, one MTP layer (layer 61) that the converter skips.
TEST(gguf_layout, deepseek_splits_kv_b_and_skips_mtp) {
    gguf_layout l = preset_layout("deepseek-v3");
    EXPECT_EQ(l.arch, "deepseek2");
    expect_tensor(l, "blk.0.attn_kv_a_mqa.weight", {576, 7168});
    expect_tensor(l, "blk.0.attn_k_b.weight", {128, 512, 128});
    expect_tensor(l, "blk.0.attn_v_b.weight", {128, 128, 512});
    expect_tensor(l, "blk.0.attn_q_a.weight", {1536, 7168});
    expect_tensor(l, "blk.3.exp_probs_b.bias", {256});
    expect_tensor(l, "blk.3.ffn_gate_exps.weight", {256, 2048, 7168});
    expect_tensor(l, "blk.3.ffn_up_shexp.weight", {2048, 7168});
    EXPECT_FALSE(find(l, "blk.0.attn_kv_b.weight"));
    for (const auto& t : l.tensors) EXPECT_NE(t.name.rfind("blk.61.", 0), 0u) << t.name;
    EXPECT_EQ(preset_layout("deepseek-v2-lite").arch, "deepseek2");
}

TEST(gguf_layout, gemma_families) {
    gguf_layout g = preset_layout("gemma-7b");
    EXPECT_EQ(g.arch, "gemma");
    EXPECT_FALSE(find(g, "output.weight")); // tied
    gguf_layout g2 = preset_layout("gemma-2-2b");
    EXPECT_EQ(g2.arch, "gemma2");
    expect_tensor(g2, "blk.0.post_attention_norm.weight", {2304});
    expect_tensor(g2, "blk.0.ffn_norm.weight", {2304});
    expect_tensor(g2, "blk.0.post_ffw_norm.weight", {2304});
    gguf_layout g3 = preset_layout("gemma-3-4b"); // the text model only: the vision tower goes to mmproj
    EXPECT_EQ(g3.arch, "gemma3");
    expect_tensor(g3, "blk.0.attn_q_norm.weight", {256});
    for (const auto& t : g3.tensors) EXPECT_EQ(t.holds[0].find("vision"), std::string::npos) << t.name;
    EXPECT_FALSE(g3.left_out.empty());
    EXPECT_EQ(preset_layout("gemma-3-1b").arch, "gemma3");
}

TEST(gguf_layout, phi_families) {
    gguf_layout p2 = preset_layout("phi-2"); // hidden 2560, vocab 51200, biased head
    EXPECT_EQ(p2.arch, "phi2");
    expect_tensor(p2, "output.bias", {51200});
    expect_tensor(p2, "blk.0.attn_output.bias", {2560});
    gguf_layout p3 = preset_layout("phi-3-mini-4k"); // fused qkv and gate|up
    EXPECT_EQ(p3.arch, "phi3");
    expect_tensor(p3, "blk.0.attn_qkv.weight", {9216, 3072});
    expect_tensor(p3, "blk.0.ffn_up.weight", {16384, 3072});
}

TEST(gguf_layout, open_decoders) {
    gguf_layout s = preset_layout("stablelm-2-1.6b");
    EXPECT_EQ(s.arch, "stablelm");
    expect_tensor(s, "blk.0.attn_norm.bias", {2048});
    EXPECT_EQ(preset_layout("starcoder2-3b").arch, "starcoder2");
    gguf_layout o = preset_layout("olmo-1b");
    EXPECT_EQ(o.arch, "olmo");
    EXPECT_FALSE(find(o, "blk.0.attn_norm.weight")); // OLMo's norms have no parameters
    gguf_layout o2 = preset_layout("olmo-2-7b");
    EXPECT_EQ(o2.arch, "olmo2");
    expect_tensor(o2, "blk.0.attn_q_norm.weight", {4096});
    expect_tensor(o2, "blk.0.post_ffw_norm.weight", {4096});
}

// StableLM's per-head q/k LayerNorms (qk_layernorm true, as in StableLM 2 12B), one per query head and one
// per key/value head, stacked into one tensor each.
TEST(gguf_layout, stablelm_per_head_norms_are_stacked) {
    std::string config = edited_config("stablelm-2-1.6b", "qk_layernorm", "true");
    auto a = analyze("stablelm-qk", config, {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    gguf_layout l = layout_of(*a);
    const uint64_t heads = a->spec.n_heads, kv_heads = a->spec.n_kv_heads, head_dim = a->spec.head_dim;
    expect_tensor(l, "blk.0.attn_q_norm.weight", {heads, head_dim});
    expect_tensor(l, "blk.0.attn_k_norm.weight", {kv_heads, head_dim});
    auto in = inspect("m.gguf", gguf_checkpoint(l), *a, "config");
    ASSERT_TRUE(in.ok() && in->verify);
    EXPECT_TRUE(in->verify->ok);
}

// openai-community/gpt2: Conv1D c_attn [768, 2304] becomes attn_qkv [2304, 768]; the tied head is written as
// output.weight, which verifies as the lm_head.weight alias.
TEST(gguf_layout, gpt2_transposes_conv1d_and_writes_the_tied_head) {
    gguf_layout l = preset_layout("gpt2");
    EXPECT_EQ(l.arch, "gpt2");
    expect_tensor(l, "blk.0.attn_qkv.weight", {2304, 768});
    expect_tensor(l, "blk.0.attn_qkv.bias", {2304});
    expect_tensor(l, "blk.0.ffn_up.weight", {3072, 768});
    expect_tensor(l, "position_embd.weight", {1024, 768});
    expect_tensor(l, "output.weight", {50257, 768});
    auto in = inspect("m.gguf", gguf_checkpoint(l), analyze_preset("gpt2"), "preset");
    ASSERT_TRUE(in.ok() && in->verify);
    EXPECT_EQ(in->verify->aliases_present, std::vector<std::string>{"lm_head.weight"});
}

TEST(gguf_layout, gpt_neox_bloom_and_falcon) {
    gguf_layout n = preset_layout("pythia-160m"); // untied embed_out
    EXPECT_EQ(n.arch, "gptneox");
    expect_tensor(n, "output.weight", {50304, 768});
    expect_tensor(n, "blk.0.attn_qkv.weight", {2304, 768});
    gguf_layout b = preset_layout("bloom-560m");
    EXPECT_EQ(b.arch, "bloom");
    expect_tensor(b, "token_embd_norm.weight", {1024});
    gguf_layout f = preset_layout("falcon-7b-instruct");
    EXPECT_EQ(f.arch, "falcon");
    expect_tensor(f, "blk.0.attn_norm.weight", {4544});
    gguf_layout f40 = preset_layout("falcon-40b"); // new decoder architecture: ln_attn and ln_mlp
    EXPECT_EQ(f40.arch, "falcon");
    expect_tensor(f40, "blk.0.attn_norm_2.weight", {8192});
    expect_tensor(f40, "blk.0.attn_norm.bias", {8192});
}

// bert-base-uncased (BertForMaskedLM): no pooler and no cls.* head in the GGUF file.
TEST(gguf_layout, bert_and_roberta) {
    gguf_layout b = preset_layout("bert-base-uncased");
    EXPECT_EQ(b.arch, "bert");
    expect_tensor(b, "token_types.weight", {2, 768});
    expect_tensor(b, "position_embd.weight", {512, 768});
    expect_tensor(b, "blk.0.attn_output_norm.weight", {768});
    expect_tensor(b, "blk.11.layer_output_norm.bias", {768});
    for (const auto& t : b.tensors) EXPECT_EQ(t.holds[0].find("cls."), std::string::npos) << t.name;
    gguf_layout r = preset_layout("roberta-base"); // max_position_embeddings 514, less 2 padding rows
    EXPECT_EQ(r.arch, "bert");
    expect_tensor(r, "position_embd.weight", {512, 768});
}

// t5-small: 6 + 6 blocks, 8 heads, 32 buckets, d_model 512.
TEST(gguf_layout, t5_encoder_and_decoder_blocks) {
    gguf_layout l = preset_layout("t5-small");
    EXPECT_EQ(l.arch, "t5");
    expect_tensor(l, "token_embd.weight", {32128, 512});
    expect_tensor(l, "enc.blk.0.attn_rel_b.weight", {32, 8});
    expect_tensor(l, "enc.blk.5.attn_o.weight", {512, 512});
    expect_tensor(l, "dec.blk.0.attn_rel_b.weight", {32, 8});
    expect_tensor(l, "dec.blk.5.cross_attn_q.weight", {512, 512});
    expect_tensor(l, "dec.blk.5.ffn_up.weight", {2048, 512});
    expect_tensor(l, "enc.output_norm.weight", {512});
    expect_tensor(l, "dec.output_norm.weight", {512});
    EXPECT_FALSE(find(l, "enc.blk.1.attn_rel_b.weight"));
}

TEST(gguf_layout, no_gguf_form_for_opt) {
    analysis a = analyze_preset("opt-125m");
    auto l = gguf_layout_of(a.spec, a.sk);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.err().code, error_code::unsupported);
    EXPECT_NE(l.err().message.find("llama.cpp has no OPT architecture"), std::string::npos)
        << l.err().message;
}

// Without a model, names map through the families of the file's architecture.
TEST(gguf_layout, names_without_a_model) {
    const std::tuple<const char*, const char*, const char*> names[] = {
        {"bert",     "blk.3.attn_output_norm.weight", "bert.encoder.layer.3.attention.output.LayerNorm.weight"},
        {"bert",     "token_types.weight",            "bert.embeddings.token_type_embeddings.weight"          },
        {"t5",       "dec.blk.2.cross_attn_k.weight", "decoder.block.2.layer.1.EncDecAttention.k.weight"      },
        {"t5",       "enc.output_norm.weight",        "encoder.final_layer_norm.weight"                       },
        {"gpt2",     "blk.0.attn_qkv.bias",           "transformer.h.0.attn.c_attn.bias"                      },
        {"phi3",     "blk.7.attn_qkv.weight",         "model.layers.7.self_attn.qkv_proj.weight"              },
        {"gemma3",   "blk.1.post_ffw_norm.weight",    "model.layers.1.post_feedforward_layernorm.weight"      },
        {"qwen2moe", "blk.1.ffn_gate_exps.weight",    "model.layers.1.mlp.experts.{expert}.gate_proj.weight"  },
    };
    for (const auto& [arch, gguf, hf] : names) {
        auto mapped = gguf_to_hf_name(arch, gguf);
        ASSERT_TRUE(mapped) << arch << " " << gguf;
        EXPECT_EQ(*mapped, hf);
    }
    EXPECT_FALSE(gguf_to_hf_name("mamba", "token_embd.weight"));
}

} // namespace
} // namespace modelplan::test
