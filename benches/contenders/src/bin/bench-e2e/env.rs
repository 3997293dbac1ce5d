//! Settings resolved once from the command line: where the binaries are,
//! where files go, which CPUs each side runs on.

use std::path::{Path, PathBuf};
use std::thread::available_parallelism;

use crate::cli::Cli;
use crate::contender::Contender;

/// Everything a run needs besides the workload and the contender.
pub struct Env {
    /// The parsed command line.
    pub cli: Cli,
    /// Directory of the server binaries.
    pub bin_dir: PathBuf,
    /// The load generator executable.
    pub loadgen: PathBuf,
    /// Directory for logs, loadgen JSON and callgrind output.
    pub work_dir: PathBuf,
    /// `taskset -c` list for servers.
    pub server_cpus: String,
    /// `taskset -c` list for the load generator.
    pub client_cpus: String,
}

impl Env {
    /// Resolves defaults, checks the binaries exist, creates the work dir.
    pub fn from_cli(cli: Cli) -> Result<Self, String> {
        let bin_dir = match &cli.bin_dir {
            Some(dir) => dir.clone(),
            None => std::env::current_exe()
                .map_err(|e| format!("locate bench-e2e: {e}"))?
                .parent()
                .map(Path::to_path_buf)
                .ok_or("bench-e2e has no parent directory")?,
        };
        let loadgen = cli
            .loadgen
            .clone()
            .unwrap_or_else(|| bin_dir.join("loadgen"));
        if !loadgen.is_file() {
            return Err(format!(
                "no load generator at {} (see --loadgen)",
                loadgen.display()
            ));
        }
        let work_dir = match &cli.work_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!("bench-e2e-{}", std::process::id())),
        };
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| format!("create {}: {e}", work_dir.display()))?;
        let all_cpus = format!("0-{}", available_parallelism().map_or(1, |n| n.get()) - 1);
        Ok(Self {
            server_cpus: cli.server_cpus.clone().unwrap_or_else(|| all_cpus.clone()),
            client_cpus: cli.client_cpus.clone().unwrap_or(all_cpus),
            cli,
            bin_dir,
            loadgen,
            work_dir,
        })
    }

    /// Path of a contender's executable, checked to exist.
    pub fn binary(&self, contender: &Contender) -> Result<PathBuf, String> {
        let path = self.bin_dir.join(contender.binary);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "no {} binary at {} (see --bin-dir)",
                contender.name,
                path.display()
            ))
        }
    }

    /// A file in the work directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.work_dir.join(name)
    }
}
