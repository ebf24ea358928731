// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// An ERC-20 for tests that signals a refused transfer by returning false (moving nothing) instead of reverting,
/// as some older tokens do: transfers to an address on its blacklist (anyone may add one: this is a test token).
contract FalseReturnToken is ERC20 {
    mapping(address => bool) public blacklisted;

    constructor(address holder, uint256 supply) ERC20("False Return Token", "FRT") {
        _mint(holder, supply);
    }

    function blacklist(address account) external {
        blacklisted[account] = true;
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (blacklisted[to]) return false;
        return super.transfer(to, value);
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (blacklisted[to]) return false;
        return super.transferFrom(from, to, value);
    }
}
