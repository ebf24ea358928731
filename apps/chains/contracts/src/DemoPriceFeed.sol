// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// A Chainlink-compatible price feed (AggregatorV3Interface) whose owner sets the answer.
/// For the local development chain and tests: the backend reads it exactly as it reads a real aggregator.
contract DemoPriceFeed {
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    address public immutable owner;

    struct Round {
        int256 answer;
        uint256 startedAt;
        uint256 updatedAt;
    }

    uint80 public latestRound;
    mapping(uint80 => Round) private _rounds;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        _update(initialAnswer, block.timestamp);
    }

    function updateAnswer(int256 answer) external {
        require(msg.sender == owner, "DemoPriceFeed: not owner");
        _update(answer, block.timestamp);
    }

    /// Test hook: an answer stamped in the past, to exercise staleness checks.
    function updateAnswerAt(int256 answer, uint256 updatedAt) external {
        require(msg.sender == owner, "DemoPriceFeed: not owner");
        _update(answer, updatedAt);
    }

    function _update(int256 answer, uint256 updatedAt) private {
        latestRound += 1;
        _rounds[latestRound] = Round(answer, updatedAt, updatedAt);
        emit AnswerUpdated(answer, latestRound, updatedAt);
    }

    function getRoundData(uint80 roundId)
        public
        view
        returns (uint80, int256, uint256, uint256, uint80)
    {
        Round memory r = _rounds[roundId];
        require(r.updatedAt != 0, "DemoPriceFeed: no data");
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(latestRound);
    }
}
