// Aligned text tables for the CLI's human output.
#pragma once

#include <string>
#include <vector>

namespace modelplan::cli {

enum class align { left, right };

class table {
  public:
    explicit table(std::vector<std::pair<std::string, align>> columns) : columns_(std::move(columns)) {}
    void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
    // Renders with a header line, two spaces between columns, `indent` spaces before each line.
    std::string render(size_t indent = 2) const;

  private:
    std::vector<std::pair<std::string, align>> columns_;
    std::vector<std::vector<std::string>> rows_;
};

} // namespace modelplan::cli
