#include "output.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "command-line.h"
#include "modelplan/header-model.h"
#include "modelplan/memory.h"
#include "modelplan/report.h"
#include "modelplan/text.h"

namespace modelplan::cli {

void print(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

int finish_output(int status) {
    errno = 0;
    if (std::fflush(stdout) == 0 && !std::ferror(stdout)) return status;
    std::string why = errno ? std::strerror(errno) : "write error";
    std::fprintf(stderr, "modelplan: error: cannot write the answer to standard output: %s\n", why.c_str());
    return exit_failed;
}

int fail(const std::string& message, int status) {
    std::string line = "modelplan: error: " + message + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
    return status;
}

int fail(const error& e, int status) {
    return fail(worded_for_cli(e), status);
}

int usage_error(const std::string& message, const std::string& command) {
    std::fprintf(stderr, "modelplan: error: %s\nTry 'modelplan %s--help'.\n", message.c_str(),
                 command.empty() ? "" : (command + " ").c_str());
    return exit_bad_input;
}

std::string model_title(const analysis& a, bool with_experts) {
    std::string moe = with_experts && a.spec.n_experts
                          ? ", " + std::to_string(a.spec.n_experts) + " experts (" +
                                std::to_string(a.spec.n_experts_per_tok) + " per token)"
                          : "";
    return a.model + "  " + a.spec.architecture + " (" + a.spec.model_type + "), " +
           dtype_name(a.spec.weight_dtype) + ", " + std::to_string(a.spec.n_layers) + " layers" + moe +
           (a.from_headers ? ", read from checkpoint headers (no family table)" : "") + "\n";
}

std::string tensor_dtype(const analysis& a, size_t i) {
    return a.from_headers ? a.from_headers->stored_dtype[i] : dtype_name(a.sk.tensors[i].type);
}

std::string header_notes(const analysis& a, const std::vector<std::string>& shown_elsewhere) {
    if (!a.from_headers) return "";
    std::string out =
        "\ngeneric parts (read from the checkpoint headers of " + a.from_headers->checkpoint + ")\n";
    for (const generic_note& n : a.from_headers->notes) {
        if (std::find(shown_elsewhere.begin(), shown_elsewhere.end(), n.item) != shown_elsewhere.end())
            continue;
        out += "  " + n.item + ": " + n.note + "\n";
    }
    return out;
}

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string signed_size(int64_t bytes) {
    return (bytes < 0 ? "-" : "") + binary_size(static_cast<uint64_t>(bytes < 0 ? -bytes : bytes));
}

std::string fixed(double x, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, x);
    return buf;
}

// The values the plan used, defaults named as such: "batch 1, seq 4096 (default), weights fp8-block128 (from
// config), KV cache BF16 (compute dtype)".
std::string values_line(const memory_plan& p) {
    const values_in_use& v = p.in_use;
    std::string weights =
        v.quant.empty() ? v.weight_dtype : v.quant + (v.quant_source == "config" ? " (from config)" : "");
    return "workload: batch " + std::to_string(v.batch) + ", seq " + std::to_string(v.seq) +
           (v.seq_default ? " (default)" : "") + ", weights " + weights + ", KV cache " + v.kv_dtype +
           (v.kv_dtype_default ? " (compute dtype)" : "") + "\n";
}

} // namespace modelplan::cli
