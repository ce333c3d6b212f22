"""Model catalog: decoder-only transformer shapes and what they cost per token.

A :class:`ModelSpec` is loaded from a YAML preset shipped in ``workloads/models/`` (see
:func:`list_models`) or from a user's YAML file of the same form. From the shape it derives,
with units in every name:

- parameter count (``param_count()``, parameters; ``param_breakdown()`` per component);
- weight bytes per storage format (``weight_bytes(fmt)``, bytes) for f32, f16, bf16, the GGUF
  block formats q8_0, q4_0, q4_k_m, q3_k, q6_k (real GGUF bits per weight: a block of 32 or
  256 weights with its scales; llama.cpp's per-tensor mix for the ``_m`` formats) and plain
  integer formats int8 / int4 (per-channel / group-128 fp16 scales);
- KV-cache bytes per token (``kv_bytes_per_token(dtype_bytes)``);
- matmul FLOPs (a multiply-add counts 2) and bytes moved per token for prefill and for decode
  at a given context length (``prefill_flops``, ``decode_flops``, ``prefill_bytes``,
  ``decode_bytes``);
- image tokens for a vision-language model (``image_tokens(w, h)``) from its vision rule.

All numbers here are *estimated* from the shape (analytic model), never measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

from neumelt.config import build, load_yaml, parse_yaml_text
from neumelt.errors import InputError

__all__ = [
    "FORMATS",
    "ModelSpec",
    "Tensor",
    "VisionRule",
    "VISION_RULES",
    "list_models",
    "load_model",
    "vision_rule",
]

# --------------------------------------------------------------------------------------
# Storage formats
# --------------------------------------------------------------------------------------

#: Bits per weight of each GGUF tensor type, block size included (ggml-common.h block
#: layouts: Q8_0 = 32 x int8 + fp16 scale = 34 B / 32; Q4_0 = 18 B / 32; Q4_K = 144 B / 256;
#: Q6_K = 210 B / 256; Q3_K = 110 B / 256; Q5_K = 176 B / 256; Q5_0 = 22 B / 32).
GGUF_TYPE_BITS: dict[str, float] = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.5625,
    "Q5_K": 5.5,
    "Q5_0": 5.5,
    "Q4_K": 4.5,
    "Q4_0": 4.5,
    "Q3_K": 3.4375,
    "IQ4_NL": 4.5,
}
# k-quants need rows that are a multiple of 256; llama.cpp falls back to these types.
_KQUANT_FALLBACK = {"Q6_K": "Q8_0", "Q5_K": "Q5_0", "Q4_K": "Q5_0", "Q3_K": "IQ4_NL"}
_KQUANT_BLOCK = 256

#: Weight storage formats understood by :meth:`ModelSpec.weight_bytes`.
FORMATS: tuple[str, ...] = (
    "f32", "f16", "bf16", "q8_0", "q6_k", "q4_k_m", "q4_0", "q3_k", "int8", "int4",
)

_FORMAT_NOTES: dict[str, str] = {
    "f32": "GGUF F32",
    "f16": "GGUF F16 (norms F32)",
    "bf16": "GGUF BF16 (norms F32)",
    "q8_0": "GGUF Q8_0, 8.5 bits/weight (norms F32)",
    "q6_k": "GGUF Q6_K, 6.5625 bits/weight; output Q6_K",
    "q4_k_m": "GGUF Q4_K_M: Q4_K (4.5 b/w), attn_v and ffn_down Q6_K in half the layers, output Q6_K",
    "q4_0": "GGUF Q4_0, 4.5 bits/weight; output Q6_K",
    "q3_k": "GGUF Q3_K (3.4375 b/w) for every matrix (Q3_K_S-like); output Q6_K",
    "int8": "int8 weights, fp16 scale per output channel; embeddings, head, norms fp16",
    "int4": "int4 weights, fp16 scale per 128-weight group; embeddings, head, norms fp16",
}


@dataclass(frozen=True)
class Tensor:
    """One weight tensor: ``rows`` x ``cols`` (``cols`` = the dimension quantised in blocks)."""

    name: str
    kind: str  # embed | pos_embed | head | attn_q | attn_k | attn_v | attn_o | ffn_up | ...
    layer: int | None
    rows: int
    cols: int

    @property
    def n_params(self) -> int:
        return self.rows * self.cols


def _use_more_bits(layer: int, n_layers: int) -> bool:
    """llama.cpp's rule for which layers get more bits in the ``_M`` k-quant mixes."""
    eighth = n_layers // 8
    return layer < eighth or layer >= 7 * n_layers // 8 or (layer - eighth) % 3 == 2


