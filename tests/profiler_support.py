"""Support for the profiler tests: a tiny random-weight llama GGUF written with ``gguf``.

``write_tiny_llama(path)`` writes a real llama-architecture GGUF (n_embd 64, 2 layers,
vocab 291: ``<unk> <s> </s>``, 256 byte-fallback tokens, ``▁``, ``a``..``z`` and a few
merges) that llama.cpp loads in milliseconds. Weights are seeded random; speed, memory and
energy of a given shape do not depend on them. The output rows of byte, control and EOS
tokens are zero while letter rows are large, so greedy decoding emits letters (each token a
printable piece of text), which keeps streamed text well-formed UTF-8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_HEAD_KV = 2
N_FF = 128
N_CTX = 4096

_WORDS = ["▁"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + [
    "▁t", "▁th", "▁the", "▁a", "he",
]


def vocabulary() -> tuple[list[str], list[float], list[int]]:
    """Tokens, SPM scores and token types (1 normal, 2 unknown, 3 control, 6 byte)."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + _WORDS
    types = [2, 3, 3] + [6] * 256 + [1] * len(_WORDS)
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(len(_WORDS))]
    # Longer merges score higher so that SPM merges "▁"+"t" -> "▁t" -> "▁th" -> "▁the".
    for i, w in enumerate(_WORDS):
        scores[259 + i] = float(len(w)) - i * 1e-3
    return tokens, scores, types


def write_tiny_llama(path: str | Path, seed: int = 0, n_ctx: int = N_CTX) -> Path:
    """Write the tiny llama GGUF to ``path`` (about 0.5 MB) and return the path."""
    import gguf

    path = Path(path)
    rng = np.random.default_rng(seed)
    tokens, scores, types = vocabulary()
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("neumelt-tiny-llama")
    w.add_context_length(n_ctx)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD_KV)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all f32
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def t(name: str, *shape: int, scale: float = 0.05) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", n_vocab, N_EMBD, scale=1.0)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    out = np.zeros((n_vocab, N_EMBD), dtype=np.float32)
    out[259:] = rng.standard_normal((n_vocab - 259, N_EMBD)).astype(np.float32) * 3.0
    w.add_tensor("output.weight", out)
    kv = N_EMBD // N_HEAD * N_HEAD_KV
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        t(f"blk.{i}.attn_q.weight", N_EMBD, N_EMBD)
        t(f"blk.{i}.attn_k.weight", kv, N_EMBD)
        t(f"blk.{i}.attn_v.weight", kv, N_EMBD)
        t(f"blk.{i}.attn_output.weight", N_EMBD, N_EMBD)
        t(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD)
        t(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD)
        t(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
