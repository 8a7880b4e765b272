// Placement: device maps over every preset (every parameter placed once, layers whole, tied parameters
// together, budgets kept, KV with its layer, sums equal to the memory plan), heterogeneous budgets, the
// out-of-memory explanation, device-map JSON read back, and tensor/pipeline-parallel plans.
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "modelplan/placement.h"
#include "modelplan/quantization.h"
#include "modelplan/report.h"
#include "test-util.h"

namespace modelplan::test {
namespace {

uint64_t item(const std::vector<placed_item>& items, const char* name) {
    for (const auto& i : items)
        if (i.name == name) return i.bytes;
    return 0;
}

uint64_t plan_item_bytes(const memory_plan& p, const char* name) {
    for (const auto& i : p.items)
        if (i.name == name) return i.bytes;
    return 0;
}

// The device of `name` by the longest dot-separated prefix in the map, written here independently of the
// core's assign_devices (transformers resolves device_map keys the same way).
std::string resolve(const device_map& map, const std::string& name) {
    std::string best;
    size_t best_len = 0;
    bool found = false;
    for (const auto& e : map.entries) {
        bool prefix = e.module.empty() || (name.compare(0, e.module.size(), e.module) == 0 &&
                                           (name.size() == e.module.size() || name[e.module.size()] == '.'));
        if (prefix && (!found || e.module.size() >= best_len)) {
            best = e.device;
            best_len = e.module.size();
            found = true;
        }
    }
    return found ? best : "";
}

bool loaded(const analysis& a, const tensor_info& t) {
    return t.layer == no_index || a.spec.layers[t.layer].stack != layer_stack::mtp;
}

const device_placement* find_device(const placement& p, const std::string& name) {
    for (const auto& d : p.devices)
        if (d.device.name == name) return &d;
    return nullptr;
}

bool attention_role(role r) {
    return r == role::attn_q || r == role::attn_qkv || r == role::attn_q_a || r == role::attn_kv_a ||
           r == role::attn_k;
}

// Every invariant the issue lists, for one placement.
void check_placement(const analysis& a, const workload& w, const placement& p, bool layers_whole) {
    std::vector<uint64_t> bytes;
    auto weights = plan_weights(a, w, &bytes);
    ASSERT_TRUE(weights.ok()) << weights.err().message;

    std::set<std::string> keys;
    for (const auto& e : p.map.entries)
        EXPECT_TRUE(keys.insert(e.module).second) << "duplicate key " << e.module;

    // Every parameter placed exactly once: one device by prefix resolution, and the core agrees (for the
    // tensors that load: DeepSeek-V3's multi-token-prediction layer is not part of the model class).
    skeleton loaded_only = a.sk;
    loaded_only.tensors.clear();
    std::vector<size_t> loaded_index;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i)
        if (loaded(a, a.sk.tensors[i])) {
            loaded_only.tensors.push_back(a.sk.tensors[i]);
            loaded_index.push_back(i);
        }
    auto assigned_loaded = assign_devices(loaded_only, p.map);
    std::vector<std::string> assigned_all(a.sk.tensors.size());
    if (assigned_loaded.ok())
        for (size_t k = 0; k < loaded_index.size(); ++k)
            assigned_all[loaded_index[k]] = (*assigned_loaded)[k];
    auto assigned = assigned_loaded.ok() ? result<std::vector<std::string>>(assigned_all) : assigned_loaded;
    std::map<std::string, uint64_t> weights_on;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const tensor_info& t = a.sk.tensors[i];
        if (!loaded(a, t)) continue;
        std::string d = resolve(p.map, t.name);
        ASSERT_FALSE(d.empty()) << t.name << " is not placed";
        ASSERT_TRUE(find_device(p, d)) << t.name << " on unknown device " << d;
        if (assigned.ok()) EXPECT_EQ((*assigned)[i], d) << t.name;
        weights_on[d] += bytes[i];
    }
    EXPECT_TRUE(assigned.ok()) << (assigned.ok() ? "" : assigned.err().message);
    uint64_t weight_sum = 0, kv_sum = 0, logits_charges = 0;
    for (const auto& d : p.devices) {
        EXPECT_EQ(item(d.items, "weights"), weights_on[d.device.name]) << d.device.name;
        weight_sum += item(d.items, "weights");
        kv_sum += item(d.items, "kv_cache");
        logits_charges += item(d.items, "logits") ? 1 : 0;
        uint64_t total = 0;
        for (const auto& it : d.items) total += it.bytes;
        EXPECT_EQ(d.total_bytes, total) << d.device.name;
        if (p.fits && d.device.kind != device_kind::disk)
            EXPECT_LE(d.total_bytes, d.device.budget_bytes) << d.device.name << " over budget";
        if (d.device.name != p.execution_device && d.device.kind != device_kind::gpu)
            EXPECT_EQ(item(d.items, "kv_cache"), 0u) << "KV cache on " << d.device.name;
    }
    // The plan and the placement agree.
    EXPECT_EQ(weight_sum, weights->bytes);
    EXPECT_EQ(kv_sum, plan_item_bytes(p.plan, "kv_cache"));
    uint64_t logits = 0;
    for (const auto& it : p.plan.items)
        if (it.name == "activations")
            for (const auto& in : it.inputs)
                if (in.name == "logits_bytes") logits = std::stoull(in.value);
    if (logits) EXPECT_EQ(logits_charges, 1u) << "logits charged on one device";

    // Tied parameters together: an alias resolves to where its parameter is.
    for (const auto& al : a.sk.aliases)
        EXPECT_EQ(resolve(p.map, al.name), resolve(p.map, al.target)) << al.name << " -> " << al.target;

