"""Admin pages of the rewards bought with points: the catalogue, saved through the services, and
the read-only record of redemptions. Django's autodiscovery reaches them through loyalty.admin."""

from django.contrib import admin

from crm.admin_paging import LargeTableAdminMixin
from crm.admin_services import ServiceAdminMixin, ServiceForm
from crm.tenancy import ReadOnlyAdminMixin, TenantScopedAdmin

from .points_rewards import PointsReward, PointsRewardRedemption
from .services import rewards_catalogue

# What the services record but the programme, which the reward keeps.
EDITABLE = [name for name in rewards_catalogue.POINTS_REWARD_FIELDS if name != "program"]
VALIDATED = [
    "points_cost",
    "stock",
    "per_customer_limit",
    "active_from",
    "active_until",
    "coupon_series",
]


class PointsRewardForm(ServiceForm):
    class Meta:
        model = PointsReward
        fields = ["program", *EDITABLE]

    def check(self):
        data = self.cleaned_data
        program = self.instance.program if self.instance.pk else data["program"]
        rewards_catalogue.points_reward_validate(
            program=program, name=data["name"], **{name: data[name] for name in VALIDATED}
        )


@admin.register(PointsReward)
class PointsRewardAdmin(ServiceAdminMixin, TenantScopedAdmin):
    """A reward stays in the programme it was created in."""

    form = PointsRewardForm
    list_display = ["name", "program", "points_cost", "stock", "active"]
    list_filter = ["active"]
    list_select_related = ["program"]
    search_fields = ["name", "program__name"]

    fixed_after_create = ("program",)

    def create(self, data, actor):
        return rewards_catalogue.points_reward_create(
            program=data["program"], **{name: data[name] for name in EDITABLE}, actor=actor
        )

    def update(self, obj, data, actor):
        return rewards_catalogue.points_reward_update(
            reward=obj, **{name: data[name] for name in EDITABLE}, actor=actor
        )

    def delete(self, obj, actor):
        rewards_catalogue.points_reward_delete(reward=obj, actor=actor)


@admin.register(PointsRewardRedemption)
class PointsRewardRedemptionAdmin(LargeTableAdminMixin, ReadOnlyAdminMixin, TenantScopedAdmin):
    list_display = ["created_at", "customer", "reward", "points", "coupon", "actor"]
    list_select_related = ["customer", "reward", "coupon"]
    search_fields = ["customer__email", "customer__public_id", "coupon__code"]
