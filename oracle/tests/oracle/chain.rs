//! On a real Anvil: deviation and heartbeat pushes verified by reading latestRoundData, the consumer-side staleness
//! check, and reserve attestations (verified, published, then the token mints against them; forged, altered and
//! lying attestations refused).

use aurum_chain::alloy::primitives::U256;
use aurum_chain::alloy::providers::ext::AnvilApi;
use aurum_chain::deploy::ONE_OUNCE;
use aurum_chain::{DeployConfig, LocalAnvil, connect, deploy_all, send};
use aurum_oracle::attest::{self, AttestError};
use aurum_oracle::push::{self, PushError, PushPolicy, PushReason};
use ed25519_dalek::SigningKey;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const BARS: &str = "refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation
Valcambi SA,VS-1,2024,400.125,999.9,400.084,LDN-1,allocated,Aurum Gold program
PAMP SA,PA-2,2023,398.470,999.9,398.430,LDN-1,allocated,Aurum Gold program
PAMP SA,PA-3,2023,398.470,999.9,398.430,LDN-1,unallocated,Aurum Gold program
";

#[tokio::test]
async fn deviation_and_heartbeat_pushes_and_stale_reads() -> TestResult {
    let anvil = LocalAnvil::spawn()?;
    let key = anvil.signer(0);
    let admin = key.address();
    let p = connect(&anvil.endpoint(), key).await?;
    let d = deploy_all(&p, admin, &DeployConfig::default()).await?;
    let feed = d.price_feed(p.clone());
    let policy = PushPolicy { deviation_bps: 50, heartbeat_secs: 3_600 };
    let usd = |s: &str| aurum_oracle::aggregate::parse_value(s, 8).unwrap();

    let first = push::maybe_push(&feed, &policy, usd("2650.00")).await?;
    assert_eq!(first.reason, Some(PushReason::FirstAnswer));
    assert_eq!(first.latest.map(|l| (l.round, l.answer)), Some((1, usd("2650.00"))));

    let small = push::maybe_push(&feed, &policy, usd("2650.10")).await?;
    assert_eq!((small.reason, small.tx), (None, None), "0.4 bps is inside the band");
    assert_eq!(push::latest(&feed).await?.map(|l| l.round), Some(1));

    let moved = push::maybe_push(&feed, &policy, usd("2670.00")).await?;
    assert_eq!(moved.reason, Some(PushReason::Deviation { bps: 75 }));
    let latest = push::latest(&feed).await?.unwrap();
    assert_eq!((latest.round, latest.answer), (2, usd("2670.00")));

    // An hour of chain time with a flat price: the heartbeat pushes the same answer again.
    p.anvil_increase_time(3_600).await?;
    p.evm_mine(None).await?;
    let beat = push::maybe_push(&feed, &policy, usd("2670.00")).await?;
    assert!(matches!(beat.reason, Some(PushReason::Heartbeat { age_secs }) if age_secs >= 3_600), "{beat:?}");
    let after = push::latest(&feed).await?.unwrap();
    assert_eq!((after.round, after.answer), (3, usd("2670.00")));
    assert!(after.updated_at >= latest.updated_at + 3_600);

    // Consumers refuse a stale answer.
    assert_eq!(push::read_fresh(&feed, 60).await?.answer, usd("2670.00"));
    p.anvil_increase_time(120).await?;
    p.evm_mine(None).await?;
    match push::read_fresh(&feed, 60).await {
        Err(PushError::Stale { age_secs, max_age_secs: 60 }) => assert!(age_secs >= 120),
        other => panic!("expected a stale answer, got {other:?}"),
    }
    // A feed never updated has no answer at all.
    assert!(matches!(push::read_fresh(&d.reserve_feed(p.clone()), 60).await, Err(PushError::NoAnswer)));
    Ok(())
}

#[tokio::test]
async fn reserve_attestations_are_verified_before_the_secure_mint_sees_them() -> TestResult {
    let anvil = LocalAnvil::spawn()?;
    let key = anvil.signer(0);
    let admin = key.address();
    let p = connect(&anvil.endpoint(), key).await?;
    let d = deploy_all(&p, admin, &DeployConfig::default()).await?;
    let reserve = d.reserve_feed(p.clone());
    let custodian = SigningKey::from_bytes(&[42; 32]);
    let program = "Aurum Gold program";

    let a = attest::attest(&custodian, "vault-ldn", BARS.as_bytes(), program, 1_795_000_000_000)?;
    assert_eq!(a.fine_oz, "798.514", "two allocated bars; the unallocated one does not count");
    let vk = custodian.verifying_key();

    // Forged: signed by someone else.
    let forged = attest::attest(&SigningKey::from_bytes(&[7; 32]), "vault-ldn", BARS.as_bytes(), program, a.as_of_ms)?;
    assert!(matches!(attest::verify(&forged, &vk, BARS.as_bytes()), Err(AttestError::BadSignature(_))));
    // Altered: the bar list changed after the custodian signed.
    let altered = BARS.replace("398.430,LDN-1,allocated", "398.431,LDN-1,allocated");
    assert!(matches!(attest::verify(&a, &vk, altered.as_bytes()), Err(AttestError::DigestMismatch { .. })));
    // Lying: the custodian signs a total its own bar list does not support.
    let inflated = {
        use ed25519_dalek::Signer;
        let mut x = a.clone();
        x.fine_oz = "1000.000".into();
        let msg = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            attest::DOMAIN,
            x.custodian,
            x.bar_list_sha256,
            x.fine_oz,
            x.allocation,
            x.as_of_ms
        );
        x.signature = hex::encode(custodian.sign(msg.as_bytes()).to_bytes());
        x
    };
    assert!(matches!(attest::verify(&inflated, &vk, BARS.as_bytes()), Err(AttestError::TotalMismatch { .. })));
    assert!(push::latest(&reserve).await?.is_none(), "nothing refused reached the chain");

    // The genuine attestation is published, and the token mints exactly up to it.
    let (milli, _tx) = attest::verify_and_publish(&a, &vk, BARS.as_bytes(), &reserve).await?;
    assert_eq!(milli, 798_514);
    assert_eq!(push::latest(&reserve).await?.map(|l| l.answer), Some(79_851_400_000));
    let token = d.token(p.clone());
    let cap = ONE_OUNCE * U256::from(798_514u64) / U256::from(1_000u64);
    assert_eq!(token.reserveInTokenUnits().call().await?, cap);
    send(token.mint(anvil.addresses()[1], cap)).await?;
    assert!(send(token.mint(anvil.addresses()[1], U256::from(1))).await.is_err(), "one unit past the reserve");
    Ok(())
}
