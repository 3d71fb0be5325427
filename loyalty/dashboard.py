"""The figures of the admin's home page: an organization's members and the points and stamps they
moved, with the series its charts draw. Every figure comes from one query (five in all), and the
set is cached per organization for CACHE_SECONDS, so the page costs them once in that time.

Days, weeks (from Monday) and months are the server's time zone's, as in the programme report.
"""

import datetime as dt
from dataclasses import dataclass

import redis
from django.core.cache import cache
from django.db.models import Count, DateField, Q, QuerySet, Sum
from django.db.models.functions import TruncDate, TruncMonth
from django.utils import timezone

from crm.outages import Outage
from crm.tenancy import for_organization
from customers.models import Customer

from .choices import PointsKind, StampKind
from .models import Enrollment, PointsTransaction, StampTransaction
from .selectors import month_starts

CACHE_SECONDS = 300
DAYS = 14
MONTHS = 6
# Superusers see every organization's rows in the admin, and the totals of all of them here.
EVERY_ORGANIZATION = "all"

cache_outage = Outage("The cache (dashboard)", "the dashboard is computed on every request")


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    count: int


@dataclass(frozen=True)
class MonthPointsMoved:
    month: dt.date
    issued: int
    redeemed: int  # as positive numbers, as staff speak of them
    expired: int


@dataclass(frozen=True)
class Dashboard:
    members: int
    new_members_this_week: int
    points_issued_this_month: int
    points_redeemed_this_month: int
    points_expired_this_month: int
    points_outstanding: int
    stamps_given_today: int
    new_members_by_day: list[DayCount]  # the last DAYS days, oldest first
    points_by_month: list[MonthPointsMoved]  # the last MONTHS months, oldest first
    computed_at: dt.datetime


def start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def members(queryset: QuerySet[Customer]) -> QuerySet[Customer]:
    """Customers who count as members: not merged into another, their data not erased."""
    return queryset.filter(merged_into__isnull=True, erased_at__isnull=True)


def dashboard_compute(organization_id: int | str) -> Dashboard:
    """The figures of one organization, or of every one (EVERY_ORGANIZATION)."""

    def scoped(queryset: QuerySet) -> QuerySet:
        if organization_id == EVERY_ORGANIZATION:
            return queryset
        return for_organization(queryset, organization_id)

    now = timezone.now()
    today = timezone.localdate(now)
    days = [today - dt.timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    week_start = today - dt.timedelta(days=today.weekday())
    months = month_starts(today, MONTHS)

    member_count = members(scoped(Customer.objects.all())).count()
    new_by_day = dict(
        members(scoped(Customer.objects.all()))
        .filter(created_at__gte=start_of(days[0]))
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
    )
    by_month = {
        row["month"]: row
        for row in scoped(PointsTransaction.objects.all())
        .filter(created_at__gte=start_of(months[0]))
        .annotate(month=TruncMonth("created_at", output_field=DateField()))
        .order_by()
        .values("month")
        .annotate(
            issued=Sum("points", filter=Q(kind=PointsKind.AWARD)),
            redeemed=Sum("points", filter=Q(kind=PointsKind.DEDUCT)),
            expired=Sum("points", filter=Q(kind=PointsKind.EXPIRE)),
        )
    }
    outstanding = scoped(Enrollment.objects.all()).aggregate(total=Sum("points_balance"))["total"]
    stamps = (
        scoped(StampTransaction.objects.all())
        .filter(kind=StampKind.ADD, created_at__gte=start_of(today))
        .aggregate(total=Sum("stamps"))["total"]
    )

    new_members_by_day = [DayCount(day=day, count=new_by_day.get(day, 0)) for day in days]
    points_by_month = [
        MonthPointsMoved(
            month=month,
            issued=by_month.get(month, {}).get("issued") or 0,
            redeemed=-(by_month.get(month, {}).get("redeemed") or 0),
            expired=-(by_month.get(month, {}).get("expired") or 0),
        )
        for month in months
    ]
    this_month = points_by_month[-1]
    return Dashboard(
        members=member_count,
        new_members_this_week=sum(d.count for d in new_members_by_day if d.day >= week_start),
        points_issued_this_month=this_month.issued,
        points_redeemed_this_month=this_month.redeemed,
        points_expired_this_month=this_month.expired,
        points_outstanding=outstanding or 0,
        stamps_given_today=stamps or 0,
        new_members_by_day=new_members_by_day,
        points_by_month=points_by_month,
        computed_at=now,
    )


def dashboard_for(user) -> Dashboard | None:
    """The dashboard a staff member sees: their organization's, every organization's for a
    superuser, none for staff of no organization. Cached for CACHE_SECONDS per organization; an
    unreachable cache costs the queries, not the page."""
    if user.is_superuser:
        scope = EVERY_ORGANIZATION
    elif user.organization_id is not None:
        scope = user.organization_id
    else:
        return None
    key = f"admin-dashboard:{scope}"
    if cache_outage.worth_trying():
        try:
            cached = cache.get(key)
        except redis.RedisError as error:
            cache_outage.failed(error)
        else:
            cache_outage.succeeded()
            if cached is not None:
                return cached
    figures = dashboard_compute(scope)
    if cache_outage.worth_trying():
        try:
            cache.set(key, figures, timeout=CACHE_SECONDS)
        except redis.RedisError as error:
            cache_outage.failed(error)
    return figures
