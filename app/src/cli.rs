//! The command line: the top-level flags, the subcommands, and the help
//! screens, whose "Exit codes" sections are rendered from the one table in
//! [`crate::error::EXIT_CODES`]. Each subcommand's own flags live with the
//! subcommand, in `command/<name>.rs`.

use std::ffi::OsString;
use std::io::{self, IsTerminal};

use clap::{ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::command::{
    charge, completions, diff, invoice, invoices, rates, reconcile, sample, sandbox,
};
use crate::error::{Cmd, all_exit_codes_help, exit_codes_help};

/// The version `--version` prints: the package version and the commit it
/// was built from (build.rs), since deploys promote by commit.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("LEDGERLY_BUILD_COMMIT"),
    ")"
);

/// Ledgerly prices invoices exactly: discounts, tax and late fee on exact
/// decimals, rounded once to cents.
#[derive(Debug, Parser)]
#[command(name = "ledgerly", version = VERSION)]
pub(crate) struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub(crate) global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Flags every subcommand takes, before or after its name.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct GlobalArgs {
    /// No notices on stderr (the sandbox notice, the progress line), for cron jobs; warnings and errors still go to stderr
    #[arg(long, short, global = true)]
    pub(crate) quiet: bool,

    /// When to color `error:` and `warning:` on stderr and clap's help; auto honours `NO_COLOR` and colors only a terminal
    #[arg(long, value_enum, global = true, default_value_t = Color::Auto, value_name = "WHEN")]
    pub(crate) color: Color,
}

/// When to use color.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Color {
    /// Color a terminal, unless `NO_COLOR` is set to anything but the empty string
    Auto,
    /// Always color
    Always,
    /// Never color
    Never,
}

impl Color {
    /// Whether messages on stderr are colored: `auto` colors a terminal
    /// unless `NO_COLOR` is set and not empty (<https://no-color.org>).
    pub(crate) fn enabled_on_stderr(self) -> bool {
        match self {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                no_color_unset(std::env::var_os("NO_COLOR")) && io::stderr().is_terminal()
            }
        }
    }

    fn clap(self) -> ColorChoice {
        match self {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        }
    }
}

/// Whether `NO_COLOR`'s value leaves color on: unset or empty.
fn no_color_unset(value: Option<OsString>) -> bool {
    value.is_none_or(|value| value.is_empty())
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Price one invoice from flags, or a batch of invoices from a file
    #[command(override_usage = invoice::USAGE)]
    Invoice(invoice::Args),
    /// Issue and collect each invoice of a file: the durable ledger, the sandbox gateway
    Charge(charge::Args),
    /// Print a shell completion script (bash, elvish, fish, powershell, zsh) to stdout
    Completions(completions::Args),
    /// Print the manual page (roff) to stdout: `ledgerly man | man -l -`
    Man,
    /// Print the rate table pricing applies, and its version
    Rates(rates::Args),
    /// Write a deterministic reference book of invoices (every tier and boundary, then random ones)
    Sample(sample::Args),
    /// Compare two JSON Lines outputs of `ledgerly invoice` for the same input
    Diff(diff::Args),
    /// List the ledger's invoices: issued breakdown, status, charge id, attempts
    Invoices(invoices::Args),
    /// Settle pending and unknown payment attempts by asking the processor, never charging
    Reconcile(reconcile::Args),
    /// Inspect the sandbox processor's own books
    Sandbox(sandbox::Args),
}

/// The whole command line, help screens included: every command's help
/// ends with its exit codes from the one table.
pub(crate) fn command() -> clap::Command {
    Cli::command()
        .after_help(all_exit_codes_help())
        .mut_subcommand(Cmd::Invoice.name(), |command| {
            command.after_help(format!(
                "{}\n{}",
                invoice::HELP,
                exit_codes_help(Cmd::Invoice)
            ))
        })
        .mut_subcommand(Cmd::Charge.name(), |command| {
            command.after_help(format!(
                "{}\n{}",
                charge::HELP,
                exit_codes_help(Cmd::Charge)
            ))
        })
        .mut_subcommand(Cmd::Rates.name(), |command| {
            command.after_help(format!("{}\n{}", rates::HELP, exit_codes_help(Cmd::Rates)))
        })
        .mut_subcommand(Cmd::Sample.name(), |command| {
            command.after_help(format!(
                "{}\n{}",
                sample::HELP,
                exit_codes_help(Cmd::Sample)
            ))
        })
        .mut_subcommand(Cmd::Diff.name(), |command| {
            command.after_help(format!("{}\n{}", diff::HELP, exit_codes_help(Cmd::Diff)))
        })
        .mut_subcommand(Cmd::Invoices.name(), |command| {
            command.after_help(format!(
                "{}\n{}",
                invoices::HELP,
                exit_codes_help(Cmd::Invoices)
            ))
        })
        .mut_subcommand(Cmd::Reconcile.name(), |command| {
            command.after_help(format!(
                "{}\n{}",
                reconcile::HELP,
                exit_codes_help(Cmd::Reconcile)
            ))
        })
        .mut_subcommand("sandbox", |command| {
            command.mut_subcommand("captures", |captures| {
                captures.after_help(format!(
                    "{}\n{}",
                    sandbox::HELP,
                    exit_codes_help(Cmd::SandboxCaptures)
                ))
            })
        })
}

