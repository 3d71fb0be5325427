"""Admin pages of objects that services write (configuration: stores, API keys, programmes, …).

Their forms check input with the service that then saves it, so a rule holds in the admin exactly
as in the API; a DomainError lands on the form field it names. Saves and deletes, of the page's
object and of its inlines, call the services as the staff member, so each is audited.
"""

from django import forms
from django.db.models import Model
from django.forms.models import BaseInlineFormSet

from .actors import SYSTEM, Actor
from .errors import DomainError


def form_field_of(
    error: DomainError, form: forms.BaseForm, renamed: dict[str, str] | None = None
) -> str | None:
    """The form field a service error is about, or None for an error of the whole form."""
    if not error.field:
        return None
    name = error.field.split(".")[0].split("[")[0]
    name = (renamed or {}).get(name, name)
    return name if name in form.fields else None


def add_service_error(form: forms.BaseForm, error: DomainError, renamed=None) -> None:
    form.add_error(
        form_field_of(error, form, renamed), forms.ValidationError(error.message, code=error.code)
    )


def edited(data: dict, names: list[str]) -> dict:
    """The form's values of the fields the services take by those names."""
    return {name: data[name] for name in names}


def staff_actor(request) -> Actor:
    return Actor.staff(request.user, request_id=getattr(request, "request_id", ""))


def adopt(obj: Model, saved: Model) -> None:
    """Makes the admin's `obj` the row a service saved: the admin goes on with it (inlines,
    its log, the redirect)."""
    for model_field in type(saved)._meta.concrete_fields:
        setattr(obj, model_field.attname, getattr(saved, model_field.attname))
    obj._state.adding = False
    obj._state.db = saved._state.db


def unchanged(obj: Model) -> Model:
    """The row as stored: by the time the admin saves, its form has written the new values into
    `obj`, and the service must see the old ones to record the change."""
    return type(obj)._base_manager.get(pk=obj.pk)


class ServiceForm(forms.ModelForm):
    """Runs `check()` (a service's validation) once the fields are clean."""

    def check(self) -> None:
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("DELETE"):
            try:
                self.check()
            except DomainError as error:
                add_service_error(self, error)
        return cleaned


class LeftOutKeptMixin:
    """For a ServiceForm: each field of `kept_when_left_out` that a post leaves out keeps its
    value (on a new row, its default), so a post made before the field existed changes nothing
    it did not send."""

    kept_when_left_out: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.kept_when_left_out:
            if name in self.fields:  # not when the page is only viewed
                self.fields[name].required = False

    def clean(self):
        for name in self.kept_when_left_out:
            if self.add_prefix(name) not in self.data:
                self.cleaned_data[name] = getattr(self.instance, name)
        return super().clean()


class ServiceInlineForm(ServiceForm):
    def __init__(self, *args, parent: Model, **kwargs):
        super().__init__(*args, **kwargs)
        self.parent = parent


class SavedByServices:
    """What an admin or an inline form set implements: each write as one service call, made as
    the staff member."""

    def create(self, data: dict, actor: Actor) -> Model:
        raise NotImplementedError

    def update(self, obj: Model, data: dict, actor: Actor) -> Model:
        raise NotImplementedError

    def delete(self, obj: Model, actor: Actor) -> None:
        raise NotImplementedError


class ServiceInlineFormSet(SavedByServices, BaseInlineFormSet):
    """Hands each form its parent object; saves through `create`, `update` and `delete` as the
    staff member (`actor`, set by ServiceAdminMixin.save_formset)."""

    actor = SYSTEM

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "parent": self.instance}

    def save_new(self, form, commit=True):
        return self.create(form.cleaned_data, self.actor)

    def save_existing(self, form, obj, commit=True):
        return self.update(unchanged(obj), form.cleaned_data, self.actor)

    def delete_existing(self, obj, commit=True):
        self.delete(obj, self.actor)


class ServiceAdminMixin(SavedByServices):
    """Saves and deletes through the admin's `create`, `update` and `delete`, which call the
    services as the staff member; inlines of ServiceInlineFormSet save as that staff member too.
    """

    # What the services keep as it was created (the organization, a code, a type…): shown, not
    # edited, on the change form.
    fixed_after_create: tuple[str, ...] = ("organization",)

    def get_readonly_fields(self, request, obj=None):
        fixed = () if obj is None else self.fixed_after_create
        return [*super().get_readonly_fields(request, obj), *fixed]

    def save_model(self, request, obj, form, change):
        actor = staff_actor(request)
        saved = (
            self.update(unchanged(obj), form.cleaned_data, actor)
            if change
            else self.create(form.cleaned_data, actor)
        )
        adopt(obj, saved)

    def delete_model(self, request, obj):
        self.delete(obj, staff_actor(request))

    def delete_queryset(self, request, queryset):
        actor = staff_actor(request)
        for obj in queryset:
            self.delete(obj, actor)

    def save_formset(self, request, form, formset, change):
        formset.actor = staff_actor(request)
        super().save_formset(request, form, formset, change)
