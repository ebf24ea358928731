// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title EngiPay escrow: many escrows of ETH or any ERC-20 in one contract.
/// @notice A sender locks funds for a recipient until an expiry. The recipient accepts (funds released to them)
/// or rejects (refunded); the sender cancels before acceptance (refunded); after expiry anyone may settle the
/// escrow: refunded to the sender, or, when the sender did not require the recipient's confirmation, released to
/// the recipient. Either party may open a dispute before expiry if the escrow names a resolver; the resolver then
/// splits the funds. If the resolver has not decided DISPUTE_TIMEOUT after expiry, anyone may refund the sender.
/// There is no owner: nobody but the parties and the escrow's own resolver can move its funds.
/// Payouts are pushed; one the receiver cannot take (a contract refusing ETH, a token that blocks the address)
/// is kept for it instead of reverting, so no transition can be blocked by a receiver, and the receiver can
/// `withdraw` it later to an address of its choice.
/// @dev An escrow's id is keccak256(abi.encode(sender, salt)), so nobody can take another sender's id.
/// Fee-on-transfer tokens are refused: the contract must receive exactly the amount it will pay out.
contract EngiPayEscrow is ReentrancyGuard {
    using SafeERC20 for IERC20;

    enum State {
        None,
        Pending,
        Accepted,
        Rejected,
        Cancelled,
        Expired,
        Disputed,
        Resolved
    }

    struct Escrow {
        address sender;
        uint64 expiresAt;
        State state;
        bool requireConfirmation;
        address recipient;
        address token; // address(0): ETH
        address resolver; // address(0): no disputes
        uint256 amount;
        bytes32 memoHash;
    }

    uint256 public constant DISPUTE_TIMEOUT = 30 days;
    uint256 public constant MAX_DURATION = 366 days;

    mapping(bytes32 => Escrow) private _escrows;
    /// Payouts the receiver could not take: owed[receiver][token] (token address(0): ETH).
    mapping(address => mapping(address => uint256)) public owed;

    event EscrowCreated(
        bytes32 indexed id,
        address indexed sender,
        address indexed recipient,
        address token,
        uint256 amount,
        uint64 expiresAt,
        bytes32 memoHash,
        bool requireConfirmation,
        address resolver
    );
    event EscrowAccepted(bytes32 indexed id, address indexed recipient, uint256 amount);
    event EscrowRejected(bytes32 indexed id, address indexed sender, uint256 amount);
    event EscrowCancelled(bytes32 indexed id, address indexed sender, uint256 amount);
    event EscrowExpired(bytes32 indexed id, address indexed paidTo, uint256 amount);
    event EscrowDisputed(bytes32 indexed id, address indexed by);
    event EscrowResolved(bytes32 indexed id, uint256 toRecipient, uint256 toSender);
    event PaymentDeferred(address indexed to, address indexed token, uint256 amount);
    event Withdrawn(address indexed owner, address indexed token, address to, uint256 amount);

    error EscrowExists(bytes32 id);
    error EscrowNotFound(bytes32 id);
    error InvalidState(bytes32 id, State state);
    error NotRecipient(bytes32 id, address caller);
    error NotSender(bytes32 id, address caller);
    error NotParty(bytes32 id, address caller);
    error NotResolver(bytes32 id, address caller);
    error EscrowIsExpired(bytes32 id, uint64 expiresAt);
    error EscrowNotExpired(bytes32 id, uint64 expiresAt);
    error ZeroAmount();
    error InvalidToken(address token);
    error InvalidRecipient(address recipient);
    error InvalidExpiry(uint64 expiresAt);
    error InvalidResolver(address resolver);
    error NoResolver(bytes32 id);
    error InvalidSplit(uint256 toRecipient, uint256 amount);
    error EthAmountMismatch(uint256 expected, uint256 sent);
    error FeeOnTransferToken(address token, uint256 expected, uint256 received);
    error EthTransferFailed(address to, uint256 amount);
    error NothingOwed(address owner, address token);

    /// @notice Lock `msg.value` ETH for `recipient`.
    function createEth(
        bytes32 salt,
        address recipient,
        uint64 expiresAt,
        bytes32 memoHash,
        bool requireConfirmation,
        address resolver
    ) external payable nonReentrant returns (bytes32 id) {
        id = _open(salt, recipient, address(0), msg.value, expiresAt, memoHash, requireConfirmation, resolver);
    }

    /// @notice Lock `amount` of `token` for `recipient`; the sender approved this contract for `amount` first.
    function createToken(
        bytes32 salt,
        address recipient,
        address token,
        uint256 amount,
        uint64 expiresAt,
        bytes32 memoHash,
        bool requireConfirmation,
        address resolver
    ) external payable nonReentrant returns (bytes32 id) {
        if (msg.value != 0) revert EthAmountMismatch(0, msg.value);
        if (token == address(0) || token.code.length == 0) revert InvalidToken(token);
        id = _open(salt, recipient, token, amount, expiresAt, memoHash, requireConfirmation, resolver);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        if (received != amount) revert FeeOnTransferToken(token, amount, received);
    }

    /// @notice The recipient takes the funds.
    function accept(bytes32 id) external nonReentrant {
        Escrow storage e = _pending(id);
        if (msg.sender != e.recipient) revert NotRecipient(id, msg.sender);
        _beforeExpiry(id, e);
        e.state = State.Accepted;
        emit EscrowAccepted(id, e.recipient, e.amount);
        _pay(e.token, e.recipient, e.amount);
    }

    /// @notice The recipient declines: the sender is refunded.
    function reject(bytes32 id) external nonReentrant {
        Escrow storage e = _pending(id);
        if (msg.sender != e.recipient) revert NotRecipient(id, msg.sender);
        _beforeExpiry(id, e);
        e.state = State.Rejected;
        emit EscrowRejected(id, e.sender, e.amount);
        _pay(e.token, e.sender, e.amount);
    }

    /// @notice The sender takes the funds back before the recipient accepted.
    function cancel(bytes32 id) external nonReentrant {
        Escrow storage e = _pending(id);
        if (msg.sender != e.sender) revert NotSender(id, msg.sender);
        _beforeExpiry(id, e);
        e.state = State.Cancelled;
        emit EscrowCancelled(id, e.sender, e.amount);
        _pay(e.token, e.sender, e.amount);
    }

    /// @notice Either party freezes the escrow for its resolver.
    function dispute(bytes32 id) external nonReentrant {
        Escrow storage e = _pending(id);
        if (msg.sender != e.sender && msg.sender != e.recipient) revert NotParty(id, msg.sender);
        if (e.resolver == address(0)) revert NoResolver(id);
        _beforeExpiry(id, e);
        e.state = State.Disputed;
        emit EscrowDisputed(id, msg.sender);
    }

    /// @notice The resolver pays `toRecipient` to the recipient and the rest back to the sender.
    function resolve(bytes32 id, uint256 toRecipient) external nonReentrant {
        Escrow storage e = _escrows[id];
        if (e.state == State.None) revert EscrowNotFound(id);
        if (e.state != State.Disputed) revert InvalidState(id, e.state);
        if (msg.sender != e.resolver) revert NotResolver(id, msg.sender);
        if (toRecipient > e.amount) revert InvalidSplit(toRecipient, e.amount);
        uint256 toSender = e.amount - toRecipient;
        e.state = State.Resolved;
        emit EscrowResolved(id, toRecipient, toSender);
        if (toRecipient > 0) _pay(e.token, e.recipient, toRecipient);
        if (toSender > 0) _pay(e.token, e.sender, toSender);
    }

    /// @notice After expiry anyone may settle a pending escrow (refund, or release when no confirmation was
    /// required), or a disputed one the resolver left undecided for DISPUTE_TIMEOUT (refund).
    function expire(bytes32 id) external nonReentrant {
        Escrow storage e = _escrows[id];
        if (e.state == State.None) revert EscrowNotFound(id);
        uint256 deadline = e.expiresAt;
        if (e.state == State.Disputed) {
            deadline += DISPUTE_TIMEOUT;
        } else if (e.state != State.Pending) {
            revert InvalidState(id, e.state);
        }
        if (block.timestamp < deadline) revert EscrowNotExpired(id, uint64(deadline));
        address paidTo = (e.state == State.Pending && !e.requireConfirmation) ? e.recipient : e.sender;
        e.state = State.Expired;
        emit EscrowExpired(id, paidTo, e.amount);
        _pay(e.token, paidTo, e.amount);
    }

    /// @notice Take a payout that could not be pushed (see `owed`), sent to `to`.
    function withdraw(address token, address to) external nonReentrant {
        uint256 amount = owed[msg.sender][token];
        if (amount == 0) revert NothingOwed(msg.sender, token);
        if (to == address(0)) revert InvalidRecipient(to);
        owed[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, to, amount);
        if (token == address(0)) {
            if (!_sendEth(to, amount)) revert EthTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function escrowId(address sender, bytes32 salt) public pure returns (bytes32) {
        return keccak256(abi.encode(sender, salt));
    }

    function getEscrow(bytes32 id) external view returns (Escrow memory) {
        return _escrows[id];
    }

    function _open(
        bytes32 salt,
        address recipient,
        address token,
        uint256 amount,
        uint64 expiresAt,
        bytes32 memoHash,
        bool requireConfirmation,
        address resolver
    ) private returns (bytes32 id) {
        if (amount == 0) revert ZeroAmount();
        if (recipient == address(0) || recipient == msg.sender) revert InvalidRecipient(recipient);
        if (expiresAt <= block.timestamp || expiresAt > block.timestamp + MAX_DURATION) revert InvalidExpiry(expiresAt);
        if (resolver == msg.sender || resolver == recipient) revert InvalidResolver(resolver);
        id = escrowId(msg.sender, salt);
        if (_escrows[id].state != State.None) revert EscrowExists(id);
        _escrows[id] = Escrow({
            sender: msg.sender,
            expiresAt: expiresAt,
            state: State.Pending,
            requireConfirmation: requireConfirmation,
            recipient: recipient,
            token: token,
            resolver: resolver,
            amount: amount,
            memoHash: memoHash
        });
        emit EscrowCreated(id, msg.sender, recipient, token, amount, expiresAt, memoHash, requireConfirmation, resolver);
    }

    function _pending(bytes32 id) private view returns (Escrow storage e) {
        e = _escrows[id];
        if (e.state == State.None) revert EscrowNotFound(id);
        if (e.state != State.Pending) revert InvalidState(id, e.state);
    }

    function _beforeExpiry(bytes32 id, Escrow storage e) private view {
        if (block.timestamp >= e.expiresAt) revert EscrowIsExpired(id, e.expiresAt);
    }

    /// @dev ETH with all gas but without copying the receiver's return data: a receiver answering with a huge
    /// payload cannot make the payment (and so the transition) run out of gas.
    function _sendEth(address to, uint256 amount) private returns (bool ok) {
        assembly ("memory-safe") {
            ok := call(gas(), to, amount, 0, 0, 0, 0)
        }
    }

    function _pay(address token, address to, uint256 amount) private {
        bool ok;
        if (token == address(0)) {
            ok = _sendEth(to, amount);
        } else {
            ok = IERC20(token).trySafeTransfer(to, amount);
        }
        if (!ok) {
            owed[to][token] += amount;
            emit PaymentDeferred(to, token, amount);
        }
    }
}
