// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title TransferFanout
/// @notice Benchmark fixture, never deployed outside tests and benchmarks: makes a chain with many token Transfer
///         logs cheaply. It holds tokens and sends `amount` to each recipient, `rounds` times, in one transaction
///         (one Transfer log each), so 100k logs take about a hundred transactions instead of 100k.
contract TransferFanout {
    function fanout(IERC20 token, address[] calldata recipients, uint256 amount, uint256 rounds) external {
        uint256 n = recipients.length;
        for (uint256 r = 0; r < rounds; r++) {
            for (uint256 i = 0; i < n; i++) {
                require(token.transfer(recipients[i], amount), "transfer failed");
            }
        }
    }
}
