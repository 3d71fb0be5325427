"""Purchase endpoints: record a purchase and earn its points, list purchases (all of them, or one
customer's) and read one, each with its returns."""

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.api.fields import ID_PATTERN, UtcDateTimeFilter
from crm.api.pagination import CursorPage
from crm.errors import DomainError, ErrorCode
from customers import selectors as customer_selectors
from customers.models import Customer
from customers.nested_views import CustomerChildViewSet
from loyalty.returns import Return, ReturnLine
from loyalty.services import purchases
from loyalty.transactions import Transaction, TransactionLine

from .purchase_serializers import PurchaseResultSerializer, TransactionInputSerializer
from .return_serializers import TransactionDetailSerializer


def transactions_of(organization) -> QuerySet[Transaction]:
    returned_lines = ReturnLine.objects.select_related("line").order_by("pk")
    return (
        Transaction.objects.filter(organization=organization)
        .select_related("customer", "store")
        .prefetch_related(
            Prefetch("lines", queryset=TransactionLine.objects.order_by("pk")),
            Prefetch(
                "returns",
                queryset=Return.objects.order_by("pk").prefetch_related(
                    Prefetch("lines", queryset=returned_lines)
                ),
            ),
        )
    )


class TransactionFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__public_id")
    store = filters.CharFilter(field_name="store__code")
    external_id = filters.CharFilter()
    occurred_after = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = []


@extend_schema_view(retrieve=extend_schema(description="A purchase, with its returns."))
class TransactionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """Purchases, newest recorded first, each with its returns; record one and earn its points."""

    lookup_value_regex = ID_PATTERN
    queryset = Transaction.objects.none()
    serializer_class = TransactionDetailSerializer
    filterset_class = TransactionFilter
    pagination_class = CursorPage

    def organization_queryset(self):
        return transactions_of(self.organization)

    def buyer(self, data) -> Customer:
        if "customer" in data:
            customer = customer_selectors.customer_get(
                organization=self.organization, public_id=data["customer"]
            )
            field = "customer"
        else:
            customer = customer_selectors.customer_by_identifier(
                organization=self.organization,
                type_=data["identifier"]["type"],
                value=data["identifier"]["value"],
            )
            field = "identifier"
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field=field)
        return customer

    @extend_schema(
        request=TransactionInputSerializer,
        responses={201: PurchaseResultSerializer, 200: PurchaseResultSerializer},
        description="201 when the purchase is recorded; 200 with the first answer when its "
        "external id was recorded before (it earns nothing more).",
    )
    def create(self, request):
        serializer = TransactionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = purchases.transaction_record(
            organization=self.organization,
            customer=self.buyer(data),
            store_code=data["store"],
            external_id=data["external_id"],
            occurred_at=data["occurred_at"],
            currency=data["currency"],
            lines=data["lines"],
            channel=data["channel"],
            actor=self.actor,
        )
        result.transaction = self.get_queryset().get(pk=result.transaction.pk)
        return Response(
            PurchaseResultSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class CustomerTransactionViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    """A customer's purchases, newest recorded first, each with its returns."""

    queryset = Transaction.objects.none()
    serializer_class = TransactionDetailSerializer
    filterset_class = TransactionFilter
    pagination_class = CursorPage

    def organization_queryset(self):
        return transactions_of(self.organization).filter(customer=self.customer())
