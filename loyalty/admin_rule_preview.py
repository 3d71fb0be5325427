"""The preview of a programme's earning rules, on its admin page: what a purchase would earn now
(loyalty.services.purchases.purchase_simulate), written nowhere."""

from dataclasses import dataclass

from django import forms
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from crm.admin_services import add_service_error
from crm.errors import DomainError
from crm.models import Store
from crm.tenancy import viewed_object

from .models import Program
from .services.purchase_input import in_minor_units
from .services.purchases import Simulation, purchase_simulate

# The SKU of the previewed item when none is given: one that no SKU rule names.
NO_SKU = "(no sku)"
# What the service refuses of the previewed line is its amount (the form limits its texts as the
# service does).
LINE_FIELDS = {"lines": "amount"}


class RulePreviewForm(forms.Form):
    amount = forms.DecimalField(help_text="What the purchase cost, e.g. 1200.00.")
    currency = forms.CharField(max_length=3)
    category = forms.CharField(max_length=64, required=False)
    sku = forms.CharField(
        max_length=64, required=False, label="SKU", help_text="Blank: an item no SKU rule names."
    )
    tier = forms.ModelChoiceField(queryset=None, required=False, empty_label="No tier")
    store = forms.ModelChoiceField(queryset=None, required=False, empty_label="No store")
    occurred_at = forms.DateTimeField(
        required=False,
        label="Date",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Blank: now.",
    )

    def __init__(self, *args, program: Program, **kwargs):
        # Its own ids: the programme's form is on the same page.
        super().__init__(*args, auto_id="preview_%s", **kwargs)
        self.program = program
        self.fields["tier"].queryset = program.tiers.order_by("number")
        self.fields["store"].queryset = Store.objects.filter(
            organization_id=program.organization_id
        )
        self.initial.setdefault("currency", program.point_value_currency)

    def simulate(self) -> Simulation | None:
        """What the purchase would earn; None, with the service's refusal on its field."""
        data = self.cleaned_data
        line = {
            "sku": data["sku"] or NO_SKU,
            "category": data["category"],
            "quantity": 1,
            "unit_price": data["amount"],
        }
        try:
            return purchase_simulate(
                program=self.program,
                customer=None,
                tier=data["tier"],
                store_code=data["store"].code if data["store"] else None,
                occurred_at=data["occurred_at"],
                currency=data["currency"],
                lines=[line],
            )
        except DomainError as error:
            add_service_error(self, error, renamed=LINE_FIELDS)
            return None


def article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


@dataclass(frozen=True)
class RulePreview:
    sentence: str
    simulation: Simulation


def rule_preview(data: dict, simulation: Simulation) -> RulePreview:
    """E.g. "A purchase of 1,200.00 in category shoes by a Gold member earns 300 points:
    Base +120, Shoes double +120, Gold bonus +60." """
    words = [f"A purchase of {in_minor_units(data['amount'], data['currency']):,}"]
    if data["category"]:
        words.append(f"in category {data['category']}")
    if data["sku"]:
        words.append(f"of SKU {data['sku']}")
    if data["tier"]:
        words.append(f"by {article(data['tier'].name)} {data['tier'].name} member")
    if data["store"]:
        words.append(f"at {data['store'].name}")
    if data["occurred_at"]:
        words.append(f"on {timezone.localtime(data['occurred_at']):%Y-%m-%d %H:%M}")
    words.append(f"earns {simulation.points} points")
    given = [f"{c.rule_name} {c.points:+d}" for c in simulation.contributions if c.points]
    return RulePreview(
        " ".join(words) + (": " + ", ".join(given) if given else "") + ".", simulation
    )


class RulePreviewMixin:
    """Adds the preview page to the programme admin, and its form to the change page."""

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        view = self.admin_site.admin_view(self.rule_preview_view)
        return [
            path("<path:object_id>/preview/", view, name=f"{name}_preview"),
            *super().get_urls(),
        ]

    def rule_preview_view(self, request, object_id):
        program = viewed_object(self, request, object_id)
        form = RulePreviewForm(request.GET or None, program=program)
        preview = None
        if form.is_valid() and (simulation := form.simulate()) is not None:
            preview = rule_preview(form.cleaned_data, simulation)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": program,
            "title": f"Preview the earning rules of {program}",
            "preview_form": form,
            "preview": preview,
        }
        return TemplateResponse(request, "admin/loyalty/program/rule_preview.html", context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["rule_preview_form"] = RulePreviewForm(program=obj)
        return super().render_change_form(request, context, add, change, form_url, obj)
