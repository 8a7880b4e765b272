// Invariants over every family, every preset and every head the family offers: unique names, positive shapes,
// element counts equal to the product of the shape, the count equal to the sum of numels, aliases that point
// to real parameters, buffers that are not parameters.
#include <set>

#include "test-util.h"

namespace modelplan::test {
namespace {

void check_invariants(const std::string& what, const analysis& a) {
    SCOPED_TRACE(what);
    std::set<std::string> names;
    uint64_t sum = 0;
    for (const auto& t : a.sk.tensors) {
        EXPECT_TRUE(names.insert(t.name).second) << "duplicate name " << t.name;
        uint64_t product = 1;
        for (uint64_t d : t.shape) {
            EXPECT_GT(d, 0u) << t.name;
            product *= d;
        }
        EXPECT_EQ(product, t.elements) << t.name;
        EXPECT_EQ(t.name.find('{'), std::string::npos) << "unexpanded pattern " << t.name;
        if (t.layer == no_index || a.spec.layers[t.layer].stack != layer_stack::mtp) sum += t.elements;
    }
    EXPECT_EQ(sum, a.counts.total);
    for (const auto& al : a.sk.aliases) {
        EXPECT_TRUE(names.count(al.target)) << al.name << " -> " << al.target << " is not a parameter";
        EXPECT_FALSE(names.count(al.name)) << al.name << " is both a parameter and an alias";
    }
    std::set<std::string> buffer_names;
    for (const auto& b : a.sk.buffers) {
        EXPECT_FALSE(names.count(b.name)) << b.name << " is both a parameter and a buffer";
        EXPECT_TRUE(buffer_names.insert(b.name).second) << "duplicate buffer " << b.name;
    }
    EXPECT_GE(a.counts.total, a.counts.active);
    EXPECT_EQ(a.counts.total, a.counts.embedding + a.counts.non_embedding);
}

TEST(invariants, every_family_has_a_preset) {
    std::set<std::string> covered;
    for (const preset& p : presets()) covered.insert(analyze_preset(p.name).spec.model_type);
    // RefinedWebModel (falcon-7b's legacy config) is checked against the falcon preset in
    // published-counts.cpp.
    covered.insert("RefinedWebModel");
    // ministral3 (Ministral3ForCausalLM: Devstral 2's text configs; Ministral 3's text_config) has no
    // published text-only config in the tree: families-vl.cpp checks it against Ministral3Config's documented
    // defaults, counted by hand, and against Mistral-Small-3.1 with its text_config read as ministral3.
    covered.insert("ministral3");
    // eagle3 (EAGLE-3 speculative heads) is no model of its own to preset: families-eagle.cpp checks it
    // against SpecForge's published head configs, counted by hand.
    covered.insert("eagle3");
    for (const auto& f : families())
        EXPECT_TRUE(covered.count(f.model_type)) << f.model_type << " has no preset";
}

TEST(invariants, every_preset_with_every_head) {
    for (const preset& p : presets()) {
        analysis a = analyze_preset(p.name);
        check_invariants(p.name, a);
        for (const head_info& h : families()[a.spec.family].heads) {
            config_options options;
            options.head = h.kind;
            auto with_head = analyze(p.name, p.config_json, options);
            ASSERT_TRUE(with_head.ok())
                << p.name << " " << head_kind_name(h.kind) << ": " << with_head.err().message;
            check_invariants(std::string(p.name) + " as " + with_head->spec.architecture, *with_head);
        }
    }
}

// StableLM 2 with qk_layernorm (e.g. StableLM 2 12B): StableLmAttention holds one bias-free LayerNorm of
// head_dim per query head (q_layernorm.norms.{h}) and per key/value head (k_layernorm.norms.{h}).
TEST(invariants, stablelm_per_head_norms) {
    auto plain = analyze("s", preset_config("stablelm-2-1.6b"), {});
    auto with_norms = analyze("s", edited_config("stablelm-2-1.6b", "qk_layernorm", "true"), {});
    ASSERT_TRUE(plain.ok() && with_norms.ok());
    const model_spec& s = with_norms->spec;
    EXPECT_EQ(with_norms->counts.total - plain->counts.total,
              s.n_layers * (s.n_heads + s.n_kv_heads) * s.head_dim);
    bool found = false;
    for (const auto& t : with_norms->sk.tensors) {
        if (t.name !=
            "model.layers.3.self_attn.k_layernorm.norms." + std::to_string(s.n_kv_heads - 1) + ".weight")
            continue;
        found = true;
        EXPECT_EQ(t.shape, std::vector<uint64_t>({s.head_dim}));
        EXPECT_EQ(t.expert, no_index); // a head index is not an expert
    }
    EXPECT_TRUE(found);
    check_invariants("stablelm with qk_layernorm", *with_norms);
}

TEST(invariants, role_and_head_names_are_distinct) {
    std::set<std::string> roles;
    for (int r = 0; r < role_count; ++r) {
        ASSERT_NE(role_name(static_cast<role>(r)), nullptr) << r;
        EXPECT_TRUE(roles.insert(role_name(static_cast<role>(r))).second) << role_name(static_cast<role>(r));
    }
    for (head_kind h : {head_kind::none, head_kind::causal_lm, head_kind::masked_lm, head_kind::seq_cls,
                        head_kind::cond_gen, head_kind::pretraining})
        EXPECT_EQ(parse_head_kind(head_kind_name(h)), h);
}

} // namespace
} // namespace modelplan::test
