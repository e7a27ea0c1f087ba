"""The figures of one benchmark run and the table they are printed as."""

from __future__ import annotations

from dataclasses import dataclass

RESULTS: list[Row] = []
NOTES: list[str] = []


@dataclass(frozen=True)
class Row:
    """One figure, with its baseline and target when it has them."""

    section: str
    metric: str
    value: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None


def record(
    section: str,
    metric: str,
    value: str,
    *,
    baseline: str = "",
    ratio: str = "",
    target: str = "",
    met: bool | None = None,
) -> None:
    """Add a figure to the table."""
    RESULTS.append(Row(section, metric, value, baseline, ratio, target, met))


def note(text: str) -> None:
    """Add a line printed under the table."""
    NOTES.append(text)


def table() -> str:
    """Return the figures as a fixed-width table."""
    head = ("#", "metric", "value", "baseline", "ratio", "target", "met")
    rows = [
        (
            r.section,
            r.metric,
            r.value,
            r.baseline,
            r.ratio,
            r.target,
            "" if r.met is None else ("yes" if r.met else "MISSED"),
        )
        for r in RESULTS
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)), line]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    missed = [r for r in RESULTS if r.met is False]
    targets = [r for r in RESULTS if r.met is not None]
    out.append(line)
    out.append(f"targets met: {len(targets) - len(missed)}/{len(targets)}")
    out += [f"- {n}" for n in NOTES]
    return "\n".join(line.rstrip() for line in out)
