// Whisper: a speech encoder-decoder. The encoder reads log-mel frames through two 1-D convolutions (kernel 3,
// the second with stride 2) and a learned position table of max_source_positions rows (1500 frames per
// 30-second window), then pre-norm LayerNorm blocks; the decoder is a pre-norm text decoder with a learned
// position table of max_target_positions rows and cross-attention over the encoder frames. q/v/out
// projections carry biases, k projections do not; the output head proj_out is tied to the decoder's token
// embedding. Sources: transformers models/whisper/modeling_whisper.py and configuration_whisper.py (4.4x),
// module registration order; the tensor lists of the openai/whisper-* checkpoints (models/SOURCES-WH.md).
#include "model/families/families.h"
#include "model/family-readers.h"

namespace modelplan::family_tables {

namespace {

using namespace readers;

constexpr uint64_t enc = sw_encoder, dec = sw_decoder;

// clang-format off
const tensor_template whisper_base[] = {
    once(role::audio_conv,       "encoder.conv1.weight",                           dim::hidden, dim::audio_mels, dim::audio_kernel),
    once(role::audio_conv,       "encoder.conv1.bias",                             dim::hidden),
    once(role::audio_conv,       "encoder.conv2.weight",                           dim::hidden, dim::hidden, dim::audio_kernel),
    once(role::audio_conv,       "encoder.conv2.bias",                             dim::hidden),
    once(role::pos_embed,        "encoder.embed_positions.weight",                 dim::audio_positions, dim::hidden),
    per_layer(role::attn_k,      "encoder.layers.{layer}.self_attn.k_proj.weight",   dim::kv_dim, dim::hidden).when(enc),
    per_layer(role::attn_v,      "encoder.layers.{layer}.self_attn.v_proj.weight",   dim::kv_dim, dim::hidden).when(enc),
    per_layer(role::attn_v,      "encoder.layers.{layer}.self_attn.v_proj.bias",     dim::kv_dim).when(enc),
    per_layer(role::attn_q,      "encoder.layers.{layer}.self_attn.q_proj.weight",   dim::q_dim,  dim::hidden).when(enc),
    per_layer(role::attn_q,      "encoder.layers.{layer}.self_attn.q_proj.bias",     dim::q_dim).when(enc),
    per_layer(role::attn_o,      "encoder.layers.{layer}.self_attn.out_proj.weight", dim::hidden, dim::q_dim).when(enc),
    per_layer(role::attn_o,      "encoder.layers.{layer}.self_attn.out_proj.bias",   dim::hidden).when(enc),
    per_layer(role::attn_norm,   "encoder.layers.{layer}.self_attn_layer_norm.weight", dim::hidden).when(enc),
    per_layer(role::attn_norm,   "encoder.layers.{layer}.self_attn_layer_norm.bias",   dim::hidden).when(enc),
    per_layer(role::ffn_up,      "encoder.layers.{layer}.fc1.weight",                dim::ffn,    dim::hidden).when(enc),
    per_layer(role::ffn_up,      "encoder.layers.{layer}.fc1.bias",                  dim::ffn).when(enc),
    per_layer(role::ffn_down,    "encoder.layers.{layer}.fc2.weight",                dim::hidden, dim::ffn).when(enc),
    per_layer(role::ffn_down,    "encoder.layers.{layer}.fc2.bias",                  dim::hidden).when(enc),
    per_layer(role::ffn_norm,    "encoder.layers.{layer}.final_layer_norm.weight",   dim::hidden).when(enc),
    per_layer(role::ffn_norm,    "encoder.layers.{layer}.final_layer_norm.bias",     dim::hidden).when(enc),
    once(role::output_norm,      "encoder.layer_norm.weight",                      dim::hidden),
    once(role::output_norm,      "encoder.layer_norm.bias",                        dim::hidden),
    once(role::embed,            "decoder.embed_tokens.weight",                    dim::vocab, dim::hidden),
    once(role::pos_embed,        "decoder.embed_positions.weight",                 dim::position_rows, dim::hidden),
    per_layer(role::attn_k,      "decoder.layers.{layer}.self_attn.k_proj.weight",   dim::kv_dim, dim::hidden).when(dec),
    per_layer(role::attn_v,      "decoder.layers.{layer}.self_attn.v_proj.weight",   dim::kv_dim, dim::hidden).when(dec),
    per_layer(role::attn_v,      "decoder.layers.{layer}.self_attn.v_proj.bias",     dim::kv_dim).when(dec),
    per_layer(role::attn_q,      "decoder.layers.{layer}.self_attn.q_proj.weight",   dim::q_dim,  dim::hidden).when(dec),
    per_layer(role::attn_q,      "decoder.layers.{layer}.self_attn.q_proj.bias",     dim::q_dim).when(dec),
    per_layer(role::attn_o,      "decoder.layers.{layer}.self_attn.out_proj.weight", dim::hidden, dim::q_dim).when(dec),
    per_layer(role::attn_o,      "decoder.layers.{layer}.self_attn.out_proj.bias",   dim::hidden).when(dec),
    per_layer(role::attn_norm,   "decoder.layers.{layer}.self_attn_layer_norm.weight", dim::hidden).when(dec),
    per_layer(role::attn_norm,   "decoder.layers.{layer}.self_attn_layer_norm.bias",   dim::hidden).when(dec),
    per_layer(role::cross_k,     "decoder.layers.{layer}.encoder_attn.k_proj.weight",   dim::kv_dim, dim::hidden).when(dec),
    per_layer(role::cross_v,     "decoder.layers.{layer}.encoder_attn.v_proj.weight",   dim::kv_dim, dim::hidden).when(dec),
    per_layer(role::cross_v,     "decoder.layers.{layer}.encoder_attn.v_proj.bias",     dim::kv_dim).when(dec),
    per_layer(role::cross_q,     "decoder.layers.{layer}.encoder_attn.q_proj.weight",   dim::q_dim,  dim::hidden).when(dec),
    per_layer(role::cross_q,     "decoder.layers.{layer}.encoder_attn.q_proj.bias",     dim::q_dim).when(dec),
    per_layer(role::cross_o,     "decoder.layers.{layer}.encoder_attn.out_proj.weight", dim::hidden, dim::q_dim).when(dec),
    per_layer(role::cross_o,     "decoder.layers.{layer}.encoder_attn.out_proj.bias",   dim::hidden).when(dec),
    per_layer(role::cross_norm,  "decoder.layers.{layer}.encoder_attn_layer_norm.weight", dim::hidden).when(dec),
    per_layer(role::cross_norm,  "decoder.layers.{layer}.encoder_attn_layer_norm.bias",   dim::hidden).when(dec),
    per_layer(role::ffn_up,      "decoder.layers.{layer}.fc1.weight",                dim::ffn,    dim::hidden).when(dec),
    per_layer(role::ffn_up,      "decoder.layers.{layer}.fc1.bias",                  dim::ffn).when(dec),
    per_layer(role::ffn_down,    "decoder.layers.{layer}.fc2.weight",                dim::hidden, dim::ffn).when(dec),
    per_layer(role::ffn_down,    "decoder.layers.{layer}.fc2.bias",                  dim::hidden).when(dec),
    per_layer(role::ffn_norm,    "decoder.layers.{layer}.final_layer_norm.weight",   dim::hidden).when(dec),
    per_layer(role::ffn_norm,    "decoder.layers.{layer}.final_layer_norm.bias",     dim::hidden).when(dec),
    once(role::output_norm,      "decoder.layer_norm.weight",                      dim::hidden),
    once(role::output_norm,      "decoder.layer_norm.bias",                        dim::hidden),
};
const tensor_template whisper_proj_out[] = {
    once(role::lm_head, "proj_out.weight", dim::vocab, dim::hidden).alias_of("decoder.embed_tokens.weight", sw_tied),
};
// clang-format on

// WhisperConfig's defaults (transformers configuration_whisper.py): the whisper-tiny shape.
const char* whisper_defaults = R"({"vocab_size": 51865, "num_mel_bins": 80, "encoder_layers": 4,
    "encoder_attention_heads": 6, "decoder_layers": 4, "decoder_attention_heads": 6, "decoder_ffn_dim": 1536,
    "encoder_ffn_dim": 1536, "d_model": 384, "max_source_positions": 1500, "max_target_positions": 448,
    "tie_word_embeddings": true})";

