//! The on-chain mirror: turns the token's final events into ledger commands, so the ledger always knows which part
//! of its gold liability sits on chain (token wallets) and which is custodial (its own customer accounts).
//!
//! Bookkeeping, all in one asset of scale 18 (one unit = one token = one fine troy ounce, so token base units are
//! ledger base units and nothing is ever rounded):
//! - every token holder is a liability account (`role=token-wallet`), which must not go negative;
//! - `Minted(to, x)`: debit **mint clearing**, credit the wallet. The platform credits mint clearing when it books a
//!   withdrawal to chain (debiting the customer's custodial account), so a zero balance means every mint is
//!   explained; a credit balance is a withdrawal in flight, a debit balance a mint nobody booked;
//! - `Transfer(from, to, x)` between holders: debit the sender's wallet, credit the receiver's;
//! - `Redeemed(from, x)`: debit the wallet, credit **redemption clearing** (settled when the gold is delivered or
//!   credited back to a custodial account);
//! - `FrozenAddressWiped(a, x)`: debit the wallet, credit **wiped** (tokens seized by asset protection).
//!
//! Exactly once: each ledger transfer id is derived from the log's identity (chain id, block hash, log index), and
//! the ledger answers a repeated id with its first outcome. So the mirror's own cursor (stored after each batch) is
//! only an optimisation: a crash between the ledger write and the cursor write re-submits, and nothing is counted
//! twice. Only final logs are mirrored, so nothing the ledger holds can be rolled back by a reorg.

use alloy::primitives::{Address, B256, U256};
use aurum_kv::Db;
use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateTransfer, Limit, Metadata, TransferFlags, TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineError};
use sha2::{Digest, Sha256};

use crate::deploy::Deployment;
use crate::events::{self, ChainEvent, DecodeError};
use crate::indexer::{self, IndexerError, StoredLog, store};

/// Token decimals: the mirror's asset must have exactly this scale.
pub const TOKEN_DECIMALS: u8 = 18;
/// Most logs mirrored per ledger batch.
pub const MAX_LOGS_PER_BATCH: usize = 1_000;

/// Everything that can go wrong mirroring.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// Reading the indexed logs failed.
    #[error(transparent)]
    Indexer(#[from] IndexerError),
    /// A log did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The ledger engine failed.
    #[error("ledger: {0}")]
    Ledger(#[from] EngineError),
    /// The KV store failed.
    #[error("kv store: {0}")]
    Kv(#[from] aurum_kv::Error),
    /// The configured asset is missing or has the wrong scale.
    #[error("mirror asset {asset}: {reason}")]
    Asset {
        /// The asset id.
        asset: u32,
        /// What is wrong.
        reason: String,
    },
    /// An amount does not fit the ledger's 128-bit amounts.
    #[error("log {log_index} of block {block}: amount {amount} exceeds the ledger's 128-bit range")]
    AmountTooLarge {
        /// Block.
        block: u64,
        /// Log index.
        log_index: u64,
        /// The amount.
        amount: U256,
    },
    /// The ledger refused a mirrored movement: the ledger and the chain disagree (say, a wallet would go negative).
    #[error("ledger refused the mirror of log {log_index} of block {block} (tx {tx}): {code}")]
    Refused {
        /// Block.
        block: u64,
        /// Log index.
        log_index: u64,
        /// Transaction.
        tx: B256,
        /// The ledger's result code.
        code: &'static str,
    },
}

/// The ledger side of the mirror.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MirrorConfig {
    /// The asset the token is booked in (scale 18).
    pub asset: AssetId,
    /// Debited by mints, credited by the platform's withdrawals to chain.
    pub mint_clearing: AccountId,
    /// Credited by redemptions.
    pub redemption_clearing: AccountId,
    /// Credited by wipes of frozen addresses.
    pub wiped: AccountId,
}

/// What one [`Mirror::sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MirrorReport {
    /// Final logs read.
    pub logs: u64,
    /// Ledger transfers applied for the first time.
    pub transfers: u64,
    /// Ledger transfers that had been applied before (a resubmission after a crash).
    pub replayed: u64,
    /// Wallet accounts opened.
    pub wallets_opened: u64,
}

/// Mirrors one deployment's token events of one chain into the ledger.
#[derive(Debug, Clone)]
pub struct Mirror {
    chain_id: u64,
    deployment: Deployment,
    config: MirrorConfig,
}

impl Mirror {
    /// A mirror of `deployment` on `chain_id`, booking into `config`'s accounts.
    pub fn new(chain_id: u64, deployment: Deployment, config: MirrorConfig) -> Self {
        Self { chain_id, deployment, config }
    }

    /// The ledger account that mirrors `holder`'s token balance.
    pub fn wallet_account(&self, holder: Address) -> AccountId {
        AccountId(derive_id(&[
            b"aurum/token-wallet",
            &self.chain_id.to_be_bytes(),
            self.deployment.token.as_slice(),
            holder.as_slice(),
        ]))
    }

