"""The member-care console: the customer 360 page, the staff actions on it, merge and erasure.

Each action is a small form checked and carried out by the services, as the staff member; a
refusal (no permission, or a service's DomainError) comes back to the 360 page as a message.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.core.signing import BadSignature, TimestampSigner
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers.membership.update import customer_update
from loyalty.models import CouponSeries, Program, Reward, StampCard
from loyalty.services.card_links import card_links_send
from loyalty.services.coupons import coupon_issue
from loyalty.services.enrolments import enrollment_create
from loyalty.services.points import MAX_POINTS, points_award, points_deduct
from loyalty.services.stamps import MAX_STAMPS_PER_CALL, card_enroll, reward_redeem, stamps_add

from . import selectors
from .inputs import CustomerInput
from .membership.documents import customer_overview
from .membership.erasure import customer_erase
from .membership.merge import customer_merge, merge_plan
from .models import Customer, CustomerStatus, ExtendedFieldType, StatusLabel

# --- action forms ------------------------------------------------------------------------------


class CustomerForm(forms.Form):
    """A form whose choices are the customer's own rows (or their organization's)."""

    def __init__(self, *args, customer: Customer, **kwargs):
        super().__init__(*args, **kwargs)
        self.customer = customer


class CardChoice(forms.ModelChoiceField):
    def label_from_instance(self, card):
        return f"{card.stamp_card.name} · {card.code}"


class StampsForm(CustomerForm):
    card = CardChoice(queryset=None)
    stamps = forms.IntegerField(min_value=1, max_value=MAX_STAMPS_PER_CALL)
    reason = forms.CharField(max_length=255, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")


class RedeemForm(CustomerForm):
    card = CardChoice(queryset=None)
    reward = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")
        self.fields["reward"].queryset = Reward.objects.filter(
            stamp_card__customer_cards__customer=self.customer
        )


class PointsForm(CustomerForm):
    enrollment = forms.ModelChoiceField(queryset=None, label="Programme")
    direction = forms.ChoiceField(choices=[("award", "Award"), ("deduct", "Deduct")])
    points = forms.IntegerField(min_value=1, max_value=MAX_POINTS)
    reason = forms.CharField(max_length=255)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["enrollment"].queryset = self.customer.enrollments.select_related("program")
        self.fields["enrollment"].label_from_instance = lambda e: e.program.name


class EnrolForm(CustomerForm):
    program = forms.ModelChoiceField(queryset=None, label="Programme")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = Program.objects.filter(
            organization_id=self.customer.organization_id, active=True
        ).exclude(enrollments__customer=self.customer)


class CardForm(CustomerForm):
    stamp_card = forms.ModelChoiceField(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stamp_card"].queryset = StampCard.objects.filter(
            organization_id=self.customer.organization_id, active=True
        ).exclude(customer_cards__customer=self.customer)


class CouponForm(CustomerForm):
    series = forms.ModelChoiceField(queryset=None, label="Coupon")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["series"].queryset = CouponSeries.objects.filter(
            organization_id=self.customer.organization_id, active=True
        )


class LinksForm(CustomerForm):
    card = CardChoice(queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = self.customer.cards.select_related("stamp_card")


class StatusForm(CustomerForm):
    status = forms.ChoiceField(choices=CustomerStatus.choices)
    status_label = forms.ModelChoiceField(
        queryset=None, required=False, help_text="A label sets the status it stands for."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status_label"].queryset = StatusLabel.objects.filter(
            organization_id=self.customer.organization_id
        )
        self.initial.setdefault("status", self.customer.status)
        self.initial.setdefault("status_label", self.customer.status_label_id)


def extended_form_field(definition) -> forms.Field:
    """A form field that takes what the extended field definition allows."""
    kinds = {
        ExtendedFieldType.STRING: lambda: forms.CharField(),
        ExtendedFieldType.INTEGER: lambda: forms.IntegerField(),
        ExtendedFieldType.DECIMAL: lambda: forms.DecimalField(),
        ExtendedFieldType.BOOLEAN: lambda: forms.NullBooleanField(
            widget=forms.Select(choices=[("unknown", "—"), ("true", "Yes"), ("false", "No")])
        ),
        ExtendedFieldType.DATE: lambda: forms.DateField(
            widget=forms.DateInput(attrs={"type": "date"})
        ),
        ExtendedFieldType.DATETIME: lambda: forms.DateTimeField(
            widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
        ),
        ExtendedFieldType.ENUM: lambda: forms.ChoiceField(
            choices=[("", "—"), *((v, v) for v in definition.allowed_values)]
        ),
    }
    field = kinds[definition.data_type]()
    field.required = False
    field.label = definition.name.replace("_", " ")
    field.help_text = definition.get_data_type_display()
    return field


class FieldsForm(CustomerForm):
    """The extended fields, one typed field each, and the custom fields as `key = value` lines."""

    custom_fields = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="One per line: name = value. Remove a line to remove the field.",
    )

    def __init__(self, *args, definitions: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if definitions is None:
            definitions = selectors.extended_field_definitions(
                organization=self.customer.organization
            )
        current = self.customer.extended_fields
        for name, definition in sorted(definitions.items()):
            self.fields[f"ext_{name}"] = extended_form_field(definition)
            self.initial.setdefault(f"ext_{name}", current.get(name))
        self.definitions = definitions
        self.initial.setdefault(
            "custom_fields",
            "\n".join(f"{k} = {v}" for k, v in sorted(self.customer.custom_fields.items())),
        )

    def clean_custom_fields(self):
        fields = {}
        for number, line in enumerate(self.cleaned_data["custom_fields"].splitlines(), 1):
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                raise forms.ValidationError(f"Line {number}: write it as name = value.")
            fields[name.strip()] = value.strip()
        return fields

    def as_input(self) -> CustomerInput:
        extended = {
            name: self.cleaned_data.get(f"ext_{name}")
            for name in self.definitions
            if self.cleaned_data.get(f"ext_{name}") not in (None, "")
            or name in self.customer.extended_fields
        }
        extended = {k: (None if v == "" else v) for k, v in extended.items()}
        custom = self.cleaned_data["custom_fields"]
        removed = {key: None for key in self.customer.custom_fields if key not in custom}
        return CustomerInput(extended_fields=extended, custom_fields={**removed, **custom})


# --- what each action does ---------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    permission: str
    form: type[CustomerForm]
    run: Callable[[Customer, forms.Form, Actor], str]
    label: str


def _stamps(customer, form, actor):
    data = form.cleaned_data
    result = stamps_add(
        organization=customer.organization,
        card=data["card"],
        stamps=data["stamps"],
        reason=data["reason"],
        actor=actor,
    )
    return f"Added {data['stamps']} stamp(s): card {result.card.code} has {result.card.stamps}."


def _redeem(customer, form, actor):
    data = form.cleaned_data
    result = reward_redeem(
        organization=customer.organization, card=data["card"], reward=data["reward"], actor=actor
    )
    return f"Redeemed {data['reward'].name}: card {result.card.code} has {result.card.stamps}."


def _points(customer, form, actor):
    data = form.cleaned_data
    change = points_award if data["direction"] == "award" else points_deduct
    enrollment = data["enrollment"]
    change(
        organization=customer.organization,
        enrollment=enrollment,
        points=data["points"],
        reason=data["reason"],
        actor=actor,
    )
    verb = "Awarded" if data["direction"] == "award" else "Deducted"
    return f"{verb} {data['points']} points: the balance is {enrollment.points_balance}."


def _enrol(customer, form, actor):
    data = form.cleaned_data
    enrollment_create(
        organization=customer.organization, customer=customer, program=data["program"], actor=actor
    )
    return f"Enrolled in {data['program'].name}."


def _card(customer, form, actor):
    data = form.cleaned_data
    result = card_enroll(
        organization=customer.organization,
        customer=customer,
        stamp_card=data["stamp_card"],
        actor=actor,
    )
    return f"Issued {data['stamp_card'].name} card {result.card.code}."


def _coupon(customer, form, actor):
    data = form.cleaned_data
    result = coupon_issue(
        organization=customer.organization, series=data["series"], customer=customer, actor=actor
    )
    return f"Issued coupon {result.coupon.code}."


def _links(customer, form, actor):
    data = form.cleaned_data
    result = card_links_send(organization=customer.organization, card=data["card"], actor=actor)
    if result.warnings:
        raise DomainError("no_address", " ".join(result.warnings), field="card")
    sent = [d.address for d in result.deliveries if d.status == "sent"]
    failed = [d.address for d in result.deliveries if d.status != "sent"]
    message = f"Card links sent to {', '.join(sent) or 'nobody'}."
    return message + (f" Failed: {', '.join(failed)}." if failed else "")


def _status(customer, form, actor):
    data = form.cleaned_data
    label = data.get("status_label")
    given = {"status_label": label.name} if label else {"status": data["status"]}
    customer_update(customer=customer, data=CustomerInput(**given), actor=actor)
    return "Status changed."


def _fields(customer, form, actor):
    customer_update(customer=customer, data=form.as_input(), actor=actor)
    return "Fields saved."


ACTIONS = {
    "stamps": Action("customers.add_stamps", StampsForm, _stamps, "Add stamps"),
    "redeem": Action("customers.add_stamps", RedeemForm, _redeem, "Redeem a reward"),
    "points": Action("customers.adjust_points", PointsForm, _points, "Award or deduct points"),
    "enrol": Action("customers.change_customer", EnrolForm, _enrol, "Enrol in a programme"),
    "card": Action("customers.change_customer", CardForm, _card, "Issue a stamp card"),
    "coupon": Action("customers.change_customer", CouponForm, _coupon, "Issue a coupon"),
    "links": Action("customers.send_card_links", LinksForm, _links, "Resend card links"),
    "status": Action("customers.change_customer", StatusForm, _status, "Change status"),
    "fields": Action("customers.change_customer", FieldsForm, _fields, "Edit fields"),
}


def _error_text(error: DomainError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def _form_errors(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
        for name, errors in form.errors.items()
    )


# --- the views, mixed into CustomerAdmin -------------------------------------------------------


class ConsoleMixin:
    """Adds the 360 page, the actions, merge and erase to the customer admin."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/360/", wrap(self.overview_view), name=f"{name}_360"),
            path(
                "<path:object_id>/action/<slug:action>/",
                wrap(require_POST(self.action_view)),
                name=f"{name}_action",
            ),
            path("<path:object_id>/merge/", wrap(self.merge_view), name=f"{name}_merge"),
            path("<path:object_id>/erase/", wrap(self.erase_view), name=f"{name}_erase"),
            *super().get_urls(),
        ]

    def _customer(self, request, object_id) -> Customer:
        customer = self.get_object(request, object_id)
        if customer is None:
            raise Http404("No such customer.")
        if not self.has_view_or_change_permission(request, customer):
            raise PermissionDenied
        return customer

    def overview_url(self, customer: Customer) -> str:
        return reverse("admin:customers_customer_360", args=[customer.pk])

    def overview_view(self, request, object_id):
        customer = self._customer(request, object_id)
        if customer.merged_into_id is not None:
            messages.info(
                request,
                f"Customer {customer.public_id} was merged into {customer.merged_into.public_id}.",
            )
            return redirect(self.overview_url(customer.merged_into))
        overview = customer_overview(customer)
        user = request.user
        action_forms = [
            (name, action.label, action.form(customer=customer), user.has_perm(action.permission))
            for name, action in ACTIONS.items()
            if name != "fields"
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": str(customer),
            "subtitle": customer.public_id,
            "customer": customer,
            "overview": overview,
            "action_forms": action_forms,
            "fields_form": FieldsForm(customer=customer, definitions=overview.definitions),
            "can_merge": user.has_perm("customers.merge_customer"),
            "can_erase": user.has_perm("customers.erase_customer"),
            "can_change": self.has_change_permission(request, customer),
        }
        return TemplateResponse(request, "admin/customers/customer/overview.html", context)

    def action_view(self, request, object_id, action):
        customer = self._customer(request, object_id)
        chosen = ACTIONS.get(action)
        back = self.overview_url(customer)
        if chosen is None:
            raise Http404("No such action.")
        if not request.user.has_perm(chosen.permission):
            messages.error(request, f"{chosen.label}: you do not have permission to do this.")
            return HttpResponseRedirect(back)
        form = chosen.form(request.POST, customer=customer)
        if not form.is_valid():
            messages.error(request, f"{chosen.label}: {_form_errors(form)}")
            return HttpResponseRedirect(back)
        actor = Actor.staff(request.user)
        try:
            done = chosen.run(customer, form, actor)
        except DomainError as error:
            # The services refuse every change to a merged or erased customer.
            closed = error.code == ErrorCode.CUSTOMER_CLOSED
            text = "this customer was merged or erased." if closed else _error_text(error)
            messages.error(request, f"{chosen.label}: {text}")
        else:
            messages.success(request, done)
        return HttpResponseRedirect(back)

    # --- history ----------------------------------------------------------------------------

    HISTORY_PAGE = 100

    def history_view(self, request, object_id, extra_context=None):
        """The customer's whole change history, a page at a time (the 360 page shows the newest),
        in place of the admin's own log, which holds only the changes made in the admin."""
        customer = self._customer(request, object_id)
        if customer.merged_into_id is not None:
            # Its events moved to the survivor with everything else.
            return redirect("admin:customers_customer_history", customer.merged_into_id)
        page = Paginator(selectors.customer_events(customer), self.HISTORY_PAGE).get_page(
            request.GET.get("page")
        )
        events = list(page)
        if not page.has_next() and (batch := selectors.import_event(customer)):
            events = selectors.by_newest([*events, batch])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Change history of {customer}",
            "subtitle": customer.public_id,
            "customer": customer,
            "page": page,
            "events": events,
        }
        return TemplateResponse(request, "admin/customers/customer/history.html", context)

    # --- merge ------------------------------------------------------------------------------

    def merge_view(self, request, object_id):
        """Merge another customer into this one: find it, see what will happen, confirm."""
        survivor = self._customer(request, object_id)
        if not request.user.has_perm("customers.merge_customer"):
            raise PermissionDenied
        term = (request.POST.get("other") or request.GET.get("other") or "").strip()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Merge another customer into {survivor}",
            "survivor": survivor,
            "term": term,
        }
        if term:
            candidates = self.get_search_results(
                request, self.get_queryset(request).filter(merged_into__isnull=True), term
            )[0].exclude(pk=survivor.pk)[:10]
            context["candidates"] = list(candidates)
        merged_pk = request.POST.get("merged") or request.GET.get("merged")
        if merged_pk:
            merged = self.get_queryset(request).filter(pk=merged_pk).first()
            if merged is None:
                raise Http404("No such customer.")
            try:
                plan = merge_plan(survivor=survivor, merged=merged)
            except DomainError as error:
                messages.error(request, _error_text(error))
                return HttpResponseRedirect(request.path)
            context["plan"] = plan
            if request.method == "POST" and request.POST.get("confirm") == "yes":
                try:
                    customer_merge(
                        survivor=survivor, merged=merged, actor=Actor.staff(request.user)
                    )
                except DomainError as error:
                    messages.error(request, _error_text(error))
                    return HttpResponseRedirect(request.path)
                messages.success(request, f"Merged {merged.public_id} into {survivor.public_id}.")
                return HttpResponseRedirect(self.overview_url(survivor))
        return TemplateResponse(request, "admin/customers/customer/merge.html", context)

    # --- erase ------------------------------------------------------------------------------

    ERASE_SALT = "customers.erase"

    def erase_view(self, request, object_id):
        """Erase in two confirmations: type the customer's id, then confirm once more."""
        customer = self._customer(request, object_id)
        if not request.user.has_perm("customers.erase_customer"):
            raise PermissionDenied
        signer = TimestampSigner(salt=self.ERASE_SALT)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Erase {customer}",
            "customer": customer,
            "step": 1,
        }
        if request.method == "POST":
            token = request.POST.get("token")
            if token:
                try:
                    signed = signer.unsign(token, max_age=600)
                except BadSignature:
                    signed = None
                if signed != f"{customer.pk}:{request.user.pk}":
                    messages.error(request, "The confirmation expired: start again.")
                    return HttpResponseRedirect(request.path)
                try:
                    customer_erase(customer=customer, actor=Actor.staff(request.user))
                except DomainError as error:
                    messages.error(request, _error_text(error))
                    return HttpResponseRedirect(self.overview_url(customer))
                messages.success(request, f"The personal data of {customer.public_id} is erased.")
                return HttpResponseRedirect(self.overview_url(customer))
            if request.POST.get("public_id", "").strip() != customer.public_id:
                context["error"] = "Type the customer's id exactly as shown."
            else:
                context["step"] = 2
                context["token"] = signer.sign(f"{customer.pk}:{request.user.pk}")
        return TemplateResponse(request, "admin/customers/customer/erase.html", context)
