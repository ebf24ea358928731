// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// An ERC-20 for tests that burns a 1% fee on every transfer (not on mint or burn): the receiver gets 99%.
contract FeeOnTransferToken is ERC20 {
    uint256 public constant FEE_PERCENT = 1;

    constructor(address holder, uint256 supply) ERC20("Fee On Transfer Token", "FOT") {
        _mint(holder, supply);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * FEE_PERCENT) / 100;
        super._update(from, to, value - fee);
        if (fee > 0) super._update(from, address(0), fee);
    }
}
