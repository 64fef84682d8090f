// SPDX-License-Identifier: Apache-2.0
// TetherLike as some TRON deployments and tools declare it: besides Tether's non-indexed AddedBlackList /
// RemovedBlackList(address) (the address in the data), it can emit the same events with the address indexed
// (the address as topics[1]), so an ingester is tested on both shapes from one contract address.
pragma solidity ^0.8.22;

import "./TetherLike.sol";

interface IndexedBlackList {
    event AddedBlackList(address indexed _user);
    event RemovedBlackList(address indexed _user);
}

contract TronTetherLike is TetherLike {
    constructor(uint256 initialSupply) TetherLike(initialSupply) {}

    function addBlackListIndexed(address user) external onlyOwner {
        isBlackListed[user] = true;
        emit IndexedBlackList.AddedBlackList(user);
    }

    function removeBlackListIndexed(address user) external onlyOwner {
        isBlackListed[user] = false;
        emit IndexedBlackList.RemovedBlackList(user);
    }
}
