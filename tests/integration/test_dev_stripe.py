"""The dev stack's localstripe keeps its payments across a restart, in its own file."""

from __future__ import annotations

import subprocess
from decimal import Decimal

from domain.payments import PaymentStatus
from oms import processes
from payments.stripe_checkout import pay_with_test_card
from payments.stripe_provider import StripeProvider


def _started(port: int, state_file) -> subprocess.Popen:
    proc = processes.spawn(processes.localstripe_args(port, state_file=state_file))
    processes.wait_for_port(port, proc, timeout=30)
    return proc


async def test_payments_survive_a_restart_in_the_state_file(tmp_path):
    port, state = processes.free_port(), tmp_path / "localstripe.pickle"
    provider = StripeProvider("sk_test_oms_tests", f"http://127.0.0.1:{port}")
    proc = _started(port, state)
    try:
        paid = await pay_with_test_card(provider, amount=Decimal("12.34"), currency="EUR",
                                        buyer_id="buyer123")
    finally:
        processes.stop(proc)
    assert state.exists() and not state.with_suffix(".partial").exists()
    await provider.aclose()  # its pooled connection went with the old server

    provider = StripeProvider("sk_test_oms_tests", f"http://127.0.0.1:{port}")
    proc = _started(port, state)
    try:
        verified = await provider.verify(paid)
        assert (verified.status, verified.amount) == (PaymentStatus.SUCCEEDED, Decimal("12.34"))
    finally:
        processes.stop(proc)
        await provider.aclose()
