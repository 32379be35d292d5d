//! `aurum audit`: replay the journal through a fresh state machine and report the first divergence.

use aurum_ledger_node::engine::{AuditFrom, EngineConfig};
use clap::Args;

use super::{CliResult, Context};

/// Arguments of `aurum audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Start from the newest valid signed snapshot instead of the first block.
    #[arg(long)]
    pub from_snapshot: bool,
}

/// Run the audit; exits non-zero when the journal diverges.
pub fn run(ctx: &Context, args: AuditArgs) -> CliResult {
    // A batch command: the replay reuses the memory it frees (see `aurum_alloc`).
    aurum_alloc::keep_freed_memory();
    let from = if args.from_snapshot { AuditFrom::Snapshot } else { AuditFrom::Genesis };
    eprintln!(
        "auditing the journal under {} from {}...",
        ctx.data_dir.display(),
        if args.from_snapshot { "the newest snapshot" } else { "genesis" }
    );
    let report = match super::backends::open_engine(ctx, EngineConfig::default()) {
        Ok((engine, _)) => engine.audit(from)?,
        Err(e) => {
            // The node refuses to start on a damaged journal; audit it offline to locate the damage.
            eprintln!("the ledger does not start ({e}); auditing offline");
            let mut report = super::backends::audit_offline(ctx, from)?;
            report.notes.insert(0, format!("the ledger refused to start: {e}"));
            report
        }
    };
    if ctx.json {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
    match &report.first_divergence {
        None => Ok(()),
        Some(d) => Err(format!("audit found a divergence at block {}: {}", d.seq, d.kind.as_str()).into()),
    }
}
