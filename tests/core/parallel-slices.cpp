// rank_slices: the exact element ranges each tensor-/pipeline-parallel rank reads. Expected ranges follow
// from the published configs (models/<preset>/config.json) and vLLM's documented splitting rules:
// ColumnParallelLinear and RowParallelLinear take contiguous blocks of n / T; QKVParallelLinear takes the
// rank's query heads, then its key heads, then its value heads, and with fewer KV heads than ranks replicates
// each on T / kv ranks (num_kv_head_replicas: rank r holds head r / (T / kv)); MergedColumnParallelLinear
// takes the rank's share of each concatenated part; VocabParallelEmbedding and ParallelLMHead give every rank
// ceil(V / T) rows, the last one padded past V.
#include <algorithm>
#include <string>
#include <vector>

#include "modelplan/placement.h"
#include "modelplan/report.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

// The slice of the tensor named `name` (a checkpoint name), for rank `rank` of T x P.
rank_slice slice_named(const analysis& a, uint64_t tp, uint64_t pp, uint64_t rank, const std::string& name) {
    auto slices = rank_slices(a, tp, pp, rank);
    if (!slices.ok()) {
        ADD_FAILURE() << name << ": " << slices.err().message;
        return {};
    }
    for (size_t i = 0; i < a.sk.tensors.size(); ++i)
        if (a.sk.tensors[i].name == name) return (*slices)[i];
    ADD_FAILURE() << "no tensor " << name;
    return {};
}

// The plan's template pattern of a tensor, as parallel_split::pattern shows it.
std::string pattern_of(const analysis& a, const tensor_info& t) {
    if (!t.source) return t.name;
    return t.from_head ? std::string(t.source->name) : a.sk.base_prefix + t.group_prefix + t.source->name;
}

// Every rank's slices agree with plan_parallel's rank shapes, take exactly rank_shape along the axis, stay
// inside the tensor, and together cover every index of every split tensor (exactly once where nothing is
// replicated).
void expect_consistent_with_plan(const analysis& a, const std::string& model, uint64_t tp) {
    auto plan = plan_parallel(a, workload{}, tp, 1, {});
    ASSERT_TRUE(plan.ok()) << model << " T=" << tp << ": " << plan.err().message;
    std::vector<std::vector<rank_slice>> ranks;
    for (uint64_t r = 0; r < tp; ++r) {
        auto s = rank_slices(a, tp, 1, r);
        ASSERT_TRUE(s.ok()) << model << " T=" << tp << ": " << s.err().message;
        ASSERT_EQ(s->size(), a.sk.tensors.size());
        ranks.push_back(std::move(*s));
    }
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        const std::string pattern = pattern_of(a, t);
        const parallel_split* split = nullptr;
        for (const auto& s : plan->splits)
            if (s.pattern == pattern) split = &s;
        std::vector<uint64_t> covered;
        for (uint64_t r = 0; r < tp; ++r) {
            const rank_slice& s = ranks[r][i];
            if (!s.held) continue; // MTP layers
            ASSERT_NE(split, nullptr) << model << ": " << pattern;
            EXPECT_EQ(s.rank_shape, split->rank_shape) << model << " T=" << tp << " " << t.name;
            EXPECT_EQ(s.how, split->split) << model << " " << t.name;
            if (s.axis < 0) {
                EXPECT_EQ(s.rank_shape, t.shape) << model << " " << t.name;
                continue;
            }
            uint64_t taken = s.pad;
            if (covered.empty()) covered.assign(t.shape[s.axis], 0);
            for (const auto& p : s.pieces) {
                taken += p.length;
                ASSERT_LE(p.start + p.length, t.shape[s.axis]) << model << " " << t.name;
                for (uint64_t k = p.start; k < p.start + p.length; ++k) covered[k] += 1;
            }
            EXPECT_EQ(taken, s.rank_shape[s.axis]) << model << " T=" << tp << " " << t.name;
        }
        if (covered.empty()) continue;
        const bool replicated_kv =
            plan->kv_head_replicas > 1 &&
            (t.what == role::attn_k || t.what == role::attn_v || t.what == role::attn_qkv);
        for (uint64_t k = 0; k < covered.size(); ++k) {
            if (replicated_kv)
                ASSERT_GE(covered[k], 1u) << model << " T=" << tp << " " << t.name << " index " << k;
            else
                ASSERT_EQ(covered[k], 1u) << model << " T=" << tp << " " << t.name << " index " << k;
        }
    }
}

