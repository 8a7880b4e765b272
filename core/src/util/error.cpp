#include "modelplan/error.h"

namespace modelplan {

const char* error_code_name(error_code code) {
    switch (code) {
    case error_code::json_syntax: return "json_syntax";
    case error_code::missing_key: return "missing_key";
    case error_code::wrong_type: return "wrong_type";
    case error_code::out_of_range: return "out_of_range";
    case error_code::not_divisible: return "not_divisible";
    case error_code::inconsistent: return "inconsistent";
    case error_code::overflow: return "overflow";
    case error_code::unknown_model_type: return "unknown_model_type";
    case error_code::unknown_dtype: return "unknown_dtype";
    case error_code::unknown_model: return "unknown_model";
    case error_code::bad_request: return "bad_request";
    case error_code::io: return "io";
    case error_code::internal: return "internal";
    case error_code::bad_checkpoint: return "bad_checkpoint";
    case error_code::unsupported: return "unsupported";
    case error_code::unknown_gpu: return "unknown_gpu";
    }
    return "internal";
}

} // namespace modelplan