    // Layers whole; the KV cache of a layer where its attention is (or, offloaded, on the execution device).
    for (uint64_t il = 0; il < a.spec.layers.size(); ++il) {
        std::set<std::string> devices;
        std::string attention;
        for (const auto& t : a.sk.tensors) {
            if (t.layer != static_cast<int64_t>(il) || !loaded(a, t)) continue;
            devices.insert(resolve(p.map, t.name));
            if (attention.empty() && attention_role(t.what)) attention = resolve(p.map, t.name);
        }
        if (layers_whole) EXPECT_LE(devices.size(), 1u) << "layer " << il << " split across devices";
        if (p.plan.kv_bytes_by_layer.empty() || p.plan.kv_bytes_by_layer[il] == 0 || attention.empty())
            continue;
        const device_placement* d = find_device(p, attention);
        ASSERT_TRUE(d);
        EXPECT_TRUE(std::count(d->layers.begin(), d->layers.end(), il))
            << "layer " << il << " not listed on " << attention;
        bool offloaded = d->device.kind != device_kind::gpu && d->device.name != p.execution_device;
        const device_placement* holder = offloaded ? find_device(p, p.execution_device) : d;
        EXPECT_GE(item(holder->items, "kv_cache"), p.plan.kv_bytes_by_layer[il]);
    }
}

workload default_workload() {
    workload w;
    w.batch = 2;
    w.seq = 2048;
    return w;
}

TEST(placement, every_preset_spread_over_two_gpus_cpu_and_disk) {
    for (const auto& preset : presets()) {
        SCOPED_TRACE(preset.name);
        analysis a = analyze_preset(preset.name);
        workload w = default_workload();
        auto plan = plan_memory(a, w);
        ASSERT_TRUE(plan.ok()) << plan.err().message;
        uint64_t weights = plan_item_bytes(*plan, "weights");
        uint64_t fixed = plan_item_bytes(*plan, "activations") + plan_item_bytes(*plan, "overhead") +
                         plan_item_bytes(*plan, "kv_cache");
        // The largest no-split block (offloaded, it streams through the first GPU).
        std::vector<uint64_t> bytes;
        ASSERT_TRUE(plan_weights(a, w, &bytes).ok());
        std::map<std::string, uint64_t> blocks;
        for (size_t i = 0; i < a.sk.tensors.size(); ++i)
            blocks[placement_module(a.sk.tensors[i].name)] += bytes[i];
        uint64_t largest = 0;
        for (const auto& [name, b] : blocks) largest = std::max(largest, b);
        // Each GPU takes about a quarter of the weights: the model spills to cpu, then disk.
        std::vector<device_budget> devices = {
            {"cuda:0", device_kind::gpu,  fixed + 2 * largest + weights / 4, ""},
            {"cuda:1", device_kind::gpu,  fixed + weights / 4,               ""},
            {"cpu",    device_kind::cpu,  weights / 3,                       ""},
            {"disk",   device_kind::disk, UINT64_MAX,                        ""}
        };
        for (auto strategy : {place_strategy::sequential, place_strategy::balanced}) {
            place_options o;
            o.strategy = strategy;
            auto p = place_model(a, w, devices, o);
            ASSERT_TRUE(p.ok()) << p.err().message;
            EXPECT_TRUE(p->fits);
            check_placement(a, w, *p, true);
        }
        // Everything on one large GPU: the device's items are the plan's items.
        std::vector<device_budget> one = {
            {"cuda:0", device_kind::gpu, plan->total_bytes, ""}
        };
        auto p = place_model(a, w, one, {});
        ASSERT_TRUE(p.ok()) << p.err().message;
        EXPECT_TRUE(p->fits);
        EXPECT_EQ(p->devices[0].total_bytes, plan->total_bytes);
        check_placement(a, w, *p, true);
    }
}

