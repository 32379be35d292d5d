// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @title GoldToken
/// @notice Aurum gold: an ERC-20 with 18 decimals where one whole token (1e18 base units) is one fine troy ounce
///         of allocated gold. Roles follow PAX Gold: admin, supply controller, pauser, asset protection.
/// @dev Secure mint: `mint` refuses unless
///          totalSupply() + amount <= reserve * 10^(18 - feedDecimals)      (feedDecimals <= 18), or
///          totalSupply() + amount <= reserve / 10^(feedDecimals - 18)      (feedDecimals  > 18, rounded down),
///      where `reserve` is the latest answer of the reserve feed in fine troy ounces scaled by the feed's decimals,
///      and refuses a reserve whose updatedAt is older than `maxReserveAge` seconds. Minting is also limited by a
///      token bucket (`mintCapacity` base units, refilled at `mintRefillPerSecond` base units per second).
contract GoldToken is ERC20, AccessControl, Pausable {
    // ------------------------------------------------------------------ roles
    bytes32 public constant SUPPLY_CONTROLLER_ROLE = keccak256("SUPPLY_CONTROLLER_ROLE");
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");
    bytes32 public constant ASSET_PROTECTION_ROLE = keccak256("ASSET_PROTECTION_ROLE");

    // ------------------------------------------------------------------ state
    /// @notice The AggregatorV3-compatible proof-of-reserve feed (answer = fine troy ounces held).
    AggregatorV3Interface public reserveFeed;
    /// @notice Maximum age in seconds of the reserve feed's updatedAt for a mint to be accepted.
    uint256 public maxReserveAge;
    /// @notice Token-bucket capacity, in token base units (1e18 = one fine troy ounce).
    uint256 public mintCapacity;
    /// @notice Token-bucket refill rate, in token base units per second.
    uint256 public mintRefillPerSecond;
    /// @notice Address customers send tokens to for redemption; the supply controller burns from it.
    address public redemptionAddress;

    uint256 private _bucket;
    uint256 private _bucketUpdatedAt;
    mapping(address => bool) private _frozen;

    // ------------------------------------------------------------------ events
    event Minted(address indexed to, uint256 amount, uint256 reserve, uint256 newTotalSupply);
    event Redeemed(address indexed from, uint256 amount, bytes32 indexed redemptionRef);
    event AddressFrozen(address indexed account);
    event AddressUnfrozen(address indexed account);
    event FrozenAddressWiped(address indexed account, uint256 amount);
    event ReserveFeedSet(address indexed feed);
    event MaxReserveAgeSet(uint256 maxReserveAge);
    event MintRateLimitSet(uint256 capacity, uint256 refillPerSecond);
    event RedemptionAddressSet(address indexed redemptionAddress);

    // ------------------------------------------------------------------ errors
    error ZeroAddress();
    error ZeroAmount();
    /// @notice `account` is frozen: it can neither send, receive, approve nor spend an allowance.
    error AccountFrozen(address account);
    error AlreadyFrozen(address account);
    error NotFrozen(address account);
    /// @notice Minting would take total supply above the attested reserve (both in token base units).
    error ReserveExceeded(uint256 newTotalSupply, uint256 reserve);
    /// @notice The reserve was last updated at `updatedAt`, more than `maxReserveAge` seconds before `now_`.
    error StaleReserve(uint256 updatedAt, uint256 now_, uint256 maxReserveAge);
    /// @notice The reserve feed reverted or returned a non-positive answer.
    error ReserveUnavailable();
    error InvalidReserve(int256 answer);
    /// @notice The mint exceeds what the rate-limit bucket holds right now.
    error MintRateLimited(uint256 amount, uint256 available);
    error RedemptionAddressNotSet();

    constructor(
        string memory name_,
        string memory symbol_,
        address admin,
        address reserveFeed_,
        uint256 maxReserveAge_,
        uint256 mintCapacity_,
        uint256 mintRefillPerSecond_
    ) ERC20(name_, symbol_) {
        if (admin == address(0) || reserveFeed_ == address(0)) revert ZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        reserveFeed = AggregatorV3Interface(reserveFeed_);
        maxReserveAge = maxReserveAge_;
        mintCapacity = mintCapacity_;
        mintRefillPerSecond = mintRefillPerSecond_;
        _bucket = mintCapacity_;
        _bucketUpdatedAt = block.timestamp;
        emit ReserveFeedSet(reserveFeed_);
        emit MaxReserveAgeSet(maxReserveAge_);
        emit MintRateLimitSet(mintCapacity_, mintRefillPerSecond_);
    }

    // ------------------------------------------------------------------ admin
    function setReserveFeed(address feed) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (feed == address(0)) revert ZeroAddress();
        reserveFeed = AggregatorV3Interface(feed);
        emit ReserveFeedSet(feed);
    }

    function setMaxReserveAge(uint256 age) external onlyRole(DEFAULT_ADMIN_ROLE) {
        maxReserveAge = age;
        emit MaxReserveAgeSet(age);
    }

    /// @notice Set the mint token bucket. The bucket is first refilled at the old rate, then clipped to the new capacity.
    function setMintRateLimit(uint256 capacity, uint256 refillPerSecond) external onlyRole(DEFAULT_ADMIN_ROLE) {
        uint256 available = availableToMint();
        mintCapacity = capacity;
        mintRefillPerSecond = refillPerSecond;
        _bucket = available < capacity ? available : capacity;
        _bucketUpdatedAt = block.timestamp;
        emit MintRateLimitSet(capacity, refillPerSecond);
    }

    function setRedemptionAddress(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert ZeroAddress();
        redemptionAddress = account;
        emit RedemptionAddressSet(account);
    }

    // ------------------------------------------------------------------ pauser
    function pause() external onlyRole(PAUSER_ROLE) {
        _pause();
    }

    function unpause() external onlyRole(PAUSER_ROLE) {
        _unpause();
    }

    // ------------------------------------------------------------------ asset protection
    function freeze(address account) external onlyRole(ASSET_PROTECTION_ROLE) {
        if (_frozen[account]) revert AlreadyFrozen(account);
        _frozen[account] = true;
        emit AddressFrozen(account);
    }

    function unfreeze(address account) external onlyRole(ASSET_PROTECTION_ROLE) {
        if (!_frozen[account]) revert NotFrozen(account);
        _frozen[account] = false;
        emit AddressUnfrozen(account);
    }

    /// @notice Burn the whole balance of a frozen address (works while paused). Reduces total supply.
    function wipeFrozenAddress(address account) external onlyRole(ASSET_PROTECTION_ROLE) {
        if (!_frozen[account]) revert NotFrozen(account);
        uint256 amount = balanceOf(account);
        // Bypass the pause/freeze checks of this contract's _update: a wipe is the one move a frozen address allows.
        ERC20._update(account, address(0), amount);
        emit FrozenAddressWiped(account, amount);
    }

    function isFrozen(address account) public view returns (bool) {
        return _frozen[account];
    }

    // ------------------------------------------------------------------ supply controller
    /// @notice Secure, rate-limited mint. See the contract notes for the exact reserve inequality.
    function mint(address to, uint256 amount) external onlyRole(SUPPLY_CONTROLLER_ROLE) {
        if (amount == 0) revert ZeroAmount();
        uint256 reserve = reserveInTokenUnits();
        uint256 newSupply = totalSupply() + amount;
        if (newSupply > reserve) revert ReserveExceeded(newSupply, reserve);
        uint256 available = availableToMint();
        if (amount > available) revert MintRateLimited(amount, available);
        _bucket = available - amount;
        _bucketUpdatedAt = block.timestamp;
        _mint(to, amount); // pause and freeze checks in _update
        emit Minted(to, amount, reserve, newSupply);
    }

    /// @notice Burn tokens held at the redemption address, tagged with an off-chain redemption reference.
    function burnRedemption(uint256 amount, bytes32 redemptionRef) external onlyRole(SUPPLY_CONTROLLER_ROLE) {
        address from = redemptionAddress;
        if (from == address(0)) revert RedemptionAddressNotSet();
        _redeem(from, amount, redemptionRef);
    }

    // ------------------------------------------------------------------ holders
    /// @notice Redeem: burn `amount` of the caller's tokens, tagged with an off-chain redemption reference.
    function redeem(uint256 amount, bytes32 redemptionRef) external {
        _redeem(_msgSender(), amount, redemptionRef);
    }

    // ------------------------------------------------------------------ views
    /// @notice The latest reserve in token base units (18 decimals), after the staleness and positivity checks.
    function reserveInTokenUnits() public view returns (uint256) {
        AggregatorV3Interface feed = reserveFeed;
        int256 answer;
        uint256 updatedAt;
        uint8 feedDecimals;
        try feed.latestRoundData() returns (uint80, int256 a, uint256, uint256 u, uint80) {
            answer = a;
            updatedAt = u;
        } catch {
            revert ReserveUnavailable();
        }
        try feed.decimals() returns (uint8 d) {
            feedDecimals = d;
        } catch {
            revert ReserveUnavailable();
        }
        if (answer <= 0) revert InvalidReserve(answer);
        if (updatedAt == 0 || (block.timestamp > updatedAt && block.timestamp - updatedAt > maxReserveAge)) {
            revert StaleReserve(updatedAt, block.timestamp, maxReserveAge);
        }
        uint8 tokenDecimals = decimals();
        if (feedDecimals <= tokenDecimals) {
            return uint256(answer) * 10 ** (tokenDecimals - feedDecimals);
        }
        return uint256(answer) / 10 ** (feedDecimals - tokenDecimals);
    }

    /// @notice What the rate-limit bucket holds now (base units): min(capacity, bucket + elapsed * refill).
    function availableToMint() public view returns (uint256) {
        uint256 cap = mintCapacity;
        uint256 bucket = _bucket;
        if (bucket >= cap) return cap;
        uint256 elapsed = block.timestamp - _bucketUpdatedAt;
        uint256 room = cap - bucket;
        if (elapsed != 0 && mintRefillPerSecond > room / elapsed) return cap; // overflow-safe refill
        uint256 refilled = bucket + elapsed * mintRefillPerSecond;
        return refilled < cap ? refilled : cap;
    }

    // ------------------------------------------------------------------ internals
    function _redeem(address from, uint256 amount, bytes32 redemptionRef) internal {
        if (amount == 0) revert ZeroAmount();
        _burn(from, amount); // pause and freeze checks in _update
        emit Redeemed(from, amount, redemptionRef);
    }

    /// @dev Every transfer, mint and burn: refused while paused, and when either side is frozen.
    function _update(address from, address to, uint256 value) internal override whenNotPaused {
        if (_frozen[from]) revert AccountFrozen(from);
        if (_frozen[to]) revert AccountFrozen(to);
        address sender = _msgSender();
        if (_frozen[sender]) revert AccountFrozen(sender);
        super._update(from, to, value);
    }

    /// @dev Approvals (emitting ones: `approve`) are refused for a frozen owner or spender, and while paused.
    function _approve(address owner, address spender, uint256 value, bool emitEvent) internal override {
        if (emitEvent) {
            _requireNotPaused();
            if (_frozen[owner]) revert AccountFrozen(owner);
            if (_frozen[spender]) revert AccountFrozen(spender);
        }
        super._approve(owner, spender, value, emitEvent);
    }
}
