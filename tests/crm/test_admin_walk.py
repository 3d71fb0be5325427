"""Walk every admin URL as a staff member of one organization and look for another's data.

The URLs come from the admin itself: `admin.site.get_urls()` and the `get_urls()` of every
registered ModelAdmin. Each pattern is walked by what it is (a list, an add page, a page of one
object, the autocomplete endpoint...) with the other organization's ids, search terms and filter
values; a pattern neither walked nor listed in NOT_APPLICABLE fails the walk, so a model or a
custom admin view added later is walked too, or named.

The other organization's data is its rows' primary keys (in list results, form choices, filter
choices, autocomplete results) and every distinctive string of its rows (the marker `tenant_data`
writes, public ids, card and coupon codes, key prefixes...) anywhere in an answer. Its rows must
also stay as they were, whatever was posted.
"""

import re
from dataclasses import dataclass, field
from html import escape
from html.parser import HTMLParser
from urllib.parse import quote, quote_plus, urlencode

import pytest
from django import forms
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.messages import get_messages
from django.db.models import Model
from django.urls import URLPattern, URLResolver, reverse

from crm.models import ApiKey, Store
from crm.tenancy import for_organization
from customers.console.actions import ACTIONS
from customers.models import Customer
from tests.crm.factories import StaffFactory
from tests.crm.test_admin_scoping import MARK, tenant_data
from tests.customers.factories import CustomerFactory

pytestmark = pytest.mark.django_db

OURS = "acmevisible"
# The other organization's name and slug: nothing of it may show either.
THEIR_NAME = "globex"

# Patterns of the admin that are not walked, and why. Every other one must be.
NOT_APPLICABLE = {
    "logout": "a POST that ends the walk's own session; it shows no organization's data",
}

# An id no row has: their objects must be answered for as this one is.
MISSING = 987654321

CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


# --- the data ----------------------------------------------------------------------------------


def data(org, other_org) -> None:
    """Both organizations' rows, a second customer of ours to merge, and a staff member of
    theirs."""
    tenant_data(org, OURS)
    CustomerFactory(organization=org, first_name=OURS, last_name="second")
    tenant_data(other_org, MARK)
    StaffFactory(username=f"{MARK}-agent", organization=other_org)


def tenant_models() -> list[type[Model]]:
    return [model for model in apps.get_models() if hasattr(model, "TENANT_PATH")]


def rows_of(organization_id: int, model: type[Model]):
    return for_organization(model._base_manager.order_by("pk"), organization_id)


def pks_of(organization_id: int) -> dict[type[Model], list[int]]:
    """The primary keys of the organization's rows, per tenant-owned model."""
    return {
        model: list(rows_of(organization_id, model).values_list("pk", flat=True))
        for model in tenant_models()
    }


def snapshot(organization_id: int | None = None) -> dict[str, list[dict]]:
    """Every row of every tenant-owned model (or of one organization's)."""
    return {
        model._meta.label: list(
            (
                model._base_manager.order_by("pk")
                if organization_id is None
                else rows_of(organization_id, model)
            ).values()
        )
        for model in tenant_models()
    }


def distinctive_strings(theirs: dict, ours: dict) -> dict[str, str]:
    """The strings of their rows that none of ours holds, lower-cased, with the model each came
    from: wherever one shows, it came from their rows."""

    def strings(pks):
        for model, keys in pks.items():
            for values in model._base_manager.filter(pk__in=keys).values():
                for model_field in model._meta.concrete_fields:
                    value = values[model_field.attname]
                    if (
                        isinstance(value, str)
                        and len(value) >= 8
                        and not model_field.choices
                        and model_field.name not in ("password", "key_hash")
                    ):
                        yield model, value.lower()

    common = {value for _, value in strings(ours)}
    found = {}
    for model, value in strings(theirs):
        if value not in common:
            found.setdefault(value, model._meta.label)
    return found


# --- the walker --------------------------------------------------------------------------------


