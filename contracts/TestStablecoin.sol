// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title A stand-in for USDC on the local chain of the dev stack and the tests
/// @notice Six decimals as USDC, so amounts in minor units mean the same as on a real chain.
/// @dev Only the deployer mints: a test that funds a buyer does so on purpose, and a stranger's
/// mint reverting shows the token is not free money for anyone on the chain.
contract TestStablecoin is ERC20, Ownable {
    constructor() ERC20("Test USD", "tUSD") Ownable(msg.sender) {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
