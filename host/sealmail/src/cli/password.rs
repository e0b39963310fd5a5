//! `sealmail password`: one fresh password on standard output.

use std::process::ExitCode;

use clap::Args;
use sealmail_sandbox::Library;

use super::StrengthArg;

#[derive(Args)]
pub struct PasswordArgs {
    /// How long the password is.
    #[arg(long, value_enum, default_value = "very_high")]
    strength: StrengthArg,
}

pub async fn run(library: &Library, args: PasswordArgs) -> anyhow::Result<ExitCode> {
    println!("{}", library.generate_password(args.strength.into()).await?);
    Ok(ExitCode::SUCCESS)
}