def admin_patterns() -> list[tuple[str, str, type[Model] | None]]:
    """(key, route, model) of every URL pattern of the admin site; a ModelAdmin's are keyed
    `<app>.<model>:<route>`, the site's by name."""
    prefixes = {
        f"{model._meta.app_label}/{model._meta.model_name}/": model
        for model in admin.site._registry
    }
    patterns = []
    for pattern in admin.site.get_urls():
        route = str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            model = prefixes.get(route)
            assert model is not None, f"admin URLs of no registered model: {route}"
            for sub in admin.site._registry[model].get_urls():
                assert isinstance(sub, URLPattern), f"a nested resolver in {route}: {sub}"
                key = f"{model._meta.label_lower}:{sub.pattern}"
                patterns.append((key, str(sub.pattern), model))
        else:
            patterns.append((pattern.name or route, route, None))
    return patterns


@dataclass
class Walk:
    """Requests as one user, and finds the other organization's data in every answer."""

    client: object
    ours_id: int
    theirs_id: int
    problems: list[str] = field(default_factory=list)
    requests: int = 0
    # What of our own data the walk saw: it looks where data shows.
    saw_ours: set[str] = field(default_factory=set)

    def __post_init__(self):
        self.ours = pks_of(self.ours_id)
        self.theirs = pks_of(self.theirs_id)
        self.strings = distinctive_strings(self.theirs, self.ours)
        self.baseline = snapshot()
        self.their_baseline = snapshot(self.theirs_id)

    @property
    def root(self) -> str:
        return reverse("admin:index")

    def theirs_of(self, model) -> list[int]:
        return self.theirs.get(model, [])

    def ours_of(self, model) -> list[int]:
        return self.ours.get(model, [])

    def nobodys_of(self, model) -> list[int]:
        """Rows of no organization (global extended field definitions, groups)."""
        owned = {*self.theirs_of(model), *self.ours_of(model)}
        return [pk for pk in model._base_manager.values_list("pk", flat=True) if pk not in owned]

    def problem(self, where: str, what: str) -> None:
        self.problems.append(f"{where}: {what}")

    # requests

    def request(self, method, url, data=None, *, echo=(), follow=False):
        where = f"{method.upper()} {url}"
        try:
            response = getattr(self.client, method)(url, data or {}, follow=follow)
        except Exception as error:
            raise AssertionError(f"{where} {data or ''} raised {error!r}") from error
        self.requests += 1
        if response.status_code >= 500:
            self.problem(where, f"answered {response.status_code}")
        self.look(where, response, echo)
        return response

    def get(self, url, data=None, **kwargs):
        return self.request("get", url, data, **kwargs)

    def post(self, url, data=None, **kwargs):
        return self.request("post", url, data, **kwargs)

    def look(self, where, response, echo=()) -> None:
        """Their strings anywhere in the answer, but for the search terms we sent."""
        text = "\n".join(
            [
                *(url for url, _ in getattr(response, "redirect_chain", [])),
                response.get("Location", ""),
                response.content.decode(errors="replace"),
            ]
        ).lower()
        for term in echo:
            text = without_echoes(text, term.lower())
        if found := sorted(s for s in [*self.strings, THEIR_NAME] if s in text):
            self.problem(where, f"shows {found}")

    # nothing changed

    def rebase(self) -> None:
        """Take what is now as it was: after saving a form of ours."""
        self.baseline = snapshot()

    def unchanged(self, where: str, *, theirs_only: bool = False) -> None:
        """Nothing changed (or nothing of theirs) since the walk began, or since the last change
        reported."""
        if theirs_only:
            before, now = self.their_baseline, snapshot(self.theirs_id)
            self.their_baseline = now
        else:
            before, now = self.baseline, snapshot()
            self.baseline = now
        if changed := [label for label, rows in now.items() if rows != before[label]]:
            self.problem(where, f"changed rows of {changed}")
        if theirs_only:
            self.rebase()

    # what answers hold

    def foreign(self, model, pks) -> set:
        return set(pks) & set(self.theirs_of(model))

    def check_results(self, where, model, response, *, unfiltered=False) -> None:
        pks = [obj.pk for obj in response.context["cl"].result_list]
        if leaked := self.foreign(model, pks):
            self.problem(where, f"lists their {model.__name__} {sorted(leaked)}")
        if unfiltered and self.ours_of(model):
            if set(pks) & set(self.ours_of(model)):
                self.saw_ours.add(f"{model._meta.label}:list")
            else:
                self.problem(where, f"lists none of our {model.__name__}: the walk sees nothing")

    def check_choices(self, where, response) -> None:
        """No choice field of the page's forms offers one of their rows: neither its queryset nor
        the options of the <select> the page shows for it."""
        shown = PageSelects.of(response)
        for form in forms_of(response):
            for name, form_field in form.fields.items():
                if not isinstance(form_field, forms.ModelChoiceField) or own_key(form, name):
                    continue
                model = form_field.queryset.model
                offered = set(form_field.queryset.values_list("pk", flat=True))
                options = {int(v) for v in shown.get(form.add_prefix(name), []) if v.isdigit()}
                if leaked := self.foreign(model, offered | options):
                    self.problem(where, f"field {name} offers their {model.__name__} {leaked}")
                if options & set(self.ours_of(model)):
                    self.saw_ours.add(f"choice:{model._meta.label}")

    def post_their_choices(self, url, response) -> None:
        """Each choice field of the page's form, sent one of their rows, is refused."""
        form = response.context["adminform"].form
        for name, form_field in form.fields.items():
            if not isinstance(form_field, forms.ModelChoiceField) or form_field.disabled:
                continue
            for pk in self.theirs_of(form_field.queryset.model)[:1]:
                answer = self.post(url, {name: pk})
                where = f"POST {url} {name}={pk}"
                if answer.status_code != 200 or "adminform" not in answer.context:
                    self.problem(where, f"was not refused ({answer.status_code})")
                    continue
                errors = answer.context["adminform"].form.errors.as_data().get(name, [])
                if "invalid_choice" not in [error.code for error in errors]:
                    self.problem(where, f"was not refused as a choice ({errors})")
        self.unchanged(f"POST {url} with their rows as choices")

    def post_their_rows_in_inlines(self, url, response) -> None:
        """Our form as a browser sends it is saved; with one of their rows' ids in place of an
        inline row's (marked for deletion), nothing of theirs changes."""
        context = response.context
        formsets = [
            inline.formset
            for inline in context.get("inline_admin_formsets") or []
            if inline.formset.initial_forms and inline.has_change_permission
        ]
        if not formsets:
            return
        sent = BrowserForm.fields_of(response, f"{context['opts'].model_name}_form")
        answer = self.post(url, sent)
        if answer.status_code != 302:
            errors = answer.context and answer.context.get("errors")
            self.problem(f"POST {url}", f"our own form, unchanged, was not saved: {errors}")
        self.rebase()
        for formset in formsets:
            key = f"{formset.prefix}-0-{formset.model._meta.pk.name}"
            for pk in self.theirs_of(formset.model)[:1]:
                tampered = {**sent, key: [pk], f"{formset.prefix}-0-DELETE": ["on"]}
                self.post(url, tampered)
                self.unchanged(f"POST {url} {key}={pk}", theirs_only=True)
                self.saw_ours.add(f"inline:{formset.model._meta.label}")


