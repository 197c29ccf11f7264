//! The command line: the top-level flags, the subcommands, and the help
//! screens, whose "Exit codes" sections are rendered from the one table in
//! [`crate::error::EXIT_CODES`]. Each subcommand's own flags live with the
//! subcommand, in `command/<name>.rs`.

use std::ffi::OsString;
use std::io::{self, IsTerminal};

use clap::error::ErrorKind;
use clap::{ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::command::{
    charge, correct, credit_notes, diff, invoice, invoices, rates, reconcile, reprice, sample,
    sandbox,
};
use crate::error::{Cmd, all_exit_codes_help, exit_codes_help};

pub(crate) mod completions;

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
    /// Price again, with this build's rates, the invoices a ledger issued recently (read-only)
    Reprice(reprice::Args),
    /// List the ledger's invoices: issued breakdown, status, charge id, attempts
    Invoices(invoices::Args),
    /// Settle pending and unknown payment attempts by asking the processor, never charging
    Reconcile(reconcile::Args),
    /// Inspect the sandbox processor's own books
    Sandbox(sandbox::Args),
    /// Set money right when a wrong rate reached customers: plan, apply and verify credit notes
    Correct(correct::Args),
    /// List the ledger's credit notes: invoice, correction, kind, credited and corrected lines
    CreditNotes(credit_notes::Args),
}

/// What each subcommand's help shows after its flags, one row each: to add
/// a command is to write its module (`command/<name>.rs`), add its variant
/// to [`Command`] and to [`Cmd`] (with its exit codes), add its row here,
/// and its arm in the dispatch of `lib.rs`.
const HELP_TEXTS: &[(Cmd, &str)] = &[
    (Cmd::Invoice, invoice::HELP),
    (Cmd::Charge, charge::HELP),
    (Cmd::Rates, rates::HELP),
    (Cmd::Sample, sample::HELP),
    (Cmd::Diff, diff::HELP),
    (Cmd::Reprice, reprice::HELP),
    (Cmd::Invoices, invoices::HELP),
    (Cmd::Reconcile, reconcile::HELP),
    (Cmd::SandboxCaptures, sandbox::HELP),
    (Cmd::SandboxRefunds, sandbox::REFUNDS_HELP),
    (Cmd::CorrectPlan, correct::PLAN_HELP),
    (Cmd::CorrectApply, correct::APPLY_HELP),
    (Cmd::CorrectVerify, correct::VERIFY_HELP),
    (Cmd::CreditNotes, credit_notes::HELP),
];

/// The whole command line, help screens included: every command's help
/// ends with its exit codes from the one table.
pub(crate) fn command() -> clap::Command {
    let top = Cli::command().after_help(all_exit_codes_help());
    HELP_TEXTS.iter().fold(top, |top, &(cmd, help)| {
        let text = format!("{help}\n{}", exit_codes_help(cmd));
        // `sandbox captures` is a subcommand of a subcommand.
        match cmd.name().split_once(' ') {
            Some((parent, child)) => top.mut_subcommand(parent, |parent| {
                parent.mut_subcommand(child, |command| command.after_help(text))
            }),
            None => top.mut_subcommand(cmd.name(), |command| command.after_help(text)),
        }
    })
}

/// A usage error that a command found after clap parsed the command line
/// ([`AppError::Usage`](crate::error::AppError::Usage)), as clap prints its
/// own: under the subcommand's usage line, exit code 2.
pub(crate) fn usage_error(command: Cmd, message: &str) -> clap::Error {
    let mut cli = self::command();
    cli.build();
    // `sandbox captures` is a subcommand of a subcommand.
    let mut names = command.name().split(' ');
    let found = names
        .next()
        .and_then(|name| cli.find_subcommand_mut(name))
        .and_then(|parent| match names.next() {
            Some(child) => parent.find_subcommand_mut(child),
            None => Some(parent),
        })
        .map(|subcommand| subcommand.error(ErrorKind::ArgumentConflict, message));
    found.unwrap_or_else(|| cli.error(ErrorKind::ArgumentConflict, message))
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
    fn usage_errors_carry_clap_usage_exit_code() {
        let error = usage_error(Cmd::Invoice, "bad");
        assert_eq!(error.exit_code(), i32::from(crate::error::EXIT_USAGE));
        assert!(error.to_string().contains("bad"));
    }

    #[test]
    fn every_help_screen_ends_with_its_exit_codes() {
        for (args, code) in [
            (
                &["ledgerly", "--help"][..],
                "  78  charge, reprice, invoices, reconcile, sandbox captures, sandbox refunds, correct plan,",
            ),
            (
                &["ledgerly", "reprice", "--help"][..],
                "  1   some invoice of the window prices differently",
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
            (
                &["ledgerly", "sandbox", "refunds", "--help"][..],
                "  66  the ledger or the sandbox's books do not exist",
            ),
        ] {
            let help = parsed(args).unwrap_err().to_string();
            assert!(help.contains(code), "{args:?}: {help}");
        }
    }
}
