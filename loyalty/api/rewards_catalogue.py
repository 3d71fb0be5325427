"""The points rewards endpoints: a programme's catalogue, and a customer redeeming a reward."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.errors import DomainError, ErrorCode
from customers.nested_views import CustomerChildViewSet
from loyalty.models import Program
from loyalty.points_rewards import PointsReward, PointsRewardRedemption
from loyalty.services.rewards_catalogue import points_reward_redeem

from .serializers import SideEffectSerializer


class PointsRewardSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    points_cost = serializers.IntegerField()
    stock = serializers.IntegerField(allow_null=True, help_text="Units left; null: unlimited.")
    per_customer_limit = serializers.IntegerField(allow_null=True)
    active_from = serializers.DateTimeField(allow_null=True)
    active_until = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()
    coupon_series_id = serializers.IntegerField()
    coupon_description = serializers.CharField(source="coupon_series.description")


class RedemptionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    reward_id = serializers.IntegerField()
    program_id = serializers.IntegerField(source="reward.program_id")
    points = serializers.IntegerField(help_text="What the reward cost.")
    coupon_code = serializers.CharField(source="coupon.code")
    coupon_valid_till = serializers.DateTimeField(source="coupon.valid_till", allow_null=True)
    created_at = serializers.DateTimeField()


class RedemptionResultSerializer(serializers.Serializer):
    redemption = RedemptionSerializer()
    balance = serializers.IntegerField(help_text="The programme's points balance after it.")
    side_effects = SideEffectSerializer(many=True)


class ProgramRewardsViewSet(OrganizationViewSet):
    """A programme's rewards bought with points, cheapest first."""

    queryset = PointsReward.objects.none()
    serializer_class = PointsRewardSerializer
    pagination_class = None

    def organization_queryset(self):
        return PointsReward.objects.filter(program__organization=self.organization)

    @extend_schema(responses=PointsRewardSerializer(many=True))
    def list(self, request, program_id):
        if not Program.objects.filter(organization=self.organization, pk=program_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND, "No such programme.", field="program")
        rewards = (
            self.get_queryset()
            .filter(program_id=program_id)
            .select_related("coupon_series")
            .order_by("points_cost", "pk")
        )
        return Response(PointsRewardSerializer(rewards, many=True).data)


class RewardRedemptionViewSet(CustomerChildViewSet):
    """A customer spends points on a reward and receives its coupon."""

    queryset = PointsRewardRedemption.objects.none()
    serializer_class = RedemptionResultSerializer

    def organization_queryset(self):
        return PointsRewardRedemption.objects.filter(customer=self.customer())

    @extend_schema(request=None, responses={201: RedemptionResultSerializer})
    def create(self, request, customer_id, reward_id):
        customer = self.customer()
        reward = (
            PointsReward.objects.filter(program__organization=self.organization, pk=reward_id)
            .select_related("program")
            .first()
        )
        if reward is None:
            raise DomainError(ErrorCode.REWARD_UNKNOWN, "No such reward.", field="reward_id")
        result = points_reward_redeem(
            organization=self.organization, customer=customer, reward=reward, actor=self.actor
        )
        body = {
            "redemption": result.redemption,
            "balance": result.balance,
            "side_effects": result.side_effects,
        }
        return Response(RedemptionResultSerializer(body).data, status=status.HTTP_201_CREATED)