// The decoder must match the encoder's heads and FFN width: one spec holds one of each. Every published
// Whisper checkpoint has them equal.
std::optional<error> same_as_encoder(const key_reader& keys, const char* key, const char* encoder_key,
                                     uint64_t encoder_value) {
    uint64_t value = encoder_value;
    MP_CHECK(read_size(keys, key, value));
    if (value == encoder_value) return std::nullopt;
    return make_error(error_code::unsupported,
                      keys.path(key) + " (" + num(value) + ") differs from " + keys.path(encoder_key) + " (" +
                          num(encoder_value) + "); modelplan models Whisper with equal encoder and decoder " +
                          "widths",
                      keys.path(key));
}

std::optional<error> read_whisper(const key_reader& keys, model_spec& spec) {
    core_keys k;
    k.hidden = "d_model";
    k.layers = "encoder_layers";
    k.heads = "encoder_attention_heads";
    k.kv_heads = nullptr;
    k.head_dim = nullptr;
    k.intermediate = "encoder_ffn_dim";
    k.positions = "max_target_positions";
    k.eps = nullptr;
    MP_CHECK(read_core(keys, spec, k));
    MP_CHECK(same_as_encoder(keys, "decoder_attention_heads", "encoder_attention_heads", spec.n_heads));
    MP_CHECK(same_as_encoder(keys, "decoder_ffn_dim", "encoder_ffn_dim", spec.intermediate));
    MP_TRY(decoder_layers, keys.size("decoder_layers"));
    if (decoder_layers > max_layers) return too_large(keys, "decoder_layers", decoder_layers, max_layers);
    MP_TRY(mels, keys.size("num_mel_bins"));
    MP_TRY(frames, keys.size("max_source_positions"));
    if (spec.max_positions == 0)
        return make_error(error_code::missing_key,
                          "missing required key " + keys.path("max_target_positions"),
                          keys.path("max_target_positions"));
    spec.audio_mels = mels;
    spec.audio_kernel = 3; // WhisperEncoder: nn.Conv1d(..., kernel_size=3, padding=1)
    spec.audio_positions = frames;
    spec.n_positions = spec.max_positions;
    spec.layers.clear();
    add_stack(spec, layer_stack::encoder, spec.n_layers, sw_encoder | sw_dense_ffn);
    add_stack(spec, layer_stack::cross_decoder, decoder_layers, sw_decoder | sw_dense_ffn);
    spec.norm = norm_kind::layer;
    spec.norm_eps = 1e-5; // nn.LayerNorm's default; WhisperConfig has no epsilon key
    spec.switches |= sw_norm_bias | sw_learned_pos;
    spec.set_switches(sw_tied); // WhisperConfig default
    MP_CHECK(read_switch(keys, "tie_word_embeddings", spec, sw_tied));
    spec.rope.rotary_dim = 0;
    return std::nullopt;
}

} // namespace

void add_whisper_families(std::vector<family_info>& out) {
    const std::vector<head_info> heads = {
        {head_kind::cond_gen, "ForConditionalGeneration", {rows(whisper_proj_out)}},
        {head_kind::none,     "Model",                    {}                      }
    };
    out.push_back(
        family("whisper", "Whisper", read_whisper, {rows(whisper_base)}, heads).defaults(whisper_defaults));
}

} // namespace modelplan::family_tables
