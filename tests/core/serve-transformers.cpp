// serve --engine transformers: accelerate's placement in serve's terms. Checked against place_model planned
// again for the same devices and workload (docs/placement.md has the placement's own evidence), and the call
// written.
#include <gtest/gtest.h>

#include "modelplan/placement.h"
#include "modelplan/serve.h"
#include "test-util.h"

namespace modelplan {
namespace {

TEST(ServeTransformers, IsThePlacementOfTheSameWorkload) {
    analysis a = test::analyze_preset("llama-3.1-70b");
    serve_request r;
    r.engine = "transformers";
    r.gpu = "a100-80gb";
    r.gpus = 2;
    ASSERT_FALSE(set_serve_option(r, "batch-size", "4", "batch"));
    ASSERT_FALSE(set_serve_option(r, "max-length", "8192", "len"));
    auto p = plan_serve(a, r);
    ASSERT_TRUE(p.ok()) << p.err().message;
    auto devices = catalog_devices("a100-80gb", 2, std::nullopt, false);
    ASSERT_TRUE(devices.ok());
    workload w;
    w.batch = 4;
    w.seq = 8192;
    place_options opt;
    opt.strategy = place_strategy::balanced; // device_map="auto"
    opt.gpu_name = "a100-80gb";
    auto pl = place_model(a, w, *devices, opt);
    ASSERT_TRUE(pl.ok());
    ASSERT_EQ(p->ranks.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_EQ(p->ranks[i].weights_bytes, pl->devices[i].bytes.weights);
        EXPECT_EQ(static_cast<uint64_t>(p->ranks[i].kv_cache_bytes), pl->devices[i].bytes.kv_cache);
        EXPECT_EQ(p->ranks[i].total_bytes, pl->devices[i].device.budget_bytes);
    }
    EXPECT_EQ(p->starts, pl->fits);
    EXPECT_EQ(p->kv_tokens, 4u * 8192u);
    EXPECT_NE(p->command.find("device_map=\"auto\", max_memory={0: \""), std::string::npos) << p->command;

    serve_request bad = r;
    ASSERT_FALSE(set_serve_option(bad, "device-map", "everywhere", "device_map"));
    EXPECT_EQ(plan_serve(a, bad).err().path, "device_map");
    serve_request other = r;
    ASSERT_FALSE(set_serve_option(other, "max-model-len", "8192", "max-model-len"));
    auto e = plan_serve(a, other);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.err().message.find("--max-length"), std::string::npos) << e.err().message;
}

} // namespace
} // namespace modelplan
