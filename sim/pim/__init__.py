"""Newton/NeuPIMs-style all-bank PIM: attention GEMV mapping, channel load model."""
