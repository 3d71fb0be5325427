import factory
from django.contrib.auth.models import Permission

from crm.models import Organization, Store, User


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ["slug"]

    name = factory.Sequence(lambda n: f"Brand {n}")
    slug = factory.Sequence(lambda n: f"brand-{n}")
    default_region = "IN"


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    organization = factory.SubFactory(OrganizationFactory)
    code = factory.Sequence(lambda n: f"store-{n}.till")
    name = factory.Sequence(lambda n: f"Store {n}")


class StaffFactory(factory.django.DjangoModelFactory):
    """A staff member with every permission on the tenant-owned models."""

    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    organization = factory.SubFactory(OrganizationFactory)
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def all_permissions(self, create, extracted, **kwargs):
        if create:
            self.user_permissions.set(
                Permission.objects.filter(
                    content_type__app_label__in=["crm", "customers", "loyalty"]
                ).exclude(content_type__model="user")
            )
            self.save()
