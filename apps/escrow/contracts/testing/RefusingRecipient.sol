// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A contract for tests that refuses every ETH payment, but can call other contracts (say, to reject an escrow).
contract RefusingRecipient {
    error EthRefused(address from, uint256 amount);

    function execute(address target, bytes calldata data) external payable returns (bytes memory result) {
        bool ok;
        (ok, result) = target.call{value: msg.value}(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    receive() external payable {
        revert EthRefused(msg.sender, msg.value);
    }
}
