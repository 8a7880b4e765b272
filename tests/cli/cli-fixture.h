// Runs the modelplan program in a scratch folder and captures exit status, stdout and stderr.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <sys/wait.h>
#include <unistd.h>

namespace modelplan::test {

namespace fs = std::filesystem;

struct run_result {
    int status;
    std::string out, err;
};

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

class cli_fixture : public ::testing::Test {
  protected:
    // `command` is put before every run's arguments ("inspect ").
    explicit cli_fixture(std::string command = "") : command_(std::move(command)) {}

    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("modelplan-cli-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::create_directories(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }

    run_result run(const std::string& args) {
        std::string cmd = std::string(MODELPLAN_BIN) + " " + command_ + args + " >" +
                          (dir_ / "out").string() + " 2>" + (dir_ / "err").string();
        int raw = std::system(cmd.c_str());
        return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, slurp(dir_ / "out"), slurp(dir_ / "err")};
    }
    fs::path write(const std::string& name, const std::string& bytes) {
        fs::path p = dir_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << bytes;
        return p;
    }
    std::string path(const std::string& name) const { return (dir_ / name).string(); }
    // Bad input: status 2, nothing on stdout, one message on stderr containing `message_part`.
    void expect_bad_input(const run_result& r, const std::string& message_part) {
        EXPECT_EQ(r.status, 2);
        EXPECT_EQ(r.out, "") << "nothing on stdout for bad input";
        EXPECT_NE(r.err.find(message_part), std::string::npos) << r.err;
        EXPECT_EQ(r.err.rfind("modelplan: error: ", 0), 0u) << r.err;
    }
    static rapidjson::Document json(const run_result& r) {
        rapidjson::Document d;
        d.Parse(r.out.c_str());
        EXPECT_FALSE(d.HasParseError()) << r.out.substr(0, 300);
        return d;
    }

    fs::path dir_;
    std::string command_;
};

} // namespace modelplan::test
