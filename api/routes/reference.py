"""Reference data copied from the marketplace: users and listings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api import permissions, presenters
from api.deps import CurrentUser, DbDep
from api.errors import PROBLEM_RESPONSES, ApiError, problem_responses
from api.params import ListingIdPath, UserIdPath
from api.permissions import Grant
from api.responses import ListingSaved, ListingView, UserSaved
from api.schemas import ListingIn, UserIn
from api.strict_json import StrictJSONRoute
from db import reference_repo
from domain.errors import ErrorCode

router = APIRouter(prefix="/api", tags=["reference data"], route_class=StrictJSONRoute,
                   responses=PROBLEM_RESPONSES)


@router.put("/users/{user_id}", operation_id="putUser", response_model=UserSaved,
            responses=problem_responses(403, 413))
async def put_user(user_id: UserIdPath, body: UserIn, user: CurrentUser,
                   db: DbDep) -> dict[str, Any]:
    """Create or replace a user's name, email, store name and wallet address (operators,
    `users:write`). The wallet is an EIP-55 checksummed address: all-lowercase hex is
    checksummed, a mixed-case address with a wrong checksum is refused."""
    permissions.require(user, Grant.WRITE_USERS)
    async with db.transaction() as conn:
        await reference_repo.upsert_user(conn, user_id, name=body.name, email=body.email,
                                         store_name=body.store_name,
                                         wallet_address=body.wallet_address)
    return {"success": True, "user": {"id": user_id, "name": body.name, "email": body.email,
                                      "storeName": body.store_name,
                                      "walletAddress": body.wallet_address}}


@router.put("/listings/{listing_id}", operation_id="putListing", response_model=ListingSaved,
            responses=problem_responses(403, 413))
async def put_listing(listing_id: ListingIdPath, body: ListingIn, user: CurrentUser,
                      db: DbDep) -> dict[str, Any]:
    """Create or update a listing (operators, `catalog:write`, or the seller for its own)."""
    any_seller = permissions.allows(user, Grant.WRITE_LISTINGS)
    if not any_seller and not permissions.is_self(user, body.seller_id):
        raise ApiError(ErrorCode.FORBIDDEN, "a seller may only change its own listings")
    async with db.transaction() as conn:
        existing = await reference_repo.get_listing(conn, listing_id)
        if existing and not any_seller and existing.seller_id != user.user_id:
            raise ApiError(ErrorCode.FORBIDDEN, "this listing belongs to another seller")
        await reference_repo.upsert_listing(
            conn, listing_id, seller_id=body.seller_id, title=body.title,
            description=body.description, unit_price=body.unit_price, currency=body.currency,
            inventory=body.inventory, active=body.active,
        )
        row = await reference_repo.get_listing(conn, listing_id)
    return {"success": True, "listing": presenters.listing(row)}


@router.get("/listings/{listing_id}", operation_id="getListing", response_model=ListingView,
            responses=problem_responses(403, 404))
async def get_listing(listing_id: ListingIdPath, user: CurrentUser, db: DbDep) -> dict[str, Any]:
    """A listing with its current price and stock."""
    permissions.require(user, Grant.READ_LISTINGS)
    async with db.reader.connect() as conn:
        row = await reference_repo.get_listing(conn, listing_id)
    if row is None:
        raise ApiError(ErrorCode.NOT_FOUND, "no such listing")
    return {"listing": presenters.listing(row)}
