//! The chain part of `aurum demo`: tokenized gold end to end on a local Anvil, with the ledger kept in step by the
//! indexer and the mirror.
//!
//! The story: bars arrive in the vault (an LBMA-style bar list is written and booked); the reserve is attested on the
//! reserve feed and a price on the price feed; customers buy gold in the ledger (custodial); they withdraw tokens to
//! their wallets (booked to mint clearing, then minted on chain — a mint past the reserve is refused by the token);
//! wallets trade; a wallet is frozen, refused, and wiped; a customer redeems tokens back into custody. After each
//! step the indexer catches up (with a confirmation depth, so the demo mines the confirming blocks) and the mirror
//! books the final events. At the end the ledger is checked against the chain, and the run's files are left for
//! reconciliation: the bar list, a manifest of the deployment and accounts, and Anvil's state dump.
//!
//! Every run uses a fresh chain with its own chain id (31337, 31338, ...), so the ledger's wallet and program
//! accounts (derived from the chain id) never mix two chains. Amounts of gold are token base units (18 decimals)
//! in the ledger's `AUG` asset, so nothing is ever rounded.

use std::path::{Path, PathBuf};

use aurum_chain::GoldToken::GoldTokenErrors;
use aurum_chain::alloy::primitives::{Address, B256, I256, TxHash, U256};
use aurum_chain::alloy::providers::DynProvider;
use aurum_chain::alloy::providers::ext::AnvilApi;
use aurum_chain::alloy::rpc::types::TransactionReceipt;
use aurum_chain::mirror::derive_id;
use aurum_chain::{
    AnvilConfig, DeployConfig, Deployment, Indexer, IndexerConfig, LocalAnvil, Mirror, MirrorConfig, connect,
    deploy_all, ensure_installed, send,
};
use aurum_kv::Db;
use aurum_ledger::decimal::format_amount;
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateEntry, CreateTransfer, Limit, Metadata,
    Posting, Side, TransferFlags, TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use aurum_recon::report::oz;

use super::Context;
use super::ledger::open_engine;

type DemoResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The token's unit in the ledger: one fine troy ounce, 18 decimals (token base units).
const AUG: AssetId = AssetId(3);
const AUG_SCALE: u8 = 18;
/// US dollars, for what customers pay.
const USD: AssetId = AssetId(4);
const USD_SCALE: u8 = 2;
/// Confirmations before the indexer treats a block as final.
const CONFIRMATIONS: u64 = 2;
/// Anvil's default chain id; run `n` of the demo in a data directory uses `BASE_CHAIN_ID + n`.
const BASE_CHAIN_ID: u64 = 31_337;
/// Price of gold the demo posts on the price feed and sells at, in cents per fine troy ounce.
const PRICE_CENTS: u128 = 265_012;

/// One base unit less than nothing: 10^18 base units per ounce.
const OUNCE: u128 = 1_000_000_000_000_000_000;

/// A bar as it arrives: refiner, serial, year, gross weight (thousandths of a troy oz), assay (parts per 10 000).
const BARS: [(&str, &str, u16, u128, u128); 5] = [
    ("Valcambi SA", "VS-2024-011871", 2024, 400_125, 9_999),
    ("PAMP SA", "PA-2023-882140", 2023, 398_470, 9_999),
    ("Argor-Heraeus SA", "AH-2024-377215", 2024, 402_910, 9_999),
    ("Metalor Technologies SA", "MT-2022-140903", 2022, 395_662, 9_995),
    ("Heraeus Metals", "HM-2024-560018", 2024, 401_034, 9_999),
];
const VAULT_NAME: &str = "LDN-1";
/// The program the bars are allocated to.
const ALLOCATION: &str = "Aurum Gold program";

/// Customers: name, dev-account index of their wallet, whole ounces they buy in custody.
const CUSTOMERS: [(&str, usize, u128); 4] = [("alice", 1, 600), ("bob", 2, 400), ("carol", 3, 150), ("dave", 4, 0)];

/// The ledger accounts of one run of the program (ids derived from the chain id).
#[derive(Debug, Clone, Copy)]
struct Books {
    chain_id: u64,
    vault: AccountId,
    inventory: AccountId,
    bank_usd: AccountId,
    sales_usd: AccountId,
    mirror: MirrorConfig,
}

