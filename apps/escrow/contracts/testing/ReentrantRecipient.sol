// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

interface IEngiPayEscrow {
    function createEth(
        bytes32 salt,
        address recipient,
        uint64 expiresAt,
        bytes32 memoHash,
        bool requireConfirmation,
        address resolver
    ) external payable returns (bytes32);

    function accept(bytes32 id) external;

    function reject(bytes32 id) external;

    function cancel(bytes32 id) external;

    function dispute(bytes32 id) external;

    function expire(bytes32 id) external;

    function withdraw(address token, address to) external;
}

/// An attack contract for tests. It takes part in escrows (as sender with `create`, as recipient with `act`) and,
/// when paid ETH, its receive() tries once to re-enter the escrow with the armed action to be paid a second time.
/// Mode.Bubble lets a failed re-entry revert the payment (the escrow then keeps it for this contract, which can
/// `withdraw` it); Mode.Swallow catches it (try/catch), records whether the
/// re-entry succeeded and the revert data, and keeps the payment. Either way it first records the state the escrow
/// shows for the armed id while paying (a read-only re-entry: the state must already be final).
contract ReentrantRecipient {
    enum Mode {
        Off,
        Bubble,
        Swallow
    }
    enum Action {
        Accept,
        Reject,
        Cancel,
        Dispute,
        Expire
    }

    IEngiPayEscrow public immutable escrow;
    Mode public mode;
    Action public reentryAction;
    bytes32 public reentryId;

    uint256 public payments; // ETH payments received
    uint256 public received; // their total
    uint256 public attempts; // re-entries tried
    bool public reentrySucceeded;
    bytes public reentryError;
    uint8 public stateSeen; // getEscrow(reentryId).state during the payment

    constructor(IEngiPayEscrow escrow_) {
        escrow = escrow_;
    }

    function arm(Mode mode_, Action action, bytes32 id) external {
        mode = mode_;
        reentryAction = action;
        reentryId = id;
    }

    function create(
        bytes32 salt,
        address recipient,
        uint64 expiresAt,
        bool requireConfirmation,
        address resolver
    ) external payable returns (bytes32) {
        return escrow.createEth{value: msg.value}(salt, recipient, expiresAt, bytes32(0), requireConfirmation, resolver);
    }

    function act(Action action, bytes32 id) public {
        if (action == Action.Accept) escrow.accept(id);
        else if (action == Action.Reject) escrow.reject(id);
        else if (action == Action.Cancel) escrow.cancel(id);
        else if (action == Action.Dispute) escrow.dispute(id);
        else escrow.expire(id);
    }

    /// Take what the escrow kept for this contract (its `owed`), sent to `to`.
    function withdraw(address token, address to) external {
        escrow.withdraw(token, to);
    }

    /// `act` as an external call of this contract, so that receive() can try/catch it.
    function reenter() external {
        require(msg.sender == address(this), "self only");
        act(reentryAction, reentryId);
    }

    receive() external payable {
        payments += 1;
        received += msg.value;
        if (mode == Mode.Off || attempts > 0) return;
        attempts += 1;
        (bool ok, bytes memory escrowData) = address(escrow).staticcall(
            abi.encodeWithSignature("getEscrow(bytes32)", reentryId)
        );
        if (ok && escrowData.length >= 96) {
            uint256 seen;
            assembly ("memory-safe") {
                seen := mload(add(escrowData, 96)) // the struct's third word: state
            }
            stateSeen = uint8(seen);
        }
        if (mode == Mode.Bubble) {
            act(reentryAction, reentryId);
            reentrySucceeded = true;
        } else {
            try this.reenter() {
                reentrySucceeded = true;
            } catch (bytes memory reason) {
                reentryError = reason;
            }
        }
    }
}
