"""Draw docs/img/match-weights.svg: the match weights of a real plan, with its thresholds.

A synthetic district (the generator's truth marks the wrong pairs) is planned with the
default settings; each proposed merge is counted in a histogram of its match weight
(bits of log-odds), split into auto merges, review merges that are the same child and
review merges that are not. The review floor and the auto threshold are drawn at the
weights their probabilities stand for. Plain SVG, no plotting library, no network.

    python docs/scripts/match_weights.py [--students 3000] [--seed 1] [--out FILE]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from html import escape
from pathlib import Path

import merge_engine as me
from merge_engine.testing.synthetic import generate_district

OUT = Path(__file__).resolve().parent.parent / "img" / "match-weights.svg"
WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 40, 60
BIN = 2.0  # bits per bar
COLOURS = {"auto": "#3b7dd8", "review_same": "#f0a030", "review_other": "#d0453b"}
LABELS = {
    "auto": "auto merge",
    "review_same": "review: the same child",
    "review_other": "review: another child",
}


def bits(probability: float) -> float:
    """The match weight at which a pair reaches ``probability``."""
    return math.log2(probability / (1 - probability))


def counts(students: int, seed: int) -> tuple[dict[str, Counter[int]], me.Settings, str]:
    district = generate_district(students, seed=seed, synced_dob=False)
    settings = me.Settings()
    plan = me.build_plan(district.archived, district.synced, settings)
    bars: dict[str, Counter[int]] = {k: Counter() for k in COLOURS}
    for m in plan.merges:
        if m.decision == "auto":
            kind = "auto"
        elif district.truth.get(m.archived_id) == m.synced_id:
            kind = "review_same"
        else:
            kind = "review_other"
        bars[kind][math.floor(m.match_weight / BIN)] += 1
    wrong = sum(district.truth.get(m.archived_id) != m.synced_id for m in plan.auto)
    return (
        bars,
        settings,
        f"{len(plan.merges)} proposed merges, {wrong} auto merge(s) of another child",
    )


def svg(bars: dict[str, Counter[int]], settings: me.Settings, caption: str, title: str) -> str:
    keys = [k for c in bars.values() for k in c]
    low = min(*keys, math.floor(-10 / BIN))
    high = max(keys) + 1
    tallest = max(sum(bars[k][b] for k in bars) for b in range(low, high + 1))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(weight: float) -> float:
        return LEFT + (weight - low * BIN) / ((high - low + 1) * BIN) * plot_w

    def y(count: float) -> float:  # a square-root scale: the review bars stay visible
        return TOP + plot_h - math.sqrt(count / tallest) * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12" '
        f'role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{escape(title)}</text>',
    ]
    for b in range(low, high + 1):
        base = 0
        for kind, colour in COLOURS.items():
            n = bars[kind][b]
            if not n:
                continue
            top, bottom = y(base + n), y(base)
            out.append(
                f'<rect x="{x(b * BIN) + 1:.1f}" y="{top:.1f}" width="{x(BIN) - x(0) - 2:.1f}" '
                f'height="{bottom - top:.1f}" fill="{colour}">'
                f"<title>{n} {LABELS[kind]} between {b * BIN:g} and {(b + 1) * BIN:g} bits"
                "</title></rect>"
            )
            base += n
    axis_y = TOP + plot_h
    out.append(
        f'<line x1="{LEFT}" y1="{axis_y}" x2="{WIDTH - RIGHT}" y2="{axis_y}" stroke="#333"/>'
    )
    for tick in range(math.ceil(low * BIN / 10) * 10, int((high + 1) * BIN) + 1, 10):
        out.append(
            f'<line x1="{x(tick):.1f}" y1="{axis_y}" x2="{x(tick):.1f}" y2="{axis_y + 4}" '
            'stroke="#333"/>'
        )
        out.append(f'<text x="{x(tick):.1f}" y="{axis_y + 16}" text-anchor="middle">{tick}</text>')
    out.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 22}" text-anchor="middle">'
        "match weight (bits of log-odds; each bit doubles the odds)</text>"
    )
    # The floor's label sits left of its line, the threshold's right of its own.
    for name, p, dx, anchor in (
        ("review floor", settings.review_threshold, -4, "end"),
        ("auto threshold", settings.auto_threshold, 4, "start"),
    ):
        at = x(bits(p))
        out.append(
            f'<line class="threshold" x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{axis_y}" '
            'stroke="#222" stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text x="{at + dx:.1f}" y="{TOP + 10}" text-anchor="{anchor}" font-size="11">'
            f'<tspan x="{at + dx:.1f}">{name}</tspan>'
            f'<tspan x="{at + dx:.1f}" dy="13">p = {p:g} ({bits(p):+.1f} bits)</tspan></text>'
        )
    for i, kind in enumerate(COLOURS):
        lx = WIDTH - RIGHT - 190
        ly = TOP + 40 + 18 * i
        n = sum(bars[kind].values())
        out.append(f'<rect x="{lx}" y="{ly - 10}" width="12" height="12" fill="{COLOURS[kind]}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly}">{LABELS[kind]} ({n})</text>')
    out.append(
        f'<text x="{LEFT}" y="{HEIGHT - 6}" fill="#555" font-size="11">{escape(caption)}; '
        "bar heights on a square-root scale</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    bars, settings, caption = counts(args.students, args.seed)
    title = (
        f"Match weights of a plan: synthetic district, {args.students:,} students, "
        "sync without birth dates"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(svg(bars, settings, caption, title), encoding="utf-8")


if __name__ == "__main__":
    main()