def forms_of(response) -> list[forms.BaseForm]:
    """The forms of a page: the admin form with its inline forms, a list's editable rows, the
    customer 360 page's action and purchase forms, a programme's rule preview form."""
    context = response.context
    found = []
    if context is None:
        return found
    if "adminform" in context:
        found.append(context["adminform"].form)
    for inline in context.get("inline_admin_formsets") or []:
        found.extend([*inline.formset.forms, inline.formset.empty_form])
    if "cl" in context and getattr(context["cl"], "formset", None):
        found.extend(context["cl"].formset.forms)
    found.extend(form for _, _, form, _ in context.get("action_forms") or [])
    for name in ("fields_form", "purchase_form", "preview_form", "rule_preview_form"):
        if context.get(name) is not None:
            found.append(context[name])
    return found


def own_key(form, name) -> bool:
    """The hidden primary key of an inline row: it holds the row's own id, and its formset
    ignores an id that is not one of its rows (post_their_rows_in_inlines shows it)."""
    meta = getattr(form, "_meta", None)
    return (
        meta is not None
        and name == meta.model._meta.pk.name
        and isinstance(form.fields[name].widget, forms.HiddenInput)
    )


def without_echoes(text: str, term: str) -> str:
    """`text` without the places a page repeats the search term it was asked for."""
    for echo in {
        f'value="{escape(term)}"',
        f"q={quote_plus(term)}",
        f"q%3d{quote(quote_plus(term), safe='')}",
        f"other={quote_plus(term)}",
        f"“{escape(term)}”",
    }:
        text = text.replace(echo.lower(), "")
    return text


