//! The token on a real Anvil (the pinned binary): deployment, secure mint (reserve cap, stale reserve), rate
//! limit, roles, pause, redeem, freeze and wipe, and the events they emit.

use aurum_chain::GoldToken::GoldTokenErrors;
use aurum_chain::alloy::primitives::{B256, I256, U256};
use aurum_chain::alloy::providers::ext::AnvilApi;
use aurum_chain::deploy::ONE_OUNCE;
use aurum_chain::{DeployConfig, Error, GoldToken, LocalAnvil, connect, deploy_all, send};

use crate::{events, oz, refusal};

#[tokio::test]
async fn token_lifecycle_on_anvil() -> Result<(), Error> {
    let anvil = LocalAnvil::spawn()?;
    let url = anvil.endpoint();
    let (admin_key, alice_key, bob_key) = (anvil.signer(0), anvil.signer(1), anvil.signer(2));
    let (admin, alice, bob) = (admin_key.address(), alice_key.address(), bob_key.address());
    let admin_p = connect(&url, admin_key).await?;
    let config = DeployConfig { max_reserve_age: 3600, ..DeployConfig::default() };

    // Deployment: three contracts, wired, roles granted.
    let d = deploy_all(&admin_p, admin, &config).await?;
    let token = d.token(admin_p.clone());
    let reserve = d.reserve_feed(admin_p.clone());
    assert_eq!(token.reserveFeed().call().await?, d.reserve_feed);
    assert_eq!(token.decimals().call().await?, 18);
    assert_eq!(reserve.decimals().call().await?, 8);
    assert_eq!(d.price_feed(admin_p.clone()).decimals().call().await?, 8);
    let roles = [
        token.SUPPLY_CONTROLLER_ROLE().call().await?,
        token.PAUSER_ROLE().call().await?,
        token.ASSET_PROTECTION_ROLE().call().await?,
    ];
    for role in roles {
        assert!(token.hasRole(role, admin).call().await?);
        assert!(!token.hasRole(role, alice).call().await?);
    }

    // No reserve attested yet: minting is refused.
    assert!(matches!(refusal(send(token.mint(alice, oz(1))).await), GoldTokenErrors::ReserveUnavailable(_)));

    // Attest 500.5 oz; mint exactly up to the reserve.
    send(reserve.updateAnswer(I256::try_from(50_050_000_000i64).unwrap())).await?;
    let cap = oz(500) + ONE_OUNCE / U256::from(2);
    assert_eq!(token.reserveInTokenUnits().call().await?, cap);
    let receipt = send(token.mint(alice, cap)).await?;
    let minted = events::<GoldToken::Minted>(&receipt);
    assert_eq!(minted.len(), 1);
    assert_eq!((minted[0].to, minted[0].amount, minted[0].reserve, minted[0].newTotalSupply), (alice, cap, cap, cap));
    let transfers = events::<GoldToken::Transfer>(&receipt);
    assert_eq!(transfers.len(), 1);
    assert!(transfers[0].from.is_zero() && transfers[0].to == alice && transfers[0].value == cap);
    assert_eq!(token.totalSupply().call().await?, cap);

    // One base unit past the reserve is refused with ReserveExceeded(cap + 1, cap).
    match refusal(send(token.mint(alice, U256::from(1))).await) {
        GoldTokenErrors::ReserveExceeded(e) => assert_eq!((e.newTotalSupply, e.reserve), (cap + U256::from(1), cap)),
        other => panic!("expected ReserveExceeded, got {other:?}"),
    }

    // Role checks: alice may not mint, pause or freeze.
    let alice_p = connect(&url, alice_key).await?;
    let alice_token = d.token(alice_p.clone());
    for refused in [
        refusal(send(alice_token.mint(alice, U256::from(1))).await),
        refusal(send(alice_token.pause()).await),
        refusal(send(alice_token.freeze(bob)).await),
    ] {
        match refused {
            GoldTokenErrors::AccessControlUnauthorizedAccount(e) => assert_eq!(e.account, alice),
            other => panic!("expected AccessControlUnauthorizedAccount, got {other:?}"),
        }
    }

    // Pause blocks transfers; unpause lets them through.
    send(token.pause()).await?;
    assert!(matches!(refusal(send(alice_token.transfer(bob, oz(10))).await), GoldTokenErrors::EnforcedPause(_)));
    send(token.unpause()).await?;
    let receipt = send(alice_token.transfer(bob, oz(10))).await?;
    assert_eq!(events::<GoldToken::Transfer>(&receipt).len(), 1);
    assert_eq!(token.balanceOf(bob).call().await?, oz(10));

    // Redeem: alice burns 1 oz with an off-chain reference.
    let reference = B256::repeat_byte(0xab);
    let receipt = send(alice_token.redeem(oz(1), reference)).await?;
    let redeemed = events::<GoldToken::Redeemed>(&receipt);
    assert_eq!(redeemed.len(), 1);
    assert_eq!((redeemed[0].from, redeemed[0].amount, redeemed[0].redemptionRef), (alice, oz(1), reference));
    let burns = events::<GoldToken::Transfer>(&receipt);
    assert!(burns.len() == 1 && burns[0].from == alice && burns[0].to.is_zero() && burns[0].value == oz(1));
    assert_eq!(token.totalSupply().call().await?, cap - oz(1));

    // Freeze bob: he can neither send nor receive; wipe burns his whole balance.
    let bob_token = d.token(connect(&url, bob_key).await?);
    send(token.freeze(bob)).await?;
    assert!(token.isFrozen(bob).call().await?);
    assert!(matches!(refusal(send(bob_token.transfer(alice, oz(1))).await), GoldTokenErrors::AccountFrozen(_)));
    assert!(matches!(refusal(send(alice_token.transfer(bob, oz(1))).await), GoldTokenErrors::AccountFrozen(_)));
    let supply_before = token.totalSupply().call().await?;
    let receipt = send(token.wipeFrozenAddress(bob)).await?;
    let wiped = events::<GoldToken::FrozenAddressWiped>(&receipt);
    assert!(wiped.len() == 1 && wiped[0].account == bob && wiped[0].amount == oz(10));
    assert_eq!(token.totalSupply().call().await?, supply_before - oz(10));
    assert_eq!(token.balanceOf(bob).call().await?, U256::ZERO);

    // Rate limit: a 1 oz bucket that does not refill refuses 2 oz (the reserve would allow it).
    send(token.setMintRateLimit(oz(1), U256::ZERO)).await?;
    match refusal(send(token.mint(alice, oz(2))).await) {
        GoldTokenErrors::MintRateLimited(e) => assert_eq!((e.amount, e.available), (oz(2), oz(1))),
        other => panic!("expected MintRateLimited, got {other:?}"),
    }
    send(token.setMintRateLimit(config.mint_capacity, config.mint_refill_per_second)).await?;

    // Stale reserve: move the chain past maxReserveAge since the last attestation.
    let fresh = send(token.mint(alice, oz(1))).await?;
    assert_eq!(events::<GoldToken::Minted>(&fresh).len(), 1);
    admin_p.anvil_increase_time(config.max_reserve_age + 1).await?;
    admin_p.evm_mine(None).await?;
    match refusal(send(token.mint(alice, oz(1))).await) {
        GoldTokenErrors::StaleReserve(e) => assert_eq!(e.maxReserveAge, U256::from(config.max_reserve_age)),
        other => panic!("expected StaleReserve, got {other:?}"),
    }
    // A fresh attestation unblocks minting again.
    send(reserve.updateAnswer(I256::try_from(50_050_000_000i64).unwrap())).await?;
    send(token.mint(alice, oz(1))).await?;
    Ok(())
}