TEST(parallel_slices, agree_with_the_plan_and_cover_every_tensor) {
    for (const char* model : {"llama-3.1-8b", "llama-3.2-1b", "phi-3-mini-4k", "phi-4", "mixtral-8x7b-v0.1",
                              "gpt-oss-20b", "gpt2", "pythia-160m", "qwen2.5-0.5b", "mamba-130m",
                              "granite-3.1-1b-a400m", "modernbert-base", "bloom-560m", "ling-mini-2.0"}) {
        analysis a = analyze_preset(model);
        for (uint64_t tp : {1, 2, 4}) {
            if (!plan_parallel(a, workload{}, tp, 1, {}).ok()) continue; // e.g. heads that do not divide
            expect_consistent_with_plan(a, model, tp);
        }
    }
    // DeepSeek-V3 at T=8 (128 heads; 61 layers of 256 experts: two ranks are enough to check).
    analysis ds = analyze_preset("deepseek-v3");
    auto plan = plan_parallel(ds, workload{}, 8, 1, {});
    ASSERT_TRUE(plan.ok());
    auto r7 = rank_slices(ds, 8, 1, 7);
    ASSERT_TRUE(r7.ok()) << r7.err().message;
    for (size_t i = 0; i < ds.sk.tensors.size(); ++i) {
        const rank_slice& s = (*r7)[i];
        if (!s.held || s.axis < 0) continue;
        uint64_t taken = s.pad;
        for (const auto& p : s.pieces) taken += p.length;
        EXPECT_EQ(taken, s.rank_shape[s.axis]) << ds.sk.tensors[i].name;
    }
}

// Every preset: where plan_parallel accepts T, rank_slices either agrees with it exactly or says which
// tensor's split it does not model.
TEST(parallel_slices, every_preset_is_exact_or_unsupported) {
    for (const preset& p : presets()) {
        analysis a = analyze_preset(p.name);
        for (uint64_t tp : {2, 8}) {
            auto plan = plan_parallel(a, workload{}, tp, 1, {});
            if (!plan.ok()) continue;
            auto last = rank_slices(a, tp, 1, tp - 1);
            if (!last.ok()) {
                EXPECT_EQ(last.err().code, error_code::unsupported) << p.name << ": " << last.err().message;
                EXPECT_NE(last.err().message.find("not modelled"), std::string::npos) << last.err().message;
                continue;
            }
            for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
                const rank_slice& s = (*last)[i];
                if (!s.held || s.axis < 0) continue;
                uint64_t taken = s.pad;
                for (const auto& piece : s.pieces) taken += piece.length;
                EXPECT_EQ(taken, s.rank_shape[s.axis]) << p.name << " " << a.sk.tensors[i].name;
            }
        }
    }
}

TEST(parallel_slices, one_rank_reads_every_tensor_whole) {
    analysis a = analyze_preset("llama-3.1-8b");
    auto s = rank_slices(a, 1, 1, 0);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->size(), a.sk.tensors.size());
    for (size_t i = 0; i < s->size(); ++i) {
        EXPECT_TRUE((*s)[i].held);
        EXPECT_EQ((*s)[i].axis, -1);
        EXPECT_TRUE((*s)[i].pieces.empty());
        EXPECT_EQ((*s)[i].rank_shape, a.sk.tensors[i].shape);
    }
}

