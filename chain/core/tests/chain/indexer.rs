//! The indexer and the ledger mirror on a real Anvil: backfill in chunks, live follow, a forced reorg
//! (`anvil_reorg`) rolled back and re-ingested, a reorg below finality refused, restart from the cursor, and the
//! ledger matching the chain with nothing counted twice.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aurum_chain::alloy::network::TransactionBuilder;
use aurum_chain::alloy::primitives::{Address, B256, I256, U256};
use aurum_chain::alloy::providers::ext::AnvilApi;
use aurum_chain::alloy::providers::{DynProvider, Provider};
use aurum_chain::alloy::rpc::types::Filter;
use aurum_chain::alloy::rpc::types::anvil::{ReorgOptions, TransactionData};
use aurum_chain::indexer::{self, IndexerConfig, StepReport};
use aurum_chain::{
    DeployConfig, Deployment, HoldingsError, Indexer, IndexerError, LocalAnvil, Mirror, MirrorConfig, connect,
    deploy_all, holdings_at, send,
};
use aurum_kv::Db;
use aurum_ledger::{AccountId, AssetId, Command, CreateAsset};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_vfs::OsVfs;
use tokio::sync::watch;

use crate::oz;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const AUG: AssetId = AssetId(77);
const MIRROR: MirrorConfig = MirrorConfig {
    asset: AUG,
    mint_clearing: AccountId(7001),
    redemption_clearing: AccountId(7002),
    wiped: AccountId(7003),
};

/// A chain with the contracts deployed and a 10 000 oz reserve attested.
struct Chain {
    anvil: LocalAnvil,
    admin: DynProvider,
    deployment: Deployment,
}

impl Chain {
    async fn start() -> Result<Chain, Box<dyn std::error::Error + Send + Sync>> {
        let anvil = LocalAnvil::spawn()?;
        let admin_key = anvil.signer(0);
        let admin_address = admin_key.address();
        let admin = connect(&anvil.endpoint(), admin_key).await?;
        let deployment = deploy_all(&admin, admin_address, &DeployConfig::default()).await?;
        send(deployment.reserve_feed(admin.clone()).updateAnswer(I256::try_from(1_000_000_000_000i64)?)).await?;
        Ok(Chain { anvil, admin, deployment })
    }

    async fn user(&self, index: usize) -> Result<(Address, DynProvider), Box<dyn std::error::Error + Send + Sync>> {
        let key = self.anvil.signer(index);
        Ok((key.address(), connect(&self.anvil.endpoint(), key).await?))
    }

    fn addresses(&self) -> Vec<Address> {
        vec![self.deployment.token, self.deployment.reserve_feed, self.deployment.price_feed]
    }

    fn indexer_config(&self, confirmations: u64, chunk_blocks: u64) -> IndexerConfig {
        IndexerConfig {
            confirmations,
            chunk_blocks,
            poll_interval: Duration::from_millis(20),
            ..IndexerConfig::new(self.addresses(), self.deployment.first_block)
        }
    }

    /// What `eth_getLogs` says now about the indexed contracts, as (block hash, log index), in chain order.
    async fn canonical_logs(
        &self,
        to_block: u64,
    ) -> Result<Vec<(B256, u64)>, Box<dyn std::error::Error + Send + Sync>> {
        let filter = Filter::new().address(self.addresses()).from_block(self.deployment.first_block).to_block(to_block);
        let logs = self.admin.get_logs(&filter).await?;
        Ok(logs.iter().map(|l| (l.block_hash.unwrap(), l.log_index.unwrap())).collect())
    }
}

fn open_db(dir: &Path) -> Db {
    Db::open(Arc::new(OsVfs), dir, aurum_kv::Options::default()).unwrap()
}

fn open_ledger(dir: &Path) -> Engine {
    let (engine, _) = Engine::open(Arc::new(OsVfs), dir, EngineConfig::default()).unwrap();
    let created =
        engine.submit(vec![Command::CreateAsset(CreateAsset { id: AUG, code: "AUG".into(), scale: 18 })]).unwrap();
    assert!(created[0].code.is_ok());
    engine
}

