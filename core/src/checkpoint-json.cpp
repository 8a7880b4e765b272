#include "checkpoint-json.h"

#include <algorithm>

#include <rapidjson/error/en.h>

namespace modelplan {

std::optional<error> parse_header_json(const std::string& text, rapidjson::Document& doc,
                                       const std::string& what) {
    // Iterative parsing: a hostile, deeply nested header cannot overflow the stack.
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (!doc.HasParseError()) return std::nullopt;
    size_t offset = std::min(doc.GetErrorOffset(), text.size());
    size_t line = 1, column = 1;
    for (size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return make_error(error_code::json_syntax, what + " is not valid JSON: line " + std::to_string(line) +
                                                   ", column " + std::to_string(column) + ": " +
                                                   rapidjson::GetParseError_En(doc.GetParseError()));
}

} // namespace modelplan
