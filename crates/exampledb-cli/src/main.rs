//! `exampledb`: run a demonstration job on Hypothesis's default example database, and
//! inspect any example database (Python Hypothesis's included).
//!
//! ```text
//! exampledb demo                      find, shrink, store and replay a failing example
//! exampledb ls [DB] [--json]          keys, with their values' count and bytes
//! exampledb cat DB KEY [--decode] [--json]
//!                                     a key's values (hex; --decode: choice sequences as
//!                                     Python's repr, HypoFuzz's JSON pretty-printed,
//!                                     exampledb-proptest's seeds as text)
//! exampledb cp SRC DST [--dry-run] [--delete]
//!                                     copy (merge) every key from any backend to any
//!                                     other, a few keys at a time, with a progress bar on
//!                                     a terminal; idempotent (run again, it completes)
//! exampledb rm DB KEY [VALUE]         delete one value of a key (hex), or all of them
//! exampledb stats [DB] [--json]       keys, values and bytes per key suffix
//! exampledb watch [DB] [--json]       change events as they happen, one line (or one
//!                                     JSON object) each, until Ctrl-C
//! exampledb keys [DB]                 (as ls; kept for scripts)
//! exampledb show KEY [DB]             (as cat --decode; kept for scripts)
//! ```
//!
//! DB is anything `exampledb::open` takes: a directory path, `file:PATH?options`,
//! `redis://HOST` (built with the `redis` feature), `github://OWNER/REPO[/ARTIFACT]` (the
//! `github` feature: CI's database, the newest GitHub Actions artifact, token from
//! `GITHUB_TOKEN`, API from `GITHUB_API_URL`), `s3://BUCKET/PREFIX` and
//! `dynamodb://TABLE` (the `s3` and `dynamodb` features), `readonly:URL`, or the recipe
//! `LOCAL;readonly:SHARED`. Where it is optional it defaults to `$EXAMPLEDB_DATABASE`,
//! else Hypothesis's default location (`.hypothesis/examples`, or
//! `$HYPOTHESIS_STORAGE_DIRECTORY/examples`). KEY is as `ls` prints it: the hex of the
//! test's digest, then its readable suffix (`.secondary`, ...), or a proptest key as text
//! (`proptest:CRATE:tests/props.rs`, exampledb-proptest's seeds).
//!
//! The database is checked before it is read, so an unreachable server or artifact is
//! reported rather than shown as an empty database, and a directory database that does
//! not exist (a mistyped path) is an error, not an empty listing. Data goes to stdout,
//! diagnostics (warnings about unreadable values included; more with
//! `EXAMPLEDB_LOG=debug`) to stderr, each one line with control, bidi and zero-width
//! characters escaped; errors are one line and a non-zero exit. Output into a closed pipe
//! (`exampledb ls | head -1`) ends the command quietly. With no command, the help.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cat;
mod cp;
mod demo;
mod log;
mod ls;
mod output;
mod rm;
mod stats;
mod store;
mod watch;

use output::{parse_key, unhex, Stop};

