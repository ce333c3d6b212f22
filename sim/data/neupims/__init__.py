"""NeuPIMs artifact data: the reference decode batch (seq_len, ch_idx)."""