// Llama 3.1 8B (config.json: 32 heads, 8 KV heads, hidden 4096, so head_dim 128; intermediate 14336;
// vocab 128256).
TEST(parallel_slices, llama_heads_split_and_kv_heads_replicate_past_t_8) {
    analysis a = analyze_preset("llama-3.1-8b");
    // T=2: q_proj rows [4096, 8192) on rank 1; k_proj 4 of the 8 KV heads: rows [512, 1024).
    rank_slice q = slice_named(a, 2, 1, 1, "model.layers.0.self_attn.q_proj.weight");
    EXPECT_EQ(q.axis, 0);
    EXPECT_EQ(pieces_of(q), (pieces{2048, 2048}));
    EXPECT_EQ(q.how, "dim 0 (attention heads)");
    rank_slice k = slice_named(a, 2, 1, 1, "model.layers.0.self_attn.k_proj.weight");
    EXPECT_EQ(pieces_of(k), (pieces{512, 512}));
    // T=4: rank 2 holds KV heads 4 and 5; o_proj splits its input columns; down_proj its 14336 / 4 = 3584
    // columns.
    EXPECT_EQ(pieces_of(slice_named(a, 4, 1, 2, "model.layers.3.self_attn.v_proj.weight")),
              (pieces{512, 256}));
    rank_slice o = slice_named(a, 4, 1, 2, "model.layers.3.self_attn.o_proj.weight");
    EXPECT_EQ(o.axis, 1);
    EXPECT_EQ(pieces_of(o), (pieces{2048, 1024}));
    rank_slice down = slice_named(a, 4, 1, 3, "model.layers.3.mlp.down_proj.weight");
    EXPECT_EQ(down.axis, 1);
    EXPECT_EQ(pieces_of(down), (pieces{3 * 3584, 3584}));
    // T=8: one KV head per rank: rank 5 holds head 5.
    EXPECT_EQ(pieces_of(slice_named(a, 8, 1, 5, "model.layers.0.self_attn.k_proj.weight")),
              (pieces{5 * 128, 128}));
    // T=16: 8 KV heads, each on 16 / 8 = 2 ranks: ranks 10 and 11 both hold head 5; q_proj still splits (2
    // heads).
    for (uint64_t rank : {10, 11}) {
        rank_slice kr = slice_named(a, 16, 1, rank, "model.layers.0.self_attn.k_proj.weight");
        EXPECT_EQ(pieces_of(kr), (pieces{5 * 128, 128})) << rank;
        EXPECT_EQ(kr.rank_shape, (std::vector<uint64_t>{128, 4096}));
    }
    EXPECT_EQ(pieces_of(slice_named(a, 16, 1, 11, "model.layers.0.self_attn.q_proj.weight")),
              (pieces{11 * 256, 256}));
    // Norms are replicated.
    rank_slice norm = slice_named(a, 8, 1, 3, "model.layers.0.input_layernorm.weight");
    EXPECT_EQ(norm.axis, -1);
    EXPECT_EQ(norm.how, "replicated");
    // Vocabulary: 128256 / 8 = 16032 rows each, no padding.
    rank_slice head = slice_named(a, 8, 1, 7, "lm_head.weight");
    EXPECT_EQ(pieces_of(head), (pieces{7 * 16032, 16032}));
    EXPECT_EQ(head.pad, 0u);
}

