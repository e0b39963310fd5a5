//! `sealmail password`: one fresh password on standard output.

use std::process::ExitCode;

use clap::Args;
use sealmail_core::bindings::password::Strength;
use sealmail_sandbox::Library;

use super::strength;

#[derive(Args)]
pub struct PasswordArgs {
    /// How long the password is.
    #[arg(long, value_parser = strength::parser(), default_value = strength::DEFAULT)]
    strength: Strength,
}

pub async fn run(library: &Library, args: PasswordArgs) -> anyhow::Result<ExitCode> {
    println!("{}", library.generate_password(args.strength).await?);
    Ok(ExitCode::SUCCESS)
}
