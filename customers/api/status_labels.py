"""The organization's status labels: listed, created, changed and deleted through the status
label services, with whether their customers may earn and spend."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from crm.api.base import OrganizationViewSet
from crm.api.fields import ID_PATTERN
from crm.api.serializers import InputSerializer
from customers.choices import CustomerStatus
from customers.models import StatusLabel
from customers.services.status_labels import (
    status_label_create,
    status_label_delete,
    status_label_update,
)

NAME_LENGTH = StatusLabel._meta.get_field("name").max_length
FLAGS_HELP = "By the status when not given: suspended and fraud statuses may not, others may."


class StatusLabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.ChoiceField(CustomerStatus.choices)
    is_default = serializers.BooleanField()
    may_earn = serializers.BooleanField(help_text="Its customers earn points and stamps.")
    may_spend = serializers.BooleanField(
        help_text="Its customers spend points and redeem rewards and coupons."
    )


class StatusLabelInputSerializer(InputSerializer):
    name = serializers.CharField(max_length=NAME_LENGTH)
    status = serializers.ChoiceField(CustomerStatus.choices)
    is_default = serializers.BooleanField(default=False)
    may_earn = serializers.BooleanField(required=False, help_text=FLAGS_HELP)
    may_spend = serializers.BooleanField(required=False, help_text=FLAGS_HELP)


class StatusLabelPatchSerializer(InputSerializer):
    name = serializers.CharField(max_length=NAME_LENGTH, required=False)
    status = serializers.ChoiceField(CustomerStatus.choices, required=False)
    is_default = serializers.BooleanField(required=False)
    may_earn = serializers.BooleanField(
        required=False, help_text="Unchanged when not given, unless the status changes."
    )
    may_spend = serializers.BooleanField(
        required=False, help_text="Unchanged when not given, unless the status changes."
    )


class StatusLabelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    lookup_value_regex = ID_PATTERN
    queryset = StatusLabel.objects.none()
    serializer_class = StatusLabelSerializer
    pagination_class = None

    def organization_queryset(self):
        return StatusLabel.objects.filter(organization=self.organization).order_by("name", "pk")

    @extend_schema(request=StatusLabelInputSerializer, responses={201: StatusLabelSerializer})
    def create(self, request):
        serializer = StatusLabelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        label = status_label_create(
            organization=self.organization, **serializer.validated_data, actor=self.actor
        )
        return Response(StatusLabelSerializer(label).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StatusLabelPatchSerializer, responses=StatusLabelSerializer)
    def partial_update(self, request, pk):
        label = self.get_object()
        serializer = StatusLabelPatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        given = serializer.validated_data
        label = status_label_update(
            label=label,
            name=given.get("name", label.name),
            status=given.get("status", label.status),
            is_default=given.get("is_default", label.is_default),
            may_earn=given.get("may_earn"),
            may_spend=given.get("may_spend"),
            actor=self.actor,
        )
        return Response(StatusLabelSerializer(label).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk):
        status_label_delete(label=self.get_object(), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)