TEST(placement, without_a_gpu_the_cpu_runs_every_layer) {
    analysis a = analyze_preset("qwen2.5-7b");
    workload w = default_workload();
    auto p = place_model(a, w, *parse_devices("cpu=8GiB,disk"), {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_TRUE(p->fits);
    EXPECT_EQ(p->execution_device, "cpu");
    check_placement(a, w, *p, true);
    EXPECT_GT(p->devices[1].modules, 0u);                 // some layers on disk
    EXPECT_EQ(item(p->devices[1].items, "kv_cache"), 0u); // their cache is in host memory
    EXPECT_EQ(item(p->devices[0].items, "kv_cache"), plan_item_bytes(p->plan, "kv_cache"));
    EXPECT_EQ(item(p->devices[0].items, "overhead"), 0u); // no CUDA context
    EXPECT_EQ(p->devices[1].items.size(), 2u);            // disk: weights (and an empty cache)
    EXPECT_FALSE(place_model(a, w, *parse_devices("disk"), {}).ok());
}

TEST(placement, heterogeneous_budgets) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = default_workload();
    auto devices = parse_devices("cuda:0=6GiB,cuda:1=20GiB");
    ASSERT_TRUE(devices.ok());
    auto p = place_model(a, w, *devices, {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_TRUE(p->fits);
    check_placement(a, w, *p, true);
    // Sequential fills cuda:0 first; a smaller budget holds fewer layers.
    EXPECT_LT(p->devices[0].layers.size(), p->devices[1].layers.size());
    EXPECT_GT(p->devices[0].layers.size(), 0u);
    EXPECT_EQ(p->devices[0].layers.size() + p->devices[1].layers.size(), 32u);

    // Balanced: equal GPUs get layer counts within one of each other...
    place_options balanced;
    balanced.strategy = place_strategy::balanced;
    auto equal = place_model(a, w, *parse_devices("cuda:0=24GiB,cuda:1=24GiB"), balanced);
    ASSERT_TRUE(equal.ok());
    check_placement(a, w, *equal, true);
    int64_t l0 = equal->devices[0].layers.size(), l1 = equal->devices[1].layers.size();
    EXPECT_LE(std::abs(l0 - l1), 1) << l0 << " vs " << l1;
    // ...and unequal ones in proportion to their free memory (48 GiB free vs 16 GiB free: about 3:1).
    auto unequal = place_model(a, w, *parse_devices("cuda:0=50GiB,cuda:1=18GiB"), balanced);
    ASSERT_TRUE(unequal.ok());
    check_placement(a, w, *unequal, true);
    EXPECT_GT(unequal->devices[0].layers.size(), 2 * unequal->devices[1].layers.size());
    EXPECT_GT(unequal->devices[1].layers.size(), 0u);
}

TEST(placement, out_of_memory_says_by_how_much_and_what_would_fit) {
    analysis a = analyze_preset("llama-3.1-70b");
    workload w = default_workload();
    auto one = catalog_devices("rtx-4090", 1, std::nullopt, false);
    ASSERT_TRUE(one.ok());
    place_options o;
    o.gpu_name = "rtx-4090";
    auto p = place_model(a, w, *one, o);
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->fits);
    EXPECT_GT(p->unplaced_bytes, 0u);
    ASSERT_FALSE(p->suggestions.empty());
    EXPECT_NE(p->suggestions[0].find("short by"), std::string::npos);
    // The suggested GPU count is the smallest that fits: N fits, N - 1 does not.
    uint64_t n = 0;
    std::string quant;
    for (const auto& s : p->suggestions) {
        if (s.find(" x rtx-4090 would fit") != std::string::npos) n = std::stoull(s);
        if (s.rfind("--quant ", 0) == 0) quant = s.substr(8, s.find(' ', 8) - 8);
    }
    ASSERT_GT(n, 1u);
    auto with_n = place_model(a, w, *catalog_devices("rtx-4090", n, std::nullopt, false), o);
    auto with_fewer = place_model(a, w, *catalog_devices("rtx-4090", n - 1, std::nullopt, false), o);
    ASSERT_TRUE(with_n.ok() && with_fewer.ok());
    EXPECT_TRUE(with_n->fits);
    EXPECT_FALSE(with_fewer->fits);
    if (!quant.empty()) { // a suggested format does fit
        workload quantized = w;
        quantized.quant = quant;
        EXPECT_TRUE(place_model(a, quantized, *one, o)->fits) << quant;
    }

    // An 8B model at a 32k context on a 20 GiB budget: a quantization and a shorter context are offered, and
    // each does fit (and the context is the longest that does).
    analysis small = analyze_preset("llama-3.1-8b");
    workload longer;
    longer.seq = 32768;
    auto budget = parse_devices("cuda:0=20GiB");
    auto q = place_model(small, longer, *budget, {});
    ASSERT_TRUE(q.ok());
    EXPECT_FALSE(q->fits);
    uint64_t seq = 0;
    quant.clear();
    for (const auto& s : q->suggestions) {
        // The core names the request fields (quant, seq); the CLI words them as flags.
        if (s.rfind("quant ", 0) == 0) quant = s.substr(6, s.find(' ', 6) - 6);
        if (s.rfind("seq ", 0) == 0) seq = std::stoull(s.substr(4));
    }
    ASSERT_FALSE(quant.empty());
    ASSERT_GT(seq, 0u);
    workload quantized = longer;
    quantized.quant = quant;
    EXPECT_TRUE(place_model(small, quantized, *budget, {})->fits) << quant;
    workload shorter = longer;
    shorter.seq = seq;
    EXPECT_TRUE(place_model(small, shorter, *budget, {})->fits);
    shorter.seq = seq + 1;
    EXPECT_FALSE(place_model(small, shorter, *budget, {})->fits);
}

TEST(placement, moe_experts_on_cpu_keep_attention_and_cache_on_the_gpu) {
    analysis a = analyze_preset("mixtral-8x7b-v0.1");
    workload w = default_workload();
    place_options o;
    o.experts_on_cpu = true;
    auto p = place_model(a, w, *parse_devices("cuda:0=24GiB,cpu=128GiB"), o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    ASSERT_TRUE(p->fits);
    check_placement(a, w, *p, false);
    for (const auto& t : a.sk.tensors) {
        std::string d = resolve(p->map, t.name);
        if (t.expert != no_index) EXPECT_EQ(d, "cpu") << t.name;
        if (attention_role(t.what) || t.what == role::attn_o || t.what == role::ffn_router)
            EXPECT_EQ(d, "cuda:0") << t.name;
    }
    EXPECT_EQ(item(p->devices[0].items, "kv_cache"), plan_item_bytes(p->plan, "kv_cache"));
    // A dense model has no experts to move.
    auto dense = place_model(analyze_preset("llama-3.1-8b"), w, *parse_devices("cuda:0=24GiB,cpu=128GiB"), o);
    EXPECT_FALSE(dense.ok());
}

TEST(placement, pins_by_pattern) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = default_workload();
    place_options o;
    o.pins = {
        {"lm_head.*",            "cpu"   },
        {"model.layers.3.mlp.*", "cuda:1"}
    };
    auto p = place_model(a, w, *parse_devices("cuda:0=40GiB,cuda:1=8GiB,cpu=32GiB"), o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    check_placement(a, w, *p, false);
    EXPECT_EQ(resolve(p->map, "lm_head.weight"), "cpu");
    EXPECT_EQ(resolve(p->map, "model.layers.3.mlp.down_proj.weight"), "cuda:1");
    EXPECT_EQ(resolve(p->map, "model.layers.3.self_attn.q_proj.weight"), "cuda:0");
    // A pattern that matches nothing, or a device that is not listed, is an error naming it.
    o.pins = {
        {"nothing.*", "cpu"}
    };
    auto bad = place_model(a, w, *parse_devices("cuda:0=40GiB,cpu=32GiB"), o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("nothing.*"), std::string::npos);
    o.pins = {
        {"lm_head.*", "cuda:7"}
    };
    bad = place_model(a, w, *parse_devices("cuda:0=40GiB"), o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("cuda:7"), std::string::npos);
}

TEST(placement, device_map_json_reads_back) {
    for (const char* name : {"llama-3.1-8b", "gemma-2b", "flan-t5-base", "gpt2", "mixtral-8x7b-v0.1"}) {
        SCOPED_TRACE(name);
        analysis a = analyze_preset(name);
        workload w = default_workload();
        auto plan = plan_memory(a, w);
        uint64_t weights = plan_item_bytes(*plan, "weights");
        std::vector<device_budget> devices = {
            {"cuda:0", device_kind::gpu, plan->total_bytes - weights / 2, ""},
            {"cuda:1", device_kind::gpu, plan->total_bytes,               ""},
            {"cpu",    device_kind::cpu, weights,                         ""}
        };
        auto p = place_model(a, w, devices, {});
        ASSERT_TRUE(p.ok());
        std::string text = device_map_json(p->map);
        // transformers' shape: GPU indices as integers.
        EXPECT_NE(text.find("\": 0"), std::string::npos) << text;
        auto back = parse_device_map(text);
        ASSERT_TRUE(back.ok()) << back.err().message;
        ASSERT_EQ(back->entries.size(), p->map.entries.size());
        for (size_t i = 0; i < back->entries.size(); ++i) {
            EXPECT_EQ(back->entries[i].module, p->map.entries[i].module);
            EXPECT_EQ(back->entries[i].device, p->map.entries[i].device);
        }
        auto assigned = assign_devices(a.sk, *back);
        ASSERT_TRUE(assigned.ok()) << assigned.err().message;
    }
}

TEST(placement, device_lists_and_maps_reject_bad_input) {
    for (const char* bad : {"", "cuda:0", "gpu:0=24GiB", "cuda:0=abc", "cuda:0=0", "cuda:0=24GiB,cuda:0=8GiB",
                            "cpu=1GiB,cpu=2GiB", "cuda:0=24GiB,,cpu=8GiB", "disk=lots"}) {
        auto d = parse_devices(bad);
        EXPECT_FALSE(d.ok()) << bad;
        if (!d.ok()) EXPECT_EQ(d.err().message.rfind("devices: ", 0), 0u) << d.err().message;
    }
    auto d = parse_devices("0=24GiB, cuda:1=80GB ,cpu=64GiB,disk");
    ASSERT_TRUE(d.ok()) << d.err().message;
    ASSERT_EQ(d->size(), 4u);
    EXPECT_EQ((*d)[0].name, "cuda:0");
    EXPECT_EQ((*d)[0].budget_bytes, 24ull << 30);
    EXPECT_EQ((*d)[1].budget_bytes, 80000000000ull);
    EXPECT_EQ((*d)[3].kind, device_kind::disk);

    for (const char* bad : {"[]", "{}", "{\"a\": 1.5}", "{\"a\": \"tpu\"}", "{\"a\": -1}",
                            "{\"a\": 0, \"a\": 1}", "{\"a\": 0"}) {
        auto m = parse_device_map(bad);
        EXPECT_FALSE(m.ok()) << bad;
    }
    auto m = parse_device_map(
        "{\"model.layers\": 1, \"lm_head\": \"cpu\", \"model\": \"cuda:2\", \"x\": \"disk\"}");
    ASSERT_TRUE(m.ok()) << m.err().message;
    EXPECT_EQ(m->entries[0].device, "cuda:1");
    EXPECT_EQ(m->entries[2].device, "cuda:2");
    // A parameter no entry covers is named.
    analysis a = analyze_preset("gpt2");
    auto partial = parse_device_map("{\"transformer.h\": 0}");
    auto assigned = assign_devices(a.sk, *partial);
    ASSERT_FALSE(assigned.ok());
    EXPECT_NE(assigned.err().message.find("transformer.wte.weight"), std::string::npos)
        << assigned.err().message;
    auto everything = assign_devices(a.sk, *parse_device_map("{\"\": \"cpu\"}"));
    ASSERT_TRUE(everything.ok());
}

// Found while writing fuzz/fuzz-device-map.cpp: duplicate keys were looked for by scanning the entries read
// so far (200,000 keys: 2e10 comparisons, minutes), and a key in a message was echoed whole.
TEST(placement, a_device_map_of_many_keys_or_a_long_key_is_bounded) {
    std::string text = "{";
    for (int i = 0; i < 200000; ++i) text += (i ? ", \"m." : "\"m.") + std::to_string(i) + "\": 0";
    text += "}";
    auto start = std::chrono::steady_clock::now();
    auto m = parse_device_map(text);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(m.ok()) << m.err().message.substr(0, 200);
    EXPECT_EQ(m->entries.size(), 200000u);
    EXPECT_LT(seconds, 2.0);

    const std::string key(1000000, 'k');
    for (const std::string& bad :
         {"{\"" + key + "\": \"tpu\"}", "{\"" + key + "\": 0, \"" + key + "\": 1}"}) {
        auto e = parse_device_map(bad);
        ASSERT_FALSE(e.ok());
        EXPECT_LT(e.err().message.size(), 400u);
        EXPECT_NE(e.err().message.find("(1,000,000 bytes)"), std::string::npos) << e.err().message;
    }
}

TEST(placement, placement_modules_of_real_checkpoint_names) {
    // Names from real checkpoints (tests/data: t5-small, gpt2, mixtral-8x7b-v0.1 weight maps).
    EXPECT_EQ(placement_module("encoder.block.0.layer.1.DenseReluDense.wi.weight"), "encoder.block.0");
    EXPECT_EQ(placement_module("transformer.h.11.attn.c_attn.weight"), "transformer.h.11");
    EXPECT_EQ(placement_module("model.layers.3.block_sparse_moe.experts.7.w1.weight"), "model.layers.3");
    EXPECT_EQ(placement_module("model.layers.3.block_sparse_moe.experts.7.w1.weight", true),
              "model.layers.3.block_sparse_moe.experts");
    EXPECT_EQ(placement_module("model.layers.3.block_sparse_moe.gate.weight", true), "model.layers.3");
    EXPECT_EQ(placement_module("lm_head.weight"), "lm_head");
    EXPECT_EQ(placement_module("model.embed_tokens.weight"), "model.embed_tokens");
}

TEST(placement, training_is_refused_with_a_pointer) {
    workload w;
    w.mode = plan_mode::training;
    auto p = place_model(analyze_preset("gpt2"), w, *parse_devices("cuda:0=24GiB"), {});
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.err().message.find("mode training"), std::string::npos);
    EXPECT_EQ(p.err().path, "mode");
}

// vLLM's "Loading model weights took X GB" (GiB) includes its rotary cos/sin cache, max_position_embeddings
// (131072) x head_dim (128) x 2 bytes = 32 MiB on every rank, which the plan reports as "rope_cache". The
// per-rank weights with it against vLLM's logs at TP=2 and 4: tests/data/reference/memory-figures.tsv
// (rank_weights_gib).
TEST(parallel, llama_3_1_8b_rope_cache_on_every_rank) {
    analysis a = analyze_preset("llama-3.1-8b");
    for (uint64_t tp : {2u, 4u}) {
        auto p = plan_parallel(a, workload{}, tp, 1, {});
        ASSERT_TRUE(p.ok()) << p.err().message;
        ASSERT_EQ(p->ranks.size(), tp);
        for (const auto& r : p->ranks) EXPECT_EQ(item(r.items, "rope_cache"), 32ull << 20) << "TP=" << tp;
    }
    // TP=1: the whole plan's weights.
    auto one = plan_parallel(a, workload{}, 1, 1, {});
    auto plan = plan_memory(a, workload{});
    EXPECT_EQ(item(one->ranks[0].items, "weights"), plan_item_bytes(*plan, "weights"));
    EXPECT_EQ(item(one->ranks[0].items, "kv_cache"), plan_item_bytes(*plan, "kv_cache"));
}

TEST(parallel, splits_and_validity) {
    analysis a = analyze_preset("llama-3.1-70b"); // 64 heads, 8 KV heads, intermediate 28672
    auto t8 = plan_parallel(a, workload{}, 8, 1, {});
    ASSERT_TRUE(t8.ok());
    EXPECT_EQ(t8->kv_heads_per_rank, 1u);
    EXPECT_EQ(t8->kv_head_replicas, 1u);
    auto t16 = plan_parallel(a, workload{}, 16, 1, {});
    ASSERT_TRUE(t16.ok());
    EXPECT_EQ(t16->kv_heads_per_rank, 1u);
    EXPECT_EQ(t16->kv_head_replicas, 2u); // 8 KV heads over 16 ranks: each on two ranks
    // The KV cache per rank: at T=8 one of 8 heads; at T=16 still one head per rank.
    auto plan = plan_memory(a, workload{});
    uint64_t kv = plan_item_bytes(*plan, "kv_cache");
    EXPECT_EQ(item(t8->ranks[0].items, "kv_cache"), kv / 8);
    EXPECT_EQ(item(t16->ranks[0].items, "kv_cache"), kv / 8);
    for (const auto& s : t8->splits) {
        if (s.pattern == "model.layers.{layer}.self_attn.q_proj.weight") {
            EXPECT_EQ(s.rank_shape, (std::vector<uint64_t>{1024, 8192}));
            EXPECT_NE(s.split.find("dim 0"), std::string::npos);
        }
        if (s.pattern == "model.layers.{layer}.self_attn.o_proj.weight")
            EXPECT_EQ(s.rank_shape, (std::vector<uint64_t>{8192, 1024}));
        if (s.pattern == "model.layers.{layer}.mlp.down_proj.weight")
            EXPECT_EQ(s.rank_shape, (std::vector<uint64_t>{8192, 3584}));
        if (s.pattern == "model.norm.weight") EXPECT_EQ(s.split, "replicated");
    }
    auto bad = plan_parallel(a, workload{}, 3, 1, {});
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("num_attention_heads (64)"), std::string::npos) << bad.err().message;
    // 32 heads and 8 KV heads at T=32: each KV head on 4 ranks...
    auto small = plan_parallel(analyze_preset("llama-3.1-8b"), workload{}, 32, 1, {});
    ASSERT_TRUE(small.ok());
    EXPECT_EQ(small->kv_head_replicas, 4u);
    // ...but Qwen2.5-0.5B's 2 KV heads cannot spread over T=7 (14 heads divide, 2 and 7 do not).
    auto qwen = plan_parallel(analyze_preset("qwen2.5-0.5b"), workload{}, 7, 1, {});
    ASSERT_FALSE(qwen.ok());
    // GPT-2's Conv1D weights are stored [in, out]: the split follows the dimension, not the position.
    auto gpt2 = plan_parallel(analyze_preset("gpt2"), workload{}, 4, 1, {});
    ASSERT_TRUE(gpt2.ok());
    for (const auto& s : gpt2->splits)
        if (s.pattern == "h.{layer}.mlp.c_fc.weight" || s.pattern == "transformer.h.{layer}.mlp.c_fc.weight")
            EXPECT_EQ(s.rank_shape, (std::vector<uint64_t>{768, 768}));
    // Too few GPUs for T x P is an error.
    auto gpus = parse_devices("cuda:0=80GiB,cuda:1=80GiB");
    EXPECT_FALSE(plan_parallel(a, workload{}, 2, 2, *gpus).ok());
}

TEST(parallel, pipeline_stages) {
    analysis a = analyze_preset("llama-3.1-8b"); // 32 layers, untied head
    auto p = plan_parallel(a, workload{}, 1, 3, {});
    ASSERT_TRUE(p.ok());
    ASSERT_EQ(p->stage_layers.size(), 3u);
    EXPECT_EQ(p->stage_layers[0], (std::pair<uint64_t, uint64_t>{0, 9}));
    EXPECT_EQ(p->stage_layers[1], (std::pair<uint64_t, uint64_t>{10, 20}));
    EXPECT_EQ(p->stage_layers[2], (std::pair<uint64_t, uint64_t>{21, 31}));
    auto plan = plan_memory(a, workload{});
    uint64_t sum = 0, kv = 0;
    for (const auto& r : p->ranks) {
        sum += item(r.items, "weights");
        kv += item(r.items, "kv_cache");
    }
    EXPECT_EQ(sum, plan_item_bytes(*plan, "weights"));
    EXPECT_EQ(kv, plan_item_bytes(*plan, "kv_cache"));
    EXPECT_EQ(item(p->ranks[0].items, "logits"), 0u);
    EXPECT_GT(item(p->ranks[2].items, "logits"), 0u);
    // The embedding (128256 x 4096 x 2 bytes) is on stage 0, the head (same size) on the last stage.
    uint64_t layer = (plan_item_bytes(*plan, "weights") - 2 * 128256ull * 4096 * 2 - 4096 * 2) / 32;
    EXPECT_EQ(item(p->ranks[0].items, "weights"), 128256ull * 4096 * 2 + 10 * layer);

    // A tied head: the last stage holds a copy of the embedding.
    analysis tied = analyze_preset("gemma-2b");
    auto t = plan_parallel(tied, workload{}, 1, 2, {});
    ASSERT_TRUE(t.ok());
    auto tplan = plan_memory(tied, workload{});
    uint64_t tsum = item(t->ranks[0].items, "weights") + item(t->ranks[1].items, "weights");
    EXPECT_EQ(tsum, plan_item_bytes(*tplan, "weights") + 256000ull * 2048 * 2);
    EXPECT_FALSE(plan_parallel(tied, workload{}, 1, 19, {}).ok()); // 18 layers
}

// A device-map entry moves its whole module (transformers resolves each tensor by the longest key), so a pin
// on q_proj.weight takes Qwen2's q_proj.bias along (Qwen2 has q/k/v biases: transformers' Qwen2Attention,
// bias=True). The plan must count the bias where the map sends it.
TEST(placement, a_pinned_tensor_takes_its_module_siblings) {
    analysis a = analyze_preset("qwen2.5-7b");
    workload w = default_workload();
    bool has_bias = false;
    for (const auto& t : a.sk.tensors)
        has_bias = has_bias || t.name == "model.layers.0.self_attn.q_proj.bias";
    ASSERT_TRUE(has_bias);
    place_options o;
    o.pins = {
        {"*.q_proj.weight", "cpu"}
    };
    auto p = place_model(a, w, *parse_devices("cuda:0=40GiB,cpu=64GiB"), o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    check_placement(a, w, *p, false);
    EXPECT_EQ(resolve(p->map, "model.layers.0.self_attn.q_proj.bias"), "cpu");
    // Two tensors of one module pinned to different devices cannot be written as one entry: an error naming
    // them.
    o.pins = {
        {"model.layers.0.self_attn.q_proj.weight", "cpu" },
        {"model.layers.0.self_attn.q_proj.bias",   "disk"}
    };
    auto bad = place_model(a, w, *parse_devices("cuda:0=40GiB,cpu=64GiB,disk"), o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("model.layers.0.self_attn.q_proj"), std::string::npos)
        << bad.err().message;
    EXPECT_EQ(bad.err().path, "pins[1]"); // the second rule
}

// batch 2^40 x 100,000 tokens: the KV cache alone is past 2^64 bytes. A saturated plan is an error that names
// the workload field (issue 18: "a saturated value is an error naming the flag or key, never a result"); it
// must neither wrap into a fitting map nor come back as a map of 16 EiB.
TEST(placement, absurd_workloads_are_refused_not_placed) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    w.batch = 1ull << 40;
    w.seq = 100000;
    auto p = place_model(a, w, *parse_devices("cuda:0=24GiB,cpu=64GiB"), place_options{});
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.err().code, error_code::overflow);
    EXPECT_EQ(p.err().path, "batch");
    EXPECT_NE(p.err().message.find("overflow 64 bits"), std::string::npos) << p.err().message;
}

