// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title An ERC-20 that misbehaves on purpose, for the escrow's tests only
/// @notice Never deployed outside the tests. It can burn a fee from every transfer (so the
/// receiver gets less than was sent) and, once, call another contract in the middle of a
/// transfer (so the escrow's reentrancy guard is exercised by a real re-entry).
contract HostileToken is ERC20 {
    uint256 public fee;
    address private _hookTarget;
    bytes private _hookCall;

    constructor() ERC20("Hostile Token", "HOST") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setFee(uint256 fee_) external {
        fee = fee_;
    }

    /// @dev The next transfer between two accounts calls `target` with `data` after moving
    /// the tokens, and reverts with the call's own error if it fails.
    function callDuringNextTransfer(address target, bytes calldata data) external {
        _hookTarget = target;
        _hookCall = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        bool isTransfer = from != address(0) && to != address(0);
        if (isTransfer && fee != 0) {
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
        if (isTransfer && _hookTarget != address(0)) {
            address target = _hookTarget;
            _hookTarget = address(0);
            (bool ok, bytes memory returned) = target.call(_hookCall);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(returned, 32), mload(returned))
                }
            }
        }
    }
}