/// Inspect and manage Hypothesis example databases (directory, Redis, S3, DynamoDB,
/// GitHub artifacts).
#[derive(Debug, Parser)]
#[command(name = "exampledb", version, about, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Find, shrink, store and replay a failing example, always on the directory database
    /// at Hypothesis's default location (.hypothesis/examples, or
    /// $HYPOTHESIS_STORAGE_DIRECTORY/examples; not $EXAMPLEDB_DATABASE).
    Demo,
    /// List the keys, with their values' count and bytes.
    Ls {
        /// The database (default: $EXAMPLEDB_DATABASE, else .hypothesis/examples).
        db: Option<String>,
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print a key's values, shortest first.
    Cat {
        /// The database.
        db: String,
        /// The key, as `ls` prints it.
        key: String,
        /// Decode: choice sequences as Python's repr, HypoFuzz's JSON pretty-printed.
        #[arg(long)]
        decode: bool,
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Copy (merge) every key's values from SRC into DST, any backends; idempotent, so an
    /// interrupted copy completes when run again. Values DST refuses are named on stderr,
    /// the rest is copied, and the command fails.
    Cp {
        /// The database copied from.
        src: String,
        /// The database copied into (created if it is a directory that does not exist).
        dst: String,
        /// Say what would be copied (and deleted), change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Make DST equal to SRC: also delete the values DST holds that SRC does not, once
        /// SRC was read whole (after any error or warning, nothing is deleted).
        #[arg(long)]
        delete: bool,
    },
    /// Delete one value of a key, or all of them.
    Rm {
        /// The database.
        db: String,
        /// The key, as `ls` prints it.
        key: String,
        /// The value, in hex (as `cat` prints it); without it, every value of the key.
        value: Option<String>,
    },
    /// Keys, values and bytes per key suffix.
    Stats {
        /// The database (default: $EXAMPLEDB_DATABASE, else .hypothesis/examples).
        db: Option<String>,
        /// One JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print change events as they happen (other processes' included), until Ctrl-C.
    Watch {
        /// The database (default: $EXAMPLEDB_DATABASE, else .hypothesis/examples).
        db: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// As `ls` (kept for scripts).
    #[command(hide = true)]
    Keys {
        /// The database.
        db: Option<String>,
    },
    /// As `cat --decode`, with the key first (kept for scripts).
    #[command(hide = true)]
    Show {
        /// The key.
        key: String,
        /// The database.
        db: Option<String>,
    },
}

/// The arguments as UTF-8, or the error naming the first one that is not.
fn utf8_args(args: impl Iterator<Item = OsString>) -> Result<Vec<String>, String> {
    args.enumerate()
        .map(|(i, arg)| {
            arg.into_string().map_err(|arg| {
                format!(
                    "argument {i} is not valid UTF-8: {:?}",
                    arg.to_string_lossy()
                )
            })
        })
        .collect()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // Warnings (an unreadable value file, a value skipped) reach the user on stderr.
    log::init();
    let args = match utf8_args(std::env::args_os()) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("exampledb: {}", log::one_line(&message));
            return ExitCode::from(2);
        }
    };
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; a closed pipe is not worth a word.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(cli.command).await {
        Ok(()) | Err(Stop::ClosedPipe) => ExitCode::SUCCESS,
        Err(Stop::Failed(message)) => {
            // Server replies and file names reach here: one line, safe for a terminal.
            eprintln!("exampledb: {}", log::one_line(&message));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Stop> {
    match command {
        Command::Demo => demo::run().await,
        Command::Ls { db, json } => ls::run(store::open(db.as_deref()).await?, json).await,
        Command::Keys { db } => ls::run(store::open(db.as_deref()).await?, false).await,
        Command::Cat {
            db,
            key,
            decode,
            json,
        } => {
            // The arguments are checked before the database is opened.
            let key = parse_key(&key)?;
            cat::run(store::open(Some(&db)).await?, &key, decode, json).await
        }
        Command::Show { key, db } => {
            let key = parse_key(&key)?;
            cat::run(store::open(db.as_deref()).await?, &key, true, false).await
        }
        Command::Cp {
            src,
            dst,
            dry_run,
            delete,
        } => {
            if delete {
                if let Some(shared) = store::shared_storage(&src, &dst) {
                    return Err(Stop::Failed(format!(
                        "SRC and DST share storage ({shared}): --delete could remove through DST what SRC holds; copy without --delete"
                    )));
                }
            }
            let src = store::open(Some(&src)).await?;
            let dst = if dry_run {
                store::open_for_dry_run(&dst).await?
            } else {
                store::open_for_write(&dst).await?
            };
            cp::run(src, dst, dry_run, delete).await
        }
        Command::Rm { db, key, value } => {
            let key = parse_key(&key)?;
            let value = match value {
                Some(v) => Some(unhex(&v).ok_or_else(|| {
                    format!("not a value: {v:?} (an even number of hex digits, as cat prints it)")
                })?),
                None => None,
            };
            if store::is_read_only(&db) {
                return Err(Stop::Failed(format!(
                    "{} is read-only: nothing can be removed from it",
                    store::location_of(&db)
                )));
            }
            rm::run(store::open(Some(&db)).await?, &key, value.as_deref()).await
        }
        Command::Stats { db, json } => stats::run(store::open(db.as_deref()).await?, json).await,
        Command::Watch { db, json } => watch::run(store::open(db.as_deref()).await?, json).await,
    }
}
