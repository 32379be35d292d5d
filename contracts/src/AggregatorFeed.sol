// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title AggregatorFeed
/// @notice A push-based, AggregatorV3-compatible feed. Deployed twice in Aurum: as the reserve feed
///         (proof of reserve: fine troy ounces held in the vault) and as the price feed (USD per fine troy ounce).
/// @dev Only UPDATER_ROLE may post. Every post opens a new round whose id is exactly the previous id + 1
///      (strictly increasing, starting at 1); startedAt = updatedAt = block.timestamp and answeredInRound = roundId.
///      Non-positive answers are rejected.
contract AggregatorFeed is AggregatorV3Interface, AccessControl {
    bytes32 public constant UPDATER_ROLE = keccak256("UPDATER_ROLE");
    uint256 public constant VERSION = 1;

    struct Round {
        int256 answer;
        uint64 startedAt;
        uint64 updatedAt;
    }

    uint8 private immutable _decimals;
    string private _description;
    uint80 private _latestRound;
    mapping(uint80 => Round) private _rounds;

    /// @notice Emitted for every accepted answer (Chainlink's AggregatorInterface event shape).
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    /// @notice Emitted when a round opens (Chainlink's AggregatorInterface event shape).
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    /// @notice The answer must be strictly positive.
    error NonPositiveAnswer(int256 answer);
    /// @notice The requested round does not exist (or no round has been posted yet).
    error NoDataPresent(uint80 roundId);
    /// @notice An admin or updater address was the zero address.
    error ZeroAddress();

    constructor(address admin, address updater, uint8 decimals_, string memory description_) {
        if (admin == address(0) || updater == address(0)) revert ZeroAddress();
        _decimals = decimals_;
        _description = description_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(UPDATER_ROLE, updater);
    }

    /// @notice Post a new answer; opens round latestRound + 1.
    /// @return roundId the id of the new round.
    function updateAnswer(int256 answer) external onlyRole(UPDATER_ROLE) returns (uint80 roundId) {
        if (answer <= 0) revert NonPositiveAnswer(answer);
        roundId = _latestRound + 1;
        _latestRound = roundId;
        uint64 ts = uint64(block.timestamp);
        _rounds[roundId] = Round({answer: answer, startedAt: ts, updatedAt: ts});
        emit NewRound(roundId, msg.sender, ts);
        emit AnswerUpdated(answer, roundId, ts);
    }

    /// @notice The id of the latest round (0 if none yet).
    function latestRound() external view returns (uint80) {
        return _latestRound;
    }

    function decimals() external view override returns (uint8) {
        return _decimals;
    }

    function description() external view override returns (string memory) {
        return _description;
    }

    function version() external pure override returns (uint256) {
        return VERSION;
    }

    function getRoundData(uint80 roundId)
        public
        view
        override
        returns (uint80 roundId_, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        if (roundId == 0 || roundId > _latestRound) revert NoDataPresent(roundId);
        Round memory r = _rounds[roundId];
        return (roundId, r.answer, r.startedAt, r.updatedAt, roundId);
    }

    function latestRoundData()
        external
        view
        override
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return getRoundData(_latestRound);
    }
}
