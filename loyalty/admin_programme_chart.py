"""A programme's points by month, on a page of its admin: issued, redeemed, expired and outstanding
over the last twelve months as a chart drawn on the server (SVG, no script), and what the points
outstanding are worth."""

from django.template.response import TemplateResponse
from django.urls import path
from django.utils import dateformat
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from crm.charts import number, scale_lines, scale_top
from crm.tenancy import viewed_object

from .selectors import MonthPoints, PointsReport, program_points_report

WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 56
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BAR = 12
# Each month's bars, left to right, and what the legend calls them.
BARS = [("issued", "Issued"), ("redeemed", "Redeemed"), ("expired", "Expired")]
OUTSTANDING = "Outstanding"


def points_chart_svg(report: PointsReport) -> SafeString:
    """The report's months as bars (issued, redeemed, expired) and a line (outstanding), every
    text escaped; each bar and point carries its figure (`data-points`, and a tooltip)."""
    months = report.months
    top = scale_top(
        [getattr(m, kind) for m in months for kind, _ in BARS] + [m.outstanding for m in months]
    )
    slot = PLOT_WIDTH / len(months)

    def y(value: int) -> float:
        return TOP + PLOT_HEIGHT - value / top * PLOT_HEIGHT

    def centre(index: int) -> float:
        return LEFT + slot * (index + 0.5)

    grid = scale_lines(top, y, left=LEFT, right=WIDTH - RIGHT)
    bars = format_html_join(
        "",
        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}" data-month="{}" '
        'data-kind="{}" data-points="{}"><title>{}: {} {}</title></rect>',
        (
            (
                kind,
                number(centre(i) + (k - 1.5) * BAR),
                number(y(getattr(m, kind))),
                BAR,
                number(PLOT_HEIGHT * getattr(m, kind) / top),
                f"{m.month:%Y-%m}",
                kind,
                getattr(m, kind),
                month_name(m),
                f"{getattr(m, kind):,}",
                kind,
            )
            for i, m in enumerate(months)
            for k, (kind, _) in enumerate(BARS)
        ),
    )
    line = " ".join(f"{number(centre(i))},{number(y(m.outstanding))}" for i, m in enumerate(months))
    dots = format_html_join(
        "",
        '<circle class="outstanding" cx="{}" cy="{}" r="3" data-month="{}" data-kind="outstanding"'
        ' data-points="{}"><title>{}: {} outstanding</title></circle>',
        (
            (
                number(centre(i)),
                number(y(m.outstanding)),
                f"{m.month:%Y-%m}",
                m.outstanding,
                month_name(m),
                f"{m.outstanding:,}",
            )
            for i, m in enumerate(months)
        ),
    )
    labels = format_html_join(
        "",
        '<text class="month" x="{}" y="{}">{}</text>',
        (
            (number(centre(i)), TOP + PLOT_HEIGHT + 16, dateformat.format(m.month, "M y"))
            for i, m in enumerate(months)
        ),
    )
    legend = format_html_join(
        "",
        '<rect class="bar {}" x="{}" y="{}" width="10" height="10"/>'
        '<text class="legend" x="{}" y="{}">{}</text>',
        (
            (kind, LEFT + 110 * k, HEIGHT - 22, LEFT + 110 * k + 14, HEIGHT - 13, label)
            for k, (kind, label) in enumerate(BARS)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" class="points-chart" viewBox="0 0 {} {}" '
        'role="img" aria-labelledby="points-chart-title"><title id="points-chart-title">'
        "Points of {} by month</title>{}{}"
        '<polyline class="outstanding" points="{}"/>{}{}{}'
        '<line class="outstanding" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="legend" x="{}" y="{}">{}</text></svg>',
        WIDTH,
        HEIGHT,
        report.program.name,
        grid,
        bars,
        line,
        dots,
        labels,
        legend,
        LEFT + 330,
        LEFT + 346,
        HEIGHT - 17,
        HEIGHT - 17,
        LEFT + 350,
        HEIGHT - 13,
        OUTSTANDING,
    )


def month_name(month: MonthPoints) -> str:
    return dateformat.format(month.month, "F Y")


class ProgrammeChartMixin:
    """Adds the points chart page to the programme admin."""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view(self.points_chart_view)
        return [path("<path:object_id>/chart/", view, name=f"{name}_chart"), *super().get_urls()]

    def points_chart_view(self, request, object_id):
        program = viewed_object(self, request, object_id)
        report = program_points_report(program)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": program,
            "title": f"Points of {program} by month",
            "report": report,
            "chart": points_chart_svg(report),
            "outstanding": f"{report.outstanding:,}",
            "liability": None if report.liability is None else f"{report.liability:,}",
        }
        return TemplateResponse(request, "admin/loyalty/program/chart.html", context)
