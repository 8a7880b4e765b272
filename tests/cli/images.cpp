// --images and --image-size on plan, fit and place (issue 13): bad values are refused naming the flag and
// the value (exit 2, nothing on stdout); a vision-language plan shows its image tokens.
#include <string>

#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class images_cli : public cli_fixture {};

TEST_F(images_cli, bad_values_name_the_flag_and_the_value) {
    for (const std::string command : {"plan", "fit --gpu h100-80gb", "place --gpu h100-80gb"}) {
        SCOPED_TRACE(command);
        expect_bad_input(run(command + " qwen2.5-vl-7b-instruct --images 1 --image-size 0x5"),
                         "--image-size: expected WIDTHxHEIGHT");
        expect_bad_input(run(command + " qwen2.5-vl-7b-instruct --images -1"), "\"-1\"");
        expect_bad_input(run(command + " qwen2.5-vl-7b-instruct --images 99999999999999999999999"),
                         "--images");
        expect_bad_input(run(command + " qwen2.5-vl-7b-instruct --images 1 --image-size 99999999x99999999"),
                         "99999999x99999999");
        expect_bad_input(run(command + " llama-3.1-8b --images 1"), "takes no image inputs");
        // Image tokens that overflow the cache are blamed on --images, never wrapped.
        expect_bad_input(
            run(command + " qwen2.5-vl-7b-instruct --images 65536 --image-size 4000x4000 --batch 99999999"),
            "--images: 65536 makes the kv_cache overflow 64 bits");
    }
}

TEST_F(images_cli, plan_shows_the_image_tokens) {
    run_result r = run("plan qwen2.5-vl-7b-instruct --images 2 --image-size 1024x768 --seq 1000 --json");
    ASSERT_EQ(r.status, 0) << r.err;
    rapidjson::Document doc;
    doc.Parse(r.out.c_str());
    ASSERT_TRUE(doc.IsObject());
    const auto& images = doc["plan"]["images"];
    EXPECT_EQ(images["tokens_per_image"].GetUint64(), 999u); // smart_resize: tests/core/images.cpp
    EXPECT_EQ(images["image_tokens"].GetUint64(), 1998u);
    EXPECT_EQ(images["text_seq"].GetUint64(), 1000u);
    run_result help = run("plan --help");
    EXPECT_NE(help.out.find("--image-size WxH"), std::string::npos);
}

} // namespace
} // namespace modelplan::test
