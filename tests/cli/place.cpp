// `modelplan place`: JSON shape, the device-map file, exit statuses, and bad input.
#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class place : public cli_fixture {
  protected:
    place() : cli_fixture("place ") {}
};

TEST_F(place, json_devices_items_and_map_agree) {
    auto r = run("llama-3.1-8b --devices cuda:0=10GiB,cuda:1=24GiB --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    ASSERT_TRUE(d.IsObject());
    EXPECT_TRUE(d["fits"].GetBool());
    const auto& devices = d["devices"];
    ASSERT_EQ(devices.Size(), 2u);
    uint64_t weights = 0;
    for (const auto& dev : devices.GetArray()) {
        uint64_t sum = 0;
        for (const auto& item : dev["items"].GetArray()) {
            sum += item["bytes"].GetUint64();
            if (std::string(item["name"].GetString()) == "weights") weights += item["bytes"].GetUint64();
        }
        EXPECT_EQ(sum, dev["total_bytes"].GetUint64());
        EXPECT_LE(dev["total_bytes"].GetUint64(), dev["budget_bytes"].GetUint64());
    }
    // The plan's weights item equals the per-device sum; Llama-3.1-8B in bf16 is 8,030,261,248 x 2 bytes
    // (meta-llama/Llama-3.1-8B model card: 8.03B parameters).
    EXPECT_EQ(weights, 8030261248ull * 2);
    const auto& map = d["device_map"];
    ASSERT_TRUE(map.IsObject());
    EXPECT_EQ(map["model.embed_tokens"].GetInt(), 0);
    EXPECT_EQ(map["lm_head"].GetInt(), 1);
    EXPECT_EQ(map.MemberCount(), 35u); // embed, 32 layers, norm, lm_head
}

TEST_F(place, device_map_out_writes_what_transformers_reads) {
    auto r = run("gemma-2b --gpu rtx-4090 --gpus 2 --device-map-out " + path("map.json"));
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("fits"), std::string::npos);
    rapidjson::Document map;
    map.Parse(slurp(path("map.json")).c_str());
    ASSERT_FALSE(map.HasParseError());
    ASSERT_TRUE(map.IsObject());
    // gemma-2b ties lm_head to the embedding: both on the same device.
    ASSERT_TRUE(map.HasMember("lm_head"));
    EXPECT_EQ(map["lm_head"].GetInt(), map["model.embed_tokens"].GetInt());
}

TEST_F(place, does_not_fit_exits_3_with_suggestions_and_no_map) {
    auto r = run("llama-3.1-70b --gpu rtx-4090 --device-map-out " + path("map.json"));
    EXPECT_EQ(r.status, 3);
    EXPECT_NE(r.out.find("does NOT fit"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("short by"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("x rtx-4090 would fit (--gpus "), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(path("map.json")));
    EXPECT_NE(r.err.find("not written"), std::string::npos);
}

TEST_F(place, tensor_and_pipeline_parallel) {
    auto r = run("llama-3.1-8b --tp 2 --pp 2 --gpu a100-80gb --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_EQ(d["ranks"].Size(), 4u);
    EXPECT_EQ(d["stages"].Size(), 2u);
    EXPECT_TRUE(d["splits"].IsArray());
    r = run("llama-3.1-8b --tp 3");
    expect_bad_input(r, "num_attention_heads (32) must be divisible by the tensor-parallel degree (3)");
}

TEST_F(place, bad_input) {
    expect_bad_input(run("llama-3.1-8b"), "place needs devices");
    expect_bad_input(run("llama-3.1-8b --devices cuda:0"), "needs a size");
    expect_bad_input(run("llama-3.1-8b --devices cuda:0=24GiB --gpu rtx-4090"), "either --devices or --gpu");
    expect_bad_input(run("llama-3.1-8b --gpu rtx-4090 --strategy fastest"), "--strategy");
    expect_bad_input(run("llama-3.1-8b --gpu rtx-4090 --pin lm_head"), "PATTERN=DEVICE");
    expect_bad_input(run("llama-3.1-8b --gpu rtx-4090 --gpus x"), "--gpus");
    expect_bad_input(run("llama-3.1-8b --gpu rtx-4090 --experts-on-cpu --cpu 64GiB"), "no routed experts");
    expect_bad_input(run("llama-3.1-8b --gpu rtx-4090 --mode training"), "mode training");
    expect_bad_input(run("llama-3.1-8b --gpu nosuchgpu"), "nosuchgpu");
    auto help = run("--help");
    EXPECT_EQ(help.status, 0);
    EXPECT_NE(help.out.find("--device-map-out"), std::string::npos);
}

} // namespace
} // namespace modelplan::test