// Balanced with a GPU whose budget is 2^64 - 1 bytes next to a 24 GiB one: the big GPU's share is all but
// nothing of the other's, so it takes (nearly) every layer. (2^64 - 1 is 2^64 as a double: converting the
// share back must not overflow.)
TEST(placement, balanced_targets_with_an_enormous_gpu) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = default_workload();
    place_options o;
    o.strategy = place_strategy::balanced;
    std::vector<device_budget> devices = {
        {"cuda:0", device_kind::gpu, UINT64_MAX,  ""},
        {"cuda:1", device_kind::gpu, 24ull << 30, ""}
    };
    auto p = place_model(a, w, devices, o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_TRUE(p->fits);
    EXPECT_GE(p->devices[0].layers.size(), 31u);
}

// Over every preset and every valid T (P = 1): a rank holds at least 1/T of the weights, the ranks together
// at least the whole (replicated tensors count on every rank), and T = 1 is the plan exactly.
TEST(parallel, per_rank_weights_cover_the_plan_on_every_preset) {
    for (const auto& preset : presets()) {
        SCOPED_TRACE(preset.name);
        analysis a = analyze_preset(preset.name);
        auto plan = plan_memory(a, workload{});
        ASSERT_TRUE(plan.ok());
        uint64_t weights = plan_item_bytes(*plan, "weights");
        uint64_t replicated = 0; // norms: never split
        std::vector<uint64_t> bytes;
        ASSERT_TRUE(plan_weights(a, workload{}, &bytes).ok());
        for (size_t i = 0; i < a.sk.tensors.size(); ++i)
            if (a.sk.tensors[i].what == role::output_norm && loaded(a, a.sk.tensors[i]))
                replicated += bytes[i];
        for (uint64_t tp : {1, 2, 4, 8}) {
            auto p = plan_parallel(a, workload{}, tp, 1, {});
            if (!p.ok()) continue; // not divisible: checked elsewhere
            uint64_t sum = 0;
            for (const auto& r : p->ranks) {
                uint64_t rw = item(r.items, "weights");
                EXPECT_GE(rw, weights / tp) << "T=" << tp;
                EXPECT_GE(rw, replicated) << "T=" << tp;
                sum += rw;
            }
            if (tp == 1)
                EXPECT_EQ(sum, weights);
            else
                EXPECT_GE(sum, weights + (tp - 1) * replicated) << "T=" << tp;
        }
    }
}

