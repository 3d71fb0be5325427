"""The member-care console's pages, mixed into the customer admin: the customer 360 page and its
actions, the whole change history, merge and erasure.

A refusal (no permission, or a service's DomainError) comes back to the 360 page as a message.
"""

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
from crm.tenancy import viewed_object
from customers import selectors
from customers.console.action_forms import FieldsForm, PurchaseForm
from customers.console.actions import ACTIONS, PURCHASE_PERMISSION, purchase_add
from customers.membership.documents import customer_overview
from customers.membership.erasure import customer_erase
from customers.membership.merge import customer_merge, merge_plan
from customers.models import Customer


def _error_text(error: DomainError) -> str:
    return f"{error.field}: {error.message}" if error.field else error.message


def _form_errors(form: forms.Form) -> str:
    return "; ".join(
        f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
        for name, errors in form.errors.items()
    )


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
            path("<path:object_id>/purchase/", wrap(self.purchase_view), name=f"{name}_purchase"),
            path("<path:object_id>/merge/", wrap(self.merge_view), name=f"{name}_merge"),
            path("<path:object_id>/erase/", wrap(self.erase_view), name=f"{name}_erase"),
            *super().get_urls(),
        ]

    def _customer(self, request, object_id) -> Customer:
        return viewed_object(self, request, object_id)

    def overview_url(self, customer: Customer) -> str:
        return reverse("admin:customers_customer_360", args=[customer.pk])

    def overview_view(self, request, object_id, purchase_form: PurchaseForm | None = None):
        """The 360 page; `purchase_form`, a purchase the services refused, with its errors."""
        customer = self._customer(request, object_id)
        if customer.merged_into_id is not None:
            messages.info(
                request,
                f"Customer {customer.public_id} was merged into {customer.merged_into.public_id}.",
            )
            return redirect(self.overview_url(customer.merged_into))
        overview = customer_overview(customer)
        user = request.user
        if purchase_form is None and user.has_perm(PURCHASE_PERMISSION):
            # In the currency of the customer's latest purchase, if any.
            latest = overview.purchases[0].currency if overview.purchases else ""
            purchase_form = PurchaseForm(customer=customer, initial={"currency": latest})
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
            "purchase_form": purchase_form,
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

    def purchase_view(self, request, object_id):
        """Adds a purchase that did not reach the CRM (a supervisor's): refused, the 360 page
        shows the form again with each error on its field."""
        customer = self._customer(request, object_id)
        if not request.user.has_perm(PURCHASE_PERMISSION):
            raise PermissionDenied
        back = self.overview_url(customer)
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = PurchaseForm(request.POST, customer=customer)
        if form.is_valid():
            try:
                done = purchase_add(customer, form, Actor.staff(request.user))
            except DomainError as error:
                if error.code == ErrorCode.CUSTOMER_CLOSED:
                    messages.error(request, "Add a purchase: this customer was merged or erased.")
                    return HttpResponseRedirect(back)
                form.add_service_error(error)
            else:
                messages.success(request, done)
                return HttpResponseRedirect(back + "#purchases")
        return self.overview_view(request, object_id, purchase_form=form)

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