class BrowserForm(HTMLParser):
    """The fields a browser submits from the form with `form_id`."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, list[str]] = {}
        self.select = self.textarea = None

    @classmethod
    def fields_of(cls, response, form_id) -> dict[str, list[str]]:
        parser = cls(form_id)
        parser.feed(response.content.decode())
        return parser.fields

    def add(self, name, value):
        self.fields.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.inside = attrs.get("id") == self.form_id
        elif not self.inside:
            return
        elif tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self.add(attrs["name"], attrs.get("value", "on"))
            elif kind not in ("submit", "button", "reset", "image", "file"):
                self.add(attrs["name"], attrs.get("value") or "")
        elif tag == "select" and attrs.get("name"):
            self.select = {"name": attrs["name"], "first": None, "chosen": []}
        elif tag == "option" and self.select is not None:
            value = attrs.get("value") or ""
            if self.select["first"] is None:
                self.select["first"] = value
            if "selected" in attrs:
                self.select["chosen"].append(value)
        elif tag == "textarea" and attrs.get("name"):
            self.textarea = [attrs["name"], ""]

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self.select is not None:
            select, self.select = self.select, None
            for value in select["chosen"] or [select["first"] or ""]:
                self.add(select["name"], value)
        elif tag == "textarea" and self.textarea is not None:
            name, value = self.textarea
            self.textarea = None
            self.add(name, value.removeprefix("\n"))

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data


class PageSelects(HTMLParser):
    """The option values of every <select> of a page, by the select's name."""

    def __init__(self):
        super().__init__()
        self.selects: dict[str, list[str]] = {}
        self.name = None

    @classmethod
    def of(cls, response) -> dict[str, list[str]]:
        parser = cls()
        parser.feed(response.content.decode())
        return parser.selects

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.name = attrs.get("name")
            self.selects.setdefault(self.name, [])
        elif tag == "option" and self.name is not None:
            self.selects[self.name].append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "select":
            self.name = None


def url_of(prefix: str, route: str, value) -> str:
    return prefix + CONVERTER.sub(quote(str(value)), route)


def first_status(response) -> int:
    return response.redirect_chain[0][1] if response.redirect_chain else response.status_code


# --- walkers, by kind of pattern ---------------------------------------------------------------


def walk_list(walk: Walk, model, url: str, *, thorough: bool = True):
    """A list: plain, searched for their strings, with every filter choice (and facets), with
    their rows' ids as filter values; not `thorough`: plain and searched for the marker.
    Returns the plain list's answer."""
    response = walk.get(url)
    if response.status_code != 200:
        if response.status_code != 403:
            walk.problem(f"GET {url}", f"answered {response.status_code}")
        return None
    walk.check_results(f"GET {url}", model, response, unfiltered=True)
    walk.check_choices(f"GET {url}", response)
    cl = response.context["cl"]

    if cl.search_fields:
        own = [s for s, label in walk.strings.items() if label == model._meta.label]
        for term in [MARK, *own] if thorough else [MARK]:
            found = walk.get(f"{url}?{urlencode({'q': term})}", echo=[term])
            walk.check_results(f"GET {url}?q={term}", model, found)

    if not thorough:
        return response
    for query in (
        "?_facets=True",
        *(f"?{name}={pk}" for name, pk in their_filter_values(walk, model)),
    ):
        filtered = walk.get(url + query, follow=True)
        if filtered.status_code == 200 and "cl" in filtered.context:
            walk.check_results(f"GET {url}{query}", model, filtered)
    for spec in cl.filter_specs:
        related = getattr(getattr(spec, "field", None), "related_model", None)
        choices = getattr(spec, "lookup_choices", None) if related is not None else None
        if choices and (leaked := walk.foreign(related, [pk for pk, _ in choices])):
            walk.problem(f"GET {url}: filter {spec.title}", f"offers their {leaked}")
        for choice in spec.choices(cl):
            filtered = walk.get(url + choice["query_string"])
            if filtered.status_code == 200:
                walk.check_results(f"GET {url}{choice['query_string']}", model, filtered)
    return response


def their_filter_values(walk: Walk, model):
    """Their rows' ids as values of the model's foreign keys, whether or not a filter offers
    them."""
    for model_field in model._meta.concrete_fields:
        for pk in walk.theirs_of(model_field.related_model) if model_field.is_relation else []:
            yield f"{model_field.name}__id__exact", pk