// GPT-2 with n_positions = 2^29: the replicated position table wpe is 2^29 x 768 fp32 values (2^29 x 3072
// bytes), so bytes x elements passes 2^64; every rank must still hold it whole. (2^29, not more: the causal
// mask buffer, n_positions^2 elements, must stay under the 2^60 elements one tensor may hold.)
TEST(parallel, huge_replicated_tensors_stay_whole_on_every_rank) {
    auto a = analyze("gpt2", edited_config("gpt2", "n_positions", "536870912"), {});
    ASSERT_TRUE(a.ok()) << a.err().message;
    workload w;
    w.seq = 1024;
    auto p = plan_parallel(*a, w, 2, 1, {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    uint64_t wpe = (1ull << 29) * 768 * 4;
    for (const auto& r : p->ranks) EXPECT_GE(item(r.items, "weights"), wpe);
}

// T5 under P = 2 (flan-t5-base: 12 encoder and 12 decoder blocks, untied head): stage 0 runs the encoder, and
// the encoder's final_layer_norm runs right after its last block, so stage 0 holds exactly the shared
// embedding and every encoder.* tensor; stage 1 every decoder.* tensor and lm_head. Sums by name, computed
// here.
TEST(parallel, t5_encoder_final_norm_stays_with_the_encoder) {
    analysis a = analyze_preset("flan-t5-base");
    workload w;
    w.seq = 512;
    auto p = plan_parallel(a, w, 1, 2, {});
    ASSERT_TRUE(p.ok()) << p.err().message;
    std::vector<uint64_t> bytes;
    ASSERT_TRUE(plan_weights(a, w, &bytes).ok());
    uint64_t encoder = 0, decoder = 0;
    for (size_t i = 0; i < a.sk.tensors.size(); ++i) {
        const std::string& n = a.sk.tensors[i].name;
        if (n == "shared.weight" || n.rfind("encoder.", 0) == 0)
            encoder += bytes[i];
        else
            decoder += bytes[i];
    }
    ASSERT_EQ(p->ranks.size(), 2u);
    EXPECT_EQ(item(p->ranks[0].items, "weights"), encoder);
    EXPECT_EQ(item(p->ranks[1].items, "weights"), decoder);
    // OPT's checkpoint lists model.decoder.final_layer_norm before the layers: it still goes to the last
    // stage.
    analysis opt = analyze_preset("opt-125m");
    auto o = plan_parallel(opt, workload{}, 1, 2, {});
    ASSERT_TRUE(o.ok()) << o.err().message;
    std::vector<uint64_t> ob;
    ASSERT_TRUE(plan_weights(opt, workload{}, &ob).ok());
    uint64_t norm = 0;
    for (size_t i = 0; i < opt.sk.tensors.size(); ++i)
        if (opt.sk.tensors[i].name.rfind("model.decoder.final_layer_norm.", 0) == 0) norm += ob[i];
    auto p1 = plan_parallel(opt, workload{}, 1, 1, {});
    ASSERT_TRUE(p1.ok());
    EXPECT_GT(norm, 0u);
    EXPECT_GE(item(o->ranks[1].items, "weights"), norm);
}

// A JSON place request's errors point at the request's own keys: the "pins" array and the entry at fault.
TEST(placement, json_pin_errors_name_the_pins_entry) {
    auto path_of = [](const std::string& request) {
        rapidjson::Document d;
        d.Parse(handle_request("place", request).c_str());
        EXPECT_TRUE(d.IsObject() && d.HasMember("error")) << request;
        if (!d.IsObject() || !d.HasMember("error")) return std::string();
        EXPECT_STRNE(d["error"]["message"].GetString(), "");
        return std::string(d["error"]["path"].GetString());
    };
    EXPECT_EQ(
        path_of(
            R"({"model": "gpt2", "devices": "cuda:0=8GiB", "pins": ["*ln_f*=cuda:0", "nothing.*=cuda:0"]})"),
        "pins[1]");
    EXPECT_EQ(path_of(R"({"model": "gpt2", "devices": "cuda:0=8GiB", "pins": ["lm_head.*=cuda:3"]})"),
              "pins[0]");
    EXPECT_EQ(path_of(R"({"model": "gpt2", "devices": "cuda:0=8GiB", "pins": ["*ln_f*=cuda:0", "oops"]})"),
              "pins[1]");
}

// docs/placement.md: "disk is unlimited unless you give it a size". A sized disk is a budget like any other:
// Llama-3.1-8B's lm_head (128256 x 4096 bf16, about 1002 MiB) pinned to a 1 MiB disk does not fit.
TEST(placement, a_sized_disk_is_a_budget) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w = default_workload();
    place_options o;
    o.pins = {
        {"lm_head.*", "disk"}
    };
    auto p = place_model(a, w, *parse_devices("cuda:0=40GiB,cpu=4GiB,disk=1MiB"), o);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_FALSE(p->fits);
    const device_placement* disk = find_device(*p, "disk");
    ASSERT_TRUE(disk);
    uint64_t head = 128256ull * 4096 * 2;
    EXPECT_EQ(item(disk->items, "weights"), head);
    EXPECT_EQ(p->over_budget_bytes, head - (1ull << 20));
    EXPECT_EQ(disk->headroom_bytes, static_cast<int64_t>(1ull << 20) - static_cast<int64_t>(head));
}

// accelerate's dispatch_model runs offloaded modules on its main device: the first value of the device_map
// that is neither "cpu" nor "disk", or "cpu" when there is none (accelerate/big_modeling.py). A first GPU too
// small for even the 1,343 MiB CUDA context holds nothing, so the layers offloaded to cpu run on cuda:1,
// which also holds their KV cache; cuda:0 pays nothing.
TEST(placement, offloaded_layers_run_on_accelerates_main_device) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    w.batch = 8;
    w.seq = 8192;
    auto p = place_model(a, w, *parse_devices("cuda:0=1GiB,cuda:1=24GiB,cpu=64GiB"), place_options{});
    ASSERT_TRUE(p.ok()) << p.err().message;
    check_placement(a, w, *p, true);
    std::string first_gpu;
    for (const auto& e : p->map.entries)
        if (first_gpu.empty() && e.device != "cpu" && e.device != "disk") first_gpu = e.device;
    EXPECT_EQ(first_gpu, "cuda:1");
    EXPECT_EQ(p->execution_device, first_gpu);
    EXPECT_EQ(p->devices[0].total_bytes, 0u);
    EXPECT_EQ(item(find_device(*p, "cuda:1")->items, "kv_cache"), plan_item_bytes(p->plan, "kv_cache"));
    EXPECT_TRUE(p->fits);
    // A map with no GPU at all runs on the cpu, which then pays the activations and the whole cache.
    auto c = place_model(analyze_preset("gpt2"), workload{}, *parse_devices("cuda:0=1GiB,cpu=8GiB"),
                         place_options{});
    ASSERT_TRUE(c.ok()) << c.err().message;
    EXPECT_EQ(c->execution_device, "cpu");
    EXPECT_EQ(c->devices[0].total_bytes, 0u);
    EXPECT_GT(item(find_device(*c, "cpu")->items, "activations"), 0u);
    EXPECT_EQ(item(find_device(*c, "cpu")->items, "kv_cache"), plan_item_bytes(c->plan, "kv_cache"));
}

