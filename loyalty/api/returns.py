"""Return endpoint: record a return of a purchase and take back the points it earned."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.errors import DomainError, ErrorCode
from loyalty.returns import Return
from loyalty.services import returns
from loyalty.transactions import Transaction

from .return_serializers import ReturnInputSerializer, ReturnResultSerializer


class TransactionReturnViewSet(OrganizationViewSet):
    """Returns of one of the organization's purchases."""

    queryset = Return.objects.none()
    serializer_class = ReturnResultSerializer

    def purchase(self, transaction_id: int) -> Transaction:
        purchase = (
            Transaction.objects.filter(organization=self.organization, pk=transaction_id)
            .select_related("customer")
            .first()
        )
        if purchase is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such transaction.", field="transaction_id")
        return purchase

    @extend_schema(
        request=ReturnInputSerializer,
        responses={201: ReturnResultSerializer, 200: ReturnResultSerializer},
    )
    def create(self, request, transaction_id):
        purchase = self.purchase(transaction_id)
        serializer = ReturnInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        result = returns.return_record(
            organization=self.organization,
            purchase=purchase,
            external_id=data["external_id"],
            occurred_at=data["occurred_at"],
            lines=data.get("lines"),
            amount=data.get("amount"),
            actor=self.actor,
        )
        return Response(
            ReturnResultSerializer(result).data,
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
