"""The ceiling of each pipeline design: ground truth through the design's resolution, judged.

    python -m bench.window_ceiling [--items 96]

For each design (the whole image or an edit window of a given margin, at a given last-stage
canvas) every held-out item's ground truth is cut as the pipeline cuts, brought to the canvas
and back, pasted through the mask and judged at the benchmark's resolution
(:func:`inference.evaluate.ceiling`). No model of a design can score above its row. The table
goes to the ``ceiling`` section of ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inference import data, evaluate, window, world

DESIGNS: tuple[tuple[str, float | None, int], ...] = (
    ("whole image", None, 64),
    ("whole image", None, 128),
    ("window 2×", 2.0, 64),
    ("window 1.2×", 1.2, 64),
    ("window 2×", 2.0, 128),
    ("window 1.5×", 1.5, 128),
    ("window 1.2×", 1.2, 128),
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--items", type=int, default=96)
    p.add_argument("--results", default=str(evaluate.RESULTS))
    a = p.parse_args(argv)
    items = [data.heldout_item(i) for i in range(a.items)]
    lines = [
        "### Ceiling of each design (`python -m bench.window_ceiling`)",
        "",
        f"{a.items} held-out items at {data.RENDER_SIZE}×{data.RENDER_SIZE}; the ground truth "
        "through each design's last stage and pasted back, judged at the benchmark's "
        f"resolution. The shipped design: a {window.MARGIN}× window at 128×128.",
        "",
        "| what the last stage sees | canvas | object | colour | tested attr. | all-correct | "
        + " | ".join(world.ATTRIBUTE_TYPES)
        + " |",
        "|---|---|---|---|---|---|" + "---|" * len(world.ATTRIBUTE_TYPES),
    ]
    for label, margin, canvas in DESIGNS:
        c = evaluate.ceiling(items, canvas, margin=margin)
        per = " | ".join(f"{c['tested_by_attribute_type'][t]:.2f}" for t in world.ATTRIBUTE_TYPES)
        lines.append(
            f"| {label} | {canvas} | {c['object_correct']:.2f} | {c['color_correct']:.2f} | "
            f"{c['tested_correct']:.2f} | {c['all_correct_mask_simple']:.2f} | {per} |"
        )
        print(lines[-1], flush=True)
    evaluate.write_section(Path(a.results), "ceiling", "\n".join(lines))


if __name__ == "__main__":
    main()
