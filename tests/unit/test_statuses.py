"""The status table is complete: every status says how it is described, titled, emailed and
grouped, and what it names exists (email templates, read-model columns, final statuses)."""

import pytest

from activities.email_templates import TEMPLATES
from db import tables as t
from domain.order import FINAL_STATUSES, OrderStatus, PaymentMethod, flow_for
from domain.refunds import REFUND_EMAIL
from domain.statuses import ON_CREATION, STATUSES, StatusGroup, describe
from domain.timers import TIMER_RULES, TimerAction


@pytest.mark.parametrize("status", list(OrderStatus))
def test_every_status_has_a_complete_row(status):
    row = STATUSES[status]
    assert row.description.strip() and row.title.strip()
    assert isinstance(row.group, StatusGroup)
    if row.email is not None:
        assert row.email.template in TEMPLATES
        assert row.email.audience
    if row.stamps is not None:
        assert row.stamps in t.orders.c


def test_the_table_has_no_row_for_a_status_that_does_not_exist():
    assert set(STATUSES) == set(OrderStatus)


def test_the_final_group_is_exactly_the_statuses_without_a_way_out():
    assert {s for s, row in STATUSES.items() if row.group is StatusGroup.FINAL} == FINAL_STATUSES


def test_creation_and_seller_alerts_name_templates_that_exist():
    assert {notice.kind for notice in ON_CREATION} <= set(TEMPLATES)
    seller_alerts = {a.value for a, rule in TIMER_RULES.items() if rule.alerts_seller}
    assert seller_alerts <= set(TEMPLATES)
    assert REFUND_EMAIL in TEMPLATES


def test_every_timer_action_has_a_rule():
    assert set(TIMER_RULES) == set(TimerAction)


def test_a_new_carrier_is_named_when_the_parcel_ships():
    assert describe(OrderStatus.SHIPPED, "UPS") == "Package shipped via UPS"
    assert describe(OrderStatus.SHIPPED) == "Package shipped"
    assert describe(OrderStatus.DELIVERED, "UPS") == "Package delivered"


def test_every_status_an_order_can_start_in_names_its_payment_state():
    firsts = {flow_for(method)[0] for method in PaymentMethod} | {OrderStatus.PAYMENT_PENDING}
    assert all(STATUSES[status].payment_state is not None for status in firsts)