impl Books {
    fn new(chain_id: u64) -> Self {
        let id = |name: &str| AccountId(derive_id(&[b"aurum/demo", &chain_id.to_be_bytes(), name.as_bytes()]));
        Books {
            chain_id,
            vault: id("vault"),
            inventory: id("inventory"),
            bank_usd: id("bank-usd"),
            sales_usd: id("sales-usd"),
            mirror: MirrorConfig {
                asset: AUG,
                mint_clearing: id("mint-clearing"),
                redemption_clearing: id("redemption-clearing"),
                wiped: id("wiped"),
            },
        }
    }

    fn custody(&self, customer: &str) -> AccountId {
        AccountId(derive_id(&[b"aurum/demo", &self.chain_id.to_be_bytes(), b"custody", customer.as_bytes()]))
    }

    fn cash(&self, customer: &str) -> AccountId {
        AccountId(derive_id(&[b"aurum/demo", &self.chain_id.to_be_bytes(), b"usd", customer.as_bytes()]))
    }

    fn entry_id(&self, name: &str) -> TransferId {
        TransferId(derive_id(&[b"aurum/demo-entry", &self.chain_id.to_be_bytes(), name.as_bytes()]))
    }
}

/// Everything the story needs while it runs.
struct Story<'a> {
    ctx: &'a Context,
    engine: Engine,
    db: Db,
    admin: DynProvider,
    anvil: LocalAnvil,
    deployment: Deployment,
    indexer: Indexer,
    mirror: Mirror,
    books: Books,
    steps: Vec<Value>,
}

/// Run the chain story; returns its summary.
pub fn run(ctx: &Context) -> DemoResult<Value> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run_story(ctx))
}

async fn run_story(ctx: &Context) -> DemoResult<Value> {
    ensure_installed()?;
    let chains_dir = ctx.data_dir.join("chain");
    std::fs::create_dir_all(&chains_dir)?;
    let chain_id = BASE_CHAIN_ID + previous_runs(&chains_dir)?;
    let run_dir = chains_dir.join(chain_id.to_string());
    std::fs::create_dir_all(&run_dir)?;

    let anvil = LocalAnvil::spawn_with(AnvilConfig { chain_id, ..AnvilConfig::default() })?;
    let admin_key = anvil.signer(0);
    let issuer = admin_key.address();
    let admin = connect(&anvil.endpoint(), admin_key).await?;
    let deployment = deploy_all(&admin, issuer, &DeployConfig::default()).await?;

    let engine = open_engine(ctx, EngineConfig::default())?;
    // The indexer keeps its cursor and logs in the ledger's KV store (one store per data directory).
    let db = engine.db().clone();
    let books = Books::new(chain_id);
    let mirror = Mirror::new(chain_id, deployment, books.mirror);
    let indexer = Indexer::open(
        admin.clone(),
        db.clone(),
        IndexerConfig {
            confirmations: CONFIRMATIONS,
            chunk_blocks: 1_000,
            ..IndexerConfig::new(
                vec![deployment.token, deployment.reserve_feed, deployment.price_feed],
                deployment.first_block,
            )
        },
    )
    .await?;
    let mut story = Story { ctx, engine, db, admin, anvil, deployment, indexer, mirror, books, steps: Vec::new() };
    story.say(
        "chain 1/8",
        format!(
            "Anvil (chain id {chain_id}) at {}; deployed reserve feed {}, price feed {}, token {} (issuer {issuer})",
            story.anvil.endpoint(),
            deployment.reserve_feed,
            deployment.price_feed,
            deployment.token
        ),
        json!({"chain_id": chain_id, "token": deployment.token.to_string(), "reserve_feed": deployment.reserve_feed.to_string(),
               "price_feed": deployment.price_feed.to_string(), "issuer": issuer.to_string()}),
    );
    story.open_books()?;
    story.mirror.setup(&story.engine)?;

    let (bars_file, bars_digest, fine_total) = story.bars_arrive(&run_dir)?;
    story.attest(fine_total).await?;
    story.customers_buy()?;
    story.withdrawals(fine_total).await?;
    story.trades().await?;
    story.freeze_and_wipe().await?;
    story.redeem().await?;
    let check = story.check(fine_total).await?;

    // Leave the run's data for reconciliation.
    let state = story.admin.anvil_dump_state().await?;
    std::fs::write(run_dir.join("anvil-state.json.gz"), &state)?;
    let finalized = story.indexer.cursor().finalized;
    let manifest = json!({
        "chain_id": chain_id,
        "token": deployment.token.to_string(),
        "reserve_feed": deployment.reserve_feed.to_string(),
        "price_feed": deployment.price_feed.to_string(),
        "first_block": deployment.first_block,
        "finalized_block": finalized,
        "confirmations": CONFIRMATIONS,
        "reserve_decimals": DeployConfig::default().reserve_decimals,
        "allocation": ALLOCATION,
        "bar_list": {"file": bars_file.file_name().map(|f| f.to_string_lossy().to_string()), "sha256": bars_digest},
        "ledger": {
            "asset": {"id": AUG.0, "code": "AUG", "scale": AUG_SCALE},
            "vault": story.books.vault.0.to_string(),
            "inventory": story.books.inventory.0.to_string(),
            "mint_clearing": story.books.mirror.mint_clearing.0.to_string(),
            "redemption_clearing": story.books.mirror.redemption_clearing.0.to_string(),
            "wiped": story.books.mirror.wiped.0.to_string(),
            "custody": CUSTOMERS.iter().map(|(n, _, _)| (n.to_string(), json!(story.books.custody(n).0.to_string()))).collect::<serde_json::Map<_, _>>(),
            "wallets": CUSTOMERS.iter().map(|(_, i, _)| {
                let a = story.anvil.addresses()[*i];
                (a.to_string(), json!(story.mirror.wallet_account(a).0.to_string()))
            }).collect::<serde_json::Map<_, _>>(),
        },
        "anvil_state": "anvil-state.json.gz",
    });
    let manifest_path = run_dir.join("manifest.json");
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&manifest)?)?;
    let recon = story.reconcile(&manifest_path, &bars_file, &run_dir).await?;
    if !ctx.json {
        println!(
            "  left for reconciliation: {}/{{manifest.json, bars.csv, anvil-state.json.gz}}; reports in {}",
            run_dir.display(),
            recon["report_dir"].as_str().unwrap_or_default()
        );
    }
    Ok(json!({
        "chain_id": chain_id,
        "steps": story.steps,
        "check": check,
        "recon": recon,
        "files": run_dir.display().to_string(),
    }))
}

