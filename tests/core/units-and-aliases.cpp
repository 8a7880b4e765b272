// Issue 17: sizes as people type them (a bare number is GiB), a GPU of your own
// ("custom:24GiB,bw=...,tflops=..."), the catalog's consumer cards, and quantization names people use
// (aliases, one table in quantization.cpp).
#include <gtest/gtest.h>

#include <algorithm>

#include "modelplan/device-map.h"
#include "modelplan/devices.h"
#include "modelplan/memory.h"
#include "modelplan/placement.h"
#include "modelplan/quantization.h"
#include "modelplan/report.h"
#include "modelplan/text.h"
#include "test-util.h"

namespace modelplan {
namespace {

using test::analyze_preset;

constexpr uint64_t GiB = 1ull << 30;

TEST(units, bare_number_is_gib_and_letters_are_binary) {
    EXPECT_EQ(parse_memory_size("64"), 64 * GiB);
    EXPECT_EQ(parse_memory_size("64g"), 64 * GiB);
    EXPECT_EQ(parse_memory_size("64G"), 64 * GiB);
    EXPECT_EQ(parse_memory_size("64GiB"), 64 * GiB);
    EXPECT_EQ(parse_memory_size("64 gib"), 64 * GiB);
    EXPECT_EQ(parse_memory_size(" 1.5 "), 3 * GiB / 2);
    EXPECT_EQ(parse_memory_size("512m"), 512ull << 20);
    EXPECT_EQ(parse_memory_size("2t"), 2ull << 40);
    // Decimal units stay decimal (docs/devices.md): 64 GB = 64 x 10^9 bytes.
    EXPECT_EQ(parse_memory_size("64GB"), 64'000'000'000ull);
    EXPECT_EQ(parse_memory_size("64gb"), 64'000'000'000ull);
    EXPECT_EQ(parse_memory_size("4096B"), 4096u);
    for (const char* bad : {"", "lots", "64x", "g64", "-1", "1e400", "64 GiB GiB"})
        EXPECT_FALSE(parse_memory_size(bad)) << bad;
}

TEST(units, cpu_offload_reads_a_bare_number_as_gib) {
    place_request r;
    r.gpu = "rtx-4090";
    r.cpu = "64";
    auto s = resolve_place(r, true);
    ASSERT_TRUE(s.ok()) << s.err().message;
    ASSERT_EQ(s->devices.size(), 2u);
    EXPECT_EQ(s->devices[1].budget_bytes, 64 * GiB);
    r.cpu = "64g";
    EXPECT_EQ(resolve_place(r, true)->devices[1].budget_bytes, 64 * GiB);
    r.cpu = "sixty";
    auto bad = resolve_place(r, true);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.err().message.find("--cpu"), std::string::npos) << bad.err().message;
    EXPECT_NE(bad.err().message.find("\"sixty\""), std::string::npos) << bad.err().message;
    // A device list reads sizes the same way.
    auto d = parse_devices("cuda:0=24,cpu=64g");
    ASSERT_TRUE(d.ok()) << d.err().message;
    EXPECT_EQ((*d)[0].budget_bytes, 24 * GiB);
    EXPECT_EQ((*d)[1].budget_bytes, 64 * GiB);
}

TEST(custom_gpu, memory_bandwidth_and_tflops) {
    // The RTX 4090's published figures: 24 GB, 1,008 GB/s, 165.2 dense BF16 TFLOPS (models/SOURCES-GPU.md).
    auto g = find_gpu("custom:24GiB,bw=1008GB/s,tflops=165.2");
    ASSERT_TRUE(g.ok()) << g.err().message;
    EXPECT_EQ(g->memory_bytes(), 24 * GiB);
    EXPECT_DOUBLE_EQ(g->bandwidth_gbps, 1008.0);
    EXPECT_DOUBLE_EQ(g->bf16_tflops, 165.2);
    EXPECT_TRUE(g->custom());
    EXPECT_EQ(g->key, "custom:24GiB,bw=1008GB/s,tflops=165.2");
    // The key finds the same GPU again (placement looks GPUs up by key).
    EXPECT_EQ(find_gpu(g->key)->memory_bytes(), 24 * GiB);
    // Memory only; a bare number is GiB; decimal GB is exact, not rounded to MiB.
    EXPECT_EQ(find_gpu("custom:24")->memory_bytes(), 24 * GiB);
    EXPECT_EQ(find_gpu("Custom:24GB")->memory_bytes(), 24'000'000'000ull);
    EXPECT_DOUBLE_EQ(find_gpu("custom:24")->bandwidth_gbps, 0.0);
    for (const char* bad : {"custom:", "custom:lots", "custom:0", "custom:24GiB,bw=fast",
                            "custom:24GiB,bw=-1", "custom:24GiB,color=red", "custom:24GiB,tflops="}) {
        auto e = find_gpu(bad);
        ASSERT_FALSE(e.ok()) << bad;
        EXPECT_EQ(e.err().path, "gpu");
        EXPECT_NE(e.err().message.find("custom:MEMORY"), std::string::npos) << e.err().message;
    }
}

TEST(custom_gpu, plans_fits_and_places_like_a_catalog_gpu) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    auto p = plan_memory(a, w);
    ASSERT_TRUE(p.ok());
    // The same memory as the catalog's RTX 4090 (24,564 MiB, nvidia-smi) gives the same verdict and headroom.
    auto custom = find_gpu("custom:24564MiB,bw=1008");
    ASSERT_TRUE(custom.ok());
    memory_plan mine = *p, catalog = *p;
    attach_device(a, w, *custom, mine);
    attach_device(a, w, *find_gpu("rtx-4090"), catalog);
    EXPECT_EQ(mine.device->headroom_bytes, catalog.device->headroom_bytes);
    EXPECT_EQ(mine.device->fits, catalog.device->fits);
    EXPECT_DOUBLE_EQ(mine.device->decode_tokens_per_s, catalog.device->decode_tokens_per_s);
    EXPECT_TRUE(mine.device->errors.empty());
    // Through the JSON request and the placement.
    std::string plan = handle_request("plan", R"({"model": "llama-3.1-8b", "gpu": "custom:24GiB"})");
    EXPECT_NE(plan.find("\"gpu\": \"custom:24GiB\""), std::string::npos) << plan.substr(0, 400);
    std::string placed =
        handle_request("place", R"({"model": "llama-3.1-8b", "gpu": "custom:12", "gpu_count": 2})");
    EXPECT_EQ(placed.find("\"error\""), std::string::npos) << placed.substr(0, 400);
}

// Issue 17's consumer cards, with nvidia-smi's totals (models/SOURCES-GPU.md, "Rows added for issue 17").
TEST(custom_gpu, catalog_has_the_common_consumer_cards) {
    struct row {
        const char* typed;
        const char* key;
        uint64_t mib;
    } rows[] = {
        {"RTX 3060",         "rtx-3060-12gb",     12288},
        {"RTX 4060 Ti 16GB", "rtx-4060-ti-16gb",  16380},
        {"RTX 4070 Super",   "rtx-4070-super",    12282},
        {"RTX 4080 SUPER",   "rtx-4080-super",    16376},
        {"RTX 5080",         "rtx-5080",          16303},
        {"Apple M1 Pro",     "apple-m1-pro-16gb", 10922}, // 2/3 of 16 GiB: Metal's recommendedMaxWorkingSetSize
    };
    for (const auto& r : rows) {
        auto g = find_gpu(r.typed);
        ASSERT_TRUE(g.ok()) << r.typed << ": " << g.err().message;
        EXPECT_EQ(g->key, r.key);
        EXPECT_EQ(g->memory_bytes(), r.mib << 20) << r.key;
    }
    // The plain RTX 4080 stays itself (an exact key wins over the SUPER's longer one).
    EXPECT_EQ(find_gpu("RTX 4080")->key, "rtx-4080");
}

TEST(quant_aliases, names_people_type_plan_as_their_format) {
    // transformers' GPTQConfig and AutoAWQ default to 4 bits in groups of 128; Unsloth's "bnb-4bit"
    // checkpoints are nf4 with double quantization; Ollama's "q4" tags are llama.cpp's Q4_K_M
    // (docs/quantization.md).
    analysis a = analyze_preset("llama-3.1-8b");
    auto weights = [&](const std::string& quant) {
        workload w;
        w.quant = quant;
        auto item = plan_weights(a, w);
        EXPECT_TRUE(item.ok()) << quant << ": " << (item.ok() ? "" : item.err().message);
        return item.ok() ? item->bytes : 0;
    };
    struct pair {
        const char* alias;
        const char* format;
    } pairs[] = {
        {"gptq",         "gptq-4bit-128g"     },
        {"GPTQ",         "gptq-4bit-128g"     },
        {"int4",         "gptq-4bit-128g"     },
        {"awq",          "awq-4bit-128g"      },
        {"bnb-4bit",     "nf4"                },
        {"4bit",         "nf4"                },
        {"bnb-8bit",     "int8"               },
        {"q4",           "q4_k_m"             },
        {"Q4_K_M",       "q4_k_m"             },
        {"q4-k-m",       "q4_k_m"             },
        {"q8",           "q8_0"               },
        {"float8",       "fp8"                },
        {"fp8_block128", "fp8-block128"       },
        {"gptq+head",    "gptq-4bit-128g+head"},
    };
    for (const auto& p : pairs) EXPECT_EQ(weights(p.alias), weights(p.format)) << p.alias;
    EXPECT_EQ(canonical_quant_name(" AWQ "), "awq-4bit-128g");
    EXPECT_EQ(canonical_quant_name("nf4"), "nf4");
}

TEST(quant_aliases, unknown_name_gets_the_closest_few_not_a_wall) {
    analysis a = analyze_preset("llama-3.1-8b");
    workload w;
    w.quant = "awq-8bit"; // AWQ has no 8-bit kernels
    auto item = plan_weights(a, w);
    ASSERT_FALSE(item.ok());
    const std::string& m = item.err().message;
    EXPECT_NE(m.find("closest: "), std::string::npos) << m;
    EXPECT_NE(m.find("awq"), std::string::npos) << m;
    size_t commas = std::count(m.begin(), m.end(), ',');
    EXPECT_LE(commas, 3u) << m; // three names at most, not thirty
    EXPECT_EQ(item.err().path, "quant");
}

} // namespace
} // namespace modelplan

namespace modelplan {
namespace {

// Issue 17, item 1: on several GPUs the solves come from the placement, and are tight there.
TEST(placement_fit, answers_agree_with_the_placement) {
    analysis a = test::analyze_preset("llama-3.1-70b");
    workload w;
    w.quant = "q4_k_m";
    w.seq = 32768;
    place_request r;
    r.gpu = "rtx-4090";
    r.gpu_count = 2;
    auto s = resolve_place(r, false);
    ASSERT_TRUE(s.ok());
    placement_fit f = solve_placement_fit(a, w, s->devices, s->options);
    auto fits = [&](const workload& t, const std::vector<device_budget>& devices) {
        auto p = place_model(a, t, devices, s->options);
        return p.ok() && p->fits;
    };
    ASSERT_GT(f.max_seq, 0u);
    workload t = w;
    t.seq = f.max_seq;
    EXPECT_TRUE(fits(t, s->devices));
    t.seq = f.max_seq + 1;
    EXPECT_FALSE(fits(t, s->devices));
    // GPUs needed: the smallest count of RTX 4090s whose placement fits.
    ASSERT_GT(f.gpus_needed, 0u);
    EXPECT_TRUE(fits(w, *catalog_devices("rtx-4090", f.gpus_needed, std::nullopt, false)));
    EXPECT_FALSE(fits(w, *catalog_devices("rtx-4090", f.gpus_needed - 1, std::nullopt, false)));
    // Through the JSON request: "solve": true adds "fit".
    std::string json = handle_request(
        "place",
        R"({"model": "llama-3.1-70b", "quant": "q4_k_m", "seq": 32768, "gpu": "rtx-4090", "gpu_count": 2,
                    "solve": true})");
    EXPECT_NE(json.find("\"max_seq\": " + std::to_string(f.max_seq)), std::string::npos)
        << json.substr(0, 300);
    EXPECT_NE(json.find("\"gpus_needed\": " + std::to_string(f.gpus_needed)), std::string::npos);
}

} // namespace
} // namespace modelplan
