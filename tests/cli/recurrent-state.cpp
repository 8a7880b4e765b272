// The recurrent state on the command line: its own row in plan and place tables, --state-dtype, and the error
// for a bad value (exit 2, nothing on stdout).
#include <string>

#include "cli-fixture.h"

namespace modelplan::test {
namespace {

class recurrent_state : public cli_fixture {};

TEST_F(recurrent_state, plan_shows_the_state_as_its_own_item) {
    run_result r = run("plan nemotron-nano-9b-v2 --batch 2");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("recurrent_state"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Recurrent state per sequence"), std::string::npos) << r.out;
    run_result json = run("plan nemotron-nano-9b-v2 --state-dtype fp32 --json");
    EXPECT_EQ(json.status, 0) << json.err;
    EXPECT_NE(json.out.find("\"state_bytes_per_sequence\""), std::string::npos);
    EXPECT_NE(json.out.find("\"state_dtype\": \"F32\""), std::string::npos) << json.out.substr(0, 2000);
}

TEST_F(recurrent_state, place_tables_have_a_state_column_for_hybrids_only) {
    run_result hybrid = run("place qwen3-next-80b-a3b --gpu h100-80gb --tp 2");
    EXPECT_EQ(hybrid.status, 0) << hybrid.err;
    EXPECT_NE(hybrid.out.find(" state "), std::string::npos) << hybrid.out;
    run_result dense = run("place llama-3.1-8b --gpu h100-80gb --tp 2");
    EXPECT_EQ(dense.status, 0) << dense.err;
    EXPECT_EQ(dense.out.find(" state "), std::string::npos) << dense.out;
}

TEST_F(recurrent_state, a_bad_state_dtype_is_refused) {
    run_result r = run("plan mamba-130m --state-dtype fp7");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--state-dtype"), std::string::npos) << r.err;
}

} // namespace
} // namespace modelplan::test
