//! `ser features show`: the resolved feature config.

use std::path::PathBuf;
use std::process::ExitCode;

use ser_features::Extractor;

/// Subcommands of `ser features`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a feature config with every default filled in, its hash and output layout.
    Show {
        /// Config TOML (default: librosa's defaults).
        config: Option<PathBuf>,
    },
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    let Command::Show { config } = c;
    let cfg = super::extract::load_config(config.as_ref())?;
    if let Some(ssl) = &cfg.ssl {
        println!(
            "# feature config hash {} (before `ser extract` resolves [ssl])",
            cfg.hash()
        );
        println!(
            "# frames/ssl: [n_frames, states x hidden] from {} (one row per clip with store = \"mean\")",
            ssl.model
        );
        print!("{}", cfg.to_toml());
        return Ok(ExitCode::SUCCESS);
    }
    let ex = Extractor::new(cfg.clone())?;
    println!("# feature config hash {}", cfg.hash());
    for (name, dim) in ex.frame_layout() {
        println!("# frames/{name}: [n_frames, {dim}]");
    }
    if !ex.functional_names().is_empty() {
        println!(
            "# functionals: {} values per clip",
            ex.functional_names().len()
        );
    }
    print!("{}", cfg.to_toml());
    Ok(ExitCode::SUCCESS)
}