def walk_actions(walk: Walk, model, url: str, response) -> None:
    """Every action of a list, on their rows and on rows of nobody's; delete's confirmation page
    of "select all"."""
    action_form = response.context.get("action_form")
    if action_form is None:
        return
    selected = [*walk.theirs_of(model), *walk.nobodys_of(model)]
    for name, _ in action_form.fields["action"].choices:
        if not name:
            continue
        chosen = {"action": name, "_selected_action": selected}
        walk.post(url, {**chosen, "index": 0}, follow=True)
        walk.post(url, {**chosen, "post": "yes"}, follow=True)
        if name == "delete_selected":
            walk.post(url, {**chosen, "index": 0, "select_across": 1})
        walk.unchanged(f"POST {url} action {name} on rows not ours")


def walk_changelist(walk: Walk, model, prefix: str, route: str) -> None:
    response = walk_list(walk, model, prefix)
    if response is not None:
        walk_actions(walk, model, prefix, response)


def walk_add(walk: Walk, model, prefix: str, route: str) -> None:
    """An add page: plain, and prefilled (as a link may prefill it) with their rows' ids."""
    url = prefix + route
    response = walk.get(url)
    if response.status_code == 200:
        walk.check_choices(f"GET {url}", response)
        walk.post_their_choices(url, response)
        prefilled = {
            model_field.name: pk
            for model_field in model._meta.concrete_fields
            if model_field.is_relation
            for pk in walk.theirs_of(model_field.related_model)[:1]
        }
        if prefilled:
            walk.check_choices(f"GET {url} {prefilled}", walk.get(url, prefilled))
    elif response.status_code != 403:
        walk.problem(f"GET {url}", f"answered {response.status_code}")


def walk_object(walk: Walk, model, prefix: str, route: str) -> None:
    """A page of one object: theirs is refused; ours shows nothing of theirs, and its forms take
    none of it."""
    refuse_theirs(walk, model, prefix, route)
    open_ours(walk, model, prefix, route)


def refuse_theirs(walk: Walk, model, prefix: str, route: str) -> None:
    """Their object's page, asked and posted to: 404, 403, or a redirect (to the index, or to a
    page that shows nothing of theirs); their rows stay as they were.

    The rows of a model no organization owns (groups) are nobody's: staff open none of them.
    """
    if hasattr(model, "TENANT_PATH"):
        refused = walk.theirs_of(model)
    else:
        refused = list(model._base_manager.values_list("pk", flat=True)[:1]) or [0]
    missing = walk.client.get(url_of(prefix, route, MISSING))
    for pk in refused:
        url = url_of(prefix, route, pk)
        for method, sent in (("get", None), ("post", {"post": "yes"})):
            response = walk.request(method, url, sent)
            if response.status_code not in (302, 403, 404):
                walk.problem(
                    f"{method.upper()} {url}", f"opened their object ({response.status_code})"
                )
            elif response.status_code == 302 and response["Location"] != walk.root:
                walk.get(response["Location"], follow=True)
            if method == "get" and answer_of(response, pk) != answer_of(missing, MISSING):
                walk.problem(f"GET {url}", "answers for their object unlike for a missing one")
        walk.unchanged(f"POST {url}")


def answer_of(response, pk) -> tuple:
    """What an answer tells of the object `pk`: its status and where it redirects."""
    return response.status_code, response.get("Location", "").replace(f"/{pk}/", "/<id>/")


def open_ours(walk: Walk, model, prefix: str, route: str) -> None:
    """Our object's page opens (or is forbidden) and shows nothing of theirs; its form refuses
    their rows as choices, and their rows' ids in its inlines."""
    for pk in walk.ours_of(model)[:1]:
        url = url_of(prefix, route, pk)
        response = walk.get(url, follow=True)
        if response.status_code not in (200, 403) or response.redirect_chain[-1:] == [
            (walk.root, 302)
        ]:
            # Unless none of the model is ours to see (staff accounts are superusers' to manage).
            if walk.client.get(prefix).status_code != 403:
                walk.problem(f"GET {url}", f"did not open our object ({first_status(response)})")
            continue
        walk.saw_ours.add(f"{model._meta.label}:{route}")
        if response.redirect_chain or response.status_code != 200:
            continue
        walk.check_choices(f"GET {url}", response)
        if "adminform" in response.context:
            walk.post_their_choices(url, response)
            walk.post_their_rows_in_inlines(url, response)


