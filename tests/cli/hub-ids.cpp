// Hugging Face ids as MODEL (docs/hub.md): a bundled preset's repository, offline, and snapshots in a local
// Hugging Face cache laid out as huggingface_hub lays it out (refs/<revision> holding a commit, snapshot
// files that are symbolic links into blobs/). The cache here is written by the test; its checkpoint is an
// invented model_type read from its headers, so the expected count is the sum of the elements the test wrote.
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "../support/checkpoint-writer.h"
#include "cli-fixture.h"

namespace {

using namespace modelplan::test;
namespace tf = modelplan::test_files;

const char* commit_a = "0123456789abcdef0123456789abcdef01234567";
const char* commit_b = "89abcdef0123456789abcdef0123456789abcdef";

class hub_id_cli : public cli_fixture {
  protected:
    void SetUp() override {
        cli_fixture::SetUp();
        ::setenv("HF_HUB_CACHE", path("hub").c_str(), 1);
    }
    void TearDown() override {
        ::unsetenv("HF_HUB_CACHE");
        cli_fixture::TearDown();
    }
    // A snapshot of acme/zorblax-mini at `commit`: config.json and model.safetensors as links into blobs/,
    // `layers` layers of one 64 x 64 BF16 matrix and a norm; returns the elements written.
    uint64_t cache_snapshot(const char* commit, int layers) {
        const std::string repo = "hub/models--acme--zorblax-mini/";
        tf::safetensors_file f;
        uint64_t elements = 0;
        f.add("model.embed_tokens.weight", "BF16", {128, 64});
        elements += 128 * 64;
        for (int l = 0; l < layers; ++l) {
            f.add("model.layers." + std::to_string(l) + ".zorb.weight", "BF16", {64, 64});
            f.add("model.layers." + std::to_string(l) + ".norm.weight", "F32", {64});
            elements += 64 * 64 + 64;
        }
        const std::string config =
            R"({"model_type": "zorblax", "torch_dtype": "bfloat16", "num_hidden_layers": )" +
            std::to_string(layers) + R"(, "hidden_size": 64, "vocab_size": 128})";
        const std::string tag = std::string(commit).substr(0, 8);
        write(repo + "blobs/config-" + tag, config);
        write(repo + "blobs/weights-" + tag, f.bytes());
        fs::path snap = dir_ / (repo + "snapshots/" + commit);
        fs::create_directories(snap);
        fs::create_symlink("../../blobs/config-" + tag, snap / "config.json");
        fs::create_symlink("../../blobs/weights-" + tag, snap / "model.safetensors");
        return elements;
    }
};

// Llama-3.1-8B: 8,030,261,248 parameters (HF API safetensors.total; keras-hub llama3.1_8b), the preset's
// repository named by its id in any case, with no cache at all.
TEST_F(hub_id_cli, a_presets_repository_is_answered_offline) {
    for (const char* id :
         {"meta-llama/Llama-3.1-8B", "META-LLAMA/llama-3.1-8b", "meta-llama/Llama-3.1-8B@main"}) {
        auto r = run(std::string("params ") + id + " --json");
        ASSERT_EQ(r.status, 0) << id << ": " << r.err;
        auto d = json(r);
        EXPECT_EQ(d["params"]["total"].GetUint64(), 8'030'261'248ULL) << id;
    }
}

TEST_F(hub_id_cli, a_cached_snapshot_is_read_through_refs_and_links) {
    uint64_t main_elements = cache_snapshot(commit_a, 2);
    uint64_t tagged_elements = cache_snapshot(commit_b, 3);
    write("hub/models--acme--zorblax-mini/refs/main", std::string(commit_a) + "\n");
    write("hub/models--acme--zorblax-mini/refs/v1.0", commit_b);

    auto r = run("params acme/zorblax-mini --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    EXPECT_EQ(d["params"]["total"].GetUint64(), main_elements);

    r = run("params acme/zorblax-mini@v1.0 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json(r)["params"]["total"].GetUint64(), tagged_elements);

    r = run(std::string("params acme/zorblax-mini@") + commit_a + " --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json(r)["params"]["total"].GetUint64(), main_elements);

    // HF_HOME/hub is the cache when HF_HUB_CACHE is not set.
    ::unsetenv("HF_HUB_CACHE");
    ::setenv("HF_HOME", dir_.c_str(), 1);
    r = run("params acme/zorblax-mini --json");
    ::unsetenv("HF_HOME");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json(r)["params"]["total"].GetUint64(), main_elements);
}

TEST_F(hub_id_cli, what_the_cache_lacks_is_named) {
    expect_bad_input(run("params acme/absent"), "models--acme--absent");
    cache_snapshot(commit_a, 1);
    write("hub/models--acme--zorblax-mini/refs/main", commit_a);
    expect_bad_input(run("params acme/zorblax-mini@nope"), "no revision \"nope\"");
    write("hub/models--acme--zorblax-mini/refs/broken", "not a commit");
    expect_bad_input(run("params acme/zorblax-mini@broken"),
                     "expected a 40-digit commit hash, got \"not a commit\"");
    expect_bad_input(run("params acme/zorblax-mini@ffffffffffffffffffffffffffffffffffffffff"), "snapshot");
    // Not the shape of an id: read as a path, as before.
    expect_bad_input(run("params acme/../../etc"), "no such file or folder");
}

} // namespace
