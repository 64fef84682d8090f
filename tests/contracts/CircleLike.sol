// SPDX-License-Identifier: Apache-2.0
// A test token with USDC's (FiatToken) event shapes: indexed Blacklisted(address)/UnBlacklisted(address),
// Mint/Burn alongside Transfer from/to the null address. Plus test helpers: batchTransfer, batchMint, and
// emitOddLogs (an ERC-721-style Transfer with 4 topics and a malformed Transfer without data).
pragma solidity ^0.8.20;

contract CircleLike {
    string public name = "USD Coin (test)";
    string public symbol = "USDC";
    uint8 public decimals = 6;
    uint256 public totalSupply;
    address public owner;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlacklisted;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Mint(address indexed minter, address indexed to, uint256 amount);
    event Burn(address indexed burner, uint256 amount);
    event Blacklisted(address indexed _account);
    event UnBlacklisted(address indexed _account);

    bytes32 constant TRANSFER_TOPIC = keccak256("Transfer(address,address,uint256)");

    modifier onlyOwner() {
        require(msg.sender == owner, "not owner");
        _;
    }

    constructor() {
        owner = msg.sender;
    }

    function _move(address from, address to, uint256 value) internal {
        require(!isBlacklisted[from] && !isBlacklisted[to], "blacklisted");
        require(balanceOf[from] >= value, "balance");
        unchecked {
            balanceOf[from] -= value;
        }
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _move(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        require(allowance[from][msg.sender] >= value, "allowance");
        allowance[from][msg.sender] -= value;
        _move(from, to, value);
        return true;
    }

    function batchTransfer(address[] calldata to, uint256[] calldata values) external {
        require(to.length == values.length, "length");
        for (uint256 i = 0; i < to.length; i++) {
            _move(msg.sender, to[i], values[i]);
        }
    }

    function mint(address to, uint256 amount) public onlyOwner {
        require(!isBlacklisted[to], "blacklisted");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Mint(msg.sender, to, amount);
        emit Transfer(address(0), to, amount);
    }

    function batchMint(address[] calldata to, uint256[] calldata amounts) external onlyOwner {
        require(to.length == amounts.length, "length");
        for (uint256 i = 0; i < to.length; i++) {
            mint(to[i], amounts[i]);
        }
    }

    function burn(uint256 amount) external onlyOwner {
        require(balanceOf[msg.sender] >= amount, "balance");
        balanceOf[msg.sender] -= amount;
        totalSupply -= amount;
        emit Burn(msg.sender, amount);
        emit Transfer(msg.sender, address(0), amount);
    }

    function blacklist(address account) external onlyOwner {
        isBlacklisted[account] = true;
        emit Blacklisted(account);
    }

    function unBlacklist(address account) external onlyOwner {
        isBlacklisted[account] = false;
        emit UnBlacklisted(account);
    }

    // Logs an ingester must skip: an ERC-721-style Transfer (tokenId indexed: 4 topics, no data) and a
    // Transfer with 3 topics but no value in data.
    function emitOddLogs(address from, address to, uint256 tokenId) external {
        bytes32 t = TRANSFER_TOPIC;
        bytes32 f = bytes32(uint256(uint160(from)));
        bytes32 r = bytes32(uint256(uint160(to)));
        assembly {
            log4(0, 0, t, f, r, tokenId)
            log3(0, 0, t, f, r)
        }
    }
}
