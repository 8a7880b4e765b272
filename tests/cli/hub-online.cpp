// Hub ids read from the Hub (docs/hub.md, "Online"), against a local server on 127.0.0.1 that answers the
// Hub's endpoints (tests/cli/hub-server.py: the listing API, resolve URLs, a redirect of checkpoint files to
// another host name as the Hub sends LFS files to its CDN, Range requests, gated, missing, slow and lying
// repositories). The model is an invented model_type read from its safetensors headers, so the expected count
// is the sum of the elements written here, and the bytes fetched are exactly the listing, config.json and
// each file's 8-byte length plus its header.
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../support/checkpoint-writer.h"
#include "cli-fixture.h"

namespace {

using namespace modelplan::test;
namespace tf = modelplan::test_files;

class hub_online_cli : public cli_fixture {
  protected:
    void SetUp() override {
        cli_fixture::SetUp();
        fs::create_directories(dir_ / "hub-root");
        int out[2];
        ASSERT_EQ(::pipe(out), 0);
        server_ = ::fork();
        ASSERT_GE(server_, 0);
        if (server_ == 0) {
            ::dup2(out[1], 1);
            ::close(out[0]);
            ::execlp("python3", "python3", MODELPLAN_HUB_SERVER, path("hub-root").c_str(), (char*)nullptr);
            ::_exit(127);
        }
        ::close(out[1]);
        std::string port;
        char c;
        while (::read(out[0], &c, 1) == 1 && c != '\n') port += c;
        ::close(out[0]);
        ASSERT_FALSE(port.empty()) << "the test server did not start (python3 " << MODELPLAN_HUB_SERVER
                                   << ")";
        endpoint_ = "http://127.0.0.1:" + port;
        ::setenv("HF_ENDPOINT", endpoint_.c_str(), 1);
        ::setenv("HF_HUB_CACHE", path("empty-cache").c_str(), 1); // nothing cached: the Hub answers
        ::setenv("HOME", dir_.c_str(), 1);                        // no token file
        ::setenv("MODELPLAN_HTTP_TIMEOUT", "1", 1);
        ::unsetenv("HF_TOKEN");
        ::unsetenv("HF_HOME");
        ::unsetenv("MODELPLAN_ONLINE");
    }
    void TearDown() override {
        if (server_ > 0) {
            ::kill(server_, SIGKILL);
            ::waitpid(server_, nullptr, 0);
        }
        for (const char* v :
             {"HF_ENDPOINT", "HF_HUB_CACHE", "MODELPLAN_HTTP_TIMEOUT", "HF_TOKEN", "MODELPLAN_ONLINE"})
            ::unsetenv(v);
        cli_fixture::TearDown();
    }

    struct repo_files {
        uint64_t elements = 0;
        uint64_t header_bytes = 0; // every safetensors file's 8-byte length and header
        std::string config;
        std::vector<std::string> names; // sorted, as the server lists them
    };

    // acme/<name> at `revision`: config.json (model_type zorblax) and `shards` safetensors files (with an
    // index when more than one) of `layers` layers.
    repo_files repository(const std::string& name, const std::string& revision, int layers, int shards = 1) {
        repo_files r;
        const std::string base = "hub-root/acme/" + name + "/" + revision + "/";
        r.config = R"({"model_type": "zorblax", "torch_dtype": "bfloat16", "num_hidden_layers": )" +
                   std::to_string(layers) + R"(, "hidden_size": 64, "vocab_size": 128})";
        write(base + "config.json", r.config);
        std::vector<tf::safetensors_file> files(shards);
        std::string weight_map;
        auto put = [&](int shard, const std::string& tensor, const char* dtype, std::vector<uint64_t> shape) {
            uint64_t n = 1;
            for (uint64_t d : shape) n *= d;
            r.elements += n;
            files[shard].add(tensor, dtype, shape);
            const std::string file = shards == 1 ? "model.safetensors"
                                                 : "model-0000" + std::to_string(shard + 1) + "-of-0000" +
                                                       std::to_string(shards) + ".safetensors";
            weight_map += (weight_map.empty() ? "" : ",") + ("\"" + tensor + "\":\"" + file + "\"");
        };
        put(0, "model.embed_tokens.weight", "BF16", {128, 64});
        for (int l = 0; l < layers; ++l) {
            put(l % shards, "model.layers." + std::to_string(l) + ".zorb.weight", "BF16", {64, 64});
            put(l % shards, "model.layers." + std::to_string(l) + ".norm.weight", "F32", {64});
        }
        r.names.push_back("config.json");
        for (int s = 0; s < shards; ++s) {
            const std::string file = shards == 1 ? "model.safetensors"
                                                 : "model-0000" + std::to_string(s + 1) + "-of-0000" +
                                                       std::to_string(shards) + ".safetensors";
            write(base + file, files[s].bytes());
            r.header_bytes += files[s].header_bytes().size();
            r.names.push_back(file);
        }
        if (shards > 1) {
            const std::string index = R"({"metadata": {}, "weight_map": {)" + weight_map + "}}";
            write(base + "model.safetensors.index.json", index);
            r.header_bytes += index.size();
            r.names.push_back("model.safetensors.index.json");
        }
        std::sort(r.names.begin(), r.names.end());
        return r;
    }

