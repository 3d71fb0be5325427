from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.response import Response

from crm.models import Store
from crm.services import store_create, store_update

from .base import OrganizationViewSet
from .fields import ID_PATTERN
from .serializers import InputSerializer


class StoreSerializer(InputSerializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    active = serializers.BooleanField(default=True)


class StorePatchSerializer(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    active = serializers.BooleanField(required=False)


class StoreViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, OrganizationViewSet):
    lookup_value_regex = ID_PATTERN
    queryset = Store.objects.none()
    serializer_class = StoreSerializer

    def organization_queryset(self):
        return Store.objects.filter(organization=self.organization).order_by("code")

    @extend_schema(request=StoreSerializer, responses={201: StoreSerializer})
    def create(self, request):
        serializer = StoreSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_create(
            organization=self.organization, **serializer.validated_data, actor=self.actor
        )
        return Response(StoreSerializer(store).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=StorePatchSerializer, responses=StoreSerializer)
    def partial_update(self, request, pk):
        store = self.get_object()
        serializer = StorePatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        store = store_update(store=store, **serializer.validated_data, actor=self.actor)
        return Response(StoreSerializer(store).data)
