"""The dashboard of the admin's home page (`{% staff_dashboard %}`): the figures of the staff
member's organization (loyalty.dashboard) and their charts, drawn on the server."""

from django import template
from django.utils import dateformat

from crm.charts import Bar, bar_chart_svg

from ..dashboard import Dashboard, dashboard_for

register = template.Library()


def new_members_chart(figures: Dashboard):
    days = figures.new_members_by_day
    return bar_chart_svg(
        name="new-members-chart",
        title=f"New members a day, the last {len(days)} days",
        bars=[
            Bar(
                key=f"{d.day:%Y-%m-%d}",
                # Every other day is labelled, the last one (today) among them: 14 fit no wider.
                label=dateformat.format(d.day, "j M") if (len(days) - 1 - i) % 2 == 0 else "",
                title=dateformat.format(d.day, "l j F"),
                value=d.count,
            )
            for i, d in enumerate(days)
        ],
    )


def points_issued_chart(figures: Dashboard):
    months = figures.points_by_month
    return bar_chart_svg(
        name="points-issued-chart",
        title=f"Points issued a month, the last {len(months)} months",
        bars=[
            Bar(
                key=f"{m.month:%Y-%m}",
                label=dateformat.format(m.month, "M y"),
                title=dateformat.format(m.month, "F Y"),
                value=m.issued,
            )
            for m in months
        ],
    )


@register.inclusion_tag("admin/loyalty/dashboard.html", takes_context=True)
def staff_dashboard(context):
    figures = dashboard_for(context["request"].user)
    if figures is None:
        return {"figures": None}
    return {
        "figures": figures,
        "new_members_chart": new_members_chart(figures),
        "points_issued_chart": points_issued_chart(figures),
    }
