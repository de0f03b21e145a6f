"""Who may do what beyond their own relations: one table, read by the routes and the README.

People act through their relation to an order (its buyer or its seller) and to what is theirs
(their lists, statistics, alerts, notifications); the routes and the status machine
(domain/order.py) decide that. What a role or an integration's scope adds on top is GRANTS,
and only GRANTS. An integration holds nothing but its scopes: being an integration implies
nothing, and no scope may declare an order paid (payments come from their provider only).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.auth import Principal, Role, Scope
from api.errors import ApiError
from domain.errors import ErrorCode
from domain.order import CARRIER_TARGETS, ActorKind, OrderStatus


class Grant(StrEnum):
    READ_ANY_ORDER = "read any order"  # details, timeline, history, every list, search
    STATS_ANY = "read any seller's statistics"
    EXPORT_ANY = "export any seller's orders"
    ALERTS_ALL = "read every alert"
    WATCH_ALL = "watch every order live"
    PLACE_ORDERS = "place an order for any buyer"
    REPORT_SHIPPING = "report shipping progress on any order"
    MANAGE_ORDERS = "cancel, refund and resolve disputes on any order"
    WRITE_USERS = "create and change users"
    WRITE_LISTINGS = "create and change any seller's listings"
    READ_LISTINGS = "read listings"


@dataclass(frozen=True)
class Holders:
    roles: frozenset[Role] = frozenset()
    scopes: frozenset[Scope] = frozenset()


def _held_by(*who: Role | Scope) -> Holders:
    return Holders(frozenset(w for w in who if isinstance(w, Role)),
                   frozenset(w for w in who if isinstance(w, Scope)))


R, S = Role, Scope
GRANTS: dict[Grant, Holders] = {
    Grant.READ_ANY_ORDER: _held_by(R.OPERATOR, R.SUPPORT, S.ORDERS_READ),
    Grant.STATS_ANY: _held_by(R.OPERATOR, R.SUPPORT),
    Grant.EXPORT_ANY: _held_by(R.OPERATOR, R.SUPPORT),
    Grant.ALERTS_ALL: _held_by(R.OPERATOR, R.SUPPORT),
    Grant.WATCH_ALL: _held_by(R.OPERATOR, R.SUPPORT, S.ORDERS_READ),
    Grant.PLACE_ORDERS: _held_by(R.OPERATOR, S.ORDERS_CREATE),
    Grant.REPORT_SHIPPING: _held_by(S.SHIPPING_REPORT),
    Grant.MANAGE_ORDERS: _held_by(R.OPERATOR),
    Grant.WRITE_USERS: _held_by(R.OPERATOR, S.USERS_WRITE),
    Grant.WRITE_LISTINGS: _held_by(R.OPERATOR, S.CATALOG_WRITE),
    Grant.READ_LISTINGS: _held_by(R.USER, R.OPERATOR, R.SUPPORT, S.CATALOG_WRITE),
}

# The statuses an integration may set with PUT /status, by scope (the workflow checks again).
STATUS_SCOPES: dict[Scope, frozenset[OrderStatus]] = {Scope.SHIPPING_REPORT: CARRIER_TARGETS}


def allows(principal: Principal, grant: Grant) -> bool:
    holders = GRANTS[grant]
    if principal.is_integration:
        return bool(holders.scopes & principal.scopes)
    return principal.role in holders.roles


def is_self(principal: Principal, user_id: str) -> bool:
    """Whether `user_id` is the caller as a person: an operator, support or an integration is
    never a buyer or a seller, whatever its token's subject."""
    return principal.role is Role.USER and principal.user_id == user_id


def require(principal: Principal, grant: Grant) -> None:
    if not allows(principal, grant):
        raise forbidden(grant)


def require_person(principal: Principal, *alternatives: Grant) -> None:
    """For what people have of their own (lists, statistics, alerts, notifications): an
    integration has none, so it needs one of `alternatives`."""
    if principal.is_integration and not any(allows(principal, g) for g in alternatives):
        raise ApiError(ErrorCode.FORBIDDEN, "this token's scopes do not allow this",
                       requiredScopes=sorted({s.value for g in alternatives
                                              for s in GRANTS[g].scopes}) or None)


def may_set_status(principal: Principal, status: OrderStatus) -> bool:
    """Whether an integration's scopes let it move an order to `status`."""
    return any(status in STATUS_SCOPES.get(scope, ()) for scope in principal.scopes)


def actor_for(principal: Principal, *, buyer_id: str, seller_id: str,
              status: OrderStatus) -> ActorKind:
    """Who `principal` is to an order it asks to move to `status`, for the status machine; 403
    for a caller that may change nothing there (support, an integration outside its scopes)."""
    if principal.is_integration:
        if not may_set_status(principal, status):
            raise ApiError(ErrorCode.FORBIDDEN, f"this token's scopes do not allow {status}",
                           requiredScopes=sorted(s.value for s, targets in STATUS_SCOPES.items()
                                                 if status in targets) or None)
        return ActorKind.SYSTEM
    if allows(principal, Grant.MANAGE_ORDERS):
        return ActorKind.OPERATOR
    if principal.role is Role.USER:
        if principal.user_id == seller_id:
            return ActorKind.SELLER
        if principal.user_id == buyer_id:
            return ActorKind.BUYER
    raise ApiError(ErrorCode.FORBIDDEN, f"a {principal.role} may read this order, not change it")


def seller_or_operator(principal: Principal, *, seller_id: str, doing: str) -> ActorKind:
    """Who ships or refunds an order: its seller, or an operator; anyone else is refused."""
    if allows(principal, Grant.MANAGE_ORDERS):
        return ActorKind.OPERATOR
    if is_self(principal, seller_id):
        return ActorKind.SELLER
    raise ApiError(ErrorCode.FORBIDDEN, f"only the seller of this order or an operator may "
                                        f"{doing} it")


def forbidden(grant: Grant) -> ApiError:
    holders = GRANTS[grant]
    return ApiError(ErrorCode.FORBIDDEN, f"only a caller allowed to {grant.value} may do this",
                    requiredScopes=sorted(s.value for s in holders.scopes) or None)
