// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title ERC-20 escrow for marketplace orders, one escrow per order
/// @notice The buyer funds an escrow under the order's escrow id; the funds leave only to the
/// seller (release), back to the buyer (refund) or split between them (by the arbiter).
/// @dev The arbiter is the order service's signer. It can settle any escrow, but only ever to
/// the escrow's own buyer and seller: it can never send funds anywhere else.
contract Escrow is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @dev None is the zero value, so an escrow id that was never used reads as None.
    /// Released, Refunded and Resolved are final.
    enum State {
        None,
        Funded,
        Disputed,
        Released,
        Refunded,
        Resolved
    }

    /// @dev Field order packs token, deadline and state into one storage slot.
    struct Record {
        address buyer;
        address seller;
        address token;
        uint64 deadline;
        State state;
        uint256 amount;
    }

    /// @notice The service's signer: it releases, refunds and resolves on the marketplace's word.
    address public immutable arbiter;

    mapping(bytes32 escrowId => Record) private _escrows;

    event EscrowCreated(
        bytes32 indexed escrowId,
        address indexed buyer,
        address indexed seller,
        address token,
        uint256 amount,
        uint64 deadline
    );
    event EscrowReleased(bytes32 indexed escrowId, uint256 toSeller, uint256 toBuyer);
    event EscrowRefunded(bytes32 indexed escrowId, uint256 amount);
    event DisputeCreated(bytes32 indexed escrowId, address indexed by);
    event DisputeResolved(bytes32 indexed escrowId, uint256 toBuyer, uint256 toSeller);

    error ZeroArbiter();
    error UnknownEscrow(bytes32 escrowId);
    error EscrowExists(bytes32 escrowId);
    error ZeroAmount();
    error InvalidSeller(address seller);
    error NotAToken(address token);
    error DeadlinePassed(uint64 deadline, uint256 timestamp);
    /// @dev The token delivered less than the amount asked for (a fee-on-transfer token).
    error AmountNotReceived(uint256 expected, uint256 received);
    error NotAllowed(address caller);
    error WrongState(bytes32 escrowId, State state);
    error AmountTooLarge(uint256 requested, uint256 available);

    constructor(address arbiter_) {
        if (arbiter_ == address(0)) revert ZeroArbiter();
        arbiter = arbiter_;
    }

    /// @notice Fund a new escrow: the caller is the buyer and must have approved `amount`.
    /// @dev An id is used once, ever: a settled escrow keeps its record, so the service can
    /// read how an order was settled and a replayed create cannot fund the same order twice.
    function create(bytes32 escrowId, address seller, IERC20 token, uint256 amount, uint64 deadline)
        external
        nonReentrant
    {
        if (_escrows[escrowId].state != State.None) revert EscrowExists(escrowId);
        if (amount == 0) revert ZeroAmount();
        if (seller == address(0) || seller == msg.sender) revert InvalidSeller(seller);
        if (address(token).code.length == 0) revert NotAToken(address(token));
        if (deadline <= block.timestamp) revert DeadlinePassed(deadline, block.timestamp);

        _escrows[escrowId] = Record({
            buyer: msg.sender,
            seller: seller,
            token: address(token),
            deadline: deadline,
            state: State.Funded,
            amount: amount
        });
        emit EscrowCreated(escrowId, msg.sender, seller, address(token), amount, deadline);

        // The record says `amount` is held, so check the balance rather than trust the token.
        uint256 before = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = token.balanceOf(address(this)) - before;
        if (received != amount) revert AmountNotReceived(amount, received);
    }

    /// @notice Pay the whole escrow to the seller.
    /// @dev The buyer or the arbiter may release at any time; anyone may once the deadline has
    /// passed, so funds are never stuck with a buyer who does not come back. A disputed escrow
    /// is settled only by `resolve`.
    function release(bytes32 escrowId) external nonReentrant {
        Record storage record = _funded(escrowId);
        if (
            msg.sender != record.buyer && msg.sender != arbiter && block.timestamp < record.deadline
        ) revert NotAllowed(msg.sender);
        _release(escrowId, record, 0);
    }

    /// @notice Pay `buyerAmount` back to the buyer and the rest to the seller.
    /// @dev For an order partly refunded before it completed: one settlement, two payees.
    function releaseWithRefund(bytes32 escrowId, uint256 buyerAmount) external nonReentrant {
        Record storage record = _funded(escrowId);
        if (msg.sender != arbiter) revert NotAllowed(msg.sender);
        if (buyerAmount > record.amount) revert AmountTooLarge(buyerAmount, record.amount);
        _release(escrowId, record, buyerAmount);
    }

    /// @notice Pay the whole escrow back to the buyer.
    /// @dev The seller may give up the sale, the arbiter may cancel it; the buyer may not take
    /// the money back alone, which is what makes the escrow worth something to the seller.
    function refund(bytes32 escrowId) external nonReentrant {
        Record storage record = _known(escrowId);
        if (record.state != State.Funded && record.state != State.Disputed) {
            revert WrongState(escrowId, record.state);
        }
        if (msg.sender != record.seller && msg.sender != arbiter) revert NotAllowed(msg.sender);

        record.state = State.Refunded;
        uint256 amount = record.amount;
        emit EscrowRefunded(escrowId, amount);
        IERC20(record.token).safeTransfer(record.buyer, amount);
    }

    /// @notice Freeze the escrow until the arbiter resolves it.
    /// @dev Moves no tokens, so it needs no reentrancy guard. It also stops the release that
    /// anyone could trigger after the deadline.
    function dispute(bytes32 escrowId) external {
        Record storage record = _funded(escrowId);
        if (msg.sender != record.buyer && msg.sender != record.seller) revert NotAllowed(msg.sender);

        record.state = State.Disputed;
        emit DisputeCreated(escrowId, msg.sender);
    }

    /// @notice Settle a dispute: `buyerAmount` to the buyer, the remainder to the seller.
    function resolve(bytes32 escrowId, uint256 buyerAmount) external nonReentrant {
        Record storage record = _known(escrowId);
        if (record.state != State.Disputed) revert WrongState(escrowId, record.state);
        if (msg.sender != arbiter) revert NotAllowed(msg.sender);
        uint256 amount = record.amount;
        if (buyerAmount > amount) revert AmountTooLarge(buyerAmount, amount);

        record.state = State.Resolved;
        uint256 toSeller = amount - buyerAmount;
        emit DisputeResolved(escrowId, buyerAmount, toSeller);
        _pay(IERC20(record.token), record.buyer, buyerAmount);
        _pay(IERC20(record.token), record.seller, toSeller);
    }

    /// @notice The record of an escrow; an id never used reads as all zeros with state None.
    /// @dev The service verifies a payment by reading this, not by trusting an event.
    function escrows(bytes32 escrowId) external view returns (Record memory) {
        return _escrows[escrowId];
    }

    function _release(bytes32 escrowId, Record storage record, uint256 toBuyer) private {
        record.state = State.Released;
        uint256 toSeller = record.amount - toBuyer;
        emit EscrowReleased(escrowId, toSeller, toBuyer);
        _pay(IERC20(record.token), record.seller, toSeller);
        _pay(IERC20(record.token), record.buyer, toBuyer);
    }

    /// @dev Skips zero payments: some tokens revert on a transfer of zero.
    function _pay(IERC20 token, address to, uint256 amount) private {
        if (amount != 0) token.safeTransfer(to, amount);
    }

    function _known(bytes32 escrowId) private view returns (Record storage record) {
        record = _escrows[escrowId];
        if (record.state == State.None) revert UnknownEscrow(escrowId);
    }

    function _funded(bytes32 escrowId) private view returns (Record storage record) {
        record = _known(escrowId);
        if (record.state != State.Funded) revert WrongState(escrowId, record.state);
    }
}
