//! Anvil lifecycle: spawn the pinned binary (`@foundry-rs/anvil` from `contracts/package.json`) on a free port
//! with a fixed mnemonic and chain id, wait until it listens, kill it on drop; or connect to any JSON-RPC URL.

use std::path::{Path, PathBuf};

use alloy::node_bindings::{Anvil, AnvilInstance};
use alloy::primitives::Address;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::Signer;
use alloy::signers::local::PrivateKeySigner;

use crate::{Error, Result};

/// The well-known development mnemonic (Anvil's and Hardhat's default); never use it for real funds.
pub const DEFAULT_MNEMONIC: &str = "test test test test test test test test test test test junk";
/// Anvil's default chain id.
pub const DEFAULT_CHAIN_ID: u64 = 31337;

/// Path of the pinned Anvil binary installed by `npm ci` in `contracts/`.
pub fn anvil_binary() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")
        .components()
        .collect()
}

/// The `contracts/` directory whose `package.json` pins Anvil, solc and OpenZeppelin.
pub fn contracts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts").components().collect()
}

/// Makes sure the pinned Anvil is installed: if the binary is missing, runs `npm ci` in `contracts/` (the lock file
/// pins the exact version). Progress goes to stderr. Fails if npm fails or the binary is still missing.
pub fn ensure_installed() -> Result<PathBuf> {
    let binary = anvil_binary();
    if binary.is_file() {
        return Ok(binary);
    }
    let dir = contracts_dir();
    eprintln!("[chain] the pinned anvil is not installed; running `npm ci` in {} ...", dir.display());
    let status = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .status()
        .map_err(|e| Error::Install(format!("cannot run npm (is Node.js installed?): {e}")))?;
    if !status.success() {
        return Err(Error::Install(format!("`npm ci` in {} failed with {status}", dir.display())));
    }
    if !binary.is_file() {
        return Err(Error::AnvilMissing(binary));
    }
    Ok(binary)
}

/// How to start a local Anvil.
#[derive(Debug, Clone)]
pub struct AnvilConfig {
    /// The binary; defaults to [`anvil_binary`].
    pub binary: PathBuf,
    /// The mnemonic the dev accounts derive from.
    pub mnemonic: String,
    /// The chain id.
    pub chain_id: u64,
    /// Extra command-line arguments (e.g. `--block-time`).
    pub args: Vec<String>,
}

impl Default for AnvilConfig {
    fn default() -> Self {
        Self { binary: anvil_binary(), mnemonic: DEFAULT_MNEMONIC.into(), chain_id: DEFAULT_CHAIN_ID, args: Vec::new() }
    }
}

/// A running Anvil child process; killed when dropped.
#[derive(Debug)]
pub struct LocalAnvil {
    instance: AnvilInstance,
}

impl LocalAnvil {
    /// Spawns the pinned Anvil with the default mnemonic and chain id.
    pub fn spawn() -> Result<Self> {
        Self::spawn_with(AnvilConfig::default())
    }

    /// Spawns Anvil as configured, on a port the OS chooses, and returns once it listens.
    pub fn spawn_with(config: AnvilConfig) -> Result<Self> {
        if !config.binary.is_file() {
            return Err(Error::AnvilMissing(config.binary));
        }
        let instance = Anvil::at(&config.binary)
            .mnemonic(config.mnemonic)
            .chain_id(config.chain_id)
            .args(config.args)
            .try_spawn()?;
        Ok(Self { instance })
    }

    /// The HTTP JSON-RPC endpoint, e.g. `http://localhost:40123`.
    pub fn endpoint(&self) -> String {
        self.instance.endpoint()
    }

    /// The WebSocket endpoint.
    pub fn ws_endpoint(&self) -> String {
        self.instance.ws_endpoint()
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.instance.chain_id()
    }

    /// The funded dev accounts.
    pub fn addresses(&self) -> &[Address] {
        self.instance.addresses()
    }

    /// A signer for dev account `index` (panics if Anvil has fewer accounts; it creates 10 by default).
    pub fn signer(&self, index: usize) -> PrivateKeySigner {
        let mut signer = PrivateKeySigner::from(self.instance.keys()[index].clone());
        signer.set_chain_id(Some(self.chain_id()));
        signer
    }
}

/// Connects to a JSON-RPC endpoint (`http(s)://` or `ws(s)://`) and signs transactions with `signer`.
pub async fn connect(url: &str, signer: PrivateKeySigner) -> Result<DynProvider> {
    let provider = ProviderBuilder::new().wallet(signer).connect(url).await?;
    Ok(provider.erased())
}

/// Parses a hex private key (with or without `0x`), for connecting to a remote endpoint.
pub fn signer_from_hex(key: &str) -> Result<PrivateKeySigner> {
    key.parse::<PrivateKeySigner>().map_err(|e| Error::InvalidKey(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binary_says_how_to_install_it() {
        let config = AnvilConfig { binary: "/nonexistent/anvil".into(), ..AnvilConfig::default() };
        let err = LocalAnvil::spawn_with(config).unwrap_err();
        assert!(err.to_string().contains("run `npm ci` in contracts/"), "{err}");
    }
}
