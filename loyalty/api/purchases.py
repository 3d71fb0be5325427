"""Purchase endpoints: record a purchase and earn its points, or a batch of them; list purchases
(all of them, or one customer's) and read one, each with its returns."""

from collections.abc import Iterator

from django.db.models import Prefetch, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.api.fields import ID_PATTERN, UtcDateTimeFilter
from crm.api.pagination import CursorPage
from crm.api.problems import domain_status, field_errors
from customers.models import Customer
from customers.nested_views import CustomerChildViewSet
from loyalty.returns import Return, ReturnLine
from loyalty.services import purchases
from loyalty.transactions import Transaction, TransactionLine

from .purchase_serializers import (
    PurchaseResultSerializer,
    TransactionBatchReplySerializer,
    TransactionBatchSerializer,
    TransactionInputSerializer,
)
from .return_serializers import TransactionDetailSerializer


def transactions_of(organization) -> QuerySet[Transaction]:
    """The organization's purchases as the serializers read them: each with `line_list` and
    `return_list`."""
    returned_lines = ReturnLine.objects.select_related("line").order_by("pk")
    return (
        Transaction.objects.filter(organization=organization)
        .select_related("customer", "store")
        .prefetch_related(
            Prefetch("lines", TransactionLine.objects.order_by("pk"), to_attr="line_list"),
            Prefetch(
                "returns",
                Return.objects.order_by("pk").prefetch_related(
                    Prefetch("lines", queryset=returned_lines)
                ),
                to_attr="return_list",
            ),
        )
    )


def shown(organization, results: list) -> None:
    """Make each result's purchase one the serializers can read: a purchase recorded now, with
    the lines just written; one recorded before, read again."""
    earlier = {result.transaction.pk for result in results if result.lines is None}
    again = transactions_of(organization).in_bulk(earlier) if earlier else {}
    for result in results:
        if result.lines is None:
            result.transaction = again[result.transaction.pk]
        else:
            result.transaction.line_list = result.lines


class TransactionFilter(filters.FilterSet):
    customer = filters.CharFilter(field_name="customer__public_id")
    store = filters.CharFilter(field_name="store__code")
    external_id = filters.CharFilter()
    occurred_after = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = UtcDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = Transaction
        fields = []


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
        item = TransactionInputSerializer.to_item(data)
        [buyer] = purchases.buyers_find(self.organization, [item])
        if not isinstance(buyer, Customer):
            raise buyer
        return buyer

    @extend_schema(
        request=TransactionInputSerializer,
        responses={201: PurchaseResultSerializer, 200: PurchaseResultSerializer},
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
        shown(self.organization, [result])
        return Response(
            PurchaseResultSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(
        request=TransactionBatchSerializer,
        responses=TransactionBatchReplySerializer,
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        serializer = TransactionBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        bodies = serializer.validated_data["transactions"]
        parser = TransactionInputSerializer()  # one parser for every item: its fields built once
        items, results = {}, [None] * len(bodies)
        for index, body in enumerate(bodies):
            try:
                items[index] = parser.to_item(parser.run_validation(body))
            except ValidationError as error:
                results[index] = batch_failure(index, 400, field_errors(error.detail))
        outcomes = purchases.purchases_record(
            organization=self.organization, items=list(items.values()), actor=self.actor
        )
        recorded = [outcome.result for outcome in outcomes if outcome.result is not None]
        shown(self.organization, recorded)
        # One serializer for every reply: its fields built once.
        replies = iter(PurchaseResultSerializer(recorded, many=True).data)
        for index, outcome in zip(items, outcomes, strict=True):
            results[index] = batch_result(index, outcome, replies)
        return Response({"results": results})


def batch_failure(index: int, http_status: int, errors: list[dict]) -> dict:
    return {
        "index": index,
        "status": "failed",
        "http_status": http_status,
        "result": None,
        "errors": [{"index": index, **error} for error in errors],
    }


def batch_result(index: int, outcome: purchases.PurchaseOutcome, replies: Iterator[dict]) -> dict:
    """The item's result; `replies` gives the reply of each item recorded, in order."""
    error = outcome.error
    if error is not None:
        return batch_failure(
            index,
            domain_status(error),
            [{"field": error.field, "code": str(error.code), "message": error.message}],
        )
    created = outcome.result.created
    return {
        "index": index,
        "status": "created" if created else "already_recorded",
        "http_status": status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        "result": next(replies),
        "errors": [],
    }


class CustomerTransactionViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    """A customer's purchases, newest recorded first, each with its returns."""

    queryset = Transaction.objects.none()
    serializer_class = TransactionDetailSerializer
    filterset_class = TransactionFilter
    pagination_class = CursorPage

    def organization_queryset(self):
        return transactions_of(self.organization).filter(customer=self.customer())