// Phi-3-mini (32 heads = 32 KV heads, hidden 3072: head_dim 96; intermediate 8192). Phi3Attention slices
// qkv_proj's output at n_heads x head_dim and n_heads x head_dim + kv x head_dim (q | k | v), Phi3MLP chunks
// gate_up_proj in two (gate | up): transformers models/phi3/modeling_phi3.py; vLLM loads both with
// QKVParallelLinear and MergedColumnParallelLinear.
TEST(parallel_slices, phi3_fused_qkv_and_gate_up_take_a_share_of_each_part) {
    analysis a = analyze_preset("phi-3-mini-4k");
    rank_slice qkv = slice_named(a, 4, 1, 1, "model.layers.0.self_attn.qkv_proj.weight");
    EXPECT_EQ(qkv.axis, 0);
    // 8 heads per rank x 96 = 768 rows of each part; k starts at 3072, v at 6144.
    EXPECT_EQ(pieces_of(qkv), (pieces{768, 768, 3072 + 768, 768, 6144 + 768, 768}));
    EXPECT_EQ(qkv.rank_shape, (std::vector<uint64_t>{2304, 3072}));
    rank_slice gate_up = slice_named(a, 4, 1, 3, "model.layers.0.mlp.gate_up_proj.weight");
    EXPECT_EQ(pieces_of(gate_up), (pieces{3 * 2048, 2048, 8192 + 3 * 2048, 2048}));
    // phi-4 (40 heads, 10 KV heads, head_dim 128): at T=2 each rank has 20 query heads and 5 KV heads.
    analysis phi4 = analyze_preset("phi-4");
    rank_slice q4 = slice_named(phi4, 2, 1, 1, "model.layers.0.self_attn.qkv_proj.weight");
    EXPECT_EQ(pieces_of(q4), (pieces{2560, 2560, 5120 + 640, 640, 5120 + 1280 + 640, 640}));
}

// gpt-oss-20b (64 heads, 8 KV heads, head_dim 64, 32 experts of intermediate 2880). GptOssExperts reads the
// gate at even and up at odd columns of gate_up_proj [experts, hidden, 2 x 2880] (transformers
// models/gpt_oss/modeling_gpt_oss.py: gate_up[..., ::2], gate_up[..., 1::2]), so a contiguous range of 5760 /
// T columns keeps each pair together.
TEST(parallel_slices, gpt_oss_interleaved_gate_up_splits_contiguously) {
    analysis a = analyze_preset("gpt-oss-20b");
    rank_slice gu = slice_named(a, 4, 1, 2, "model.layers.0.mlp.experts.gate_up_proj");
    EXPECT_EQ(gu.axis, 2);
    EXPECT_EQ(pieces_of(gu), (pieces{2 * 1440, 1440}));
    EXPECT_EQ(gu.rank_shape, (std::vector<uint64_t>{32, 2880, 1440}));
    rank_slice bias = slice_named(a, 4, 1, 2, "model.layers.0.mlp.experts.gate_up_proj_bias");
    EXPECT_EQ(bias.axis, 1);
    EXPECT_EQ(pieces_of(bias), (pieces{2 * 1440, 1440}));
    rank_slice down = slice_named(a, 4, 1, 2, "model.layers.0.mlp.experts.down_proj");
    EXPECT_EQ(down.axis, 1); // [experts, 2880, hidden]
    EXPECT_EQ(pieces_of(down), (pieces{2 * 720, 720}));
    // T=16: 8 KV heads on 16 ranks: rank 3 holds head 1.
    EXPECT_EQ(pieces_of(slice_named(a, 16, 1, 3, "model.layers.0.self_attn.k_proj.weight")),
              (pieces{64, 64}));
}

// Mixtral 8x7B: each expert's w1/w3 split their 14336 rows, w2 its columns, like a dense FFN (vLLM FusedMoE
// with tensor parallelism).
TEST(parallel_slices, mixtral_experts_split_like_dense_ffns) {
    analysis a = analyze_preset("mixtral-8x7b-v0.1");
    rank_slice w1 = slice_named(a, 4, 1, 1, "model.layers.0.block_sparse_moe.experts.5.w1.weight");
    EXPECT_EQ(w1.axis, 0);
    EXPECT_EQ(pieces_of(w1), (pieces{3584, 3584}));
    rank_slice w2 = slice_named(a, 4, 1, 1, "model.layers.0.block_sparse_moe.experts.5.w2.weight");
    EXPECT_EQ(w2.axis, 1);
    EXPECT_EQ(pieces_of(w2), (pieces{3584, 3584}));
    EXPECT_EQ(slice_named(a, 4, 1, 1, "model.layers.0.block_sparse_moe.gate.weight").axis, -1); // the router
}

