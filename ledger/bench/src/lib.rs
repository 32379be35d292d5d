//! The PostgreSQL baseline of the ledger benchmark: a pgledger-style double-entry ledger in SQL
//! (sql/pgledger.sql), driven by `pgbench` against a local server (scripts/postgres-up.sh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where the SQL and pgbench scripts live.
pub fn sql_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sql")
}

/// Connection settings for the baseline server.
#[derive(Debug, Clone)]
pub struct PgTarget {
    /// Host.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Role.
    pub user: String,
    /// Password (a local test role's, not a secret).
    pub password: String,
    /// Database.
    pub db: String,
}

impl Default for PgTarget {
    fn default() -> Self {
        PgTarget {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "aurum".into(),
            password: "aurum".into(),
            db: std::env::var("AURUM_PG_DB").unwrap_or_else(|_| "aurum".into()),
        }
    }
}

/// One pgbench run's result.
#[derive(Debug, Clone, Copy)]
pub struct PgRun {
    /// Transfers durably committed per second.
    pub transfers_per_sec: f64,
    /// Transactions per second as pgbench reports them.
    pub tps: f64,
}

impl PgTarget {
    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("PGPASSWORD", &self.password).args(["-h", &self.host, "-p", &self.port.to_string(), "-U", &self.user]);
        c
    }

    /// Whether the server answers.
    pub fn available(&self) -> bool {
        self.cmd("psql").args(["-d", &self.db, "-qtAc", "SELECT 1"]).output().is_ok_and(|o| o.status.success())
    }

    /// Create the schema afresh with `accounts` accounts.
    pub fn setup(&self, accounts: u64) -> Result<(), String> {
        let sql = sql_dir().join("pgledger.sql");
        let run = |args: &[&str]| -> Result<(), String> {
            let o = self.cmd("psql").args(["-d", &self.db, "-q", "-v", "ON_ERROR_STOP=1"]).args(args).output();
            match o {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
                Err(e) => Err(format!("psql: {e}")),
            }
        };
        run(&["-f", &sql.to_string_lossy()])?;
        run(&[
            "-c",
            &format!(
                "INSERT INTO pgledger_bench.accounts (id, currency) SELECT g, 'INR' FROM generate_series(1, {accounts}) g"
            ),
        ])?;
        run(&["-c", "VACUUM ANALYZE pgledger_bench.accounts"])
    }

    /// Run a pgbench script for `duration` with `clients` connections; `transfers_per_tx` converts
    /// transactions into transfers.
    pub fn pgbench(
        &self,
        script: &str,
        clients: u32,
        duration: Duration,
        accounts: u64,
        transfers_per_tx: u32,
    ) -> Result<PgRun, String> {
        let o = self
            .cmd("pgbench")
            .args(["-n", "-c", &clients.to_string(), "-j", "2", "-T", &duration.as_secs().max(1).to_string()])
            .args(["-D", &format!("accounts={accounts}"), "-D", &format!("batch={transfers_per_tx}")])
            .args(["-f", &sql_dir().join(script).to_string_lossy(), &self.db])
            .output()
            .map_err(|e| format!("pgbench: {e}"))?;
        let out = String::from_utf8_lossy(&o.stdout);
        if !o.status.success() {
            return Err(format!("pgbench failed: {}", String::from_utf8_lossy(&o.stderr)));
        }
        if !out.contains("number of failed transactions: 0 ") {
            return Err(format!("pgbench had failed transactions:\n{out}"));
        }
        let tps = out
            .lines()
            .find_map(|l| l.strip_prefix("tps = "))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("no tps in pgbench output:\n{out}"))?;
        Ok(PgRun { transfers_per_sec: tps * f64::from(transfers_per_tx), tps })
    }

    /// Σ of all balances (must be 0: every transfer debits one account and credits another).
    pub fn balance_sum(&self) -> Result<String, String> {
        let o = self
            .cmd("psql")
            .args(["-d", &self.db, "-qtAc", "SELECT coalesce(sum(balance), 0) FROM pgledger_bench.accounts"])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }
}
