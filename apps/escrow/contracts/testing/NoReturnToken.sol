// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A USDT-style ERC-20 for tests: transfer, transferFrom and approve return nothing (not even a bool), failures
/// revert, and an allowance must be set to zero before it is changed to another non-zero value. Like a stablecoin's
/// blacklist, `blacklist` makes every transfer to an address revert (anyone may call it: this is a test token).
contract NoReturnToken {
    string public constant name = "No Return Token";
    string public constant symbol = "NRT";
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public blacklisted;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    error Blacklisted(address account);

    constructor(address holder, uint256 supply) {
        totalSupply = supply;
        balanceOf[holder] = supply;
        emit Transfer(address(0), holder, supply);
    }

    function transfer(address to, uint256 value) external {
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "allowance");
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
    }

    function approve(address spender, uint256 value) external {
        require(value == 0 || allowance[msg.sender][spender] == 0, "reset allowance first");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function blacklist(address account) external {
        blacklisted[account] = true;
    }

    function _move(address from, address to, uint256 value) private {
        require(to != address(0), "to zero");
        if (blacklisted[to]) revert Blacklisted(to);
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