# --- the customer console's views --------------------------------------------------------------


def customers() -> tuple[Customer, Customer]:
    """Our customer and theirs, as `tenant_data` made them."""
    return (
        Customer.objects.get(email=f"{OURS}@example.com"),
        Customer.objects.get(email=f"{MARK}@example.com"),
    )


def action_data(action, customer, rows: dict) -> dict:
    """Data for the form of a 360 page action, its choices taken from `rows` (ours or theirs)."""
    sent = {}
    for name, form_field in action.form(customer=customer).fields.items():
        if isinstance(form_field, forms.ModelChoiceField):
            sent[name] = next(iter(rows.get(form_field.queryset.model, [])), "")
        elif isinstance(form_field, forms.ChoiceField):
            sent[name] = next((value for value, _ in form_field.choices if value), "")
        elif isinstance(form_field, forms.IntegerField):
            sent[name] = 1
        else:
            sent[name] = "walk"
    return sent


def walk_customer_actions(walk: Walk, model, prefix: str, route: str) -> None:
    """Every action of the 360 page: on their customer; on ours with their rows as choices."""
    ours, theirs = customers()
    for name, action in ACTIONS.items():
        url = prefix + f"{theirs.pk}/action/{name}/"
        response = walk.post(url, action_data(action, theirs, walk.theirs))
        if response.status_code not in (403, 404):
            walk.problem(f"POST {url}", f"acted on their customer ({response.status_code})")
        url = prefix + f"{ours.pk}/action/{name}/"
        mine = action_data(action, ours, walk.ours)
        if action.form(mine, customer=ours).is_valid():
            # With ours, the form is valid: their row alone is what is refused below.
            walk.saw_ours.add(f"action:{name}")
        for choice, form_field in action.form(customer=ours).fields.items():
            if not isinstance(form_field, forms.ModelChoiceField):
                continue
            for pk in walk.theirs_of(form_field.queryset.model):
                response = walk.post(url, {**mine, choice: pk})
                said = " ".join(str(m) for m in get_messages(response.wsgi_request))
                if f"{choice}: Select a valid choice" not in said:
                    walk.problem(f"POST {url} {choice}={pk}", f"was not refused: {said!r}")
        walk.unchanged(f"POST {prefix}<id>/action/{name}/")


def walk_customer_purchase(walk: Walk, model, prefix: str, route: str) -> None:
    """A purchase for their customer; for ours, at their store."""
    ours, theirs = customers()
    sent = {
        "external_id": "walk-purchase",
        "occurred_at": "2026-06-15T12:00",
        "channel": "INSTORE",
        "currency": "EUR",
        "lines": "WALK-1, , 1, 5.00",
    }
    url = url_of(prefix, route, theirs.pk)
    if (status := walk.post(url, sent).status_code) != 404:
        walk.problem(f"POST {url}", f"took a purchase of their customer ({status})")
    url = url_of(prefix, route, ours.pk)
    for pk in walk.theirs_of(Store):
        response = walk.post(url, {**sent, "store": pk})
        errors = response.context and response.context["purchase_form"].errors.as_data()
        if "invalid_choice" not in [error.code for error in (errors or {}).get("store", [])]:
            walk.problem(f"POST {url} store={pk}", f"was not refused as a choice ({errors})")
        walk.saw_ours.add("purchase:store")
    walk.unchanged(f"POST {url}")


def walk_customer_merge(walk: Walk, model, prefix: str, route: str) -> None:
    """Our customer's merge page: their customer can be neither found nor merged."""
    ours, theirs = customers()
    url = url_of(prefix, route, ours.pk)
    for sent in ({"merged": theirs.pk}, {"merged": theirs.pk, "confirm": "yes"}):
        for method in ("get", "post"):
            response = walk.request(method, url, sent)
            if response.status_code != 404:
                walk.problem(f"{method.upper()} {url} {sent}", "took their customer")
    walk.unchanged(f"POST {url} merging their customer")
    for term in (MARK, theirs.public_id, OURS):
        response = walk.get(f"{url}?{urlencode({'other': term})}", echo=[term])
        candidates = [customer.pk for customer in response.context.get("candidates", [])]
        if leaked := walk.foreign(Customer, candidates):
            walk.problem(f"GET {url}?other={term}", f"offers their customers {leaked}")
        if term == OURS and candidates:
            walk.saw_ours.add("merge:candidates")