fn stored_logs(db: &Db, chain_id: u64) -> Vec<(B256, u64)> {
    indexer::read_all_logs(db, chain_id, usize::MAX).unwrap().iter().map(|l| (l.block_hash, l.log_index)).collect()
}

/// The ledger balance of `holder`'s mirrored wallet, in token base units.
fn ledger_balance(engine: &Engine, mirror: &Mirror, holder: Address) -> U256 {
    let balance = engine.read(|l| l.account(mirror.wallet_account(holder)).map(|a| a.balance())).unwrap();
    U256::from(u128::try_from(balance.unwrap_or(0)).expect("a wallet is never negative"))
}

fn account_balance(engine: &Engine, id: AccountId) -> i128 {
    engine.read(|l| l.account(id).map(|a| a.balance())).unwrap().expect("account exists")
}

/// Every holder's ledger wallet equals its on-chain balance at `block`, and the wallets add up to the supply.
async fn assert_ledger_matches_chain(
    chain: &Chain,
    engine: &Engine,
    mirror: &Mirror,
    db: &Db,
    block: u64,
) -> TestResult {
    let token = chain.deployment.token(chain.admin.clone());
    let mut total = U256::ZERO;
    let holders = mirror.wallets(db)?;
    assert!(!holders.is_empty());
    for holder in holders {
        let on_chain = token.balanceOf(holder).block(block.into()).call().await?;
        assert_eq!(ledger_balance(engine, mirror, holder), on_chain, "wallet {holder} at block {block}");
        total += on_chain;
    }
    assert_eq!(total, token.totalSupply().block(block.into()).call().await?, "wallets add up to the supply");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_follow_restart_and_mirror_exactly_once() -> TestResult {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let d = chain.deployment;
    let token = d.token(chain.admin.clone());
    let (alice, alice_p) = chain.user(1).await?;
    let (bob, bob_p) = chain.user(2).await?;
    let (carol, _) = chain.user(3).await?;

    // History to backfill: mints, transfers, a redemption, a freeze and wipe, a price.
    send(token.mint(alice, oz(100))).await?;
    send(token.mint(bob, oz(20))).await?;
    let alice_token = d.token(alice_p.clone());
    for n in 1..=5u64 {
        send(alice_token.transfer(bob, oz(n))).await?;
    }
    send(alice_token.transfer(carol, oz(7))).await?;
    send(d.token(bob_p.clone()).redeem(oz(3), B256::repeat_byte(0x11))).await?;
    send(token.freeze(carol)).await?;
    send(token.wipeFrozenAddress(carol)).await?;
    send(d.price_feed(chain.admin.clone()).updateAnswer(I256::try_from(265_000_000_000i64)?)).await?;
    let head = chain.admin.get_block_number().await?;

    // Backfill in 3-block chunks with no confirmation depth: every log arrives once, in order.
    let db = open_db(&dir.path().join("kv"));
    let mut ix = Indexer::open(chain.admin.clone(), db.clone(), chain.indexer_config(0, 3)).await?;
    let chain_id = ix.chain_id();
    let report = ix.catch_up().await?;
    assert!(report.caught_up);
    assert_eq!(ix.cursor().finalized, head);
    let canonical = chain.canonical_logs(head).await?;
    assert_eq!(stored_logs(&db, chain_id), canonical);
    assert_eq!(report.logs_ingested, canonical.len() as u64);
    assert!(report.blocks_finalized >= 10, "{report:?}");

    // The token's state rebuilt from the final logs equals what the chain answers.
    let h = holdings_at(&db, chain_id, &d, head)?;
    assert_eq!(h.supply, token.totalSupply().call().await?);
    for holder in [alice, bob, carol] {
        assert_eq!(h.balances.get(&holder).copied().unwrap_or_default(), token.balanceOf(holder).call().await?);
    }
    assert!(!h.balances.contains_key(&carol), "wiped to zero");
    assert_eq!(h.frozen, BTreeSet::from([carol]));
    assert_eq!((h.minted, h.redeemed, h.wiped), (oz(120), oz(3), oz(7)));
    assert_eq!(h.price.map(|p| p.answer), Some(I256::try_from(265_000_000_000i64)?));
    assert!(h.reserve.is_some());
    assert!(matches!(holdings_at(&db, chain_id, &d, head + 1), Err(HoldingsError::NotFinal { .. })));

    // Mirror into the ledger: every wallet matches the chain; clearing accounts carry the supply changes.
    let engine = open_ledger(&dir.path().join("ledger"));
    let mirror = Mirror::new(chain_id, d, MIRROR);
    mirror.setup(&engine)?;
    let first = mirror.sync(&db, &engine)?;
    assert_eq!(first.replayed, 0);
    assert_eq!(first.wallets_opened, 3);
    // 2 mints + 6 transfers + 1 redemption + 1 wipe.
    assert_eq!(first.transfers, 10);
    assert_ledger_matches_chain(&chain, &engine, &mirror, &db, head).await?;
    let minted = i128::try_from(u128::try_from(oz(120))?)?;
    assert_eq!(account_balance(&engine, MIRROR.mint_clearing), -minted);
    assert_eq!(account_balance(&engine, MIRROR.redemption_clearing), i128::try_from(u128::try_from(oz(3))?)?);
    assert_eq!(account_balance(&engine, MIRROR.wiped), i128::try_from(u128::try_from(oz(7))?)?);

    // Live follow: a background task follows the head while transfers land; wait on its progress, not a timer.
    let (stop, stop_rx) = watch::channel(false);
    let mut progress = ix.subscribe();
    let follower = tokio::spawn(async move {
        let result = ix.follow(stop_rx).await;
        (ix, result)
    });
    for _ in 0..4 {
        send(alice_token.transfer(bob, oz(2))).await?;
    }
    let target = chain.admin.get_block_number().await?;
    tokio::time::timeout(Duration::from_secs(120), progress.wait_for(|p| p.finalized >= target)).await??;
    stop.send(true)?;
    let (ix, result) = follower.await?;
    result?;
    assert_eq!(stored_logs(&db, chain_id), chain.canonical_logs(target).await?);
    let second = mirror.sync(&db, &engine)?;
    assert_eq!((second.transfers, second.replayed, second.wallets_opened), (4, 0, 0));
    assert_ledger_matches_chain(&chain, &engine, &mirror, &db, target).await?;

    // Restart: reopen the store; the cursor resumes where it was and nothing is ingested twice.
    let cursor = ix.cursor();
    drop(ix);
    drop(db);
    let db = open_db(&dir.path().join("kv"));
    let mut ix = Indexer::open(chain.admin.clone(), db.clone(), chain.indexer_config(0, 3)).await?;
    assert_eq!(ix.cursor(), cursor);
    let again = ix.catch_up().await?;
    assert_eq!(again.logs_ingested, 0);
    assert_eq!(stored_logs(&db, chain_id), chain.canonical_logs(target).await?);
    assert_eq!(mirror.sync(&db, &engine)?, Default::default());

    // A crash between the ledger write and the mirror's cursor write: the resubmission is answered from the
    // ledger's idempotency records and changes nothing.
    let transfers_before = engine.read(|l| l.transfer_id_count())?;
    db.delete(&mirror.cursor_key())?;
    let replay = mirror.sync(&db, &engine)?;
    assert_eq!((replay.transfers, replay.replayed, replay.wallets_opened), (0, 14, 0));
    assert_eq!(engine.read(|l| l.transfer_id_count())?, transfers_before);
    assert_ledger_matches_chain(&chain, &engine, &mirror, &db, target).await?;
    Ok(())
}

#[tokio::test]
async fn reorg_within_confirmation_depth_is_rolled_back_and_reingested() -> TestResult {
    const CONFIRMATIONS: u64 = 4;
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let d = chain.deployment;
    let token = d.token(chain.admin.clone());
    let (alice, alice_p) = chain.user(1).await?;
    let (bob, _) = chain.user(2).await?;
    let (carol, _) = chain.user(3).await?;
    send(token.mint(alice, oz(100))).await?;
    let alice_token = d.token(alice_p.clone());
    for _ in 0..3 {
        send(alice_token.transfer(bob, oz(1))).await?; // one block each: the last 3 blocks hold these
    }

    let db = open_db(&dir.path().join("kv"));
    let mut ix = Indexer::open(chain.admin.clone(), db.clone(), chain.indexer_config(CONFIRMATIONS, 1_000)).await?;
    let chain_id = ix.chain_id();
    ix.catch_up().await?;
    let head = chain.admin.get_block_number().await?;
    assert_eq!(ix.cursor().tip, head);
    assert_eq!(ix.cursor().finalized, head - CONFIRMATIONS);
    let engine = open_ledger(&dir.path().join("ledger"));
    let mirror = Mirror::new(chain_id, d, MIRROR);
    mirror.setup(&engine)?;
    mirror.sync(&db, &engine)?;
    // Only final logs reach the ledger: the transfers to bob are still within the confirmation depth.
    assert_eq!(ledger_balance(&engine, &mirror, bob), U256::ZERO);

    // Replace the last 2 blocks (two of the transfers to bob) with a block holding a transfer to carol.
    let to_carol = alice_token.transfer(carol, oz(5)).into_transaction_request().with_from(alice);
    chain
        .admin
        .anvil_reorg(ReorgOptions { depth: 2, tx_block_pairs: vec![(TransactionData::JSON(to_carol), 0)] })
        .await?;
    assert_eq!(chain.admin.get_block_number().await?, head, "anvil_reorg keeps the height");

    let report: StepReport = ix.catch_up().await?;
    assert_eq!(report.reorgs, 1);
    assert_eq!(report.blocks_rolled_back, 2);
    assert_eq!(report.logs_rolled_back, 2, "two Transfer logs to bob were rolled back");
    assert_eq!(stored_logs(&db, chain_id), chain.canonical_logs(head).await?);

    // Bury the new blocks under the confirmation depth; everything becomes final exactly once.
    chain.admin.anvil_mine(Some(CONFIRMATIONS), None).await?;
    ix.catch_up().await?;
    let head = chain.admin.get_block_number().await?;
    assert_eq!(ix.cursor().finalized, head - CONFIRMATIONS);
    mirror.sync(&db, &engine)?;
    assert_eq!(token.balanceOf(bob).call().await?, oz(1));
    assert_eq!(token.balanceOf(carol).call().await?, oz(5));
    assert_eq!(ledger_balance(&engine, &mirror, bob), oz(1));
    assert_eq!(ledger_balance(&engine, &mirror, carol), oz(5));
    assert_ledger_matches_chain(&chain, &engine, &mirror, &db, head).await?;
    assert_eq!(stored_logs(&db, chain_id), chain.canonical_logs(head).await?);
    let holders: BTreeSet<Address> = mirror.wallets(&db)?.into_iter().collect();
    assert_eq!(holders, BTreeSet::from([alice, bob, carol]));
    Ok(())
}

#[tokio::test]
async fn reorg_below_finality_is_refused_not_absorbed() -> TestResult {
    let chain = Chain::start().await?;
    let dir = tempfile::tempdir()?;
    let d = chain.deployment;
    let (alice, _) = chain.user(1).await?;
    let token = d.token(chain.admin.clone());
    for _ in 0..4 {
        send(token.mint(alice, oz(1))).await?;
    }
    let db = open_db(dir.path());
    let mut ix = Indexer::open(chain.admin.clone(), db.clone(), chain.indexer_config(1, 1_000)).await?;
    ix.catch_up().await?;
    let finalized = ix.cursor().finalized;

    chain.admin.anvil_reorg(ReorgOptions { depth: 3, tx_block_pairs: vec![] }).await?;
    match ix.step().await {
        Err(IndexerError::ReorgBeyondFinality { block, confirmations, .. }) => {
            assert_eq!(confirmations, 1);
            assert!(block <= finalized);
        }
        other => panic!("expected ReorgBeyondFinality, got {other:?}"),
    }
    // Nothing final was touched.
    assert_eq!(ix.cursor().finalized, finalized);
    Ok(())
}
