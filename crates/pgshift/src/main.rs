//! The `pgshift` command: parse, run one command, render, exit.

mod args;
mod commands;
mod exit;
mod output;
mod render;
mod settings;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = args::Cli::parse();
    let mut out = output::Output::new(&args.global);
    commands::run(args, &mut out).into()
}
