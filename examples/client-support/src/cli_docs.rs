//! `completions SHELL` and `man`: generated from a program's clap definition, so they
//! never drift from its options (the clients and the `switchyard` host share this);
//! and the command-line parser that puts the exit table under every `--help`.

use std::io::{self, Write};

pub use clap_complete::Shell;

/// `cmd` with the clients' `EXIT STATUS` table after its help and after the help of
/// every subcommand, nested ones too: clap's `after_help` belongs to one command and is
/// not inherited, and `switchyard-tftp get --help` is where a script writer looks.
pub fn with_exit_help(cmd: clap::Command) -> clap::Command {
    cmd.after_help(crate::exit::Exit::help_text())
        .mut_subcommands(with_exit_help)
}

/// `P::parse()` with [`with_exit_help`]: parse the command line or exit as clap does
/// (usage errors 2, `--help` and `--version` 0).
pub fn parse<P: clap::Parser>() -> P {
    let mut cmd = with_exit_help(P::command());
    let mut matches = cmd.clone().get_matches();
    P::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut cmd).exit())
}

/// Write `cmd`'s completion script for `shell` to stdout.
pub fn completions(mut cmd: clap::Command, shell: Shell) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, &mut io::stdout());
}

/// `cmd`'s man page (roff) with an `EXIT STATUS` section listing `exits`.
pub fn man_page(cmd: clap::Command, exits: &[(u8, &str)], out: &mut dyn Write) -> io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for (code, what) in exits {
        writeln!(out, ".TP\n.B {code}\n{}", roff_text(what))?;
    }
    if cmd.get_version().is_some() {
        man.render_version_section(out)?;
    }
    Ok(())
}

/// The client table ([`crate::exit::Exit::ALL`]) as `man_page` wants it.
pub fn client_exits() -> Vec<(u8, &'static str)> {
    crate::exit::Exit::ALL
        .iter()
        .map(|(e, what)| (e.code(), *what))
        .collect()
}

/// `man` for a client: its page with the clients' exit table on stdout; exit 0, or 23
/// when stdout cannot be written.
pub fn client_man(cmd: clap::Command) -> std::process::ExitCode {
    let prog = cmd.get_name().to_owned();
    match man(cmd, &client_exits()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            crate::Failure::new(crate::Exit::LocalWrite, format!("stdout: {e}")).report(&prog)
        }
    }
}

/// Write `cmd`'s man page to stdout.
pub fn man(cmd: clap::Command, exits: &[(u8, &str)]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    man_page(cmd, exits, &mut out)
}

/// Text safe on a roff line: no leading control character, backslashes escaped.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e");
    if s.starts_with(['.', '\'']) {
        format!("\\&{s}")
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_lists_the_exit_statuses() {
        let cmd = clap::Command::new("demo")
            .about("a demo")
            .arg(clap::Arg::new("x").long("x"));
        let mut out = Vec::new();
        man_page(cmd, &client_exits(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains(".SH \"EXIT STATUS\""), "{text}");
        assert!(
            text.contains(".B 78\nthe remote file does not exist"),
            "{text}"
        );
        assert_eq!(roff_text(".x\\y"), "\\&.x\\ey");
    }

    #[test]
    fn every_subcommand_help_ends_with_the_exit_table() {
        let cmd = clap::Command::new("demo")
            .subcommand(clap::Command::new("get").subcommand(clap::Command::new("deep")));
        let mut cmd = with_exit_help(cmd);
        for path in [&["demo"][..], &["demo", "get"], &["demo", "get", "deep"]] {
            let mut at = &mut cmd;
            for name in &path[1..] {
                at = at.find_subcommand_mut(name).unwrap();
            }
            let help = at.render_help().to_string();
            assert!(help.contains("EXIT STATUS:"), "{path:?}: {help}");
            assert!(
                help.contains(" 73  the target file exists"),
                "{path:?}: {help}"
            );
        }
    }
}
