"""Speed and time from the GPU's datasheet: decode and prefill tokens/s, time to first token,
training FLOPs, step time, GPU-hours and cost (pure functions; see ``docs/speed.md``)."""