/// The color clap should use for its own help and errors, read before
/// parsing (clap renders those while parsing): the last `--color` given.
pub(crate) fn color_before_parsing(args: &[OsString]) -> Color {
    let mut color = Color::Auto;
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.to_str() {
            Some("--") => break,
            Some("--color") => args.next().and_then(|value| value.to_str()),
            Some(other) => other.strip_prefix("--color="),
            None => None,
        };
        if let Some(value) = value.and_then(|value| Color::from_str(value, false).ok()) {
            color = value;
        }
    }
    color
}

/// Parses `args`: the command line, or clap's error (which is also how
/// clap hands over `--help` and `--version`).
pub(crate) fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let color = color_before_parsing(&args);
    let mut command = command().color(color.clap());
    let matches = command.try_get_matches_from_mut(args)?;
    Cli::from_arg_matches(&matches).map_err(|error| error.with_cmd(&command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn the_command_definition_is_consistent() {
        command().debug_assert();
    }

    fn parsed(args: &[&str]) -> Result<Cli, clap::Error> {
        parse(args.iter().map(OsString::from).collect())
    }

    #[test]
    fn quiet_and_color_are_accepted_before_or_after_the_subcommand() {
        let before = parsed(&[
            "ledgerly", "--quiet", "--color", "never", "invoice", "--item", "1x1",
        ])
        .unwrap();
        assert!(before.global.quiet);
        assert_eq!(before.global.color, Color::Never);
        let after = parsed(&[
            "ledgerly",
            "invoice",
            "--item",
            "1x1",
            "-q",
            "--color=always",
        ])
        .unwrap();
        assert!(after.global.quiet);
        assert_eq!(after.global.color, Color::Always);
        let neither = parsed(&["ledgerly", "invoice", "--item", "1x1"]).unwrap();
        assert!(!neither.global.quiet);
        assert_eq!(neither.global.color, Color::Auto);
    }

    #[test]
    fn the_last_color_flag_wins_before_parsing() {
        let args = |list: &[&str]| list.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            color_before_parsing(&args(&["ledgerly", "invoice"])),
            Color::Auto
        );
        assert_eq!(
            color_before_parsing(&args(&[
                "ledgerly",
                "--color",
                "never",
                "invoice",
                "--color=always"
            ])),
            Color::Always
        );
        assert_eq!(
            color_before_parsing(&args(&[
                "ledgerly",
                "--color=never",
                "--",
                "--color=always"
            ])),
            Color::Never
        );
        assert_eq!(
            color_before_parsing(&args(&["ledgerly", "--color", "pink"])),
            Color::Auto
        );
        assert_eq!(
            color_before_parsing(&args(&["ledgerly", "--color"])),
            Color::Auto
        );
    }

    #[test]
    fn no_color_turns_auto_color_off_unless_it_is_empty() {
        assert!(no_color_unset(None));
        assert!(no_color_unset(Some(OsString::new())));
        assert!(!no_color_unset(Some(OsString::from("1"))));
        assert!(Color::Always.enabled_on_stderr());
        assert!(!Color::Never.enabled_on_stderr());
    }

    #[test]
    fn an_unknown_color_is_a_usage_error() {
        let error =
            parsed(&["ledgerly", "--color", "pink", "invoice", "--item", "1x1"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidValue);
    }

    #[test]
    fn the_version_names_the_commit() {
        let error = parsed(&["ledgerly", "--version"]).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::DisplayVersion);
        let version = error.to_string();
        assert!(
            version.starts_with(concat!("ledgerly ", env!("CARGO_PKG_VERSION"), " (commit ")),
            "{version}"
        );
    }

    #[test]
    fn every_help_screen_ends_with_its_exit_codes() {
        for (args, code) in [
            (
                &["ledgerly", "--help"][..],
                "  78  charge, invoices, reconcile, sandbox captures: the ledger",
            ),
            (
                &["ledgerly", "invoice", "--help"][..],
                "  65  at least one invoice was invalid",
            ),
            (
                &["ledgerly", "charge", "--help"][..],
                "  1   every invoice was read, but at least one was not paid",
            ),
            (
                &["ledgerly", "reconcile", "--help"][..],
                "  1   some attempts stay unknown",
            ),
            (
                &["ledgerly", "invoices", "--help"][..],
                "  66  the ledger or the sandbox's books do not exist",
            ),
            (
                &["ledgerly", "sandbox", "captures", "--help"][..],
                "  78  the ledger or the sandbox's books were written by a newer ledgerly",
            ),
        ] {
            let help = parsed(args).unwrap_err().to_string();
            assert!(help.contains(code), "{args:?}: {help}");
        }
    }
}
