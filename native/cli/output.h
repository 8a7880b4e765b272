// What every command shares when it answers: the exit statuses, stdout for answers, stderr for errors (the
// core's request fields worded as this program's flags, command-line.h), and the small formatters of its
// text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "modelplan/error.h"

namespace modelplan {
struct analysis;
struct memory_plan;
} // namespace modelplan

namespace modelplan::cli {

constexpr int exit_ok = 0;
constexpr int exit_failed = 1; // inspect: verification failed; instantiate, load: counts differ, load failed
constexpr int exit_bad_input = 2;    // usage or bad input: the message on stderr, nothing on stdout
constexpr int exit_does_not_fit = 3; // place

// `text` on stdout, as is.
void print(const std::string& text);

// Flushes stdout; when the answer could not be written (a full device, a closed pipe) says so on stderr and
// returns exit_failed instead of `status`.
int finish_output(int status);

// "modelplan: error: MESSAGE" on stderr (the whole message, NULs included); returns `status`.
int fail(const std::string& message, int status = exit_bad_input);
// The same for an error of the core about what the command line asked: the fields it names read as flags.
int fail(const error& e, int status = exit_bad_input);
// A usage error: the message, then "Try 'modelplan COMMAND --help'." (COMMAND empty: the program's own help).
int usage_error(const std::string& message, const std::string& command);

// "MODEL  Architecture (model_type), dtype, N layers[, E experts (K per token)]" and a newline (place leaves
// the experts out).
std::string model_title(const analysis& a, bool with_experts = true);
// The values a plan used, defaults named as such (issue 17): "workload: batch 1, seq 4096 (default), weights
// fp8-block128 (from config), KV cache BF16 (compute dtype)\n".
std::string values_line(const memory_plan& p);
// The dtype of skeleton tensor `i` as shown: as the checkpoint stores it for a model read from its headers.
std::string tensor_dtype(const analysis& a, size_t i);
// For a model read from checkpoint headers (header-model.h), its notes on what is generic, one per line under
// a heading; "" for a model of a family. Notes of the items in `shown_elsewhere` are left out.
std::string header_notes(const analysis& a, const std::vector<std::string>& shown_elsewhere = {});
std::string shape_text(const std::vector<uint64_t>& shape); // "[4096, 128]"
std::string signed_size(int64_t bytes);                     // binary_size with its sign
std::string fixed(double x, int digits);                    // printf's "%.*f"

} // namespace modelplan::cli
