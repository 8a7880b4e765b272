// The command line itself: the forms an option takes, what is refused and how, help and version.
#include <string>

#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class options : public cli_fixture {};

TEST_F(options, name_value_and_name_equals_value_read_the_same) {
    run_result spaced = run("plan llama-3.2-1b --batch 3 --seq 512 --kv-dtype fp8 --json");
    run_result joined = run("plan llama-3.2-1b --batch=3 --seq=512 --kv-dtype=fp8 --json");
    ASSERT_EQ(spaced.status, 0) << spaced.err;
    EXPECT_EQ(spaced.out, joined.out);
    EXPECT_EQ(joined.err, "");
}

TEST_F(options, a_repeated_option_is_refused) {
    expect_bad_input(run("plan llama-3.2-1b --batch 2 --batch 3"), "--batch is given more than once");
    expect_bad_input(run("params --dtype bf16 --dtype=fp16"), "--dtype is given more than once");
    expect_bad_input(run("params --json --json"), "--json is given more than once");
    // --pin is the one option meant to be repeated.
    run_result pins = run("place llama-3.2-1b --gpu rtx-4090 --cpu 64GiB --pin 'model.norm*=cpu' "
                          "--pin='model.layers.15.*=cpu' --json");
    ASSERT_EQ(pins.status, 0) << pins.err;
    auto d = json(pins);
    const auto& map = d["device_map"];
    EXPECT_STREQ(map["model.norm"].GetString(), "cpu");
    EXPECT_STREQ(map["model.layers.15"].GetString(), "cpu");
}

TEST_F(options, usage_errors_name_the_option_and_point_at_help) {
    run_result missing = run("plan llama-3.2-1b --seq");
    expect_bad_input(missing, "--seq needs a value");
    EXPECT_NE(missing.err.find("Try 'modelplan plan --help'."), std::string::npos) << missing.err;
    expect_bad_input(run("inspect --config"), "--config needs a value");
    expect_bad_input(run("params --json=yes"), "--json takes no value");
    expect_bad_input(run("params --bogus=3"), "unknown option --bogus=3");
    expect_bad_input(run("params -x"), "unknown option -x");
    expect_bad_input(run("gpus --dtype bf16"), "unknown option --dtype"); // an option of another command
    expect_bad_input(run("presets llama-3.1-8b"), "presets takes no MODEL");
    expect_bad_input(run("inspect a.safetensors b.safetensors"), "more than one PATH given");
    // A command name where MODEL goes is a MODEL, not a second command.
    expect_bad_input(run("params gpus"), "no preset named \"gpus\"");
    run_result unknown = run("frobnicate");
    expect_bad_input(unknown, "unknown command \"frobnicate\"");
    EXPECT_NE(unknown.err.find("Try 'modelplan --help'."), std::string::npos) << unknown.err;
}

TEST_F(options, every_command_has_help) {
    for (const std::string command :
         {"params", "skeleton", "presets", "plan", "fit", "gpus", "place", "inspect"})
        for (const std::string flag : {"-h", "--help"}) {
            run_result r = run(command + " " + flag);
            EXPECT_EQ(r.status, 0) << command << flag << r.err;
            EXPECT_EQ(r.err, "");
            EXPECT_EQ(r.out.rfind("usage: modelplan " + command, 0), 0u) << r.out;
        }
    run_result plan = run("plan --help");
    for (const char* option :
         {"--kv-dtype", "--attn", "--prefill-chunk", "--lora-targets", "--zero", "--offload"})
        EXPECT_NE(plan.out.find(option), std::string::npos) << option;
    run_result main_help = run("--help");
    EXPECT_EQ(main_help.status, 0);
    EXPECT_NE(main_help.out.find("exit status: 0 success, 2 bad input or usage"), std::string::npos);
}

TEST_F(options, version) {
    run_result r = run("--version");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.out.rfind("modelplan ", 0), 0u) << r.out;
    EXPECT_EQ(r.err, "");
}

} // namespace
} // namespace modelplan::test