// BERT's cls.predictions.decoder ties its weight to the word embeddings and its bias to cls.predictions.bias
// (transformers' BertLMPredictionHead), so the two travel as one unit. Pinning them to two devices cannot be
// honoured: an error, not a silently ignored pin.
TEST(placement, tied_units_pinned_apart_are_an_error) {
    analysis a = analyze_preset("bert-base-uncased");
    std::string embed, bias;
    for (const auto& t : a.sk.tensors) {
        if (t.name.find("word_embeddings.weight") != std::string::npos) embed = t.name;
        if (t.name == "cls.predictions.bias") bias = t.name;
    }
    ASSERT_FALSE(embed.empty());
    ASSERT_FALSE(bias.empty());
    place_options o;
    o.pins = {
        {embed, "cuda:0"},
        {bias,  "cpu"   }
    };
    auto bad = place_model(a, default_workload(), *parse_devices("cuda:0=8GiB,cpu=8GiB"), o);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("cuda:0"), std::string::npos) << bad.err().message;
    EXPECT_NE(bad.err().message.find("cpu"), std::string::npos) << bad.err().message;
    // Pinned together, they stay together.
    o.pins = {
        {embed, "cpu"},
        {bias,  "cpu"}
    };
    auto good = place_model(a, default_workload(), *parse_devices("cuda:0=8GiB,cpu=8GiB"), o);
    ASSERT_TRUE(good.ok()) << good.err().message;
    check_placement(a, default_workload(), *good, false);
    EXPECT_EQ(resolve(good->map, bias), "cpu");
    EXPECT_EQ(resolve(good->map, embed), "cpu");
}

