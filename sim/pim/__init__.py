"""Newton/NeuPIMs-style all-bank PIM on HBM: attention GEMV mapping, channel load model.

Entry points::

    from sim.pim.shapes import AttentionShape        # heads, d_k, e_tp per device
    from sim.pim.attention import simulate_attention # channel lists -> AttentionResult
    from sim.pim.result import AttentionResult       # (also importable from sim.pim.attention)
    from sim.pim.channels import channel_load, assign_channels

``simulate_attention`` runs each channel's PIM command program (and optional concurrent NPU
reads) through the DRAM channel kernel in single or dual row-buffer mode, or through the
closed-form fast path (``fidelity="fast"``).
"""
