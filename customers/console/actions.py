"""The staff actions on the customer 360 page: the permission each needs, its form, and the
service call that carries it out as the staff member, returning what to tell them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django import forms

from crm.actors import Actor
from crm.errors import DomainError, ErrorCode
from customers.console.action_forms import (
    CardForm,
    CouponForm,
    CustomerForm,
    EnrolForm,
    FieldsForm,
    LinksForm,
    PointsForm,
    PointsRewardForm,
    RedeemForm,
    StampsForm,
    StatusForm,
)
from customers.inputs import CustomerInput
from customers.membership.update import customer_update
from customers.models import Customer
from loyalty.services.card_links import card_links_send
from loyalty.services.coupons import coupon_issue
from loyalty.services.enrolments import enrollment_create
from loyalty.services.points import points_award, points_deduct
from loyalty.services.purchases import transaction_record
from loyalty.services.rewards_catalogue import points_reward_redeem
from loyalty.services.stamps import card_enroll, reward_redeem, stamps_add


@dataclass(frozen=True)
class Action:
    permission: str
    form: type[CustomerForm]
    run: Callable[[Customer, forms.Form, Actor], str]
    label: str


def warning_messages(warnings) -> list[str]:
    return [warning.message for warning in warnings]


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


def _points_reward(customer, form, actor):
    reward = form.cleaned_data["reward"]
    result = points_reward_redeem(
        organization=customer.organization, customer=customer, reward=reward, actor=actor
    )
    return (
        f"Redeemed {reward.name} for {reward.points_cost} points: coupon "
        f"{result.redemption.coupon.code}; the balance is {result.balance}."
    )


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
    result = enrollment_create(
        organization=customer.organization, customer=customer, program=data["program"], actor=actor
    )
    return " ".join([f"Enrolled in {data['program'].name}.", *warning_messages(result.warnings)])


def _card(customer, form, actor):
    data = form.cleaned_data
    result = card_enroll(
        organization=customer.organization,
        customer=customer,
        stamp_card=data["stamp_card"],
        actor=actor,
    )
    issued = f"Issued {data['stamp_card'].name} card {result.card.code}."
    return " ".join([issued, *warning_messages(result.warnings)])


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


# Adding a purchase that did not reach the CRM is a supervisor's: it earns points by the rules.
PURCHASE_PERMISSION = "loyalty.add_transaction"


def purchase_add(customer: Customer, form: forms.Form, actor: Actor) -> str:
    """Records the purchase of the form (a PurchaseForm) as the staff member, through the
    purchase service; its external id recorded before, nothing more is recorded or earned."""
    data = form.cleaned_data
    result = transaction_record(
        organization=customer.organization,
        customer=customer,
        store_code=data["store"].code if data["store"] else None,
        external_id=data["external_id"],
        occurred_at=data["occurred_at"],
        currency=data["currency"],
        lines=data["lines"],
        channel=data["channel"],
        actor=actor,
    )
    purchase = result.transaction
    if purchase.customer_id != customer.pk:
        raise DomainError(
            ErrorCode.EXTERNAL_ID_TAKEN,
            f"Purchase {purchase.external_id} is another customer's.",
            field="external_id",
        )
    if not result.created:
        return f"Purchase {purchase.external_id} was recorded before: nothing more was earned."
    earned = sum(earning.points for earning in result.earnings)
    recorded = f"Recorded purchase {purchase.external_id}: {earned} points earned."
    return " ".join([recorded, *warning_messages(result.warnings)])


ACTIONS = {
    "stamps": Action("customers.add_stamps", StampsForm, _stamps, "Add stamps"),
    "redeem": Action("customers.add_stamps", RedeemForm, _redeem, "Redeem a reward"),
    # What a points reward costs is set by its configuration, so agents may redeem it.
    "points_reward": Action(
        "customers.change_customer", PointsRewardForm, _points_reward, "Redeem a points reward"
    ),
    "points": Action("customers.adjust_points", PointsForm, _points, "Award or deduct points"),
    "enrol": Action("customers.change_customer", EnrolForm, _enrol, "Enrol in a programme"),
    "card": Action("customers.change_customer", CardForm, _card, "Issue a stamp card"),
    "coupon": Action("customers.change_customer", CouponForm, _coupon, "Issue a coupon"),
    "links": Action("customers.send_card_links", LinksForm, _links, "Resend card links"),
    "status": Action("customers.change_customer", StatusForm, _status, "Change status"),
    "fields": Action("customers.change_customer", FieldsForm, _fields, "Edit fields"),
}