    // The listing the server sends (Python's json.dumps with its default separators).
    static std::string listing(const std::string& id, const std::string& revision,
                               const std::vector<std::string>& names) {
        std::string s = R"({"id": ")" + id + R"(", "sha": ")" + revision + R"(", "siblings": [)";
        for (size_t i = 0; i < names.size(); ++i)
            s += (i ? ", " : "") + (R"({"rfilename": ")" + names[i] + "\"}");
        return s + "]}";
    }

    rapidjson::Document stats() {
        run_result r = fetch(endpoint_ + "/stats");
        rapidjson::Document d;
        d.Parse(r.out.c_str());
        return d;
    }
    run_result fetch(const std::string& url) {
        std::string cmd =
            "python3 -c 'import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1])"
            ".read().decode())' " +
            url + " >" + path("stats") + " 2>&1";
        int raw = std::system(cmd.c_str());
        return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(path("stats")), ""};
    }

    pid_t server_ = -1;
    std::string endpoint_;
};

TEST_F(hub_online_cli, offline_by_default_says_how_to_go_online) {
    repository("zorblax-mini", "main", 2);
    auto r = run("params acme/zorblax-mini");
    expect_bad_input(r, "--online");
    EXPECT_NE(r.err.find("empty-cache"), std::string::npos) << "names the cache it looked in: " << r.err;
    EXPECT_EQ(stats()["requests"].Size(), 1u) << "nothing was asked of the network but /stats itself";
}

TEST_F(hub_online_cli, headers_by_range_requests_and_exactly_those_bytes) {
    repo_files files = repository("zorblax-mini", "main", 3);
    auto r = run("params acme/zorblax-mini --online --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_EQ(d["params"]["total"].GetUint64(), files.elements);
    EXPECT_STREQ(d["source"].GetString(), "checkpoint headers");
    const uint64_t expected =
        listing("acme/zorblax-mini", "main", files.names).size() + files.config.size() + files.header_bytes;
    EXPECT_EQ(d["fetched_bytes"].GetUint64(), expected);
    auto s = stats();
    EXPECT_EQ(s["bytes"].GetUint64(), expected) << "the server sent what was counted";
    EXPECT_NE(r.err.find("fetched"), std::string::npos) << "a line on stderr says what was fetched";
    // MODELPLAN_ONLINE=1 does the same as --online; plan reads the same model.
    ::setenv("MODELPLAN_ONLINE", "1", 1);
    auto p = run("plan acme/zorblax-mini --json");
    ASSERT_EQ(p.status, 0) << p.err;
    EXPECT_EQ(json(p)["fetched_bytes"].GetUint64(), expected);
}

TEST_F(hub_online_cli, a_revision_and_a_sharded_checkpoint_with_its_index) {
    repository("zorblax-mini", "main", 1);
    repo_files v2 = repository("zorblax-mini", "v2", 4, 2);
    auto r = run("params acme/zorblax-mini@v2 --online --json");
    ASSERT_EQ(r.status, 0) << r.err;
    auto d = json(r);
    EXPECT_EQ(d["params"]["total"].GetUint64(), v2.elements);
    EXPECT_EQ(d["fetched_bytes"].GetUint64(),
              listing("acme/zorblax-mini", "v2", v2.names).size() + v2.config.size() + v2.header_bytes);
    expect_bad_input(run("params acme/zorblax-mini@v9 --online"), "v9");
}

TEST_F(hub_online_cli, gated_missing_slow_and_lying_repositories) {
    repo_files gated = repository("gated-mini", "main", 2);
    write("hub-root/acme/gated-mini/gated", "");
    auto r = run("params acme/gated-mini --online");
    expect_bad_input(r, "HF_TOKEN");
    EXPECT_NE(r.err.find("401"), std::string::npos) << r.err;
    ::setenv("HF_TOKEN", "secret", 1);
    r = run("params acme/gated-mini --online --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json(r)["params"]["total"].GetUint64(), gated.elements);
    EXPECT_EQ(stats()["auth_elsewhere"].GetUint64(), 0u) << "the token went to the redirect's host";
    EXPECT_EQ(r.err.find("secret"), std::string::npos) << "the token is never printed";
    ::setenv("HF_TOKEN", "wrong", 1);
    expect_bad_input(run("params acme/gated-mini --online"), "token given does not grant access");
    ::unsetenv("HF_TOKEN");

    expect_bad_input(run("params acme/absent --online"), "no such repository");

    // A repository with neither config.json nor checkpoint files (a README alone).
    write("hub-root/acme/readme-only/main/README.md", "# nothing to read");
    expect_bad_input(run("params acme/readme-only --online"), "holds no config.json and no checkpoint");

    repository("slow-mini", "main", 1);
    write("hub-root/acme/slow-mini/slow", "");
    r = run("params acme/slow-mini --online");
    expect_bad_input(r, "sent nothing for 1 s");

    // A 503 with Retry-After is retried after the time asked: the second listing succeeds.
    repo_files flaky = repository("flaky-mini", "main", 2);
    write("hub-root/acme/flaky-mini/flaky", "");
    r = run("params acme/flaky-mini --online --json");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(json(r)["params"]["total"].GetUint64(), flaky.elements);

    repository("lying-mini", "main", 1);
    write("hub-root/acme/lying-mini/lying", "");
    expect_bad_input(run("params acme/lying-mini --online"), "Content-Range");
}

} // namespace
