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
