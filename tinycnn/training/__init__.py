"""The training loop's helpers."""
