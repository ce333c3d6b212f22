"""The NeuPIMs artifact's results on its shipped batch, for side-by-side comparison.

Source: casys-kaist/NeuPIMs@f299af3 run on ``share-gpt2-bs512-ms7B-tp4-clb-0.csv``
(GPT3-7B, TP 4, 512 requests, one decoder block, one decode iteration, NeuPIMs mode:
dual row buffers, the file's channel assignment), gcc 12 -O2, 2026-11. Cycles at 1 GHz.
"""

from __future__ import annotations

#: stage -> cycles with sub-batch interleaving off / on
STAGES_OFF: dict[str, int] = {"A": 87_268, "B": 266_239, "E": 265_724}
STAGES_ON: dict[str, int] = {"A": 49_338, "B": 187_861, "C": 238_461, "D": 242_539,
                             "E": 179_764, "F": 160_278}
LAYER_OFF = 619_231
LAYER_ON_C_PLUS_D = 481_000
#: operator -> cycles (interleaving off); the reference reports logits with softmax
OPERATORS_OFF: dict[str, int] = {"qkv": 81_191, "proj": 24_505, "ffn1": 102_274,
                                 "ffn2": 102_261, "norm_attn": 6_075, "norm_ffn": 10_257}
#: PIM commands per block (interleaving off)
PIM_COMMANDS_OFF: dict[str, int] = {"COMP": 637_728, "READRES": 59_872, "GWRITE": 5_904,
                                    "G_ACT": 236_872, "PIM_PRECHARGE": 947_488}
WALL_S = {"off": 58.9, "on": 189.0}   # the artifact's own wall time, -O2


def comparable(design: str, model: str, hw: str, tp: int, batch_source: str,
               layers: int | None, channels: str | None) -> bool:
    """Whether a ``sim step`` run is the reference configuration."""
    return (design == "neupims" and model == "gpt3-7b" and hw == "npu-neupims" and tp == 4
            and batch_source.endswith("share-gpt2-bs512-ms7B-tp4-clb-0.csv")
            and layers == 1 and channels in (None, "given"))