def _gguf_type(fmt: str, t: Tensor, n_layers: int) -> str:
    """GGUF tensor type that ``fmt`` gives tensor ``t`` (llama.cpp quantize defaults)."""
    if t.rows == 1 or t.kind in ("norm", "bias"):
        return "F32"
    if fmt == "f32":
        return "F32"
    if fmt in ("f16", "bf16"):
        return fmt.upper()
    if t.kind == "vision":
        return "F16"  # the mmproj / vision tower ships as F16 next to quantised text weights
    if fmt == "q8_0":
        typ = "Q8_0"
    elif t.kind == "head":
        typ = "Q6_K"
    elif fmt == "q6_k":
        typ = "Q6_K"
    elif fmt == "q4_0":
        typ = "Q4_0"
    elif fmt == "q3_k":
        typ = "Q3_K"
    elif fmt == "q4_k_m":
        more = t.layer is not None and _use_more_bits(t.layer, n_layers)
        typ = "Q6_K" if t.kind in ("attn_v", "ffn_down") and more else "Q4_K"
    else:  # pragma: no cover - guarded by weight_bytes
        raise ValueError(fmt)
    if typ in _KQUANT_FALLBACK and t.cols % _KQUANT_BLOCK:
        typ = _KQUANT_FALLBACK[typ]
    return typ


def _int_bits(fmt: str, t: Tensor) -> float:
    """Bits for tensor ``t`` in a plain integer format (GPTQ/AWQ-style storage)."""
    if t.kind in ("embed", "pos_embed", "head", "norm", "bias", "vision") or t.rows == 1:
        return 16.0 * t.n_params
    if fmt == "int8":
        return 8.0 * t.n_params + 16.0 * t.rows
    groups = math.ceil(t.cols / 128)
    return 4.0 * t.n_params + 16.0 * t.rows * groups