// DeepSeek-V3 (128 heads; q_lora_rank 1536, kv_lora_rank 512, qk_nope 128 + qk_rope 64, v_head_dim 128; the
// first 3 layers dense, experts of 2048; one MTP layer, not loaded for inference). vLLM's
// DeepseekV2MLAAttention: q_b_proj and kv_b_proj ColumnParallelLinear, o_proj RowParallelLinear, q_a_proj and
// kv_a_proj_with_mqa replicated.
TEST(parallel_slices, deepseek_mla_splits_by_heads) {
    analysis a = analyze_preset("deepseek-v3");
    rank_slice qb = slice_named(a, 8, 1, 3, "model.layers.0.self_attn.q_b_proj.weight");
    EXPECT_EQ(pieces_of(qb), (pieces{3 * 16 * 192, 16 * 192})); // 16 heads x (128 + 64)
    rank_slice kvb = slice_named(a, 8, 1, 3, "model.layers.0.self_attn.kv_b_proj.weight");
    EXPECT_EQ(pieces_of(kvb), (pieces{3 * 16 * 256, 16 * 256})); // 16 heads x (128 + 128)
    rank_slice o = slice_named(a, 8, 1, 3, "model.layers.0.self_attn.o_proj.weight");
    EXPECT_EQ(o.axis, 1);
    EXPECT_EQ(pieces_of(o), (pieces{3 * 2048, 2048})); // 16 heads x 128
    EXPECT_EQ(slice_named(a, 8, 1, 3, "model.layers.0.self_attn.q_a_proj.weight").axis, -1);
    EXPECT_EQ(slice_named(a, 8, 1, 3, "model.layers.0.self_attn.kv_a_proj_with_mqa.weight").axis, -1);
    rank_slice expert = slice_named(a, 8, 1, 3, "model.layers.3.mlp.experts.255.gate_proj.weight");
    EXPECT_EQ(pieces_of(expert), (pieces{3 * 256, 256}));
    // Layer 61 is the multi-token-prediction layer: not loaded for inference, so no rank reads it.
    EXPECT_FALSE(slice_named(a, 8, 1, 3, "model.layers.61.eh_proj.weight").held);
}

// GPT-2 (12 heads, hidden 768, vocab 50257). Conv1D stores c_attn as [768, 2304] with q | k | v along its
// columns (GPT2Attention splits at split_size 768), and 50257 does not divide by 4: ceil(50257 / 4) = 12565
// rows per rank, the last rank has 50257 - 3 x 12565 = 12562 and 3 zero rows (vLLM's VocabParallelEmbedding
// pads).
TEST(parallel_slices, gpt2_pads_the_vocabulary_on_the_last_rank) {
    analysis a = analyze_preset("gpt2");
    rank_slice first = slice_named(a, 4, 1, 0, "transformer.wte.weight");
    EXPECT_EQ(pieces_of(first), (pieces{0, 12565}));
    EXPECT_EQ(first.pad, 0u);
    rank_slice last = slice_named(a, 4, 1, 3, "transformer.wte.weight");
    EXPECT_EQ(pieces_of(last), (pieces{37695, 12562}));
    EXPECT_EQ(last.pad, 3u);
    EXPECT_EQ(last.rank_shape, (std::vector<uint64_t>{12565, 768}));
    rank_slice qkv = slice_named(a, 4, 1, 1, "transformer.h.0.attn.c_attn.weight");
    EXPECT_EQ(qkv.axis, 1);
    EXPECT_EQ(pieces_of(qkv), (pieces{192, 192, 768 + 192, 192, 1536 + 192, 192}));
}

