#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (fuzz/corpus/<target>/). The committed files are its output;
run it again only to change the seeds: python3 fuzz/make-seeds.py

Seeds are small valid files that reach every branch of the parsers (each safetensors dtype, each GGUF value
type, the quantized groups, the GGUF architectures we model), plus a few broken ones. Layouts: safetensors README
"Format"; ggml docs/gguf.md; the facts are those of tests/support/checkpoint-writer.h.
"""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

BITS = {"BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8,
        "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
        "I32": 32, "U32": 32, "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64}


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None):
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        size = n * BITS[dtype] // 8
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"\0" * offset


def llama_names(layers, hidden, q, kv, ffn, vocab, tied=False):
    out = [("model.embed_tokens.weight", "BF16", [vocab, hidden])]
    for l in range(layers):
        p = f"model.layers.{l}."
        out += [(p + "self_attn.q_proj.weight", "BF16", [q, hidden]), (p + "self_attn.k_proj.weight", "BF16", [kv, hidden]),
                (p + "self_attn.v_proj.weight", "BF16", [kv, hidden]), (p + "self_attn.o_proj.weight", "BF16", [hidden, q]),
                (p + "mlp.gate_proj.weight", "BF16", [ffn, hidden]), (p + "mlp.up_proj.weight", "BF16", [ffn, hidden]),
                (p + "mlp.down_proj.weight", "BF16", [hidden, ffn]), (p + "input_layernorm.weight", "BF16", [hidden]),
                (p + "post_attention_layernorm.weight", "BF16", [hidden])]
    out.append(("model.norm.weight", "BF16", [hidden]))
    if not tied:
        out.append(("lm_head.weight", "BF16", [vocab, hidden]))
    return out


def safetensors_seeds():
    # huggingface/safetensors tensor.rs test_serialization: the reference writer's bytes.
    write("safetensors", "reference.safetensors", bytes([
        64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100, 116, 121, 112, 101, 34,
        58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97,
        116, 97, 95, 111, 102, 102, 115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0,
        128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]))
    write("safetensors", "dtypes.safetensors",
          safetensors([("t_" + d, d, [2, 4]) for d in BITS] + [("scalar", "F32", []), ("empty", "I32", [2, 0])],
                      {"format": "pt"}))
    write("safetensors", "llama.safetensors", safetensors(llama_names(2, 4, 4, 2, 8, 6)))
    q = "model.layers.0.self_attn.q_proj."
    k = "model.layers.0.self_attn.k_proj."
    v = "model.layers.0.self_attn.v_proj."
    o = "model.layers.0.self_attn.o_proj."
    u = "model.layers.0.mlp.up_proj."
    write("safetensors", "quantized.safetensors", safetensors([
        # GPTQ 4-bit: in 32, out 8, one group.
        (q + "qweight", "I32", [4, 8]), (q + "qzeros", "I32", [1, 1]), (q + "scales", "F16", [1, 8]),
        (q + "g_idx", "I32", [32]),
        # AWQ 4-bit: in 8, out 8.
        (k + "qweight", "I32", [8, 1]), (k + "qzeros", "I32", [1, 1]), (k + "scales", "F16", [1, 8]),
        # bitsandbytes nf4 (16 values) and int8.
        (v + "weight", "U8", [8, 1]), (v + "weight.absmax", "F32", [1]), (v + "weight.quant_map", "F32", [16]),
        (v + "weight.quant_state.bitsandbytes__nf4", "U8", [4]),
        (o + "weight", "I8", [2, 4]), (o + "SCB", "F32", [2]), (o + "weight_format", "U8", []),
        # fp8 with scales.
        (u + "weight", "F8_E4M3", [2, 4]), (u + "weight_scale", "F32", []), (u + "input_scale", "F32", []),
        ("model.layers.0.self_attn.rotary_emb.inv_freq", "F32", [2]),
    ]))
    write("safetensors", "subbyte.safetensors", safetensors([("a", "F4", [4]), ("b", "F6_E3M2", [4])]))
    write("safetensors", "index.json", json.dumps({
        "metadata": {"total_size": 8, "total_parameters": 4},
        "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"}}))
    # Broken: a gap between tensors; bytes after the data.
    gap = b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[3,5]}}'
    write("safetensors", "gap.safetensors", struct.pack("<Q", len(gap)) + gap + b"\0" * 5)
    write("safetensors", "polyglot.safetensors", safetensors([("a", "U8", [2])]) + b"trailing")


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


class Gguf:
    # (type id, block, bytes per block): F32, F16, Q4_0, Q8_0 (ggml-common.h).
    TYPES = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q8_0": (8, 32, 34)}

    def __init__(self, version=3, alignment=32):
        self.version, self.alignment, self.kv, self.n_kv, self.infos, self.data = version, alignment, b"", 0, [], 0

    def kv_raw(self, key, type_, value):
        self.kv += gstr(key) + struct.pack("<I", type_) + value
        self.n_kv += 1
        return self

    def u32(self, key, v):
        return self.kv_raw(key, 4, struct.pack("<I", v))

    def f32(self, key, v):
        return self.kv_raw(key, 6, struct.pack("<f", v))

    def s(self, key, v):
        return self.kv_raw(key, 8, gstr(v))

    def strs(self, key, items):
        return self.kv_raw(key, 9, struct.pack("<IQ", 8, len(items)) + b"".join(gstr(x) for x in items))

    def tensor(self, name, ne, type_name):
        tid, block, size = self.TYPES[type_name]
        n = 1
        for d in ne:
            n *= d
        self.infos.append((name, ne, tid, self.data))
        self.data += -(-(n // block * size) // self.alignment) * self.alignment
        return self

    def bytes(self):
        h = b"GGUF" + struct.pack("<IQQ", self.version, len(self.infos), self.n_kv) + self.kv
        for name, ne, tid, off in self.infos:
            h += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", d) for d in ne)
            h += struct.pack("<IQ", tid, off)
        if self.infos:
            h += b"\0" * (-len(h) % self.alignment)
        return h + b"\0" * self.data


def tiny_gguf(arch, experts=0, bias=False, norms=False, tied=False, version=3):
    hidden, heads, kv_heads, head_dim, ffn, vocab = 32, 2, 1, 16, 32, 8
    g = Gguf(version)
    g.s("general.architecture", arch).s("general.name", "tiny-" + arch).u32("general.file_type", 1)
    g.u32(arch + ".block_count", 1).u32(arch + ".embedding_length", hidden).u32(arch + ".feed_forward_length", ffn)
    g.u32(arch + ".attention.head_count", heads).u32(arch + ".attention.head_count_kv", kv_heads)
    g.u32(arch + ".context_length", 64).f32(arch + ".rope.freq_base", 10000.0)
    g.f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5)
    if norms:
        g.u32(arch + ".attention.key_length", head_dim)
    if experts:
        g.u32(arch + ".expert_count", experts).u32(arch + ".expert_used_count", 1)
    g.strs("tokenizer.ggml.tokens", ["t%d" % i for i in range(vocab)])
    q, kv = heads * head_dim, kv_heads * head_dim
    g.tensor("token_embd.weight", [hidden, vocab], "Q8_0")
    g.tensor("blk.0.attn_norm.weight", [hidden], "F32").tensor("blk.0.attn_q.weight", [hidden, q], "Q4_0")
    g.tensor("blk.0.attn_k.weight", [hidden, kv], "Q4_0").tensor("blk.0.attn_v.weight", [hidden, kv], "Q4_0")
    g.tensor("blk.0.attn_output.weight", [q, hidden], "Q4_0").tensor("blk.0.ffn_norm.weight", [hidden], "F32")
    if bias:
        g.tensor("blk.0.attn_q.bias", [q], "F32").tensor("blk.0.attn_k.bias", [kv], "F32")
        g.tensor("blk.0.attn_v.bias", [kv], "F32")
    if norms:
        g.tensor("blk.0.attn_q_norm.weight", [head_dim], "F32").tensor("blk.0.attn_k_norm.weight", [head_dim], "F32")
    if experts:
        g.tensor("blk.0.ffn_gate_inp.weight", [hidden, experts], "F32")
        g.tensor("blk.0.ffn_gate_exps.weight", [hidden, ffn, experts], "Q4_0")
        g.tensor("blk.0.ffn_down_exps.weight", [ffn, hidden, experts], "Q4_0")
        g.tensor("blk.0.ffn_up_exps.weight", [hidden, ffn, experts], "Q4_0")
    else:
        g.tensor("blk.0.ffn_gate.weight", [hidden, ffn], "Q4_0").tensor("blk.0.ffn_up.weight", [hidden, ffn], "Q4_0")
        g.tensor("blk.0.ffn_down.weight", [ffn, hidden], "Q4_0")
    g.tensor("output_norm.weight", [hidden], "F32")
    if not tied:
        g.tensor("output.weight", [hidden, vocab], "F16")
    return g


def gguf_seeds():
    write("gguf", "llama.gguf", tiny_gguf("llama").bytes())
    write("gguf", "llama-tied-v2.gguf", tiny_gguf("llama", tied=True, version=2).bytes())
    write("gguf", "mixtral.gguf", tiny_gguf("llama", experts=2).bytes())
    write("gguf", "qwen2.gguf", tiny_gguf("qwen2", bias=True).bytes())
    write("gguf", "qwen3.gguf", tiny_gguf("qwen3", norms=True).bytes())
    # Every value type, nested arrays, a custom alignment.
    g = Gguf(alignment=64)
    g.u32("general.alignment", 64)
    for i, (t, fmt) in enumerate([(0, "<B"), (1, "<b"), (2, "<H"), (3, "<h"), (4, "<I"), (5, "<i"), (6, "<f"),
                                  (7, "<B"), (10, "<Q"), (11, "<q"), (12, "<d")]):
        g.kv_raw("k%d" % i, t, struct.pack(fmt, 1))
    g.s("str", "text").kv_raw("nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 4, 2) + struct.pack("<II", 1, 2))
    g.tensor("a", [4], "F32").tensor("b", [32, 2], "Q8_0")
    write("gguf", "values.gguf", g.bytes())
    write("gguf", "truncated.gguf", tiny_gguf("llama").bytes()[:200])


def config_seeds():
    for preset in ["llama-3.2-1b", "mixtral-8x7b-v0.1", "qwen3-8b", "qwen2.5-0.5b", "mistral-7b-v0.1", "gpt2",
                   "t5-small", "gemma-3-1b", "deepseek-v3", "phi-3-mini-4k", "falcon-7b-instruct", "bert-base-uncased"]:
        src = os.path.join(ROOT, "models", preset, "config.json")
        if os.path.exists(src):
            shutil.copy(src, os.path.join(HERE, "corpus", "config", preset + ".json"))
    write("config", "layer-types.json", json.dumps({
        "model_type": "qwen2", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 100, "sliding_window": 16,
        "layer_types": ["full_attention", "sliding_attention"], "rope_scaling": {"rope_type": "llama3", "factor": 8.0},
        "torch_dtype": "bfloat16"}))
    write("config", "typo.json", '{"model_type": "lama", "hidden_size": "4096"}')


def options_seeds():
    # An argv per seed, split at NUL bytes (fuzz/fuzz-options.cpp); the flags and values of docs/cli.md.
    argvs = {
        "params.argv": ["params", "llama-3.2-1b", "--dtype", "bf16", "--head", "none", "--json"],
        "skeleton.argv": ["skeleton", "--summary", "--dtype=fp16"],
        "plan.argv": ["plan", "llama-3.1-8b", "--batch", "4", "--seq", "8192", "--kv-dtype", "fp8", "--attn", "sdpa",
                      "--prefill-chunk", "512", "--overhead", "1GiB", "--gpu", "h100-80gb", "--quant", "q4_0"],
        "train.argv": ["plan", "--mode", "training", "--method", "lora", "--lora-rank", "16", "--lora-targets",
                       "attn_q,attn_v", "--optimizer", "adamw-8bit", "--recompute", "full", "--zero", "3", "--gpus", "8",
                       "--offload", "--fsdp", "--mtp"],
        "fit.argv": ["fit", "mixtral-8x7b-v0.1", "--gpu", "rtx-4090", "--quant", "gptq-4bit-128g", "--encoder-seq", "64"],
        "place.argv": ["place", "--gpu", "h100-80gb", "--gpus", "2", "--cpu", "64GiB", "--disk", "--strategy",
                       "balanced", "--experts-on-cpu", "--pin", "lm_head.*=cpu", "--pin", "model.layers.1*=cuda:1",
                       "--device-map-out", "map.json"],
        "place-devices.argv": ["place", "--devices", "cuda:0=24GiB,cuda:1=16GB,cpu=64GiB,disk", "--tp", "2", "--pp",
                               "2", "--batch=2"],
        "inspect.argv": ["inspect", "model.gguf", "--config", "llama-3.2-1b"],
        "gpus.argv": ["gpus", "--json", "-h"],
        "presets.argv": ["presets", "extra"],
        "bad.argv": ["plan", "--batch", "9223372036854775808", "--quant", "", "--lora-targets", "bogus_role", "--seq"],
        "unknown.argv": ["place", "--tp", "0", "--tp", "1", "--nope", "a", "b"],
        # A finding (2026-12-07): control characters, each escaped in 6 bytes, grew a message past 1 KiB.
        "control-characters.argv": ["place", "--devices", "cuda:" + "\b" * 90 + "0=2", "--pp", "2"],
    }
    for name, argv in argvs.items():
        write("options", name, "\0".join(argv))


def device_map_seeds():
    # transformers' device_map JSON (from_pretrained(device_map=...)), as `load --device-map` reads it.
    write("device-map", "llama.json", json.dumps({
        "model.embed_tokens": 0, "model.layers.0": 0, "model.layers.1": "cuda:1", "model.norm": "cpu",
        "lm_head": "disk"}))
    write("device-map", "everything.json", '{"": "cuda"}')
    write("device-map", "experts.json", json.dumps({
        "model.embed_tokens": 0, "model.layers.0.self_attn": 0, "model.layers.0.block_sparse_moe.experts": "cpu",
        "model.layers.0": 1, "model.layers.1.block_sparse_moe.experts.3": "disk", "": "cpu"}))
    write("device-map", "uncovered.json", '{"model.layers.0": 0}')
    write("device-map", "bad-device.json", '{"lm_head": "tpu", "model": -1}')
    write("device-map", "twice.json", '{"lm_head": 0, "lm_head": 1}')
    write("device-map", "not-object.json", '[0, "cpu"]')
    write("device-map", "escapes.json", '{"model.\\u00e9\\n\\"x\\"": 4294967295, "": "cuda:000000003"}')


if __name__ == "__main__":
    os.makedirs(os.path.join(HERE, "corpus", "config"), exist_ok=True)
    safetensors_seeds()
    gguf_seeds()
    config_seeds()
    options_seeds()
    device_map_seeds()