# --------------------------------------------------------------------------------------
# Vision rules
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisionRule:
    """How many LLM tokens one image of ``w`` x ``h`` pixels becomes.

    rules:
      ``patch_grid``: Qwen2-VL smart_resize: round each side to a multiple of ``patch_px``,
      rescale into [``min_pixels``, ``max_pixels``], one token per ``patch_px``² block.
      ``tiles``: optionally fit inside ``fit_px``² and shrink the short side to
      ``short_side_px``; ``tokens_per_tile`` per ``tile_px``² tile + ``base_tokens``; an image
      with both sides <= ``small_px`` costs ``small_tokens`` (GPT-4o high: 512/170/85,
      fit 2048, short 768; Gemini 2.0: 768/258, small 384 -> 258).
      ``fixed``: every image costs ``tokens`` (Gemma 3 256, LLaVA-1.5 576).
      ``area``: shrink so the long edge <= ``max_long_edge_px``, then w*h / ``px_per_token``
      (Claude: 1568, 750).
    ``extra_tokens`` are added per image (e.g. start/end markers); ``encoder_params`` is the
    vision encoder's parameter count.
    """

    rule: Literal["patch_grid", "tiles", "fixed", "area"]
    patch_px: int = 28
    min_pixels: int = 56 * 56
    max_pixels: int = 12_845_056
    tokens: int = 0
    tile_px: int = 512
    tokens_per_tile: int = 170
    base_tokens: int = 0
    fit_px: int | None = None
    short_side_px: int | None = None
    small_px: int | None = None
    small_tokens: int | None = None
    px_per_token: float = 750.0
    max_long_edge_px: int | None = None
    extra_tokens: int = 0
    encoder_params: float = 0.0

    def __post_init__(self) -> None:
        for name in ("patch_px", "min_pixels", "max_pixels", "tile_px"):
            if getattr(self, name) <= 0:
                raise ValueError(f"vision.{name} must be > 0")
        for name in ("tokens", "tokens_per_tile", "base_tokens", "extra_tokens"):
            if getattr(self, name) < 0:
                raise ValueError(f"vision.{name} must be >= 0")
        if self.px_per_token <= 0:
            raise ValueError("vision.px_per_token must be > 0")

    def tokens_for(self, w: int, h: int) -> int:
        """Tokens for one ``w`` x ``h`` px image (integer tokens)."""
        if w <= 0 or h <= 0:
            raise InputError(f"image size must be positive, got {w}x{h}", expected="w, h >= 1")
        if self.rule == "fixed":
            n = self.tokens
        elif self.rule == "patch_grid":
            n = self._patch_grid(w, h)
        elif self.rule == "tiles":
            n = self._tiles(w, h)
        else:
            n = self._area(w, h)
        return int(n) + self.extra_tokens

    def _patch_grid(self, w: int, h: int) -> int:
        f = self.patch_px
        hb = max(f, round(h / f) * f)
        wb = max(f, round(w / f) * f)
        if hb * wb > self.max_pixels:
            beta = math.sqrt(h * w / self.max_pixels)
            hb = max(f, math.floor(h / beta / f) * f)
            wb = max(f, math.floor(w / beta / f) * f)
        elif hb * wb < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (h * w))
            hb = math.ceil(h * beta / f) * f
            wb = math.ceil(w * beta / f) * f
        return (hb // f) * (wb // f)

    def _tiles(self, w: int, h: int) -> int:
        if self.small_px is not None and w <= self.small_px and h <= self.small_px:
            return self.small_tokens if self.small_tokens is not None else self.tokens_per_tile
        fw, fh = float(w), float(h)
        if self.fit_px is not None and max(fw, fh) > self.fit_px:
            s = self.fit_px / max(fw, fh)
            fw, fh = fw * s, fh * s
        if self.short_side_px is not None and min(fw, fh) > self.short_side_px:
            s = self.short_side_px / min(fw, fh)
            fw, fh = fw * s, fh * s
        tiles = math.ceil(round(fw, 6) / self.tile_px) * math.ceil(round(fh, 6) / self.tile_px)
        return tiles * self.tokens_per_tile + self.base_tokens

    def _area(self, w: int, h: int) -> int:
        fw, fh = float(w), float(h)
        if self.max_long_edge_px is not None and max(fw, fh) > self.max_long_edge_px:
            s = self.max_long_edge_px / max(fw, fh)
            fw, fh = fw * s, fh * s
        return math.ceil(fw * fh / self.px_per_token)


    def image_tokens(self, w: int, h: int) -> int:
        """Same as :meth:`tokens_for` (so a rule can stand in for a model when binding)."""
        return self.tokens_for(w, h)


#: Image-token rules of common VLMs and APIs (reference table "Screenshot tokens by VLM").
VISION_RULES: dict[str, VisionRule] = {
    "gpt-4o-high": VisionRule(rule="tiles", tile_px=512, tokens_per_tile=170, base_tokens=85,
                              fit_px=2048, short_side_px=768),
    "gpt-4o-low": VisionRule(rule="fixed", tokens=85),
    "claude": VisionRule(rule="area", px_per_token=750, max_long_edge_px=1568),
    "gemini-1.5": VisionRule(rule="fixed", tokens=258),
    "gemini-2.0": VisionRule(rule="tiles", tile_px=768, tokens_per_tile=258, small_px=384,
                             small_tokens=258),
    "qwen2-vl": VisionRule(rule="patch_grid", patch_px=28, min_pixels=3136,
                           max_pixels=12_845_056),
    "qwen2-vl-1280": VisionRule(rule="patch_grid", patch_px=28, min_pixels=3136,
                                max_pixels=1280 * 28 * 28),
    "qwen2-vl-llamacpp": VisionRule(rule="patch_grid", patch_px=28, min_pixels=8 * 784,
                                    max_pixels=4096 * 784),
    "qwen2-vl-llamacpp-old": VisionRule(rule="patch_grid", patch_px=28, min_pixels=3136,
                                        max_pixels=2048 * 784),
    "qwen-vl": VisionRule(rule="fixed", tokens=256),
    "gemma3": VisionRule(rule="fixed", tokens=256),
    "llava-1.5": VisionRule(rule="fixed", tokens=576),
}


def vision_rule(name: str) -> VisionRule:
    """A named rule from :data:`VISION_RULES`."""
    if name not in VISION_RULES:
        raise InputError(f"unknown vision rule '{name}'", key="vision",
                         expected="one of " + ", ".join(VISION_RULES))
    return VISION_RULES[name]


# --------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Shape of a decoder-only transformer (sizes in elements; see module docstring).

    ``d_ff`` is the MLP hidden width; ``mlp`` is ``gelu`` (2 matrices, GPT-style) or a gated
    unit ``swiglu`` / ``geglu`` (3 matrices). ``n_kv_heads`` < ``n_heads`` is grouped-query
    attention. ``sliding_window`` (tokens) bounds the attended context and the KV cache.
    """

    name: str
    family: str
    n_layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_head: int
    d_ff: int
    vocab_size: int
    norm: Literal["layernorm", "rmsnorm"]
    mlp: Literal["gelu", "swiglu", "geglu"]
    max_context: int
    tied_embeddings: bool
    vision: VisionRule | None = None
    position: Literal["learned", "rope"] = "rope"
    bias: bool = False
    qkv_bias: bool = False
    sliding_window: int | None = None
    published_params: float | None = None
    source: str = ""
    description: str = ""
    path: str | None = field(default=None, compare=False, init=False)

    def __post_init__(self) -> None:
        for name in ("n_layers", "d_model", "n_heads", "n_kv_heads", "d_head", "d_ff",
                     "vocab_size", "max_context"):
            v = getattr(self, name)
            if v <= 0:
                raise ValueError(f"{name} must be a positive integer, got {v}")
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads "
                             f"({self.n_kv_heads})")
        if self.sliding_window is not None and self.sliding_window <= 0:
            raise ValueError("sliding_window must be a positive integer or null")

    # ---- structure -------------------------------------------------------------------
    @property
    def gated_mlp(self) -> bool:
        """True for SwiGLU / GeGLU (gate, up and down matrices)."""
        return self.mlp in ("swiglu", "geglu")

    @property
    def q_dim(self) -> int:
        return self.n_heads * self.d_head

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.d_head

    def layer_gemms(self) -> list[tuple[str, int, int]]:
        """Weight matrices of one decoder layer as (name, in_features, out_features)."""
        d = self.d_model
        out = [("attn_q", d, self.q_dim), ("attn_k", d, self.kv_dim),
               ("attn_v", d, self.kv_dim), ("attn_o", self.q_dim, d)]
        if self.gated_mlp:
            out.append(("ffn_gate", d, self.d_ff))
        out += [("ffn_up", d, self.d_ff), ("ffn_down", self.d_ff, d)]
        return out

    def tensors(self) -> list[Tensor]:
        """Every weight tensor, rows x cols (cols = input features, the blocked dimension)."""
        d = self.d_model
        ts = [Tensor("token_embd", "embed", None, self.vocab_size, d)]
        if self.position == "learned":
            ts.append(Tensor("position_embd", "pos_embed", None, self.max_context, d))
        n_norm_vec = 2 if self.norm == "layernorm" else 1  # weight (+ bias)
        for i in range(self.n_layers):
            for name, fin, fout in self.layer_gemms():
                ts.append(Tensor(f"blk.{i}.{name}", name, i, fout, fin))
                has_bias = self.bias or (self.qkv_bias and name in ("attn_q", "attn_k",
                                                                     "attn_v"))
                if has_bias:
                    ts.append(Tensor(f"blk.{i}.{name}.bias", "bias", i, 1, fout))
            for nname in ("attn_norm", "ffn_norm"):
                ts.append(Tensor(f"blk.{i}.{nname}", "norm", i, 1, n_norm_vec * d))
        ts.append(Tensor("output_norm", "norm", None, 1, n_norm_vec * d))
        if not self.tied_embeddings:
            ts.append(Tensor("output", "head", None, self.vocab_size, d))
        else:  # the shared table is quantised as the output head (llama.cpp)
            ts[0] = Tensor("token_embd", "head", None, self.vocab_size, d)
        if self.vision is not None and self.vision.encoder_params > 0:
            ts.append(Tensor("vision_encoder", "vision", None, int(self.vision.encoder_params),
                             1))
        return ts

    # ---- parameters and weights ----------------------------------------------------------
    def param_breakdown(self) -> dict[str, int]:
        """Parameters per component: embeddings, attention, mlp, norms, biases, head, vision."""
        out = {"embeddings": 0, "attention": 0, "mlp": 0, "norms": 0, "biases": 0, "head": 0,
               "vision": 0}
        for t in self.tensors():
            if t.kind in ("embed", "pos_embed"):
                out["embeddings"] += t.n_params
            elif t.kind == "head":
                out["head" if not self.tied_embeddings else "embeddings"] += t.n_params
            elif t.kind.startswith("attn"):
                out["attention"] += t.n_params
            elif t.kind.startswith("ffn"):
                out["mlp"] += t.n_params
            elif t.kind == "norm":
                out["norms"] += t.n_params
            elif t.kind == "bias":
                out["biases"] += t.n_params
            else:
                out["vision"] += t.n_params
        return out

    def param_count(self) -> int:
        """Total parameters (tied embeddings counted once; vision encoder included)."""
        return sum(t.n_params for t in self.tensors())

    def tensor_bytes(self, fmt: str = "f16") -> list[tuple[Tensor, float]]:
        """(tensor, bytes) for every weight tensor stored in ``fmt``."""
        fmt = fmt.lower()
        if fmt not in FORMATS:
            raise InputError(f"unknown weight format '{fmt}'", key="format",
                             expected="one of " + ", ".join(FORMATS))
        return list(_tensor_bytes(self, fmt))

    def weight_bytes(self, fmt: str = "f16") -> int:
        """Bytes of all weights stored in format ``fmt`` (one of :data:`FORMATS`)."""
        return int(math.ceil(sum(b for _, b in self.tensor_bytes(fmt))))

    def bits_per_weight(self, fmt: str = "f16") -> float:
        """Effective bits per weight of ``fmt`` for this model (bits)."""
        return 8.0 * self.weight_bytes(fmt) / self.param_count()

    # ---- KV cache ------------------------------------------------------------------------
    def kv_bytes_per_token(self, dtype_bytes: float = 2) -> int:
        """K and V bytes per token over all layers (bytes/token)."""
        return int(2 * self.n_layers * self.kv_dim * dtype_bytes)

    def kv_tokens(self, context_len: int) -> int:
        """Tokens held in the KV cache at ``context_len`` (sliding window applied)."""
        if self.sliding_window is None:
            return context_len
        return min(context_len, self.sliding_window)

    def kv_bytes(self, context_len: int, dtype_bytes: float = 2) -> int:
        """KV-cache bytes of one sequence of ``context_len`` tokens (bytes)."""
        return self.kv_tokens(context_len) * self.kv_bytes_per_token(dtype_bytes)

    # ---- FLOPs ---------------------------------------------------------------------------
    def linear_params_per_layer(self) -> int:
        return sum(fin * fout for _, fin, fout in self.layer_gemms())

    def _attn_pairs(self, n_new: int, n_past: int) -> int:
        """(query, key) pairs for ``n_new`` causal queries after ``n_past`` cached tokens."""
        w = self.sliding_window
        if w is None:
            return n_new * n_past + n_new * (n_new + 1) // 2
        total = 0
        # closed form is fiddly with the window; the loop is over n_new only.
        for i in range(1, n_new + 1):
            total += min(n_past + i, w)
        return total

    def prefill_flops(self, n_tokens: int, past_tokens: int = 0,
                      all_logits: bool = False) -> int:
        """Matmul FLOPs to prefill ``n_tokens`` prompt tokens (FLOPs, 2 per multiply-add).

        Weights: 2 x linear params per token; attention QK^T and AV: 4 x n_heads x d_head
        per causal (query, key) pair; LM head for the last token only unless ``all_logits``.
        """
        if n_tokens <= 0:
            return 0
        lin = 2 * n_tokens * self.linear_params_per_layer() * self.n_layers
        attn = 4 * self.q_dim * self._attn_pairs(n_tokens, past_tokens) * self.n_layers
        head = 2 * self.d_model * self.vocab_size * (n_tokens if all_logits else 1)
        return lin + attn + head

    def decode_flops(self, context_len: int) -> int:
        """Matmul FLOPs for one decode token that attends to ``context_len`` tokens
        (the cache including itself) (FLOPs/token)."""
        lin = 2 * self.linear_params_per_layer() * self.n_layers
        attn = 4 * self.q_dim * self.kv_tokens(max(context_len, 1)) * self.n_layers
        head = 2 * self.d_model * self.vocab_size
        return lin + attn + head

    # ---- bytes moved ---------------------------------------------------------------------
    def _streamed_weight_bytes(self, fmt: str) -> int:
        """Weight bytes read per forward pass of the language model: every tensor except
        the token/position tables (one row each is read) and the vision encoder."""
        self.tensor_bytes(fmt)  # validates fmt
        return _streamed(self, fmt.lower())

    def decode_bytes(self, context_len: int, fmt: str = "f16", kv_dtype_bytes: float = 2,
                     batch: int = 1) -> int:
        """DRAM bytes moved for one decode token at ``context_len`` (bytes/token).

        Weights are read once per step and shared by ``batch`` sequences; each token reads
        its own KV cache (``context_len`` tokens, window applied) and writes one token of KV.
        """
        if batch < 1:
            raise InputError("batch must be >= 1", key="batch", expected="an integer >= 1")
        w = self._streamed_weight_bytes(fmt) / batch
        kv_read = self.kv_bytes(max(context_len - 1, 0), kv_dtype_bytes)
        kv_write = self.kv_bytes_per_token(kv_dtype_bytes)
        return int(round(w + kv_read + kv_write))

    def prefill_bytes(self, n_tokens: int, fmt: str = "f16", kv_dtype_bytes: float = 2) -> int:
        """DRAM bytes moved to prefill ``n_tokens`` (bytes): weights once + KV written."""
        return self._streamed_weight_bytes(fmt) + n_tokens * self.kv_bytes_per_token(
            kv_dtype_bytes)

    # ---- vision ----------------------------------------------------------------------------
    def image_tokens(self, w: int, h: int) -> int | None:
        """LLM tokens for one ``w`` x ``h`` px image, or None for a text-only model."""
        if self.vision is None:
            return None
        return self.vision.tokens_for(int(w), int(h))

    # ---- summaries -------------------------------------------------------------------------
    def summary(self, context_len: int = 1024, formats: tuple[str, ...] = FORMATS) -> dict:
        """Plain dict of the shape and derived figures (units in the key names)."""
        from neumelt.config import to_dict

        shape = {k: v for k, v in to_dict(self).items() if k not in ("path",)}
        return {
            "shape": shape,
            "provenance": "estimated (analytic model from the shape)",
            "params": self.param_count(),
            "param_breakdown": self.param_breakdown(),
            "weight_bytes": {f: self.weight_bytes(f) for f in formats},
            "bits_per_weight": {f: round(self.bits_per_weight(f), 4) for f in formats},
            "kv_bytes_per_token_f16": self.kv_bytes_per_token(2),
            "context_len_tokens": context_len,
            "prefill_flops_per_token": self.prefill_flops(context_len) / context_len,
            "decode_flops_per_token": self.decode_flops(context_len),
            "decode_bytes_per_token_f16": self.decode_bytes(context_len, "f16"),
            "decode_bytes_per_token_q4_k_m": self.decode_bytes(context_len, "q4_k_m"),
        }


@lru_cache(maxsize=256)
def _tensor_bytes(spec: ModelSpec, fmt: str) -> tuple[tuple[Tensor, float], ...]:
    out = []
    for t in spec.tensors():
        if fmt in ("int8", "int4"):
            bits = _int_bits(fmt, t)
        else:
            bits = GGUF_TYPE_BITS[_gguf_type(fmt, t, spec.n_layers)] * t.n_params
        out.append((t, bits / 8))
    return tuple(out)


@lru_cache(maxsize=256)
def _streamed(spec: ModelSpec, fmt: str) -> int:
    total = 0.0
    for t, b in _tensor_bytes(spec, fmt):
        if t.kind in ("embed", "pos_embed"):
            total += b / t.rows
        elif t.kind != "vision":
            total += b
    if spec.tied_embeddings:
        total += spec.d_model * 2  # the token's row of the shared table (fp16 dequantised)
    return int(round(total))


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------

def _preset_dir() -> Path:
    """``workloads/models/`` next to this module (shipped as package data)."""
    return Path(__file__).resolve().parent / "models"


def list_models() -> list[str]:
    """Names of the shipped presets, sorted."""
    return sorted(p.stem for p in _preset_dir().glob("*.yaml"))


def _from_doc(doc, file: str) -> ModelSpec:
    spec = build(ModelSpec, doc.data, doc=doc)
    object.__setattr__(spec, "path", file)  # where it came from (not part of the shape)
    return spec


@lru_cache(maxsize=64)
def _load_preset(name: str) -> ModelSpec:
    p = _preset_dir() / f"{name}.yaml"
    doc = parse_yaml_text(p.read_text(encoding="utf-8"), file=f"workloads/models/{name}.yaml")
    return _from_doc(doc, str(p))


def load_model(name_or_path: str | Path | ModelSpec) -> ModelSpec:
    """A preset by name (see :func:`list_models`) or a user's YAML file by path."""
    if isinstance(name_or_path, ModelSpec):
        return name_or_path
    s = str(name_or_path)
    if s in list_models():
        return _load_preset(s)
    looks_like_path = s.endswith((".yaml", ".yml")) or "/" in s or Path(s).exists()
    if looks_like_path:
        doc = load_yaml(s)
        return _from_doc(doc, s)
    raise InputError(f"unknown model '{s}'", key="model",
                     expected="a preset (" + ", ".join(list_models()) + ") or a YAML file path")