def walk_customer_overview(walk: Walk, model, prefix: str, route: str) -> None:
    """Our customer's 360 page: its change history holds our events only."""
    ours, _ = customers()
    url = url_of(prefix, route, ours.pk)
    history = walk.get(url).context["overview"].history
    if foreign := [event for event in history if event.organization_id != walk.ours_id]:
        walk.problem(f"GET {url}", f"the change history shows their events {foreign}")
    if history:
        walk.saw_ours.add("360:history")


def walk_customer_erase(walk: Walk, model, prefix: str, route: str) -> None:
    """Their customer's erase page, sent their customer's id as its first confirmation asks."""
    _, theirs = customers()
    url = url_of(prefix, route, theirs.pk)
    if (status := walk.post(url, {"public_id": theirs.public_id}).status_code) != 404:
        walk.problem(f"POST {url}", f"answered {status}")
    walk.unchanged(f"POST {url}")


# Patterns of a ModelAdmin with more than an object id, and further checks of some.
CUSTOM_VIEWS = {
    "customers.customer:<path:object_id>/action/<slug:action>/": walk_customer_actions,
    "customers.customer:<path:object_id>/purchase/": walk_customer_purchase,
    "customers.customer:<path:object_id>/merge/": walk_customer_merge,
    "customers.customer:<path:object_id>/360/": walk_customer_overview,
    "customers.customer:<path:object_id>/erase/": walk_customer_erase,
}


# --- the site's own patterns -------------------------------------------------------------------


def walk_autocomplete(walk: Walk, route: str) -> None:
    """Every relation of every model, asked for its choices as an autocomplete widget would
    (the endpoint serves any relation to a registered model with search fields, listed in
    `autocomplete_fields` or not; no admin here lists any). An admin with search fields that no
    relation leads to is asked too, by its own model and a field of it: refused."""
    url = walk.root + route
    asked = set()
    for model in apps.get_models():
        for relation in model._meta.get_fields():
            target = relation.related_model
            if relation.auto_created or target not in admin.site._registry:
                continue
            asked.add(target)
            for term in ("", MARK):
                query = urlencode(
                    {
                        "app_label": model._meta.app_label,
                        "model_name": model._meta.model_name,
                        "field_name": relation.name,
                        "term": term,
                    }
                )
                response = walk.get(f"{url}?{query}")
                if response.status_code in (403, 404):
                    continue
                if response.status_code != 200:
                    walk.problem(f"GET {url}?{query}", f"answered {response.status_code}")
                    continue
                pks = [int(result["id"]) for result in response.json()["results"]]
                if leaked := walk.foreign(target, pks):
                    walk.problem(f"GET {url}?{query}", f"offers their {target.__name__} {leaked}")
                if set(pks) & set(walk.ours_of(target)):
                    walk.saw_ours.add(f"autocomplete:{target._meta.label}")
    for model, model_admin in admin.site._registry.items():
        if model in asked or not model_admin.search_fields:
            continue
        query = urlencode(
            {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": model_admin.search_fields[0],
                "term": MARK,
            }
        )
        if (status := walk.get(f"{url}?{query}").status_code) not in (403, 404):
            walk.problem(f"GET {url}?{query}", f"answered {status}")


def walk_view_on_site(walk: Walk, route: str) -> None:
    """The "view on site" redirect, for a row of theirs of every model: no model has a page."""
    for model, pks in walk.theirs.items():
        content_type = ContentType.objects.get_for_model(model)
        for pk in pks[:1]:
            url = walk.root + route.replace("<path:content_type_id>", str(content_type.pk))
            url = url.replace("<path:object_id>", str(pk))
            if (status := first_status(walk.get(url, follow=True))) != 404:
                walk.problem(f"GET {url}", f"answered {status}")


def walk_app_lists(walk: Walk, route: str) -> None:
    for app_label in sorted({model._meta.app_label for model in admin.site._registry}):
        walk.get(reverse("admin:app_list", args=[app_label]))


def walk_catch_all(walk: Walk, route: str) -> None:
    """Paths of no view: their customer's pages without the trailing slash, and nonsense."""
    _, theirs = customers()
    for path in (f"customers/customer/{theirs.pk}", f"customers/customer/{theirs.pk}/360", "x/"):
        if (status := walk.get(walk.root + path, follow=True).status_code) not in (200, 404):
            walk.problem(f"GET {walk.root}{path}", f"answered {status}")