// With images, the vision tower's working set (plan item vision_activations) is charged once, on the device
// that runs the tower's first block; without images there is none. The devices' totals still add up to the
// plan's items spread as check_placement requires.
TEST(placement, vision_activations_go_where_the_tower_runs) {
    analysis a = analyze_preset("qwen2.5-vl-7b-instruct");
    workload w = default_workload();
    ASSERT_FALSE(set_workload_option(w, "images", "4", "--images"));
    ASSERT_FALSE(set_workload_option(w, "image_size", "1024x768", "--image-size"));
    std::string first_block;
    for (const auto& t : a.sk.tensors)
        if (t.layer != no_index && a.spec.layers[static_cast<size_t>(t.layer)].stack == layer_stack::vision) {
            first_block = t.name;
            break;
        }
    ASSERT_FALSE(first_block.empty());
    // A first GPU too small for the tower: it goes to the second, and so does its working set.
    for (const char* devices : {"cuda:0=24GiB,cuda:1=24GiB", "cuda:0=1GiB,cuda:1=40GiB"}) {
        auto p = place_model(a, w, *parse_devices(devices), {});
        ASSERT_TRUE(p.ok()) << p.err().message;
        check_placement(a, w, *p, false);
        const uint64_t vision = p->plan.bytes.vision_activations;
        ASSERT_GT(vision, 0u);
        std::string tower = resolve(p->map, first_block);
        int charged = 0;
        for (const auto& d : p->devices) {
            uint64_t bytes = item(d.items, "vision_activations");
            if (!bytes) continue;
            ++charged;
            EXPECT_EQ(bytes, vision) << devices;
            EXPECT_EQ(d.device.name, tower) << devices;
            EXPECT_EQ(d.bytes.vision_activations, vision);
        }
        EXPECT_EQ(charged, 1) << devices;
    }
    auto none = place_model(a, default_workload(), *parse_devices("cuda:0=24GiB,cuda:1=24GiB"), {});
    ASSERT_TRUE(none.ok());
    for (const auto& d : none->devices) EXPECT_EQ(item(d.items, "vision_activations"), 0u);
}

} // namespace
} // namespace modelplan::test