    /// The ledger transfer id of the movement mirrored from a log: a function of (chain id, block hash, log index).
    pub fn transfer_id(&self, log: &StoredLog) -> TransferId {
        TransferId(derive_id(&[
            b"aurum/chain-log",
            &self.chain_id.to_be_bytes(),
            log.block_hash.as_slice(),
            &log.log_index.to_be_bytes(),
        ]))
    }

    /// Opens the clearing accounts (idempotent). The asset must exist with scale 18.
    pub fn setup(&self, engine: &Engine) -> Result<(), MirrorError> {
        let asset = self.config.asset;
        let scale = engine.read(|l| l.asset(asset).map(|a| a.scale))?;
        match scale {
            None => return Err(MirrorError::Asset { asset: asset.0, reason: "does not exist".into() }),
            Some(s) if s != TOKEN_DECIMALS => {
                return Err(MirrorError::Asset {
                    asset: asset.0,
                    reason: format!("has scale {s}; token amounts need scale {TOKEN_DECIMALS} to be booked exactly"),
                });
            }
            Some(_) => {}
        }
        let commands = [
            (self.config.mint_clearing, "token mint clearing"),
            (self.config.redemption_clearing, "token redemption clearing"),
            (self.config.wiped, "tokens wiped by asset protection"),
        ]
        .into_iter()
        .map(|(id, name)| {
            Command::CreateAccount(CreateAccount {
                id,
                asset,
                kind: AccountKind::Liability,
                limit: Limit::None,
                history: true,
                metadata: meta(&[("name", name.to_string()), ("chain_id", self.chain_id.to_string())]),
                linked: false,
            })
        })
        .collect();
        let outcomes = engine.submit(commands)?;
        if let Some(bad) = outcomes.iter().find(|o| !o.code.is_ok()) {
            return Err(MirrorError::Asset {
                asset: asset.0,
                reason: format!("opening clearing accounts: {}", bad.code.as_str()),
            });
        }
        Ok(())
    }

    /// Mirrors every final log not yet mirrored; returns what it did.
    pub fn sync(&self, db: &Db, engine: &Engine) -> Result<MirrorReport, MirrorError> {
        let mut report = MirrorReport::default();
        let cursor_key = self.cursor_key();
        let mut after = db.get(&cursor_key)?.map(|v| decode_position(&v)).transpose()?;
        loop {
            let logs = indexer::read_final_logs(db, self.chain_id, after, MAX_LOGS_PER_BATCH)?;
            let Some(last) = logs.last() else { return Ok(report) };
            let last_position = (last.block_number, last.log_index);
            report.logs += logs.len() as u64;

            let mut commands = Vec::new();
            let mut sources = Vec::new(); // the log behind each command, for error messages
            let mut new_wallets = std::collections::BTreeSet::new();
            for log in &logs {
                let Some((debit, credit, amount, kind)) = self.movement(log)? else { continue };
                for (holder, account) in [debit, credit].into_iter().flatten() {
                    if new_wallets.contains(&account) || engine.read(|l| l.account(account).is_some())? {
                        continue;
                    }
                    new_wallets.insert(account);
                    commands.push(self.open_wallet(account, holder));
                    sources.push(log);
                }
                let debit = debit.map_or_else(|| self.clearing_for(kind).0, |(_, a)| a);
                let credit = credit.map_or_else(|| self.clearing_for(kind).1, |(_, a)| a);
                commands.push(Command::CreateTransfer(CreateTransfer {
                    id: self.transfer_id(log),
                    debit_account: debit,
                    credit_account: credit,
                    amount,
                    asset: self.config.asset,
                    flags: TransferFlags::default(),
                    timeout_secs: 0,
                    metadata: meta(&[
                        ("event", kind.name().to_string()),
                        ("chain_id", self.chain_id.to_string()),
                        ("block", log.block_number.to_string()),
                        ("tx", log.tx_hash.to_string()),
                        ("log_index", log.log_index.to_string()),
                    ]),
                }));
                sources.push(log);
            }
            for chunk_start in (0..commands.len()).step_by(aurum_ledger::MAX_BATCH_COMMANDS) {
                let end = (chunk_start + aurum_ledger::MAX_BATCH_COMMANDS).min(commands.len());
                let outcomes = engine.submit(commands[chunk_start..end].to_vec())?;
                for (i, outcome) in outcomes.iter().enumerate() {
                    let log = sources[chunk_start + i];
                    if !outcome.code.is_ok() {
                        return Err(MirrorError::Refused {
                            block: log.block_number,
                            log_index: log.log_index,
                            tx: log.tx_hash,
                            code: outcome.code.as_str(),
                        });
                    }
                    match (&commands[chunk_start + i], outcome.replayed) {
                        (Command::CreateAccount(_), false) => report.wallets_opened += 1,
                        (Command::CreateTransfer(_), false) => report.transfers += 1,
                        (Command::CreateTransfer(_), true) => report.replayed += 1,
                        _ => {}
                    }
                }
            }
            db.put(&cursor_key, &encode_position(last_position))?;
            after = Some(last_position);
        }
    }