def walk_page(walk: Walk, route: str) -> None:
    walk.get(walk.root + route, follow=True)


SITE_VIEWS = {
    "index": walk_page,
    "login": walk_page,
    "password_change": walk_page,
    "password_change_done": walk_page,
    "jsi18n": walk_page,
    "autocomplete": walk_autocomplete,
    "view_on_site": walk_view_on_site,
    "app_list": walk_app_lists,
    "(?P<url>.*)$": walk_catch_all,
}


def walk_admin(walk: Walk) -> dict[str, int]:
    """Walk every pattern of the admin; the number of requests made for each."""
    walked = {}
    for key, route, model in admin_patterns():
        if key in NOT_APPLICABLE:
            continue
        before = walk.requests
        if model is None:
            if key in SITE_VIEWS:
                SITE_VIEWS[key](walk, route)
        else:
            prefix = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            if route == "":
                walk_changelist(walk, model, prefix, route)
            elif route == "add/":
                walk_add(walk, model, prefix, route)
            elif len(CONVERTER.findall(route)) == 1:
                walk_object(walk, model, prefix, route)
            if key in CUSTOM_VIEWS:
                CUSTOM_VIEWS[key](walk, model, prefix, route)
        walked[key] = walk.requests - before
    return walked


# --- the tests ---------------------------------------------------------------------------------


def test_staff_see_nothing_of_another_organization_on_any_admin_url(staff_client, org, other_org):
    data(org, other_org)
    walk = Walk(staff_client, org.pk, other_org.pk)
    assert {MARK, f"{MARK}@example.com"} <= set(walk.strings)

    walked = walk_admin(walk)
    walk.unchanged("the walk", theirs_only=True)

    patterns = [key for key, _, _ in admin_patterns()]
    not_walked = [key for key in patterns if not walked.get(key) and key not in NOT_APPLICABLE]
    assert not not_walked, f"admin URL patterns neither walked nor NOT_APPLICABLE: {not_walked}"
    assert set(NOT_APPLICABLE) <= set(patterns), "NOT_APPLICABLE names patterns that are gone"
    assert not walk.problems, "\n".join(walk.problems)
    # The walk looked where data shows: our own rows showed there. (Staff accounts are
    # superusers' to manage: staff see no list of them.)
    registered = [m for m in admin.site._registry if hasattr(m, "TENANT_PATH")]
    lists = {f"{m._meta.label}:list" for m in registered if m._meta.model_name != "user"}
    assert lists <= walk.saw_ours
    assert {
        "customers.Customer:<path:object_id>/change/",
        "customers.Customer:<path:object_id>/history/",
        "360:history",
        "merge:candidates",
        "autocomplete:customers.Customer",
        "choice:crm.Store",
        "choice:loyalty.CustomerCard",
        "inline:customers.Identifier",
        "action:stamps",
        "action:redeem",
        "action:status",
        "purchase:store",
        "choice:loyalty.Tier",
    } <= walk.saw_ours


def test_the_walk_sees_another_organizations_data_where_it_may_be_seen(
    superuser_client, org, other_org
):
    """Superusers see every organization: the same walk, made as one, reports their rows.

    Else the walk above could pass without looking.
    """
    data(org, other_org)
    walk = Walk(superuser_client, org.pk, other_org.pk)
    registered = [m for m in admin.site._registry if walk.theirs_of(m)]
    for model in registered:
        prefix = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        walk_list(walk, model, prefix, thorough=False)
        refuse_theirs(walk, model, prefix, "<path:object_id>/change/")
        walk_add(walk, model, prefix, "add/")
    walk_autocomplete(walk, "autocomplete/")
    keys = reverse("admin:crm_apikey_changelist")
    walk_actions(walk, ApiKey, keys, walk.get(keys))

    reported = "\n".join(walk.problems)
    for model in registered:
        assert f"lists their {model.__name__} " in reported, model
        for pk in walk.theirs_of(model):
            assert f"/{pk}/change/: opened their object (200)" in reported, model
    assert f"shows ['{THEIR_NAME}', '{MARK}'" in reported
    assert "field organization offers their Organization" in reported
    assert "offers their Customer" in reported
    # A revocation is audited: the key and the audit trail change.
    assert "changed rows of ['crm.ApiKey', 'crm.ConfigurationChange']" in reported
