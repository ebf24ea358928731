// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A payee that answers every call (a payment included) with return data as large as the gas it was given
/// allows (memory cost grows with the square of the size): a caller copying that data would run out of gas. It
/// can act as an escrow's recipient through `execute`.
contract ReturnBomb {
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory result) = target.call(data);
        require(ok, "call failed");
        return result;
    }

    fallback() external payable {
        uint256 size = _sqrt(gasleft() * 400) * 32; // words² / 512 ≈ 0.8 × the gas left
        assembly {
            return(0, size)
        }
    }

    function _sqrt(uint256 x) private pure returns (uint256 y) {
        y = x;
        uint256 z = (x + 1) / 2;
        while (z < y) {
            y = z;
            z = (x / z + z) / 2;
        }
    }
}