    /// Every holder whose movements the final logs show (each has a wallet account once [`Mirror::sync`] ran).
    pub fn wallets(&self, db: &Db) -> Result<Vec<Address>, MirrorError> {
        let mut out = std::collections::BTreeSet::new();
        let mut after = None;
        loop {
            let logs = indexer::read_final_logs(db, self.chain_id, after, MAX_LOGS_PER_BATCH)?;
            let Some(last) = logs.last() else { break };
            after = Some((last.block_number, last.log_index));
            for log in &logs {
                if let Some((debit, credit, _, _)) = self.movement(log)? {
                    out.extend([debit, credit].into_iter().flatten().map(|(holder, _)| holder));
                }
            }
        }
        Ok(out.into_iter().collect())
    }

    /// The ledger movement a log stands for: (debit wallet, credit wallet, amount, kind); a `None` side is the
    /// clearing account of the kind. `None` for logs that move nothing in the ledger.
    #[allow(clippy::type_complexity)]
    fn movement(
        &self,
        log: &StoredLog,
    ) -> Result<Option<(Option<(Address, AccountId)>, Option<(Address, AccountId)>, u128, Kind)>, MirrorError> {
        if log.address != self.deployment.token {
            return Ok(None);
        }
        let wallet = |a: Address| Some((a, self.wallet_account(a)));
        let (debit, credit, amount, kind) = match events::decode(log, &self.deployment)? {
            // Mints and burns also emit Transfer from/to zero; they are booked from their specific events.
            ChainEvent::Transfer { from, to, amount } if !from.is_zero() && !to.is_zero() => {
                (wallet(from), wallet(to), amount, Kind::Transfer)
            }
            ChainEvent::Minted { to, amount, .. } => (None, wallet(to), amount, Kind::Mint),
            ChainEvent::Redeemed { from, amount, .. } => (wallet(from), None, amount, Kind::Redemption),
            ChainEvent::Wiped { account, amount } => (wallet(account), None, amount, Kind::Wipe),
            _ => return Ok(None),
        };
        if amount.is_zero() {
            return Ok(None); // a zero transfer (ERC-20 allows it) or an empty wipe moves nothing
        }
        let amount = u128::try_from(amount).map_err(|_| MirrorError::AmountTooLarge {
            block: log.block_number,
            log_index: log.log_index,
            amount,
        })?;
        Ok(Some((debit, credit, amount, kind)))
    }

    /// (debit, credit) clearing accounts of a kind, for the side without a wallet.
    fn clearing_for(&self, kind: Kind) -> (AccountId, AccountId) {
        match kind {
            Kind::Mint => (self.config.mint_clearing, self.config.mint_clearing),
            Kind::Redemption => (self.config.redemption_clearing, self.config.redemption_clearing),
            Kind::Wipe => (self.config.wiped, self.config.wiped),
            Kind::Transfer => unreachable!("a transfer between holders has two wallets"),
        }
    }

    fn open_wallet(&self, account: AccountId, holder: Address) -> Command {
        Command::CreateAccount(CreateAccount {
            id: account,
            asset: self.config.asset,
            kind: AccountKind::Liability,
            // A holder's balance can never be negative on chain; in the ledger it would mean a missed event.
            limit: Limit::DebitsMustNotExceedCredits { overdraft: 0 },
            history: true,
            metadata: meta(&[
                ("role", "token-wallet".to_string()),
                ("chain_id", self.chain_id.to_string()),
                ("token", self.deployment.token.to_string()),
                ("address", holder.to_string()),
            ]),
            linked: false,
        })
    }

    /// The KV key of the mirror's cursor: the (block, log index) of the last log mirrored.
    pub fn cursor_key(&self) -> Vec<u8> {
        let mut k = store::chain_prefix(self.chain_id);
        k.extend_from_slice(b"mirror/");
        k.extend_from_slice(self.deployment.token.as_slice());
        k
    }
}

/// What a mirrored movement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Transfer,
    Mint,
    Redemption,
    Wipe,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Transfer => "transfer",
            Kind::Mint => "mint",
            Kind::Redemption => "redemption",
            Kind::Wipe => "wipe",
        }
    }
}

/// A non-zero 128-bit id from the SHA-256 of the parts (length-prefixed, so part boundaries matter): ids derived
/// from distinct inputs collide with probability about 2^-128 per pair.
pub fn derive_id(parts: &[&[u8]]) -> u128 {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u32).to_be_bytes());
        h.update(p);
    }
    let digest = h.finalize();
    let id = u128::from_be_bytes(digest[..16].try_into().expect("16 bytes"));
    id.max(1)
}

fn meta(pairs: &[(&str, String)]) -> Metadata {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

fn encode_position((block, index): (u64, u64)) -> Vec<u8> {
    let mut v = block.to_be_bytes().to_vec();
    v.extend_from_slice(&index.to_be_bytes());
    v
}

fn decode_position(bytes: &[u8]) -> Result<(u64, u64), MirrorError> {
    if bytes.len() != 16 {
        return Err(IndexerError::Corrupt(format!("mirror cursor has {} bytes, expected 16", bytes.len())).into());
    }
    Ok((u64::from_be_bytes(bytes[..8].try_into().expect("8")), u64::from_be_bytes(bytes[8..].try_into().expect("8"))))
}
