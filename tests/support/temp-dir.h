// A fresh folder under the system's temporary directory for one test, removed with everything in it when the
// object goes. Names are unique per process and object: <prefix>-<pid>-<n>.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

namespace modelplan::test_files {

class temp_dir {
  public:
    explicit temp_dir(const std::string& prefix = "modelplan-test") {
        static int n = 0;
        path_ = std::filesystem::temp_directory_path() /
                (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

} // namespace modelplan::test_files