/// How many chain stories this data directory has run (one subdirectory each).
fn previous_runs(chains_dir: &Path) -> DemoResult<u64> {
    let mut n = 0;
    for entry in std::fs::read_dir(chains_dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() && entry.file_name().to_string_lossy().parse::<u64>().is_ok() {
            n += 1;
        }
    }
    Ok(n)
}

impl Story<'_> {
    fn say(&mut self, step: &str, text: String, data: Value) {
        if !self.ctx.json {
            println!("[{step}] {text}");
        }
        self.steps.push(json!({"step": step, "text": text, "data": data}));
    }

    fn detail(&self, text: String) {
        if !self.ctx.json {
            println!("    {text}");
        }
    }

    fn address(&self, customer: &str) -> Address {
        let index = CUSTOMERS.iter().find(|(n, _, _)| *n == customer).expect("a demo customer").1;
        self.anvil.addresses()[index]
    }

    async fn wallet_of(&self, customer: &str) -> DemoResult<DynProvider> {
        let index = CUSTOMERS.iter().find(|(n, _, _)| *n == customer).expect("a demo customer").1;
        Ok(connect(&self.anvil.endpoint(), self.anvil.signer(index)).await?)
    }

    /// Submits commands and fails unless every one applied (a replay of an earlier identical command counts).
    fn book(&self, what: &str, commands: Vec<Command>) -> DemoResult<()> {
        let outcomes = self.engine.submit(commands)?;
        if let Some(bad) = outcomes.iter().find(|o| !o.code.is_ok()) {
            return Err(format!("{what}: the ledger refused with {}", bad.code.as_str()).into());
        }
        Ok(())
    }

    fn balance(&self, account: AccountId) -> DemoResult<i128> {
        Ok(self.engine.read(|l| l.account(account).map_or(0, |a| a.balance()))?)
    }

    /// Mines the confirming blocks, lets the indexer catch up and the mirror book what became final.
    async fn settle_chain(&mut self) -> DemoResult<String> {
        self.admin.anvil_mine(Some(CONFIRMATIONS), None).await?;
        let indexed = self.indexer.catch_up().await?;
        let mirrored = self.mirror.sync(&self.db, &self.engine)?;
        Ok(format!(
            "indexer: {} logs, final through block {}; mirror: {} ledger transfers, {} wallets opened",
            indexed.logs_ingested,
            self.indexer.cursor().finalized,
            mirrored.transfers,
            mirrored.wallets_opened
        ))
    }

    fn open_books(&mut self) -> DemoResult<()> {
        let b = self.books;
        let account = |id: AccountId, asset: AssetId, kind: AccountKind, limit: Limit, name: String| {
            Command::CreateAccount(CreateAccount {
                id,
                asset,
                kind,
                limit,
                history: true,
                metadata: meta(&[("name", name), ("chain_id", b.chain_id.to_string())]),
                linked: false,
            })
        };
        let no_negative = Limit::DebitsMustNotExceedCredits { overdraft: 0 };
        let mut commands = vec![
            Command::CreateAsset(CreateAsset { id: AUG, code: "AUG".into(), scale: AUG_SCALE }),
            Command::CreateAsset(CreateAsset { id: USD, code: "USD".into(), scale: USD_SCALE }),
            account(b.vault, AUG, AccountKind::Asset, Limit::None, format!("vault {VAULT_NAME}: allocated bars")),
            account(b.inventory, AUG, AccountKind::Equity, Limit::None, "issuer's unsold gold".into()),
            account(b.bank_usd, USD, AccountKind::Asset, Limit::None, "bank dollars".into()),
            account(b.sales_usd, USD, AccountKind::Income, Limit::None, "gold sales".into()),
        ];
        for (name, _, _) in CUSTOMERS {
            commands.push(account(
                b.custody(name),
                AUG,
                AccountKind::Liability,
                no_negative,
                format!("{name}: gold in custody"),
            ));
            commands.push(account(b.cash(name), USD, AccountKind::Liability, no_negative, format!("{name}: dollars")));
        }
        self.book("opening the books", commands)
    }

    /// Bars arrive: write the bar list, book the fine weight into the vault. Returns (file, sha256, fine total).
    fn bars_arrive(&mut self, run_dir: &Path) -> DemoResult<(PathBuf, String, u128)> {
        let mut csv = String::from("refiner,serial,year,gross_oz,assay,fine_oz,vault,status,allocation\n");
        let mut fine_total_milli = 0u128;
        for (refiner, serial, year, gross_milli, assay) in BARS {
            // LBMA: fine weight = gross × assay, rounded down to 0.001 oz.
            let fine_milli = gross_milli * assay / 10_000;
            fine_total_milli += fine_milli;
            csv.push_str(&format!(
                "{refiner},{serial},{year},{},{},{},{VAULT_NAME},allocated,{ALLOCATION}\n",
                format_amount(gross_milli, 3),
                format_amount(assay, 1),
                format_amount(fine_milli, 3)
            ));
        }
        let path = run_dir.join("bars.csv");
        std::fs::write(&path, &csv)?;
        let digest = hex::encode(Sha256::digest(csv.as_bytes()));
        let fine_total = fine_total_milli * (OUNCE / 1_000);
        self.book(
            "booking the bars",
            vec![Command::CreateTransfer(CreateTransfer {
                id: self.books.entry_id("bars-arrive"),
                debit_account: self.books.vault,
                credit_account: self.books.inventory,
                amount: fine_total,
                asset: AUG,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: meta(&[
                    ("memo", format!("{} bars into {VAULT_NAME}", BARS.len())),
                    ("bar_list_sha256", digest.clone()),
                ]),
            })],
        )?;
        self.say(
            "chain 2/8",
            format!(
                "{} bars arrived in vault {VAULT_NAME}: {} fine oz; ledger vault balance {} oz (bar list {}, sha256 {}…)",
                BARS.len(),
                format_amount(fine_total_milli, 3),
                oz(self.balance(self.books.vault)?),
                path.display(),
                &digest[..12]
            ),
            json!({"bars": BARS.len(), "fine_oz": format_amount(fine_total_milli, 3), "bar_list_sha256": digest}),
        );
        Ok((path, digest, fine_total))
    }

    async fn attest(&mut self, fine_total: u128) -> DemoResult<()> {
        // The reserve feed has 8 decimals: fine oz × 10^8, exact because bars weigh to 0.001 oz.
        let answer = I256::try_from(fine_total / 10u128.pow(10))?;
        let reserve = send(self.deployment.reserve_feed(self.admin.clone()).updateAnswer(answer)).await?;
        let price_answer = I256::try_from(PRICE_CENTS * 1_000_000)?;
        let price = send(self.deployment.price_feed(self.admin.clone()).updateAnswer(price_answer)).await?;
        let indexed = self.settle_chain().await?;
        self.say(
            "chain 3/8",
            format!(
                "reserve attested on chain: {} oz (tx {}); XAU/USD {} posted (tx {})",
                oz(i128::try_from(fine_total)?),
                short(reserve.transaction_hash),
                format_amount(PRICE_CENTS, 2),
                short(price.transaction_hash)
            ),
            json!({"reserve_tx": reserve.transaction_hash.to_string(), "price_tx": price.transaction_hash.to_string()}),
        );
        self.detail(indexed);
        Ok(())
    }

    fn customers_buy(&mut self) -> DemoResult<()> {
        let b = self.books;
        let mut commands = Vec::new();
        let mut lines = Vec::new();
        for (name, _, ounces) in CUSTOMERS {
            if ounces == 0 {
                continue;
            }
            let cost = ounces * PRICE_CENTS;
            commands.push(Command::CreateTransfer(CreateTransfer {
                id: b.entry_id(&format!("deposit-{name}")),
                debit_account: b.bank_usd,
                credit_account: b.cash(name),
                amount: cost,
                asset: USD,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: meta(&[("memo", "wire received".into())]),
            }));
            // A sale from inventory, balanced per asset: gold to the customer's custody, dollars to sales.
            commands.push(Command::CreateEntry(CreateEntry {
                id: b.entry_id(&format!("buy-{name}")),
                postings: vec![
                    Posting { account: b.inventory, side: Side::Debit, amount: ounces * OUNCE },
                    Posting { account: b.custody(name), side: Side::Credit, amount: ounces * OUNCE },
                    Posting { account: b.cash(name), side: Side::Debit, amount: cost },
                    Posting { account: b.sales_usd, side: Side::Credit, amount: cost },
                ],
                metadata: meta(&[(
                    "memo",
                    format!("{name} buys {ounces} oz at {} USD", format_amount(PRICE_CENTS, 2)),
                )]),
                linked: false,
            }));
            lines.push(format!("{name} {ounces} oz for {} USD", format_amount(cost, 2)));
        }
        self.book("customer purchases", commands)?;
        self.say(
            "chain 4/8",
            format!("customers buy gold in the ledger (held in custody): {}", lines.join(", ")),
            json!({"purchases": lines}),
        );
        Ok(())
    }

    async fn withdrawals(&mut self, fine_total: u128) -> DemoResult<()> {
        let b = self.books;
        let token = self.deployment.token(self.admin.clone());
        // An over-large mint is refused by the token itself: the supply would pass the attested reserve.
        let too_much = U256::from(fine_total + OUNCE);
        let refusal = match send(token.mint(self.address("dave"), too_much)).await {
            Ok(r) => return Err(format!("a mint past the reserve was accepted (tx {})", r.transaction_hash).into()),
            Err(e) => match e.revert::<GoldTokenErrors>() {
                Some(GoldTokenErrors::ReserveExceeded(x)) => format!(
                    "ReserveExceeded(new supply {} oz > reserve {} oz)",
                    oz(i128::try_from(u128::try_from(x.newTotalSupply)?)?),
                    oz(i128::try_from(u128::try_from(x.reserve)?)?)
                ),
                _ => return Err(format!("the oversize mint failed for another reason: {e}").into()),
            },
        };
        let mut lines = Vec::new();
        for (name, ounces) in [("alice", 300u128), ("bob", 200), ("carol", 100)] {
            let amount = ounces * OUNCE;
            // Book first (custody -> mint clearing), then mint: the clearing account holds the withdrawal in flight.
            self.book(
                "booking a withdrawal",
                vec![Command::CreateTransfer(CreateTransfer {
                    id: b.entry_id(&format!("withdraw-{name}")),
                    debit_account: b.custody(name),
                    credit_account: b.mirror.mint_clearing,
                    amount,
                    asset: AUG,
                    flags: TransferFlags::default(),
                    timeout_secs: 0,
                    metadata: meta(&[("memo", format!("{name} withdraws {ounces} oz to {}", self.address(name)))]),
                })],
            )?;
            let receipt = self.platform_mint(self.address(name), U256::from(amount)).await?;
            lines.push(format!("{name} {ounces} oz (mint tx {})", short(receipt.transaction_hash)));
        }
        let in_flight = self.balance(b.mirror.mint_clearing)?;
        let indexed = self.settle_chain().await?;
        self.say(
            "chain 5/8",
            format!(
                "withdrawals to wallets: {}; a mint of {} oz was refused on chain: {refusal}",
                lines.join(", "),
                oz(i128::try_from(fine_total + OUNCE)?)
            ),
            json!({"withdrawals": lines, "refused_mint": refusal}),
        );
        self.detail(format!(
            "mint clearing held {} oz in flight before the mints were final; now {} oz",
            oz(in_flight),
            oz(self.balance(b.mirror.mint_clearing)?)
        ));
        self.detail(indexed);
        self.wallet_lines().await?;
        Ok(())
    }

    async fn trades(&mut self) -> DemoResult<()> {
        let mut lines = Vec::new();
        for (from, to, ounces) in [("alice", "dave", 50u128), ("bob", "carol", 20), ("dave", "bob", 5)] {
            let token = self.deployment.token(self.wallet_of(from).await?);
            let receipt = send(token.transfer(self.address(to), U256::from(ounces * OUNCE))).await?;
            lines.push(format!("{from} -> {to} {ounces} oz (tx {})", short(receipt.transaction_hash)));
        }
        let indexed = self.settle_chain().await?;
        self.say("chain 6/8", format!("wallets trade: {}", lines.join(", ")), json!({"trades": lines}));
        self.detail(indexed);
        self.wallet_lines().await?;
        Ok(())
    }

    async fn freeze_and_wipe(&mut self) -> DemoResult<()> {
        let token = self.deployment.token(self.admin.clone());
        let carol = self.address("carol");
        let frozen = send(token.freeze(carol)).await?;
        let carol_token = self.deployment.token(self.wallet_of("carol").await?);
        let refused = match send(carol_token.transfer(self.address("alice"), U256::from(OUNCE))).await {
            Ok(r) => return Err(format!("a frozen wallet could transfer (tx {})", r.transaction_hash).into()),
            Err(e) => match e.revert::<GoldTokenErrors>() {
                Some(GoldTokenErrors::AccountFrozen(_)) => "AccountFrozen".to_string(),
                _ => return Err(format!("carol's transfer failed for another reason: {e}").into()),
            },
        };
        let balance = token.balanceOf(carol).call().await?;
        let wiped = send(token.wipeFrozenAddress(carol)).await?;
        let indexed = self.settle_chain().await?;
        self.say(
            "chain 7/8",
            format!(
                "carol's wallet frozen (tx {}); her transfer refused ({refused}); {} oz wiped (tx {}) — booked to the wiped account",
                short(frozen.transaction_hash),
                oz(i128::try_from(u128::try_from(balance)?)?),
                short(wiped.transaction_hash)
            ),
            json!({"frozen_tx": frozen.transaction_hash.to_string(), "wipe_tx": wiped.transaction_hash.to_string()}),
        );
        self.detail(indexed);
        Ok(())
    }

    async fn redeem(&mut self) -> DemoResult<()> {
        let b = self.books;
        let ounces = 75u128;
        let reference = B256::from_slice(&Sha256::digest(format!("redemption/{}/bob/1", b.chain_id)));
        let bob_token = self.deployment.token(self.wallet_of("bob").await?);
        let receipt: TransactionReceipt = send(bob_token.redeem(U256::from(ounces * OUNCE), reference)).await?;
        let indexed = self.settle_chain().await?;
        // The burn reached the ledger as wallet -> redemption clearing; settle it back into bob's custody.
        self.book(
            "settling the redemption",
            vec![Command::CreateTransfer(CreateTransfer {
                id: b.entry_id("redeem-bob-1"),
                debit_account: b.mirror.redemption_clearing,
                credit_account: b.custody("bob"),
                amount: ounces * OUNCE,
                asset: AUG,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: meta(&[
                    ("memo", "redemption into custody".into()),
                    ("redemption_ref", reference.to_string()),
                ]),
            })],
        )?;
        self.say(
            "chain 8/8",
            format!(
                "bob redeems {ounces} oz (burn tx {}); settled into his custody account; redemption clearing now {} oz",
                short(receipt.transaction_hash),
                oz(self.balance(b.mirror.redemption_clearing)?)
            ),
            json!({"redeem_tx": receipt.transaction_hash.to_string()}),
        );
        self.detail(indexed);
        Ok(())
    }

    /// The platform's mint path: asks the reconciliation gate first, then mints.
    async fn platform_mint(&self, to: Address, amount: U256) -> DemoResult<TransactionReceipt> {
        aurum_recon::gate::check_mint_allowed(self.engine.db())?;
        Ok(send(self.deployment.token(self.admin.clone()).mint(to, amount)).await?)
    }

    /// The reconciliation and the mint gate: the custodian's next statement shows a bar withdrawn that the ledger
    /// still holds, so the three-way reconciliation finds breaks and the platform refuses to mint; the custodian
    /// corrects the statement, the reconciliation is clean, and minting is allowed again. Returns the clean run.
    async fn reconcile(&mut self, manifest: &Path, bars: &Path, run_dir: &Path) -> DemoResult<Value> {
        let original = std::fs::read_to_string(bars)?;
        let (head, rest) = original.split_once('\n').ok_or("the bar list has no header")?;
        let first_bar = rest.lines().next().ok_or("the bar list has no bars")?;
        let faulty = format!(
            "{head}\n{}\n{}",
            first_bar.replace(",allocated,", ",withdrawn,"),
            rest.lines().skip(1).collect::<Vec<_>>().join("\n")
        );
        let faulty_path = run_dir.join("bars-statement-error.csv");
        std::fs::write(&faulty_path, faulty)?;
        let bad = super::recon::three_way(
            self.ctx,
            &self.engine,
            manifest,
            Some(&faulty_path),
            Some(&run_dir.join("recon-with-error")),
            false,
        )?;
        let refused = match self.platform_mint(self.address("alice"), U256::from(OUNCE)).await {
            Ok(r) => return Err(format!("the gate let a mint through (tx {})", r.transaction_hash).into()),
            Err(e) => e.to_string(),
        };
        let clean = super::recon::three_way(self.ctx, &self.engine, manifest, Some(bars), None, false)?;
        aurum_recon::gate::check_mint_allowed(self.engine.db())?;
        let classes: Vec<&str> = bad.result.breaks().map(|f| f.class.as_str()).collect();
        self.say(
            "recon",
            format!(
                "a statement listing bar 1 as withdrawn: {} unexplained breaks ({}); the platform refused to mint: {refused}",
                bad.result.summary.breaks,
                classes.join(", ")
            ),
            json!({"breaks": bad.result.summary.breaks, "classes": classes, "refused": refused}),
        );
        let s = &clean.result.summary;
        self.say(
            "recon",
            format!(
                "the corrected statement reconciles at block {}: bars {} oz, supply {} oz = ledger wallets {} oz, custody {} oz; {} breaks, {} explained; minting allowed",
                clean.result.block,
                oz(s.bars_fine),
                oz(s.supply),
                oz(s.ledger_on_chain),
                oz(s.ledger_custody),
                s.breaks,
                s.explained
            ),
            json!({"breaks": s.breaks, "explained": s.explained}),
        );
        let mut out = clean.json;
        out["report_dir"] = json!(clean.dir.map(|d| d.display().to_string()));
        Ok(out)
    }

    async fn wallet_lines(&self) -> DemoResult<()> {
        let token = self.deployment.token(self.admin.clone());
        for (name, _, _) in CUSTOMERS {
            let address = self.address(name);
            let chain = u128::try_from(token.balanceOf(address).call().await?)?;
            let ledger = self.balance(self.mirror.wallet_account(address))?;
            self.detail(format!("{name:<6} wallet: chain {} oz, ledger {} oz", oz(i128::try_from(chain)?), oz(ledger)));
        }
        Ok(())
    }

    /// The closing check: the ledger matches the chain, and the vault covers every liability.
    async fn check(&mut self, fine_total: u128) -> DemoResult<Value> {
        let b = self.books;
        let token = self.deployment.token(self.admin.clone());
        let block = self.indexer.cursor().finalized;
        let supply = u128::try_from(token.totalSupply().block(block.into()).call().await?)?;
        let mut wallets = 0i128;
        for holder in self.mirror.wallets(&self.db)? {
            let chain = u128::try_from(token.balanceOf(holder).block(block.into()).call().await?)?;
            let ledger = self.balance(self.mirror.wallet_account(holder))?;
            if i128::try_from(chain)? != ledger {
                return Err(format!(
                    "wallet {holder}: chain {} oz, ledger {} oz",
                    oz(i128::try_from(chain)?),
                    oz(ledger)
                )
                .into());
            }
            wallets += ledger;
        }
        if wallets != i128::try_from(supply)? {
            return Err(format!(
                "token supply {} oz but ledger wallets {} oz",
                oz(i128::try_from(supply)?),
                oz(wallets)
            )
            .into());
        }
        let custody: i128 = CUSTOMERS.iter().map(|(n, _, _)| self.balance(b.custody(n))).sum::<DemoResult<i128>>()?;
        let mint_clearing = self.balance(b.mirror.mint_clearing)?;
        let redemption_clearing = self.balance(b.mirror.redemption_clearing)?;
        let wiped = self.balance(b.mirror.wiped)?;
        let inventory = self.balance(b.inventory)?;
        let vault = self.balance(b.vault)?;
        let covered = custody + wallets + mint_clearing + redemption_clearing + wiped + inventory;
        if vault != covered || vault != i128::try_from(fine_total)? {
            return Err(format!("vault {} oz does not equal its claims {} oz", oz(vault), oz(covered)).into());
        }
        let lines = [
            format!("bars in the vault (bar list)      {:>12} oz", oz(i128::try_from(fine_total)?)),
            format!(
                "token supply at final block {block:<5}{:>12} oz  = ledger token wallets {} oz",
                oz(i128::try_from(supply)?),
                oz(wallets)
            ),
            format!("customers' custody (ledger)       {:>12} oz", oz(custody)),
            format!("wiped by asset protection         {:>12} oz", oz(wiped)),
            format!("mint / redemption clearing        {:>12} oz / {} oz", oz(mint_clearing), oz(redemption_clearing)),
            format!("issuer's unsold gold              {:>12} oz", oz(inventory)),
        ];
        if !self.ctx.json {
            println!("== the ledger matches the chain ==");
            for l in &lines {
                println!("  {l}");
            }
            println!(
                "  on chain {:.1}% of customer gold, in custody {:.1}%",
                percent(wallets, wallets + custody),
                percent(custody, wallets + custody)
            );
        }
        Ok(json!({
            "final_block": block,
            "bars_oz": oz(i128::try_from(fine_total)?),
            "token_supply_oz": oz(i128::try_from(supply)?),
            "ledger_wallets_oz": oz(wallets),
            "custody_oz": oz(custody),
            "wiped_oz": oz(wiped),
            "mint_clearing_oz": oz(mint_clearing),
            "redemption_clearing_oz": oz(redemption_clearing),
            "inventory_oz": oz(inventory),
            "ledger_matches_chain": true,
        }))
    }
}

/// A share in percent, for display only (never booked).
fn percent(part: i128, whole: i128) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

fn short(hash: TxHash) -> String {
    let s = hash.to_string();
    format!("{}…{}", &s[..10], &s[s.len() - 4..])
}

fn meta(pairs: &[(&str, String)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fine_weights_round_down_to_a_thousandth() {
        // 395.662 oz at 999.5: 395.4641690 -> 395.464
        let (_, _, _, gross, assay) = BARS[3];
        assert_eq!(gross * assay / 10_000, 395_464);
    }
}