/// Every role-gated function refuses an account without the role; each role works once granted and stops when
/// revoked; the refusals that do not depend on roles (zero amounts, double freeze, unset redemption address,
/// frozen approvals and spenders) hold too; a wipe works while paused, a mint does not.
#[tokio::test]
async fn every_role_is_checked() -> Result<(), Error> {
    let anvil = LocalAnvil::spawn()?;
    let url = anvil.endpoint();
    let (admin_key, alice_key, bob_key, carol_key) =
        (anvil.signer(0), anvil.signer(1), anvil.signer(2), anvil.signer(3));
    let (admin, alice, bob, carol) = (admin_key.address(), alice_key.address(), bob_key.address(), carol_key.address());
    let admin_p = connect(&url, admin_key).await?;
    let d = deploy_all(&admin_p, admin, &DeployConfig::default()).await?;
    let token = d.token(admin_p.clone());
    send(d.reserve_feed(admin_p.clone()).updateAnswer(I256::try_from(100_000_000_000i64).unwrap())).await?;
    send(token.mint(alice, oz(100))).await?;

    let alice_token = d.token(connect(&url, alice_key).await?);
    let unauthorized = |refused: GoldTokenErrors, what: &str| match refused {
        GoldTokenErrors::AccessControlUnauthorizedAccount(e) => assert_eq!(e.account, alice, "{what}"),
        other => panic!("{what}: expected AccessControlUnauthorizedAccount, got {other:?}"),
    };
    // Admin functions.
    unauthorized(refusal(send(alice_token.setReserveFeed(alice)).await), "setReserveFeed");
    unauthorized(refusal(send(alice_token.setMaxReserveAge(U256::from(1))).await), "setMaxReserveAge");
    unauthorized(refusal(send(alice_token.setMintRateLimit(oz(1), oz(1))).await), "setMintRateLimit");
    unauthorized(refusal(send(alice_token.setRedemptionAddress(alice)).await), "setRedemptionAddress");
    let pauser = token.PAUSER_ROLE().call().await?;
    unauthorized(refusal(send(alice_token.grantRole(pauser, alice)).await), "grantRole");
    // Pauser, asset protection, supply controller.
    unauthorized(refusal(send(alice_token.pause()).await), "pause");
    unauthorized(refusal(send(alice_token.unpause()).await), "unpause");
    unauthorized(refusal(send(alice_token.freeze(bob)).await), "freeze");
    unauthorized(refusal(send(alice_token.unfreeze(bob)).await), "unfreeze");
    unauthorized(refusal(send(alice_token.wipeFrozenAddress(bob)).await), "wipeFrozenAddress");
    unauthorized(refusal(send(alice_token.mint(alice, oz(1))).await), "mint");
    unauthorized(refusal(send(alice_token.burnRedemption(oz(1), B256::ZERO)).await), "burnRedemption");

    // A role granted works; revoked, it stops.
    let carol_token = d.token(connect(&url, carol_key).await?);
    send(token.grantRole(pauser, carol)).await?;
    send(carol_token.pause()).await?;
    send(carol_token.unpause()).await?;
    send(token.revokeRole(pauser, carol)).await?;
    assert!(matches!(refusal(send(carol_token.pause()).await), GoldTokenErrors::AccessControlUnauthorizedAccount(_)));

    // Zero amounts.
    assert!(matches!(refusal(send(token.mint(alice, U256::ZERO)).await), GoldTokenErrors::ZeroAmount(_)));
    assert!(matches!(refusal(send(alice_token.redeem(U256::ZERO, B256::ZERO)).await), GoldTokenErrors::ZeroAmount(_)));

    // Redemption through the redemption address: refused until it is set, then burns what customers send there.
    assert!(matches!(
        refusal(send(token.burnRedemption(oz(1), B256::ZERO)).await),
        GoldTokenErrors::RedemptionAddressNotSet(_)
    ));
    send(token.setRedemptionAddress(carol)).await?;
    send(alice_token.transfer(carol, oz(4))).await?;
    let reference = B256::repeat_byte(7);
    let receipt = send(token.burnRedemption(oz(4), reference)).await?;
    let redeemed = events::<GoldToken::Redeemed>(&receipt);
    assert_eq!((redeemed[0].from, redeemed[0].amount, redeemed[0].redemptionRef), (carol, oz(4), reference));
    assert_eq!(token.balanceOf(carol).call().await?, U256::ZERO);

    // Freezing: twice is refused, unfreezing or wiping an address that is not frozen is refused.
    send(token.freeze(bob)).await?;
    assert!(matches!(refusal(send(token.freeze(bob)).await), GoldTokenErrors::AlreadyFrozen(_)));
    assert!(matches!(refusal(send(token.unfreeze(carol)).await), GoldTokenErrors::NotFrozen(_)));
    assert!(matches!(refusal(send(token.wipeFrozenAddress(carol)).await), GoldTokenErrors::NotFrozen(_)));
    // A frozen owner cannot approve, nobody can approve a frozen spender, and a frozen spender cannot spend.
    let bob_token = d.token(connect(&url, bob_key).await?);
    assert!(matches!(refusal(send(bob_token.approve(alice, oz(1))).await), GoldTokenErrors::AccountFrozen(_)));
    assert!(matches!(refusal(send(alice_token.approve(bob, oz(1))).await), GoldTokenErrors::AccountFrozen(_)));
    send(token.unfreeze(bob)).await?;
    send(alice_token.approve(bob, oz(2))).await?;
    send(token.freeze(bob)).await?;
    assert!(matches!(
        refusal(send(bob_token.transferFrom(alice, carol, oz(1))).await),
        GoldTokenErrors::AccountFrozen(_)
    ));
    send(token.unfreeze(bob)).await?;
    send(bob_token.transferFrom(alice, carol, oz(1))).await?;
    assert_eq!(token.balanceOf(carol).call().await?, oz(1));

    // Paused: a mint is refused, a wipe of a frozen address still works.
    send(token.freeze(carol)).await?;
    send(token.pause()).await?;
    assert!(matches!(refusal(send(token.mint(alice, oz(1))).await), GoldTokenErrors::EnforcedPause(_)));
    let receipt = send(token.wipeFrozenAddress(carol)).await?;
    assert_eq!(events::<GoldToken::FrozenAddressWiped>(&receipt)[0].amount, oz(1));
    assert_eq!(token.balanceOf(carol).call().await?, U256::ZERO);
    Ok(())
}
