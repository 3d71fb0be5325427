"""Customer endpoints: each parses its input, calls one service, renders the result."""

import re

from django.db.models import Exists, OuterRef, Q, QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from crm.api.authentication import request_organization
from crm.api.base import OrganizationViewSet
from crm.api.fields import (
    ID_PATTERN,
    ChoiceFilter,
    UtcDateTimeFilter,
    id_filter,
    integer_filter,
    pattern_filter,
    text_filter,
)
from crm.api.problems import field_errors
from crm.api.query import StrictOrderingFilter
from crm.errors import DomainError, ErrorCode
from customers import selectors
from customers.choices import CustomerStatus, IdentifierType, LoyaltyType, Source
from customers.inputs import ChannelInput
from customers.membership import registration
from customers.membership.batch import ItemOutcome, customers_upsert_many
from customers.membership.documents import customer_document
from customers.membership.enrolment import MembershipResult
from customers.membership.search import customer_search
from customers.membership.update import customer_update
from customers.models import (
    CommChannel,
    Customer,
    ExtendedFieldDefinition,
    Identifier,
    SourceAccount,
)
from customers.nested_views import CustomerChildViewSet
from customers.normalization import MAX_EMAIL_LENGTH
from customers.services.channels import channel_add, channel_remove, channel_update
from customers.services.extended_fields import (
    extended_field_define,
    extended_field_delete,
    extended_field_update,
)
from customers.services.identifiers import identifier_add, identifier_remove, identifier_update
from customers.services.update import customer_delete
from loyalty.models import Enrollment

from .serializers import (
    BatchReplySerializer,
    BatchSerializer,
    ChannelInputSerializer,
    ChannelPatchSerializer,
    ChannelSerializer,
    CustomerCreateSerializer,
    CustomerResultSerializer,
    CustomerSerializer,
    CustomerSummarySerializer,
    CustomerUpdateSerializer,
    ExtendedFieldInputSerializer,
    ExtendedFieldPatchSerializer,
    ExtendedFieldSerializer,
    IdentifierCreateSerializer,
    IdentifierPatchSerializer,
    IdentifierSerializer,
)

# What the schema allows of `?identifier=`: a known type, a colon, a value that is not blank.
IDENTIFIER_QUERY = rf"^({'|'.join(map(re.escape, IdentifierType.values))}):[\s\S]*\S"

CUSTOMER_ID = OpenApiParameter(
    "id", str, OpenApiParameter.PATH, description="The customer's id (cust_…)."
)


class CustomerFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="filter_search",
        help_text="Words to find in the name, email, phone, an identifier value or a card code.",
    )
    status = ChoiceFilter(choices=CustomerStatus.choices)
    loyalty_type = ChoiceFilter(choices=LoyaltyType.choices)
    source = ChoiceFilter(choices=Source.choices, method="filter_source")
    store = filters.CharFilter(field_name="registered_store__code", help_text="A store code.")
    program = id_filter(method="filter_program", help_text="A programme id.")
    tier = integer_filter(
        method="filter_tier", min_value=1, max_value=32767, help_text="A tier number."
    )
    external_id = text_filter(
        method="filter_known_as",
        max_length=Customer._meta.get_field("external_id").max_length,
        help_text="The customer's external id, exactly.",
    )
    email = text_filter(
        method="filter_known_as",
        max_length=MAX_EMAIL_LENGTH,
        help_text="The customer's email, exactly (in any case).",
    )
    phone = filters.CharFilter(
        method="filter_known_as",
        help_text="The customer's phone number, exactly: in E.164, or as written in the "
        "organization's default region.",
    )
    identifier = pattern_filter(
        method="filter_identifier",
        pattern=IDENTIFIER_QUERY,
        help_text="An identifier as `type:value` (`externalId:POS-777`, `mobile:09873567294`), "
        "exactly, its value normalised as registration normalises it.",
    )
    created_after = UtcDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = UtcDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = UtcDateTimeFilter(field_name="updated_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = []

    def filter_search(self, queryset, name, value):
        organization = request_organization(self.request)
        return customer_search(queryset, organization=organization, text=value)

    def filter_known_as(self, queryset, name, value):
        organization = request_organization(self.request)
        return selectors.customers_known_as(queryset, organization=organization, **{name: value})

    def filter_identifier(self, queryset, name, value):
        type_, colon, identifier_value = value.partition(":")
        if not colon:
            raise DomainError(
                ErrorCode.INVALID,
                "Give the identifier as type:value, such as externalId:POS-777.",
                field=name,
            )
        return selectors.customers_known_as(
            queryset,
            organization=request_organization(self.request),
            identifier=(type_, identifier_value),
        )

    def filter_source(self, queryset, name, value):
        accounts = SourceAccount.objects.filter(customer=OuterRef("pk"), source=value)
        return queryset.filter(Exists(accounts))

    def filter_program(self, queryset, name, value):
        return queryset.filter(
            Exists(Enrollment.objects.filter(customer=OuterRef("pk"), program_id=value))
        )

    def filter_tier(self, queryset, name, value):
        return queryset.filter(
            Exists(Enrollment.objects.filter(customer=OuterRef("pk"), tier__number=value))
        )


def customer_body(organization, public_id: str) -> dict:
    document = customer_document(organization=organization, public_id=public_id)
    if document is None:
        raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
    return document


def result_body(result: MembershipResult, organization) -> dict:
    customer = customer_body(organization, result.customer.public_id)
    return CustomerResultSerializer(
        {
            "customer": customer,
            "created": result.created,
            "warnings": result.warnings,
            "side_effects": result.side_effects,
        }
    ).data


class CustomerViewSet(OrganizationViewSet):
    queryset = Customer.objects.none()
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = r"[A-Za-z0-9_-]+"
    filterset_class = CustomerFilter
    filter_backends = [filters.DjangoFilterBackend, StrictOrderingFilter]
    ordering_fields = ["created_at", "updated_at", "last_name", "email"]
    serializer_class = CustomerSerializer

    def organization_queryset(self) -> QuerySet:
        return selectors.customer_summaries(organization=self.organization)

    def filter_queryset(self, queryset):
        # Building the filter form costs as much as the rest of a page: only when filtering.
        if self.request.query_params.keys() & CustomerFilter.base_filters.keys():
            queryset = filters.DjangoFilterBackend().filter_queryset(self.request, queryset, self)
        return StrictOrderingFilter().filter_queryset(self.request, queryset, self)

    def get_object(self) -> Customer:
        customer = selectors.customer_get(
            organization=self.organization, public_id=self.kwargs["id"]
        )
        if customer is None:
            raise DomainError(ErrorCode.NOT_FOUND, "No such customer.", field="customer")
        return customer

    @extend_schema(responses=CustomerSummarySerializer(many=True))
    def list(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(CustomerSummarySerializer(page, many=True).data)

    @extend_schema(
        request=CustomerCreateSerializer,
        responses={201: CustomerResultSerializer, 200: CustomerResultSerializer},
    )
    def create(self, request):
        serializer = CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = registration.customer_register(
            organization=self.organization, data=serializer.to_input(), actor=self.actor
        )
        return Response(
            result_body(result, self.organization),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )

    @extend_schema(parameters=[CUSTOMER_ID])
    def retrieve(self, request, id):
        return Response(CustomerSerializer(customer_body(self.organization, id)).data)

    @extend_schema(
        parameters=[CUSTOMER_ID],
        request=CustomerUpdateSerializer,
        responses=CustomerResultSerializer,
    )
    def partial_update(self, request, id):
        customer = self.get_object()
        serializer = CustomerUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = customer_update(customer=customer, data=serializer.to_input(), actor=self.actor)
        return Response(result_body(result, self.organization))

    @extend_schema(parameters=[CUSTOMER_ID], responses={204: None})
    def destroy(self, request, id):
        customer_delete(customer=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=BatchSerializer,
        responses=BatchReplySerializer,
    )
    @action(detail=False, methods=["post"])
    def batch(self, request):
        serializer = BatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data["customers"]
        parser = CustomerCreateSerializer()  # one parser for every item: its fields built once
        inputs, results = {}, [None] * len(items)
        for index, item in enumerate(items):
            try:
                inputs[index] = parser.to_input(parser.run_validation(item))
            except ValidationError as error:
                results[index] = batch_failure(index, field_errors(error.detail))
        outcomes = customers_upsert_many(
            organization=self.organization, items=list(inputs.values()), actor=self.actor
        )
        for index, outcome in zip(inputs, outcomes, strict=True):
            results[index] = batch_result(index, outcome)
        return Response({"results": results})


def batch_failure(index: int, errors: list[dict]) -> dict:
    return {
        "index": index,
        "status": "failed",
        "id": None,
        "errors": [{"index": index, **error} for error in errors],
    }


def batch_result(index: int, outcome: ItemOutcome) -> dict:
    if outcome.error is not None:
        error = outcome.error
        return batch_failure(
            index, [{"field": error.field, "code": str(error.code), "message": error.message}]
        )
    result = outcome.result
    return {
        "index": index,
        "status": "created" if result.created else "updated" if result.changed else "unchanged",
        "id": result.customer.public_id,
        "errors": [],
    }


class IdentifierViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    """Identifiers change here: add, change, remove (the customer update leaves them alone)."""

    queryset = Identifier.objects.none()
    serializer_class = IdentifierSerializer

    def organization_queryset(self):
        return Identifier.objects.filter(customer=self.customer()).order_by(
            "source", "account_id", "pk"
        )

    @extend_schema(request=IdentifierCreateSerializer, responses={201: IdentifierSerializer})
    def create(self, request, customer_id):
        customer = self.customer()
        serializer = IdentifierCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        identifier = identifier_add(
            customer=customer,
            source=data["source"],
            account_id=data.get("account_id", ""),
            data=serializer.to_input(data),
            actor=self.actor,
        )
        return Response(IdentifierSerializer(identifier).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=IdentifierPatchSerializer, responses=IdentifierSerializer)
    def partial_update(self, request, customer_id, pk):
        identifier = self.child(Identifier.objects.select_related("organization"))
        serializer = IdentifierPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        current = {
            "type": identifier.type,
            "value": identifier.value,
            "series_id": identifier.series_id,
            "status_label": identifier.status_label,
            "extended_fields": identifier.extended_fields,
        }
        data = serializer.to_input({**current, **serializer.validated_data})
        identifier = identifier_update(identifier=identifier, data=data, actor=self.actor)
        return Response(IdentifierSerializer(identifier).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, customer_id, pk):
        identifier_remove(
            identifier=self.child(Identifier.objects.select_related("customer")), actor=self.actor
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelViewSet(mixins.ListModelMixin, CustomerChildViewSet):
    queryset = CommChannel.objects.none()
    serializer_class = ChannelSerializer

    def organization_queryset(self):
        return CommChannel.objects.filter(customer=self.customer()).order_by("type", "pk")

    @extend_schema(request=ChannelInputSerializer, responses={201: ChannelSerializer})
    def create(self, request, customer_id):
        customer = self.customer()
        serializer = ChannelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = channel_add(
            customer=customer,
            data=ChannelInputSerializer.to_input(serializer.validated_data),
            actor=self.actor,
        )
        return Response(ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ChannelPatchSerializer, responses=ChannelSerializer)
    def partial_update(self, request, customer_id, pk):
        channel = self.child(CommChannel.objects.select_related("customer__organization"))
        serializer = ChannelPatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        meta = given.get("meta", {})
        data = ChannelInput(
            type=channel.type,
            value=given.get("value", channel.value),
            primary=given.get("primary", channel.primary),
            verified=given.get("verified", channel.verified),
            subscribed=given.get("subscribed", channel.subscribed),
            residence=meta.get("residence", channel.residence),
            office=meta.get("office", channel.office),
            last_viewed_at=meta.get("last_viewed_at", channel.last_viewed_at),
        )
        channel = channel_update(channel=channel, data=data, actor=self.actor)
        return Response(ChannelSerializer(channel).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, customer_id, pk):
        channel_remove(
            channel=self.child(CommChannel.objects.select_related("customer")), actor=self.actor
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ExtendedFieldViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    """The extended fields the organization may set: its own, and the global ones (read-only)."""

    lookup_value_regex = ID_PATTERN
    queryset = ExtendedFieldDefinition.objects.none()
    serializer_class = ExtendedFieldSerializer
    pagination_class = None

    def organization_queryset(self):
        return ExtendedFieldDefinition.objects.filter(
            Q(organization=self.organization) | Q(organization__isnull=True)
        ).order_by("scope", "name", "pk")

    def own(self) -> ExtendedFieldDefinition:
        definition = self.get_object()
        if definition.organization_id is None:
            raise exceptions.PermissionDenied("Global extended fields cannot be changed.")
        return definition

    @extend_schema(request=ExtendedFieldInputSerializer, responses={201: ExtendedFieldSerializer})
    def create(self, request):
        serializer = ExtendedFieldInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        definition = extended_field_define(
            organization=self.organization, **serializer.validated_data, actor=self.actor
        )
        return Response(ExtendedFieldSerializer(definition).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ExtendedFieldPatchSerializer, responses=ExtendedFieldSerializer)
    def partial_update(self, request, pk):
        definition = self.own()
        serializer = ExtendedFieldPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if "allowed_values" in serializer.validated_data:
            definition = extended_field_update(
                definition=definition,
                allowed_values=serializer.validated_data["allowed_values"],
                actor=self.actor,
            )
        return Response(ExtendedFieldSerializer(definition).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk):
        extended_field_delete(definition=self.own(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