// Pythia (GPT-NeoX: 12 heads, hidden 768, head_dim 64): GPTNeoXAttention views query_key_value as
// [heads, 3 x head_dim], so each head's q, k and v lie together and a rank reads one contiguous block.
TEST(parallel_slices, neox_per_head_qkv_is_one_block) {
    analysis a = analyze_preset("pythia-160m");
    rank_slice qkv = slice_named(a, 4, 1, 2, "gpt_neox.layers.0.attention.query_key_value.weight");
    EXPECT_EQ(pieces_of(qkv), (pieces{2 * 576, 576})); // 3 heads x 3 x 64
}

// Mamba-1 (mamba-130m: d_model 768, expand 2: d_inner 1536). MambaMixer chunks in_proj's output into x | z;
// vLLM's MambaMixer loads in_proj as MergedColumnParallelLinear(hidden, [d_inner] x 2) and shards conv1d by
// channel. Mamba-2 (Mamba-Codestral) fuses z, x, B, C and dt in in_proj and x, B, C in conv1d: not modelled.
TEST(parallel_slices, mamba_splits_exactly_and_mamba2_is_unsupported) {
    analysis a = analyze_preset("mamba-130m");
    rank_slice in = slice_named(a, 2, 1, 1, "backbone.layers.0.mixer.in_proj.weight");
    EXPECT_EQ(pieces_of(in), (pieces{768, 768, 1536 + 768, 768}));
    rank_slice conv = slice_named(a, 2, 1, 1, "backbone.layers.0.mixer.conv1d.weight");
    EXPECT_EQ(pieces_of(conv), (pieces{768, 768}));

    analysis m2 = analyze_preset("mamba-codestral-7b");
    ASSERT_TRUE(plan_parallel(m2, workload{}, 2, 1, {}).ok()); // the plan's shapes exist...
    auto s = rank_slices(m2, 2, 1, 0);                         // ...but not the exact slices
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.err().code, error_code::unsupported);
    EXPECT_NE(s.err().message.find("backbone.layers.0.mixer."), std::string::npos) << s.err().message;
    EXPECT_NE(s.err().message.find("tensor-parallel split is not modelled"), std::string::npos);
    // T = 1 needs no split: every tensor whole.
    EXPECT_TRUE(rank_slices(m2, 1, 1, 0).ok());
}

// Pipeline stages: layers / P each, the remainder to stages 1, 2, ...; the embedding on stage 0, the final
// norm and head on the last (docs/placement.md). Llama 3.2 1B ties its head to the embedding (16 layers).
// LFM2-1.2B (hidden 2048; layer 0 a short convolution, config full_attn_idxs [2, 5, ...]). transformers'
// Lfm2ShortConv chunks in_proj's output in three, B, C and x, each hidden wide; vLLM's ShortConv loads
// in_proj as MergedColumnParallelLinear over [hidden] x 3, the depthwise conv as ColumnParallelLinear over
// its hidden channels, and out_proj as RowParallelLinear (vllm/model_executor/layers/mamba/short_conv.py).
TEST(parallel_slices, lfm2_short_convolution_splits_by_channels) {
    analysis a = analyze_preset("lfm2-1.2b");
    // T = 2, rank 1: 1024 channels of each of B, C and x.
    rank_slice in = slice_named(a, 2, 1, 1, "model.layers.0.conv.in_proj.weight");
    EXPECT_EQ(in.axis, 0);
    EXPECT_EQ(pieces_of(in), (pieces{1024, 1024, 2048 + 1024, 1024, 4096 + 1024, 1024}));
    EXPECT_EQ(in.rank_shape, (std::vector<uint64_t>{3072, 2048}));
    rank_slice conv = slice_named(a, 2, 1, 1, "model.layers.0.conv.conv.weight");
    EXPECT_EQ(conv.axis, 0);
    EXPECT_EQ(pieces_of(conv), (pieces{1024, 1024}));
    rank_slice out = slice_named(a, 2, 1, 1, "model.layers.0.conv.out_proj.weight");
    EXPECT_EQ(out.axis, 1);
    EXPECT_EQ(pieces_of(out), (pieces{1024, 1024}));
    EXPECT_EQ(out.rank_shape, (std::vector<uint64_t>{2048, 1024}));
    // T = 4, rank 3: 512 of each part.
    EXPECT_EQ(pieces_of(slice_named(a, 4, 1, 3, "model.layers.0.conv.in_proj.weight")),
              (pieces{1536, 512, 2048 + 1536, 512, 4096 + 1536, 512}));
}

