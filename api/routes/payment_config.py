"""What a checkout needs to take a payment this service will accept: no secrets."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import SettingsDep
from api.errors import PROBLEM_RESPONSES
from api.responses import ChainConfig, MethodAvailability, PaymentsConfig
from domain.order import PaymentMethod
from oms.settings import Settings

router = APIRouter(prefix="/api", tags=["payments"], responses=PROBLEM_RESPONSES)


@router.get("/payments/config", operation_id="getPaymentsConfig", response_model=PaymentsConfig)
async def payments_config(settings: SettingsDep) -> PaymentsConfig:
    """Public: the Stripe publishable key, and the chain a crypto transfer or an escrow must be
    made on (its id, the token of each currency, the escrow contract, the address crypto
    payments go to and the confirmations a payment needs). A method that cannot be paid here
    says why."""
    chain = None
    if settings.chain_rpc_url:
        chain = ChainConfig(chain_id=settings.chain_id, confirmations=settings.chain_confirmations,
                            tokens=settings.chain_token_addresses,
                            escrow_contract=settings.escrow_contract,
                            receiving_address=settings.receiving_address)
    return PaymentsConfig(methods=_availability(settings),
                          stripe_publishable_key=settings.stripe_publishable_key, chain=chain)


def _availability(settings: Settings) -> dict[PaymentMethod, MethodAvailability]:
    on_chain = MethodAvailability(available=True)
    if not settings.chain_rpc_url:
        on_chain = MethodAvailability(
            available=settings.chain_stand_in,
            reason=("taken on the checkout's word: no chain is configured and "
                    "OMS_CHAIN_STAND_IN is on" if settings.chain_stand_in else
                    "no chain is configured (OMS_CHAIN_RPC_URL)"))
    return {PaymentMethod.FIAT: MethodAvailability(available=True),
            PaymentMethod.CRYPTO: on_chain, PaymentMethod.ESCROW: on_chain}
