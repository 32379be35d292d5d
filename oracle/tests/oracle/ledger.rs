//! The oracle and the ledger: rounds and events journalled to the log and read back; mark-to-market revaluation
//! entries that book exactly the change of the rounded value, once per round.

use std::sync::Arc;

use aurum_ledger::{
    AccountId, AccountKind, AssetId, Command, CreateAccount, CreateAsset, CreateTransfer, Limit, TransferFlags,
    TransferId,
};
use aurum_ledger_node::engine::{Engine, EngineConfig};
use aurum_oracle::aggregate::{Aggregator, SymbolConfig};
use aurum_oracle::journal::{EVENTS_TOPIC, OracleJournal, ROUNDS_TOPIC};
use aurum_oracle::revalue::{RevaluationConfig, revalue};
use aurum_oracle::signing::{Observation, SourceKeys, sign};
use ed25519_dalek::SigningKey;

const GOLD: AssetId = AssetId(1);
const USD: AssetId = AssetId(2);

fn account(id: u128, asset: AssetId, kind: AccountKind) -> Command {
    Command::CreateAccount(CreateAccount {
        id: AccountId(id),
        asset,
        kind,
        limit: Limit::None,
        history: true,
        metadata: Default::default(),
        linked: false,
    })
}

fn submit_ok(engine: &Engine, commands: Vec<Command>) {
    for o in engine.submit(commands).unwrap() {
        assert!(o.code.is_ok(), "{o:?}");
    }
}

#[test]
fn rounds_and_events_are_journalled_and_revaluation_books_the_rounded_change() {
    let dir = tempfile::tempdir().unwrap();
    let (engine, _) = Engine::open(Arc::new(aurum_vfs::OsVfs), dir.path(), EngineConfig::default()).unwrap();
    submit_ok(
        &engine,
        vec![
            Command::CreateAsset(CreateAsset { id: GOLD, code: "XAU".into(), scale: 3 }),
            Command::CreateAsset(CreateAsset { id: USD, code: "USD".into(), scale: 2 }),
            account(1, GOLD, AccountKind::Asset),  // vault
            account(2, GOLD, AccountKind::Equity), // bought with capital
            account(3, USD, AccountKind::Asset),   // revaluation adjustment
            account(4, USD, AccountKind::Income),  // unrealised gain/loss
            Command::CreateTransfer(CreateTransfer {
                id: TransferId(1),
                debit_account: AccountId(1),
                credit_account: AccountId(2),
                amount: 400_125, // 400.125 oz
                asset: GOLD,
                flags: TransferFlags::default(),
                timeout_secs: 0,
                metadata: Default::default(),
            }),
        ],
    );
    let config = RevaluationConfig { holdings: vec![1], fiat_asset: 2, revaluation_account: 3, unrealised_account: 4 };
    let price = |s: &str| aurum_oracle::aggregate::parse_value(s, 8).unwrap();

    // 400.125 oz × 2650.12345678 = 1,060,380.648144... USD -> booked 1,060,380.64 (rounded down to the cent).
    let r = engine.read(|l| revalue(l, &config, price("2650.12345678"), 8, "XAU/USD", 1)).unwrap().unwrap();
    assert_eq!((r.holdings, r.value, r.booked_before), (400_125, 106_038_064, 0));
    submit_ok(&engine, vec![r.command.clone().unwrap()]);
    // The same round again books nothing new (the ledger answers the same id with its first outcome).
    let again = engine.submit(vec![r.command.unwrap()]).unwrap();
    assert!(again[0].replayed);
    // The price falls: the change is booked the other way, and the adjustment equals the new rounded value.
    let r = engine.read(|l| revalue(l, &config, price("2600.00"), 8, "XAU/USD", 2)).unwrap().unwrap();
    assert_eq!(r.value, 104_032_500);
    assert_eq!(r.booked_before, 106_038_064);
    submit_ok(&engine, vec![r.command.unwrap()]);
    let (adjustment, gain) = engine
        .read(|l| (l.account(AccountId(3)).unwrap().balance(), l.account(AccountId(4)).unwrap().balance()))
        .unwrap();
    assert_eq!(adjustment, 104_032_500, "no rounding accumulates");
    assert_eq!(gain, 104_032_500);
    // An unchanged value books nothing.
    assert!(
        engine.read(|l| revalue(l, &config, price("2600.00"), 8, "XAU/USD", 3)).unwrap().unwrap().command.is_none()
    );

    // The journal: a round and an event, read back.
    let journal = OracleJournal::open(std::sync::Arc::new(engine.log().clone())).unwrap();
    let key = SigningKey::from_bytes(&[3; 32]);
    let mut keys = SourceKeys::new();
    keys.insert("s0", key.verifying_key());
    let mut obs = Observation {
        source: "s0".into(),
        symbol: "XAU/USD".into(),
        value: Some("2600.00".into()),
        text: None,
        observed_at_ms: 1_795_000_000_000,
        received_at_ms: 1_795_000_000_010,
        signature: None,
    };
    obs.signature = Some(sign(&key, &obs));
    let mut agg = Aggregator::new(
        SymbolConfig {
            symbol: "XAU/USD".into(),
            scale: 8,
            quorum: 1,
            max_age_ms: 60_000,
            mad_limit_permille: 3_000,
            mad_floor_bps: 5,
            jump_limit_bps: 500,
            confirm_rounds: 2,
        },
        keys,
    );
    let report = agg.round(std::slice::from_ref(&obs), 1_795_000_000_500);
    journal.record_round(&report, None).unwrap();
    let mut halt = obs.clone();
    halt.symbol = "halt".into();
    halt.value = None;
    halt.text = Some("COMEX trading halt".into());
    journal.record_event(&halt).unwrap();
    let rounds = journal.read_all(ROUNDS_TOPIC).unwrap();
    assert_eq!(rounds.len(), 1);
    assert_eq!(rounds[0]["round"]["outcome"]["status"], "published");
    assert_eq!(rounds[0]["round"]["used"][0][0], "s0");
    let events = journal.read_all(EVENTS_TOPIC).unwrap();
    assert_eq!(events[0]["text"], "COMEX trading halt");
    drop(journal);
    drop(engine);
    // Durable: the rounds survive a restart.
    let (engine, _) = Engine::open(Arc::new(aurum_vfs::OsVfs), dir.path(), EngineConfig::default()).unwrap();
    assert_eq!(
        OracleJournal::open(std::sync::Arc::new(engine.log().clone())).unwrap().read_all(ROUNDS_TOPIC).unwrap().len(),
        1
    );
}
