// Hugging Face Hub ids read from the Hub itself (docs/hub.md, "Online"), when the user allows the network
// (--online or MODELPLAN_ONLINE=1): the repository's file list, config.json, and the checkpoint's headers
// with Range requests (the 8-byte length, then exactly the header), never the tensor data. HF_ENDPOINT sets
// the endpoint, HF_TOKEN (or the token file huggingface_hub writes) authorises gated and private repositories
// and goes to the endpoint's host only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/checkpoint-files.h"
#include "io/http.h"
#include "io/hub-cache.h"
#include "modelplan/error.h"

namespace modelplan::cli {

// Whether the network may be used: MODELPLAN_ONLINE=1 (the --online flag sets it for the process).
bool online_allowed();
void allow_online();

// $HF_ENDPOINT without a trailing '/', else https://huggingface.co.
std::string hub_endpoint();

// One repository at one revision on the Hub. Every byte received is counted in fetched_bytes().
class hub_repository {
  public:
    // Lists the repository's files (GET {endpoint}/api/models/{id}[/revision/{rev}]). Errors name the id and
    // the cause: 401/403 (gated or private: how to pass a token), 404 (no such repository or revision), a
    // slow or silent server.
    static result<std::shared_ptr<hub_repository>> open(const hub_id& id);

    const std::vector<std::string>& files() const { return files_; }
    bool has(const std::string& name) const;
    // A small file whole (config.json), at most `limit` bytes.
    result<std::string> fetch_text(const std::string& name, uint64_t limit);
    // The checkpoint's headers (safetensors shards with their index, or a GGUF file).
    result<loaded_checkpoint> load_checkpoint();

    uint64_t fetched_bytes() const { return *fetched_; }
    std::string label() const; // "org/name@revision at https://..."
    const hub_id& id() const { return id_; }

  private:
    std::string file_url(const std::string& name) const;
    hub_id id_;
    std::string endpoint_;
    http_options http_;
    std::vector<std::string> files_;
    std::shared_ptr<uint64_t> fetched_ = std::make_shared<uint64_t>(0);
};

// The token: $HF_TOKEN, else the file $HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token.
std::string hub_token();

} // namespace modelplan::cli
