"""Speed of the cascade: seconds per 256×256 edit at batch 8 with 20 base steps, and GFLOP/s.

    python -m bench.inference_speed [--checkpoint editor-im] [--threads 2] [--repeats 3]

Achieved GFLOP/s counts the floating-point operations of one batch with PyTorch's FLOP counter
(convolutions, matmuls and attention) and divides by the measured time; a plain float32 matmul
measured in the same run gives the machine's practical ceiling for comparison. The result is
written to the ``speed`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from inference import data, evaluate, pipeline


def matmul_gflops(n: int = 1024, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b  # warm-up
    began = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - began) / 1e9


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--checkpoint", default="editor-im")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", default="oscillate")
    p.add_argument("--sr-steps", type=int, default=pipeline.SR_STEPS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--results", default=str(evaluate.RESULTS))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = pipeline.load(a.checkpoint)
    items = [data.heldout_item(i) for i in range(a.batch)]
    images, masks = [it.image for it in items], [it.mask for it in items]
    prompts = [it.captions.mask_simple for it in items]

    def run() -> None:
        pipeline.inpaint(
            images, masks, prompts, model=model, guidance=a.guidance, steps=a.steps,
            sr_steps=a.sr_steps, seed=0, batch=a.batch,
        )  # fmt: skip

    run()  # warm-up
    times = []
    for _ in range(a.repeats):
        began = time.perf_counter()
        run()
        times.append(time.perf_counter() - began)
    batch_s = statistics.median(times)
    with FlopCounterMode(display=False) as counter:
        run()
    gflop = counter.get_total_flops() / 1e9
    achieved = gflop / batch_s
    ceiling = matmul_gflops()
    upsampler = f"SR stage ({a.sr_steps} steps)" if model.use_sr else "bilinear (SR stage not used)"
    body = (
        "### Speed (`python -m bench.inference_speed`)\n\n"
        f"`{a.checkpoint}`, batch {a.batch}, {a.steps} base steps ({a.guidance}), upsampler: "
        f"{upsampler}, {a.threads} threads, median of {a.repeats}: "
        f"**{batch_s / a.batch:.3f} s per 256×256 edit** ({batch_s:.2f} s per batch).\n\n"
        f"Work per batch {gflop:.1f} GFLOP → achieved {achieved:.1f} GFLOP/s; a plain 1024² "
        f"float32 matmul in the same run: {ceiling:.1f} GFLOP/s "
        f"({100 * achieved / ceiling:.0f}% of it).\n"
    )
    print(body)
    evaluate.write_section(Path(a.results), "speed", body)


if __name__ == "__main__":
    main()
