"""Loyalty endpoints: points, cards and stamps, programmes, stamp cards, coupons."""

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.api.fields import ID_PATTERN, BooleanFilter, ChoiceFilter, id_filter
from crm.api.pagination import CursorPage
from crm.errors import DomainError, ErrorCode
from customers import selectors as customer_selectors
from customers.nested_views import CustomerChildViewSet
from loyalty import selectors
from loyalty.choices import PointsKind
from loyalty.models import (
    Coupon,
    CouponSeries,
    CustomerCard,
    Enrollment,
    PointsTransaction,
    Program,
    Reward,
    StampCard,
)
from loyalty.services import card_links, coupons, points, purchases, stamps
from loyalty.transactions import EarningRule

from .purchase_serializers import (
    EarningRuleSerializer,
    SimulateInputSerializer,
    SimulationSerializer,
)
from .serializers import (
    CardEnrollInputSerializer,
    CardIssuedSerializer,
    CardResultSerializer,
    CardSerializer,
    CouponIssueInputSerializer,
    CouponSerializer,
    PointsInputSerializer,
    PointsResultSerializer,
    PointsTransactionSerializer,
    ProgramSerializer,
    RedeemInputSerializer,
    SendLinksResultSerializer,
    StampCardSerializer,
    StampsInputSerializer,
)


def not_found(what: str) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"No such {what}.", field=what)


class PointsFilter(filters.FilterSet):
    program_id = id_filter(field_name="enrollment__program_id")
    kind = ChoiceFilter(choices=PointsKind.choices)

    class Meta:
        model = PointsTransaction
        fields = []


class PointsViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    """A customer's points ledger, newest first; award or deduct points."""

    queryset = PointsTransaction.objects.none()
    serializer_class = PointsTransactionSerializer
    filterset_class = PointsFilter
    pagination_class = CursorPage

    def organization_queryset(self):
        return PointsTransaction.objects.filter(
            enrollment__customer=self.customer()
        ).select_related("enrollment")

    @extend_schema(request=PointsInputSerializer, responses={201: PointsResultSerializer})
    def create(self, request, customer_id):
        customer = self.customer()
        serializer = PointsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        enrollment = (
            Enrollment.objects.select_related("program")
            .filter(customer=customer, program_id=data["program_id"])
            .first()
        )
        if enrollment is None:
            raise DomainError(
                ErrorCode.NOT_ENROLLED,
                "The customer is not enrolled in this programme.",
                field="program_id",
            )
        common = {
            "organization": self.organization,
            "enrollment": enrollment,
            "points": data["points"],
            "reason": data["reason"],
            "reference": data["reference"],
            "actor": self.actor,
        }
        if data["action"] == "award":
            result = points.points_award(**common, expires_at=data["expires_at"])
        else:
            result = points.points_deduct(**common)
        body = {
            "transaction": result.transaction,
            "balance": enrollment.points_balance,
            "pending": enrollment.points_pending,
            "side_effects": result.side_effects,
        }
        return Response(PointsResultSerializer(body).data, status=status.HTTP_201_CREATED)


class CustomerCardViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    """A customer's stamp cards; enrol in another."""

    queryset = CustomerCard.objects.none()
    serializer_class = CardSerializer

    def organization_queryset(self):
        return selectors.cards_with_rewards().filter(customer=self.customer())

    @extend_schema(request=CardEnrollInputSerializer, responses={201: CardIssuedSerializer})
    def create(self, request, customer_id):
        customer = self.customer()
        serializer = CardEnrollInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        stamp_card = StampCard.objects.filter(
            organization=self.organization, pk=serializer.validated_data["stamp_card_id"]
        ).first()
        if stamp_card is None:
            raise not_found("stamp_card_id")
        result = stamps.card_enroll(
            organization=self.organization,
            customer=customer,
            stamp_card=stamp_card,
            actor=self.actor,
        )
        card = selectors.card_get(organization=self.organization, code=result.card.code)
        body = {"card": card, "side_effects": result.side_effects, "warnings": result.warnings}
        return Response(CardIssuedSerializer(body).data, status=status.HTTP_201_CREATED)


