// HTTP GET for the Hub (docs/hub.md, "Online"): libcurl behind a small interface, with bounded time and size,
// retries with backoff on 429 and 5xx, and redirects followed here (not by libcurl) so that the token goes to
// the endpoint's host only. Built without libcurl (MODELPLAN_HAVE_CURL unset), every request is an error that
// says so.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "modelplan/error.h"

namespace modelplan::cli {

struct http_options {
    std::string token;      // sent as "Authorization: Bearer" to token_host only (empty: none)
    std::string token_host; // "huggingface.co" or the HF_ENDPOINT's host[:port]
    long connect_seconds = 10;
    long stall_seconds = 30; // a response slower than 1 byte/s for this long is abandoned
    long total_seconds = 120;
    int attempts = 4; // on 429, 5xx and transport errors: waits of 0.5, 1, 2 s (or Retry-After, at most 10 s)
};

struct http_response {
    long status = 0;
    std::string body;
    std::string url;           // after redirects
    std::string content_range; // the Content-Range header, when there is one
};

// GET `url`, at most `max_body` bytes of body (a longer one is an error naming the limit); `range` asks for
// bytes [first, last] (a Range request; the server's 206 and Content-Range are checked by the caller).
// Statuses other than 2xx come back as responses (the caller words 401/403/404); transport failures, too many
// redirects and retries used up are errors.
result<http_response> http_get(const std::string& url, const http_options& options, uint64_t max_body,
                               std::optional<std::pair<uint64_t, uint64_t>> range = std::nullopt);

// "host[:port]" of an http(s) URL, lowercase; empty when it is not one.
std::string url_host(const std::string& url);

// Whether this program was built with libcurl.
bool http_available();

} // namespace modelplan::cli