TEST(parallel_slices, pipeline_stages_hold_their_layers_and_a_tied_head_copy) {
    analysis a = analyze_preset("llama-3.1-8b"); // 32 layers over 3 stages: 0-9, 10-20, 21-31
    auto s0 = rank_slices(a, 1, 3, 0);
    auto s2 = rank_slices(a, 1, 3, 2);
    ASSERT_TRUE(s0.ok() && s2.ok());
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        bool first = t.what == role::embed || (t.layer != no_index && t.layer <= 9);
        bool last = t.what == role::lm_head || t.name == "model.norm.weight" ||
                    (t.layer != no_index && t.layer >= 21);
        EXPECT_EQ((*s0)[i].held, first) << t.name;
        EXPECT_EQ((*s2)[i].held, last) << t.name;
    }

    analysis tied = analyze_preset("llama-3.2-1b");
    // T=2 x P=2: rank 3 is stage 1, tensor rank 1: layers 8-15, the final norm and its copy of the embedding
    // (128256 / 2 rows).
    rank_slice embed = slice_named(tied, 2, 2, 3, "model.embed_tokens.weight");
    EXPECT_TRUE(embed.held);
    EXPECT_EQ(pieces_of(embed), (pieces{64128, 64128}));
    EXPECT_TRUE(slice_named(tied, 2, 2, 1, "model.embed_tokens.weight").held);
    EXPECT_FALSE(slice_named(tied, 2, 2, 1, "model.layers.8.mlp.up_proj.weight").held);
    EXPECT_TRUE(slice_named(tied, 2, 2, 3, "model.layers.8.mlp.up_proj.weight").held);
    EXPECT_TRUE(slice_named(tied, 2, 2, 3, "model.norm.weight").held);
    EXPECT_FALSE(slice_named(tied, 2, 2, 1, "model.norm.weight").held);
    // An untied head: the last stage holds no embedding.
    EXPECT_FALSE(slice_named(a, 1, 3, 2, "model.embed_tokens.weight").held);
}

TEST(parallel_slices, invalid_degrees_fail_as_plan_parallel_does) {
    analysis a = analyze_preset("llama-3.1-8b");
    for (auto [tp, pp] : {
             std::pair<uint64_t, uint64_t>{3,    1 },
              {0,    1 },
              {1,    0 },
              {2,    33},
              {2048, 1 }
    }) {
        auto plan = plan_parallel(a, workload{}, tp, pp, {});
        auto slices = rank_slices(a, tp, pp, 0);
        ASSERT_FALSE(plan.ok());
        ASSERT_FALSE(slices.ok()) << tp << " x " << pp;
        EXPECT_EQ(slices.err().code, plan.err().code);
        EXPECT_EQ(slices.err().message, plan.err().message);
    }
    // Qwen2.5-0.5B: 14 heads divide by 7, its 2 KV heads do not.
    analysis q = analyze_preset("qwen2.5-0.5b");
    auto qs = rank_slices(q, 7, 1, 0);
    ASSERT_FALSE(qs.ok());
    EXPECT_EQ(qs.err().message, plan_parallel(q, workload{}, 7, 1, {}).err().message);
    // The rank itself must exist.
    auto out = rank_slices(a, 2, 2, 4);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.err().code, error_code::out_of_range);
    EXPECT_NE(out.err().message.find("rank: expected 0 to 3"), std::string::npos) << out.err().message;
}

} // namespace
} // namespace modelplan::test