class CardViewSet(mixins.RetrieveModelMixin, OrganizationViewSet):
    """A card by its code: add stamps, redeem a reward, send its links."""

    queryset = CustomerCard.objects.none()
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9]+"
    serializer_class = CardSerializer

    def get_object(self) -> CustomerCard:
        return selectors.card_get(organization=self.organization, code=self.kwargs["code"])

    def _card_reply(self, result) -> Response:
        card = selectors.card_get(organization=self.organization, code=result.card.code)
        return Response(
            CardResultSerializer({"card": card, "side_effects": result.side_effects}).data
        )

    @extend_schema(request=StampsInputSerializer, responses=CardResultSerializer)
    @action(detail=True, methods=["post"])
    def stamps(self, request, code):
        card = self.get_object()
        serializer = StampsInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = stamps.stamps_add(
            organization=self.organization,
            card=card,
            actor=self.actor,
            **serializer.validated_data,
        )
        return self._card_reply(result)

    @extend_schema(request=RedeemInputSerializer, responses=CardResultSerializer)
    @action(detail=True, methods=["post"])
    def redeem(self, request, code):
        card = self.get_object()
        serializer = RedeemInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        reward = Reward.objects.filter(
            stamp_card__organization=self.organization, pk=serializer.validated_data["reward_id"]
        ).first()
        if reward is None:
            raise DomainError(ErrorCode.REWARD_UNKNOWN, "No such reward.", field="reward_id")
        result = stamps.reward_redeem(
            organization=self.organization, card=card, reward=reward, actor=self.actor
        )
        return self._card_reply(result)

    @extend_schema(request=None, responses=SendLinksResultSerializer)
    @action(detail=True, methods=["post"], url_path="send-links")
    def send_links(self, request, code):
        result = card_links.card_links_send(
            organization=self.organization, card=self.get_object(), actor=self.actor
        )
        return Response(SendLinksResultSerializer(result).data)


class ProgramViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    lookup_value_regex = ID_PATTERN
    queryset = Program.objects.none()
    serializer_class = ProgramSerializer

    def organization_queryset(self):
        return Program.objects.filter(organization=self.organization).prefetch_related("tiers")

    def program(self, pk: int) -> Program:
        """The programme alone, without the tiers its own page shows."""
        program = Program.objects.filter(organization=self.organization, pk=pk).first()
        if program is None:
            raise not_found("program")
        return program

    @extend_schema(responses=EarningRuleSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="earning-rules", pagination_class=None)
    def earning_rules(self, request, pk):
        rules = (
            EarningRule.objects.filter(program=self.program(pk))
            .prefetch_related("stores")
            .order_by("priority", "pk")
        )
        return Response(EarningRuleSerializer(rules, many=True).data)

    @extend_schema(request=SimulateInputSerializer, responses=SimulationSerializer)
    @action(detail=True, methods=["post"])
    def simulate(self, request, pk):
        """What a purchase would earn in the programme now; nothing is written."""
        program = self.program(pk)
        serializer = SimulateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = None
        if data["customer"] is not None:
            customer = customer_selectors.customer_get(
                organization=self.organization, public_id=data["customer"]
            )
            if customer is None:
                raise not_found("customer")
        simulation = purchases.purchase_simulate(
            program=program,
            customer=customer,
            store_code=data["store"],
            occurred_at=data["occurred_at"],
            currency=data["currency"],
            lines=data["lines"],
        )
        return Response(SimulationSerializer(simulation).data)


class StampCardViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    lookup_value_regex = ID_PATTERN
    queryset = StampCard.objects.none()
    serializer_class = StampCardSerializer

    def organization_queryset(self):
        return (
            StampCard.objects.filter(organization=self.organization)
            .select_related("store")
            .prefetch_related(Prefetch("rewards", queryset=Reward.objects.order_by("stamp_cost")))
        )


class CouponFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__public_id")
    series_id = id_filter()
    redeemed = BooleanFilter(field_name="redeemed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Coupon
        fields = []


class CouponPage(CursorPage):
    ordering = ("-issued_at", "-pk")


class CouponViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    queryset = Coupon.objects.none()
    lookup_field = "code"
    lookup_value_regex = r"[A-Za-z0-9]+"
    serializer_class = CouponSerializer
    filterset_class = CouponFilter
    pagination_class = CouponPage

    def organization_queryset(self):
        return (
            Coupon.objects.filter(organization=self.organization)
            .select_related("series", "customer")
            .order_by("-issued_at", "-pk")
        )

    def get_object(self) -> Coupon:
        coupon = self.get_queryset().filter(code=self.kwargs["code"].upper()).first()
        if coupon is None:
            raise DomainError(ErrorCode.COUPON_UNKNOWN, "No such coupon.", field="code")
        return coupon

    @extend_schema(request=CouponIssueInputSerializer, responses={201: CouponSerializer})
    def create(self, request):
        serializer = CouponIssueInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        series = CouponSeries.objects.filter(
            organization=self.organization, pk=data["series_id"]
        ).first()
        customer = customer_selectors.customer_get(
            organization=self.organization, public_id=data["customer_id"]
        )
        if series is None:
            raise not_found("series_id")
        if customer is None:
            raise not_found("customer_id")
        result = coupons.coupon_issue(
            organization=self.organization, series=series, customer=customer, actor=self.actor
        )
        return Response(CouponSerializer(result.coupon).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CouponSerializer)
    @action(detail=True, methods=["post"])
    def redeem(self, request, code):
        coupon = coupons.coupon_redeem(organization=self.organization, code=code, actor=self.actor)
        return Response(CouponSerializer(self.get_queryset().get(pk=coupon.pk)).data)
