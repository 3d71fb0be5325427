"""Charts drawn on the server as SVG, without script or anything fetched: the admin's pages embed
them as they are. Every text in them is escaped."""

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


def scale_top(values: list[int]) -> int:
    """The top of the scale: the first of 1, 2, 5, 10, 20, 50… at or above every value."""
    highest = max([1, *values])
    step = 1
    while True:
        for top in (step, 2 * step, 5 * step):
            if top >= highest:
                return top
        step *= 10


def number(value: float) -> str:
    return f"{value:.1f}"


def scale_lines(top: int, y: Callable[[int], float], *, left: float, right: float) -> SafeString:
    """The scale's grid lines at zero, half and its top, from `left` to `right`, each with its
    figure; `y` places a value."""
    return format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="scale" x="{}" y="{}">{}</text>',
        (
            (left, right, number(y(v)), number(y(v)), left - 6, number(y(v) + 4), f"{v:,}")
            for v in (0, top // 2, top)
        ),
    )


@dataclass(frozen=True)
class Bar:
    key: str  # what the bar stands for, machine-readable (`data-key`): a day, a month
    label: str  # under the bar; empty leaves it unlabelled
    title: str  # its tooltip, before the figure
    value: int


WIDTH, HEIGHT = 360, 160
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 12, 28


def bar_chart_svg(*, name: str, title: str, bars: list[Bar]) -> SafeString:
    """One series of bars on a scale from zero, each carrying its figure (`data-value`, and a
    tooltip); `name` is the chart's class and the id of its title."""
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = scale_top([bar.value for bar in bars])
    slot = plot_width / max(1, len(bars))
    width = slot * 0.7

    def y(value: int) -> float:
        return TOP + plot_height - value / top * plot_height

    grid = scale_lines(top, y, left=LEFT, right=WIDTH - RIGHT)
    drawn = format_html_join(
        "",
        '<rect class="bar" x="{}" y="{}" width="{}" height="{}" data-key="{}" data-value="{}">'
        "<title>{}: {}</title></rect>",
        (
            (
                number(LEFT + slot * i + (slot - width) / 2),
                number(y(bar.value)),
                number(width),
                number(plot_height * bar.value / top),
                bar.key,
                bar.value,
                bar.title,
                f"{bar.value:,}",
            )
            for i, bar in enumerate(bars)
        ),
    )
    labels = format_html_join(
        "",
        '<text class="label" x="{}" y="{}">{}</text>',
        (
            (number(LEFT + slot * (i + 0.5)), TOP + plot_height + 16, bar.label)
            for i, bar in enumerate(bars)
            if bar.label
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="bar-chart {}" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="{}-title"><title id="{}-title">{}</title>{}{}{}</svg>',
        name,
        WIDTH,
        HEIGHT,
        name,
        name,
        title,
        grid,
        drawn,
        labels,
    )
