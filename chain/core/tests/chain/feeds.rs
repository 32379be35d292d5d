//! The AggregatorV3-compatible feeds on a real Anvil: rounds, access control on updates, refusals.

use aurum_chain::AggregatorFeed::AggregatorFeedErrors;
use aurum_chain::alloy::primitives::{I256, U256, aliases::U80};
use aurum_chain::alloy::rpc::types::TransactionReceipt;
use aurum_chain::{AggregatorFeed, DeployConfig, Error, LocalAnvil, connect, deploy_all, send};

fn feed_refusal(result: Result<TransactionReceipt, Error>) -> AggregatorFeedErrors {
    let err = result.expect_err("transaction should have been refused");
    err.revert::<AggregatorFeedErrors>().unwrap_or_else(|| panic!("not an AggregatorFeed revert: {err}"))
}

fn answer(n: i64) -> I256 {
    I256::try_from(n).unwrap()
}

#[tokio::test]
async fn feeds_keep_rounds_and_refuse_bad_updates() -> Result<(), Error> {
    let anvil = LocalAnvil::spawn()?;
    let url = anvil.endpoint();
    let (admin_key, oracle_key) = (anvil.signer(0), anvil.signer(3));
    let (admin, oracle) = (admin_key.address(), oracle_key.address());
    let admin_p = connect(&url, admin_key).await?;
    let d = deploy_all(&admin_p, admin, &DeployConfig::default()).await?;
    let price = d.price_feed(admin_p.clone());
    assert_eq!(price.description().call().await?, "XAU / USD");
    assert_eq!(price.version().call().await?, U256::from(1));

    // No round yet: the latest round is 0 and reading it is refused.
    assert_eq!(price.latestRound().call().await?, U80::ZERO);
    let err = price.latestRoundData().call().await.expect_err("no data yet");
    let err = Error::from(err);
    assert!(matches!(err.revert::<AggregatorFeedErrors>(), Some(AggregatorFeedErrors::NoDataPresent(_))), "{err}");

    // Rounds count up from 1; each keeps its answer; answeredInRound = roundId.
    let r1 = send(price.updateAnswer(answer(265_012_000_000))).await?;
    let updated = crate::events::<AggregatorFeed::AnswerUpdated>(&r1);
    assert_eq!(updated.len(), 1);
    assert_eq!((updated[0].current, updated[0].roundId), (answer(265_012_000_000), U256::from(1)));
    send(price.updateAnswer(answer(265_500_000_000))).await?;
    let latest = price.latestRoundData().call().await?;
    assert_eq!(
        (latest.roundId, latest.answer, latest.answeredInRound),
        (U80::from(2), answer(265_500_000_000), U80::from(2))
    );
    assert_eq!(latest.startedAt, latest.updatedAt);
    let first = price.getRoundData(U80::from(1)).call().await?;
    assert_eq!(first.answer, answer(265_012_000_000));
    assert!(matches!(
        Error::from(price.getRoundData(U80::from(3)).call().await.expect_err("round 3 does not exist"))
            .revert::<AggregatorFeedErrors>(),
        Some(AggregatorFeedErrors::NoDataPresent(_))
    ));

    // Non-positive answers are refused.
    for bad in [0, -1] {
        match feed_refusal(send(price.updateAnswer(answer(bad))).await) {
            AggregatorFeedErrors::NonPositiveAnswer(e) => assert_eq!(e.answer, answer(bad)),
            other => panic!("expected NonPositiveAnswer, got {other:?}"),
        }
    }

    // Only UPDATER_ROLE may post; the admin can grant it to an oracle, and revoke it again.
    let oracle_p = connect(&url, oracle_key).await?;
    let oracle_price = d.price_feed(oracle_p.clone());
    match feed_refusal(send(oracle_price.updateAnswer(answer(1))).await) {
        AggregatorFeedErrors::AccessControlUnauthorizedAccount(e) => assert_eq!(e.account, oracle),
        other => panic!("expected AccessControlUnauthorizedAccount, got {other:?}"),
    }
    let updater = price.UPDATER_ROLE().call().await?;
    send(price.grantRole(updater, oracle)).await?;
    send(oracle_price.updateAnswer(answer(270_000_000_000))).await?;
    assert_eq!(price.latestRound().call().await?, U80::from(3));
    // The oracle cannot hand the role on: granting needs the admin role.
    assert!(matches!(
        feed_refusal(send(oracle_price.grantRole(updater, admin)).await),
        AggregatorFeedErrors::AccessControlUnauthorizedAccount(_)
    ));
    send(price.revokeRole(updater, oracle)).await?;
    assert!(matches!(
        feed_refusal(send(oracle_price.updateAnswer(answer(1))).await),
        AggregatorFeedErrors::AccessControlUnauthorizedAccount(_)
    ));

    // The reserve feed is a separate contract with its own rounds.
    let reserve = d.reserve_feed(admin_p.clone());
    assert_eq!(reserve.latestRound().call().await?, U80::ZERO);
    send(reserve.updateAnswer(answer(100_000_000_000))).await?;
    assert_eq!(reserve.latestRound().call().await?, U80::from(1));
    assert_eq!(price.latestRound().call().await?, U80::from(3));
    Ok(())
}
