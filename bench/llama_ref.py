#!/usr/bin/env python3
"""PyTorch reference of the Llama family (LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM,
MistralForCausalLM) for bench's TestLlamaTorchReference: it reads a Hugging Face checkpoint
directory (config.json, model.safetensors or shards with model.safetensors.index.json) with its own
safetensors reader, runs the forward pass in float64 as transformers' modeling code does (RMSNorm,
RoPE with rotate_half and llama3 scaling, repeat_kv, Qwen3's q/k norm, Qwen2's q/k/v biases,
SwiGLU) and prints the logits of the token ids given on the command line as JSON.

    python3 llama_ref.py CHECKPOINT_DIR 1,5,200,3

Needs only torch (Debian: apt-get install python3-torch); transformers is not used.
"""
import json
import math
import os
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        buf = bytearray(data[b:end])
        t = torch.frombuffer(buf, dtype=DTYPES[e["dtype"]]) if end > b else torch.zeros(0, dtype=DTYPES[e["dtype"]])
        out[name] = t.reshape(e["shape"]).to(torch.float64)
    return out


def read_weights(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)
    with open(os.path.join(d, "model.safetensors.index.json")) as f:
        index = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(index.values())):
        out.update(read_safetensors(os.path.join(d, shard)))
    return out


def rope_inv_freq(cfg, dh):
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    rs = cfg.get("rope_scaling")
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind != "llama3":
            raise SystemExit(f"rope_scaling {kind} not implemented")
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        low_wl, high_wl = old / low, old / high
        wl = 2 * math.pi / inv
        inv_l = torch.where(wl > low_wl, inv / factor, inv)
        smooth = (old / wl - low) / (high - low)
        smoothed = (1 - smooth) * inv_l / factor + smooth * inv_l
        medium = ~(wl < high_wl) * ~(wl > low_wl)
        inv = torch.where(medium, smoothed, inv_l)
    return inv


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(d, tokens):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = read_weights(d)
    mt = cfg["model_type"]
    hidden, heads = cfg["hidden_size"], cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads") or heads
    dh = cfg.get("head_dim") or hidden // heads
    eps = cfg.get("rms_norm_eps", 1e-6)
    T = len(tokens)
    x = w["model.embed_tokens.weight"][torch.tensor(tokens)]  # [T, D]
    inv = rope_inv_freq(cfg, dh)
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]  # [T, 1, dh]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(name, n):
            y = h @ w[p + f"self_attn.{name}_proj.weight"].T
            if mt == "qwen2":
                y = y + w[p + f"self_attn.{name}_proj.bias"]
            return y.reshape(T, n, dh)

        q, k, v = proj("q", heads), proj("k", kv), proj("v", kv)
        if mt == "qwen3":
            q = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps)
            k = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(heads // kv, dim=1)  # repeat_kv: head i reads kv head i // groups
        v = v.repeat_interleave(heads // kv, dim=1)
        scores = torch.einsum("shd,thd->hst", q, k) / math.sqrt(dh) + mask
        ctx = torch.einsum("hst,thd->shd", scores.softmax(-1), v).reshape(T, heads * dh)
        x = x + ctx @ w[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h @ w[p + "mlp.gate_proj.weight"].T
        up = h @ w[p + "mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


if __name__ == "__main__":
    logits = forward(sys.argv[1], [int(t) for t in sys.argv[2].split(",")])
    json.dump(logits.tolist(), sys.stdout)
