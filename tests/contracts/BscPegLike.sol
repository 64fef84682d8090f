// SPDX-License-Identifier: Apache-2.0
// A test token shaped like Binance's BEP-20 pegs on BSC (BSC-USD "USDT" 0x55d398..., USDC 0x8AC76a...): 18
// decimals, the owner mints to itself (Transfer from the null address) and burns (Transfer to it), standard
// ERC-20 Transfer events. Plus batchTransfer so tests can make many logs per transaction.
pragma solidity ^0.8.20;

contract BscPegLike {
    string public name = "Binance-Peg BSC-USD (test)";
    string public symbol = "USDT";
    uint8 public decimals = 18;
    uint256 public totalSupply;
    address public owner;
    mapping(address => uint256) public balanceOf;

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor() {
        owner = msg.sender;
    }

    function mint(uint256 amount) external returns (bool) {
        require(msg.sender == owner, "not owner");
        totalSupply += amount;
        balanceOf[msg.sender] += amount;
        emit Transfer(address(0), msg.sender, amount);
        return true;
    }

    function burn(uint256 amount) external returns (bool) {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        totalSupply -= amount;
        emit Transfer(msg.sender, address(0), amount);
        return true;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(balanceOf[msg.sender] >= value, "balance");
        unchecked {
            balanceOf[msg.sender] -= value;
        }
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function batchTransfer(address[] calldata to, uint256[] calldata values) external returns (bool) {
        require(to.length == values.length, "length");
        for (uint256 i = 0; i < to.length; i++) {
            require(balanceOf[msg.sender] >= values[i], "balance");
            unchecked {
                balanceOf[msg.sender] -= values[i];
            }
            balanceOf[to[i]] += values[i];
            emit Transfer(msg.sender, to[i], values[i]);
        }
        return true;
    }
}
