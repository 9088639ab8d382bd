"""Small inline SVG charts for the HTML report and notebook views.

Hand-written rather than a plotting library: the report must be one file
that works with no network and no script, and two chart kinds (a
waterfall of a pair's evidence, a histogram of match weights) do not
justify a dependency. Every text is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from .._evidence import FieldEvidence

__all__ = ["logit2", "waterfall", "weight_histogram"]

_POS, _NEG, _ZERO, _TOTAL = "#2e7d32", "#c62828", "#9e9e9e", "#1565c0"


def logit2(p: float) -> float:
    """Bits of log-odds of probability ``p`` (the plan's unit for weights)."""
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log2(p / (1 - p))


def _f(x: float) -> str:
    return f"{x:.1f}"


def waterfall(
    evidence: Sequence[FieldEvidence], match_weight: float, prior_bits: float | None
) -> str:
    """Each field's contribution as a horizontal waterfall, from the prior to the match weight.

    Steps: the prior (when known), each comparison's bits, the household
    rules' adjustment (whatever is left between the sum and the weight),
    and the total. Comparisons contributing nothing are drawn as a dot.
    """
    steps: list[tuple[str, str, float]] = []
    if prior_bits is not None:
        steps.append(("prior", "", prior_bits))
    steps += [(e.comparison, e.level, e.bits) for e in evidence]
    rest = match_weight - sum(b for _, _, b in steps)
    if prior_bits is not None and abs(rest) >= 0.05:
        steps.append(("rules", "household and name rules", rest))
    ends, total = [], 0.0
    for _, _, b in steps:
        ends.append((total, total + b))
        total += b
    lo = min(0.0, match_weight, *(min(s, e) for s, e in ends)) if ends else min(0.0, match_weight)
    hi = max(0.0, match_weight, *(max(s, e) for s, e in ends)) if ends else max(0.0, match_weight)
    hi = hi if hi > lo else lo + 1
    row, label_w, bar_w, value_w = 17, 210, 230, 44
    width = label_w + bar_w + value_w
    height = row * (len(steps) + 1) + 8

    def x(v: float) -> float:
        return label_w + (v - lo) / (hi - lo) * bar_w

    parts = [
        f'<svg class="waterfall" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="evidence waterfall, match weight {match_weight:+.1f} bits">',
        f'<line x1="{_f(x(0))}" y1="0" x2="{_f(x(0))}" y2="{height}" stroke="#bbb"/>',
    ]
    for i, ((name, level, b), (start, end)) in enumerate(zip(steps, ends, strict=True)):
        y = i * row + 2
        label = f"{name}: {level}" if level else name
        colour = _POS if b > 0 else _NEG if b < 0 else _ZERO
        left, w = min(x(start), x(end)), abs(x(end) - x(start))
        short = label if len(label) <= 30 else label[:29] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(short)}</text>'
        )
        if w < 1:
            parts.append(f'<circle cx="{_f(x(start))}" cy="{y + 8}" r="2.5" fill="{_ZERO}"/>')
        else:
            parts.append(
                f'<rect x="{_f(left)}" y="{y + 2}" width="{_f(w)}" height="{row - 5}" '
                f'fill="{colour}"><title>{escape(label)}: {b:+.2f} bits</title></rect>'
            )
        parts.append(f'<text x="{width - 4}" y="{y + 12}" text-anchor="end">{b:+.1f}</text>')
    y = len(steps) * row + 2
    left, w = min(x(0), x(match_weight)), abs(x(match_weight) - x(0))
    parts += [
        f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" font-weight="bold">'
        "match weight</text>",
        f'<rect x="{_f(left)}" y="{y + 2}" width="{_f(max(w, 1))}" height="{row - 5}" '
        f'fill="{_TOTAL}"/>',
        f'<text x="{width - 4}" y="{y + 12}" text-anchor="end" font-weight="bold">'
        f"{match_weight:+.1f}</text>",
        "</svg>",
    ]
    return "".join(parts)


def weight_histogram(
    auto: Sequence[float],
    review: Sequence[float],
    thresholds: Sequence[tuple[str, float]],
) -> str:
    """Stacked histogram of match weights (1-bit bins) with threshold lines (in bits).

    Weights far out (beyond -20 and 60 bits) are counted in the end bins.
    """
    every = [*auto, *review]
    marks = [t for _, t in thresholds]
    lo = math.floor(max(-20.0, min([*every, *marks, 0.0])))
    hi = math.ceil(min(60.0, max([*every, *marks, 1.0]))) + 1
    n = hi - lo
    counts = [[0, 0] for _ in range(n)]
    for k, values in enumerate((auto, review)):
        for v in values:
            counts[min(max(math.floor(v) - lo, 0), n - 1)][k] += 1
    top = max((a + r for a, r in counts), default=0) or 1
    width, height, left, bottom, top_pad = 760, 240, 44, 30, 34
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    bw = plot_w / n

    def x(v: float) -> float:
        return left + (v - lo) * bw

    def h(c: int) -> float:
        return c / top * plot_h

    base = height - bottom
    parts = [
        f'<svg class="histogram" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="histogram of match weights">',
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top_pad}" x2="{left}" y2="{base}" stroke="#555"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{top}</text>',
        f'<text x="{left - 4}" y="{base}" text-anchor="end">0</text>',
    ]
    for i, (a, r) in enumerate(counts):
        if not a + r:
            continue
        bx = _f(left + i * bw + 0.5)
        w = _f(max(bw - 1, 1))
        tip = f"{lo + i} to {lo + i + 1} bits: {a} auto, {r} review"
        if a:
            parts.append(
                f'<rect class="bar-auto" x="{bx}" y="{_f(base - h(a))}" width="{w}" '
                f'height="{_f(h(a))}"><title>{tip}</title></rect>'
            )
        if r:
            parts.append(
                f'<rect class="bar-review" x="{bx}" y="{_f(base - h(a) - h(r))}" width="{w}" '
                f'height="{_f(h(r))}"><title>{tip}</title></rect>'
            )
    step = 5 if n <= 50 else 10
    for v in range(lo - lo % step + step if lo % step else lo, hi + 1, step):
        parts.append(
            f'<text x="{_f(x(v))}" y="{base + 14}" text-anchor="middle">{v}</text>'
            f'<line x1="{_f(x(v))}" y1="{base}" x2="{_f(x(v))}" y2="{base + 3}" stroke="#555"/>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 2}" text-anchor="middle">'
        "match weight (bits of log-odds)</text>"
    )
    for k, (label, t) in enumerate(thresholds):
        tx = _f(x(t))
        parts.append(
            f'<line class="threshold" x1="{tx}" y1="{top_pad - 4}" x2="{tx}" y2="{base}" '
            f'stroke="#000" stroke-dasharray="4 3"/>'
            f'<text x="{tx}" y="{12 + 13 * k}" text-anchor="middle">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
