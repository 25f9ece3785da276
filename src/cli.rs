//! The command-line contract, as clap derive definitions and nothing else: no I/O happens here.
//!
//! The man page and the shell completions are generated from these definitions (see
//! `tests/generated.rs`), so every flag documented here is documented there too.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A fast local spam filter: content rules, a Bayes token database and a logistic-regression
/// classifier.
///
/// With no subcommand, spamfilt reads one message on standard input and writes it to standard
/// output with X-Spam-Status, X-Spam-Level and (on spam) X-Spam-Flag headers added, so that
/// procmail, maildrop or a Sieve script can file spam into a Junk folder. Whatever is wrong with
/// the configuration or the databases, the message is passed through and the exit status is 0;
/// only when the message cannot be read or written whole is it 75 (EX_TEMPFAIL), so that the
/// delivery agent keeps its copy.
#[derive(Debug, Parser)]
#[command(name = "spamfilt", version, about, long_about, max_term_width = 100)]
#[command(after_help = "Run 'spamfilt help COMMAND' for a command's options. See spamfilt(1).")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// The scoring switches given before a subcommand (or for the default filter).
    #[command(flatten)]
    pub switches: ScoringSwitches,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options that every subcommand accepts (shown under their own heading in every --help).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// The database directory (token database, training ledger).
    ///
    /// Default: the per-user data directory, e.g. ~/.local/share/spamfilt.
    #[arg(long, global = true, env = "SPAMFILT_DB", value_name = "DIR", hide_env_values = true)]
    pub db: Option<PathBuf>,

    /// The configuration file (TOML).
    ///
    /// Default: config.toml in the per-user configuration directory, e.g.
    /// ~/.config/spamfilt/config.toml. A missing default file is not an error. The site-wide
    /// /etc/spamfilt/config.toml (env SPAMFILT_SITE_CONFIG; empty: none), with its lists
    /// beside it, is read first: this file's settings override it.
    #[arg(long, global = true, env = "SPAMFILT_CONFIG", value_name = "FILE", hide_env_values = true)]
    pub config: Option<PathBuf>,

    /// Say more about what is being done (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// `--no-rules` as given to the filter, `check` or `eval` (see [`ScoringSwitches`]).
    #[arg(skip)]
    pub no_rules: bool,
    /// `--no-bayes`, likewise.
    #[arg(skip)]
    pub no_bayes: bool,
    /// `--no-lr`, likewise.
    #[arg(skip)]
    pub no_lr: bool,
}

/// What to leave out of the score, for comparison: accepted only where a message is scored
/// (the filter, `check`, `eval`), before or after the subcommand's name. [`Cli::finish`] moves
/// them into [`GlobalArgs`].
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Scoring switches")]
pub struct ScoringSwitches {
    /// Score without the content and sender rules: Bayes and LR only (for comparison; the
    /// allow and block lists still decide).
    #[arg(long)]
    pub no_rules: bool,

    /// Score without Bayes (for comparison; with the content rules only, what a fresh install
    /// without the starter table would do; with --no-rules too, LR alone).
    #[arg(long)]
    pub no_bayes: bool,

    /// Score without the logistic-regression classifier (for comparison; also `[lr] enabled =
    /// false` in the config file).
    #[arg(long)]
    pub no_lr: bool,
}

impl Cli {
    /// Moves the scoring switches, wherever they were given, into [`GlobalArgs`] (where the
    /// commands read them) and clears them elsewhere, so one command line gives one `Cli`.
    pub fn finish(mut self) -> Cli {
        let mut all = vec![std::mem::take(&mut self.switches)];
        match &mut self.command {
            Some(Command::Filter(a)) => all.push(std::mem::take(&mut a.switches)),
            Some(Command::Check(a)) => all.push(std::mem::take(&mut a.switches)),
            Some(Command::Eval(a)) => all.push(std::mem::take(&mut a.switches)),
            _ => {}
        }
        for s in all {
            self.global.no_rules |= s.no_rules;
            self.global.no_bayes |= s.no_bayes;
            self.global.no_lr |= s.no_lr;
        }
        self
    }

    /// clap's reading of the command line `args`, where a variable that stands in for a flag
    /// (`SPAMFILT_DB`, `SPAMFILT_CONFIG`: every `env =` above) counts as unset when it is set to
    /// the empty string, as an empty `SPAMFILT_SITE_CONFIG` does. procmail exports every variable
    /// a recipe assigns, so `SPAMFILT_DB=$SPAMDB` with SPAMDB unset gives an empty one; clap
    /// would refuse it ("a value is required for '--db <DIR>'"), and a delivery would pass every
    /// message through unscored.
    ///
    /// Done by building clap's command without the empty variables ([`without_empty_env`]): clap
    /// itself has no setting for it, an empty *flag* (`--db ''`) stays clap's error (it is in
    /// the recipe, where the error message points), no value is inspected twice, and nothing
    /// changes the process's environment (`std::env::remove_var` is `unsafe` in Rust 2024, and
    /// the commands' own children should see the variables as they came). Returns the `Cli`
    /// finished ([`Cli::finish`]); an error is clap's, formatted as `Parser::try_parse` does.
    pub fn try_parse_env<I, T>(args: I, env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut cmd = without_empty_env(Cli::command(), &env);
        let mut matches = cmd.try_get_matches_from_mut(args)?;
        Cli::from_arg_matches_mut(&mut matches).map(Cli::finish).map_err(|e| e.format(&mut cmd))
    }

    /// The command line of a delivery (`spamfilt [GLOBAL FLAGS] [filter [--exit-code]]`), read
    /// without building clap's whole command tree, which costs a tenth of a delivery. Returns
    /// `None` for anything else (another subcommand, help, an unknown or conflicting flag, a
    /// missing value), which then goes to clap as usual. A unit test checks that every command
    /// line this accepts gives exactly what clap gives.
    pub fn parse_delivery<I: IntoIterator<Item = std::ffi::OsString>>(
        args: I,
        env: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Option<Cli> {
        let mut args = args.into_iter().skip(1);
        let mut g = GlobalArgs {
            db: None,
            config: None,
            verbose: 0,
            quiet: false,
            no_rules: false,
            no_bayes: false,
            no_lr: false,
        };
        let mut filter: Option<FilterArgs> = None;
        while let Some(arg) = args.next() {
            let text = arg.to_str()?;
            let (flag, inline) = match text.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(std::ffi::OsString::from(v))),
                _ => (text, None),
            };
            let mut value = || -> Option<PathBuf> {
                let v = match &inline {
                    Some(v) => v.clone(),
                    None => args.next()?,
                };
                // clap takes `--db --quiet` as a missing value, and an empty value as an error.
                let s = v.to_string_lossy();
                (!s.is_empty() && !s.starts_with('-')).then(|| PathBuf::from(v))
            };
            match flag {
                "--db" if g.db.is_none() => g.db = Some(value()?),
                "--config" if g.config.is_none() => g.config = Some(value()?),
                _ if inline.is_some() => return None,
                "-v" | "--verbose" => g.verbose = g.verbose.checked_add(1)?,
                "-q" | "--quiet" if !g.quiet => g.quiet = true,
                "--no-rules" if !g.no_rules => g.no_rules = true,
                "--no-bayes" if !g.no_bayes => g.no_bayes = true,
                "--no-lr" if !g.no_lr => g.no_lr = true,
                "filter" if filter.is_none() => filter = Some(FilterArgs::default()),
                "--exit-code" => match &mut filter {
                    Some(f) if !f.exit_code => f.exit_code = true,
                    _ => return None,
                },
                _ => return None,
            }
        }
        if g.quiet && g.verbose > 0 {
            return None;
        }
        // As `try_parse_env` does: the variable stands in for an absent flag; an empty one counts
        // as unset.
        for (slot, name) in [(&mut g.db, "SPAMFILT_DB"), (&mut g.config, "SPAMFILT_CONFIG")] {
            if slot.is_none() {
                if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                    *slot = Some(PathBuf::from(v));
                }
            }
        }
        Some(Cli { global: g, switches: ScoringSwitches::default(), command: filter.map(Command::Filter) })
    }
}

/// `cmd` with every argument whose variable `env` gives as empty no longer read from it (in its
/// subcommands too). clap reads the variables when the command is built (`Arg::env`); this
/// drops what it read, not the variable.
pub fn without_empty_env(cmd: clap::Command, env: &impl Fn(&str) -> Option<std::ffi::OsString>) -> clap::Command {
    cmd.mut_args(|a| {
        let empty = a.get_env().and_then(|name| name.to_str()).and_then(env).is_some_and(|v| v.is_empty());
        if empty {
            a.env(None)
        } else {
            a
        }
    })
    .mut_subcommands(|c| without_empty_env(c, env))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Filter one message from stdin to stdout, adding X-Spam-* headers (the default).
    Filter(FilterArgs),
    /// Score messages without changing anything; one line per message.
    Check(CheckArgs),
    /// Learn messages as ham or as spam (a message given as both in one run is not learned).
    Train(TrainArgs),
    /// Unlearn messages learned before.
    Forget(ForgetArgs),
    /// Learn old messages in a Maildir Junk folder as spam, then delete them.
    Purge(PurgeArgs),
    /// Inspect and maintain the token database.
    #[command(subcommand)]
    Db(DbCommand),
    /// Measure accuracy on your own folders by k-fold cross-validation (your database is not touched).
    Eval(EvalArgs),
    /// List the content rules (name, family, score, description), or measure how often they hit.
    Rules(RulesArgs),
    /// Show or edit the allow and block lists (addresses, @domains, *.domains).
    #[command(subcommand)]
    List(ListCommand),
    /// Show or edit the IP reputation database fed by training and honeypots (IPv4 per address,
    /// IPv6 per /64).
    #[command(subcommand)]
    Ip(IpCommand),
    /// Show or remove the mail addresses training recorded: known correspondents (the people
    /// your Sent mail was written to), your own addresses (its From and Sender) and learned
    /// senders (a From address through the relay block its learned mail came by: LEARNED_SENDER).
    #[command(subcommand)]
    Address(AddressCommand),
    /// Check the config file, the lists, the custom rules and the databases; print each problem
    /// as FILE:LINE: message and exit 1 if there is any.
    ///
    /// The filter works around every problem lint reports (it scores with the default for a bad
    /// config key, without a bad list line, without a damaged database) and marks the messages
    /// it scores that way with SPAMFILT_DEGRADED and an X-Spam-Degraded header; train, purge
    /// and the other commands that change something refuse to run until the problem is fixed
    /// (rules and list show warn and go on).
    ///
    /// The databases checked are the directory itself (one that is a file or cannot be read is
    /// said so, and one of your own that you cannot write: training would fail), tokens.db,
    /// lr.weights (readable, its version and size) and reputation.db. A DNS resolver backed off
    /// after it gave no answer (dns-resolver.state: which, since when, until when) is a problem
    /// too: meanwhile deliveries and the policy service skip the DNS blocklists and the PTR
    /// lookups. Notes that do not change the exit status (an address that looks like your own
    /// relay: add it to trusted_networks) are printed with -q too, once per address:
    /// lint-told.state remembers which were, so the weekly cron line does not mail the same note
    /// every week (without -q every note is printed).
    Lint,
    /// Answer Postfix policy requests (check_policy_service) from what the filter learned.
    #[command(long_about = POLICY_ABOUT)]
    Policy(PolicyArgs),
    /// Import a SpamAssassin user_prefs or local.cf into the config file and the allow and
    /// block lists; every line that was not imported is named as FILE:LINE (exit status 1).
    ///
    /// Mapped: whitelist_from and welcomelist_from (allow list; *@klant.be is @klant.be),
    /// blacklist_from and blocklist_from (block list), required_score (required_hits),
    /// rewrite_header Subject (subject_tag), score lines for rules spamfilt has ([scores]; of
    /// four scores the third, Bayes without network tests), trusted_networks and
    /// internal_networks. A key or score your config already sets is kept. Settings that need
    /// nothing here (report_safe, use_bayes, bayes_auto_learn...) are listed as notes. The
    /// Bayes database is not imported: train from your folders (see the README).
    #[command(name = "import-sa")]
    ImportSa(ImportSaArgs),
    /// Print the shell completion script for bash, zsh or fish.
    ///
    /// bash: spamfilt completions bash > ~/.local/share/bash-completion/completions/spamfilt;
    /// zsh: spamfilt completions zsh > ~/.zfunc/_spamfilt (with fpath+=~/.zfunc before compinit
    /// in ~/.zshrc); fish: spamfilt completions fish > ~/.config/fish/completions/spamfilt.fish.
    /// The same scripts are in the source tree's completions/ directory.
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// The shells `completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct ImportSaArgs {
    /// SpamAssassin config files: ~/.spamassassin/user_prefs, /etc/spamassassin/local.cf.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Report what would be imported, and write nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
}

const POLICY_ABOUT: &str = "Answer Postfix policy requests (check_policy_service) from what the filter learned.

Postfix asks once per recipient (SMTPD_POLICY_README protocol); spamfilt answers from the same reputation \
database, honeypots, allow list and DNS cache the filter uses. It refuses a client that is a spam source \
(added with 'ip add', a honeypot sender within ip_expire_days, or a spam weight of at least \
reputation_threshold), a recipient that is a honeypot (and records the client at once), a client that tried \
more than harvest_limit unknown recipients within harvest_window_minutes (refused for harvest_refuse_hours; \
through a client whose reverse name Postfix forward-confirmed (client_name is not unknown), such as a mail \
provider's shared relay, counted and refused per envelope sender instead, so one user's mistyped addresses do \
not defer everyone on it), and, per config, clients without a reverse name or on a DNS blocklist. An IPv6 \
client is judged by its /64 (its reputation, honeypot hits, harvest counts and refusals), an IPv4 client by its \
address. Trusted networks, authenticated clients \
(sasl_username), allow-listed senders and addresses that carried learned ham (unless more honeypot hits than \
ham came from them) are never refused. Any error, timeout or unreadable database answers DUNNO.

Without --listen it serves requests on standard input and output (Postfix spawn(8)); it never writes to \
standard error then (Postfix connects it to the client), so it logs to --log FILE or to syslog.

Config file, [policy]: mode = \"warn\" (the default: PREPEND X-Spamfilt-Policy: would reject: why) or \
\"enforce\" (REJECT 5.7.1 why / DEFER_IF_PERMIT 4.7.1 why); recipients = \"valid-rcpt.txt\" (relative to the \
config file: one address or @domain per line) or recipients_command = [\"postmap\", \"-q\", \"%s\", \
\"hash:/etc/postfix/vmailbox\"] (exit 0 known, 1 unknown); harvest_limit = 5, harvest_window_minutes = 60, \
harvest_refuse_hours = 24; reputation_threshold = 0.5; per check reputation, honeypot, harvest, no_ptr, dnsbl = \
\"reject\" | \"defer\" | \"mark\" | \"off\" (defaults reject, reject, defer, mark, reject); header = \
\"X-Spamfilt-Policy\" (for people to read: the filter never reads it, since a sender can write one too).

Postfix main.cf (contrib/postfix/main.cf; relay control stays in smtpd_relay_restrictions):
  smtpd_recipient_restrictions = check_policy_service unix:private/spamfilt-policy
  smtpd_policy_service_default_action = DUNNO
  spamfilt-policy_time_limit = 3600s

master.cf (contrib/postfix/master.cf):
  spamfilt-policy unix - n n - 0 spawn
    user=spamfilt argv=/usr/local/bin/spamfilt --db /var/lib/spamfilt
    --config /etc/spamfilt/config.toml policy

Or a standing service (contrib/postfix/main-socket.cf): spamfilt policy --listen \
unix:/var/spool/postfix/spamfilt/policy with check_policy_service unix:spamfilt/policy (the socket is made mode \
0666: its directory, owned by the service's user and group postfix, mode 0750, keeps others out), or --listen \
127.0.0.1:10040 with check_policy_service inet:127.0.0.1:10040.

'spamfilt ip show ADDRESS' says whether and why the service refuses an address; 'ip remove' lifts it.";

#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// Serve as a standing service on unix:PATH or IP:PORT (loopback only) instead of on
    /// standard input and output.
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<String>,

    /// With --listen: how many connections are served at once, each on a thread of its own.
    /// Postfix keeps one connection per smtpd process: allow at least smtpd's process limit.
    /// Past it, the connection idle longest (else the one sending its request longest) is
    /// closed, so a new client is always answered (Postfix reconnects).
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub threads: u16,

    /// Append decisions, errors and counters to this file (default: syslog, facility mail;
    /// with --listen and no syslog, standard error).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ListCommand {
    /// The allow list: senders whose mail is always ham.
    #[command(subcommand)]
    Allow(ListAction),
    /// The block list: senders whose mail is always spam.
    #[command(subcommand)]
    Block(ListAction),
}

#[derive(Debug, Subcommand)]
pub enum ListAction {
    /// Print the entries.
    Show,
    /// Add entries: jan@klant.be (one address), @klant.be (the domain), *.klant.be (and its subdomains).
    ///
    /// A list that is a symbolic link is edited where the link leads and the link stays, when that is
    /// a regular file of yours in a directory nobody but you or root can write; any other link is
    /// refused and nothing is written. The same holds for remove.
    Add {
        #[arg(value_name = "ENTRY", required = true)]
        entries: Vec<String>,
    },
    /// Remove entries.
    ///
    /// Exit status 1 when one of them was not there (the others are removed), as for ip remove.
    Remove {
        #[arg(value_name = "ENTRY", required = true)]
        entries: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum IpCommand {
    /// Everything known about one address: for IPv6 its /64's reputation (2001:db8:1:2::/64)
    /// and the address's own cached DNS answers.
    Show {
        #[arg(value_name = "ADDRESS")]
        address: String,
    },
    /// One line per address (per /64 for IPv6): counts, last seen, spam weight.
    List {
        /// Only addresses that count as spam sources now.
        #[arg(long)]
        spam: bool,
    },
    /// Mark addresses as spam sources by hand (until removed); an IPv6 address marks its /64.
    Add {
        #[arg(value_name = "ADDRESS", required = true)]
        addresses: Vec<String>,
    },
    /// Forget everything about addresses and lift the policy service's refusal of them; an IPv6
    /// address removes its /64's.
    ///
    /// Exit status 1 when one of them was not there (the others are removed).
    Remove {
        /// Say what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(value_name = "ADDRESS", required = true)]
        addresses: Vec<String>,
    },
    /// Drop addresses with no spam within ip_expire_days (default 30), expired DNS answers, and
    /// learned senders with no ham and nothing learned within ip_expire_days; and the policy
    /// service's ended refusals, unknown-recipient counts older than harvest_window_minutes and
    /// honeypot traps left pending for more than a day.
    Expire,
    /// Check whether an address is an open proxy (HTTP CONNECT, SOCKS 5, SOCKS 4) that relays to
    /// your own mail server; a confirmed one is marked as a spam source.
    ///
    /// Probing other people's machines is for admins whose policy allows it; DNS blocklists that
    /// list proxies are the passive alternative. Nothing probes unless you run this; an address
    /// is probed at most once per ip_expire_days. The proxy must bring back your server's SMTP
    /// greeting (220) to count.
    Probe {
        #[arg(value_name = "ADDRESS")]
        address: String,
        /// Ports to try [default: 1080,3128,8080,80,8000,8081,8888,1081].
        #[arg(long, value_name = "PORT", value_delimiter = ',')]
        ports: Vec<u16>,
        /// Your own SMTP server, IP:PORT (default: probe_target in [policy]).
        #[arg(long, value_name = "IP:PORT")]
        target: Option<String>,
        /// Seconds each connection and each answer may take.
        #[arg(long, value_name = "SECONDS", default_value_t = 5)]
        timeout: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddressCommand {
    /// What is recorded about one mail address: as a known correspondent or your own address,
    /// and as a learned sender through each relay block (ham and spam learned, last learned,
    /// what LEARNED_SENDER gives it). Exit status 1 when nothing is.
    Show {
        #[arg(value_name = "ADDRESS")]
        address: String,
    },
    /// One line per record: known correspondents, your own addresses and learned senders (one
    /// per address and relay block), sorted.
    List {
        /// Only your own addresses.
        #[arg(long, conflicts_with_all = ["correspondents", "senders"])]
        own: bool,
        /// Only known correspondents.
        #[arg(long, conflicts_with = "senders")]
        correspondents: bool,
        /// Only learned senders.
        #[arg(long)]
        senders: bool,
    },
    /// Remove every record of mail addresses: as known correspondents or your own addresses, and
    /// as learned senders through every relay block.
    ///
    /// Mail from a removed correspondent no longer gets KNOWN_CORRESPONDENT, nor mail from a
    /// removed learned sender LEARNED_SENDER (the way back from ham learned from a forged or
    /// compromised correspondent, without forgetting each message); training mail written to or
    /// from the address again records it again. Takes the training lock; works on reputation.db
    /// or the Redis store. Exit status 1 when one of them was not there (the others are removed).
    Remove {
        /// Say what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[arg(value_name = "ADDRESS", required = true)]
        addresses: Vec<String>,
    },
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("stats_sets").multiple(true).args(["ham", "spam"]).requires("stats")))]
pub struct RulesArgs {
    /// Print one JSON object per rule (with --stats: ham_percent and spam_percent in percent,
    /// 0 to 100, as every *_percent field; precision from 0 to 1).
    #[arg(long)]
    pub json: bool,

    /// Count each rule's hits on --ham and --spam messages: hits, rates and precision.
    #[arg(long, requires = "stats_sets")]
    pub stats: bool,

    /// Ham messages for --stats (same kinds of PATH as 'check').
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub ham: Vec<String>,

    /// Spam messages for --stats.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub spam: Vec<String>,
}

#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Exit 1 when the message is spam, 0 when it is ham (for callers that branch on the exit
    /// status). An error is never 1: with a broken configuration or database the message is
    /// still passed through and the exit status is 0, and when the message cannot be read or
    /// written whole it is 75.
    #[arg(long)]
    pub exit_code: bool,

    #[command(flatten)]
    pub switches: ScoringSwitches,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print one JSON object per message instead of tab-separated fields (bayes and lr: spam
    /// probabilities from 0 to 1).
    #[arg(long)]
    pub json: bool,

    /// Explain each verdict: every rule hit with its points and description, and the tokens that
    /// pushed Bayes most towards spam and towards ham.
    #[arg(long, conflicts_with = "json")]
    pub report: bool,

    /// Messages to score: a message file, a directory (Maildir, MH or plain), an mbox file, '-'
    /// for stdin, or @LIST for a file that lists paths one per line (@- reads the list from stdin).
    ///
    /// A pipe named here is read to its end (at most 1 GiB) and an mbox in it split into its
    /// messages: `<(zcat spam.mbox.gz)`, `/dev/stdin`, a FIFO (waited for until a writer opens
    /// it); '-' reads one message. A FIFO in an @LIST or in a folder, a device and a socket are
    /// refused and named, never waited on. In a folder named here, a symbolic link to a regular
    /// file is followed (the search results of mu or mairix are folders of links); links that lead
    /// to anything else are skipped, counted and named. The same holds for every command that
    /// reads PATHs (train, forget, eval, rules --stats); purge, which deletes, never follows a
    /// link.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,

    #[command(flatten)]
    pub switches: ScoringSwitches,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("class").required(true).multiple(true).args(["ham", "spam", "queued"])))]
pub struct TrainArgs {
    /// Learn these messages as ham (good mail), e.g. your Sent folder.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub ham: Vec<String>,

    /// Learn these messages as spam, e.g. your Junk folder.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub spam: Vec<String>,

    /// Only learn what the filter queued (honeypot hits); every training run does this first anyway.
    #[arg(long)]
    pub queued: bool,

    /// Only messages in their folder longer than this (e.g. 10d, 36h, 2w; a bare number is days),
    /// counted as purge counts it: from the later of the delivery time in the Maildir file name and
    /// the file's ctime (which a move into the folder, or a flag change, sets). Files without a
    /// delivery time in their name are passed over; standard input and mbox files are refused.
    #[arg(long, value_name = "AGE")]
    pub older_than: Option<String>,

    /// Learn a --ham message only if the filter, scoring it now as check does with the current
    /// database, gives it less than SCORE (e.g. 0). Any X-Spam-* field in the file counts for nothing;
    /// a message learned before (as ham or spam) is passed over unscored.
    #[arg(long, value_name = "SCORE", value_parser = score_arg, allow_negative_numbers = true, requires = "ham", conflicts_with = "spam")]
    pub below: Option<f64>,

    /// With --below: learn no more ham than RATIO times the spam learned (db stats; 1 when RATIO is
    /// not given), the newest messages first; the rest waits, unread, for a later run. Keeps ham
    /// learning in step with the nightly purge.
    #[arg(long, value_name = "RATIO", num_args = 0..=1, default_missing_value = "1", value_parser = ratio_arg, requires = "below")]
    pub balanced: Option<f64>,

    /// Start afresh over a database file that was read and found damaged (it is moved aside
    /// first, never deleted). A file that cannot be opened (permission denied, a symbolic link,
    /// not a regular file) is not known to be damaged: it is refused, with or without --force.
    #[arg(long)]
    pub force: bool,

    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// `--below` of train: a finite number of points.
fn score_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("bad score {s:?}: expected a number of points such as 0, -2 or 2.5")),
    }
}

/// `--balanced` of train: a ratio of ham to spam learned, not negative.
fn ratio_arg(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("bad ratio {s:?}: expected how many ham per spam learned, such as 1 or 0.5")),
    }
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// Messages to unlearn (same kinds of PATH as 'check').
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<String>,

    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Only messages in the folder longer than this (e.g. 10d, 36h, 2w; a bare number is days):
    /// counted from the later of the delivery time in the Maildir file name and the file's ctime,
    /// which a move into the folder (even one that keeps the old name) sets, as purge first saw it:
    /// purge writes that time down (purge-seen.state in the database directory), so a ctime set
    /// later (a flag change, a nightly backup or chmod) does not make a message young again.
    #[arg(long, value_name = "AGE", default_value = "10d")]
    pub older_than: String,

    /// Say what would be learned and deleted, and change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Delete without learning the messages as spam first.
    #[arg(long)]
    pub no_train: bool,

    /// Purge even what looks like a mistake: an age under one day, a folder whose name says nothing of
    /// Junk, Spam, Bulk or Ongewenst, the root of a Maildir++ mailbox (the inbox), or a cur/ or new/ that is
    /// a symbolic link. Only Maildir-named message files are ever deleted, with or without it, and
    /// never one that is not mail (an empty file, a text note: named, left in place, exit status 1).
    #[arg(long)]
    pub force: bool,

    /// Maildir folders to purge (each must have cur/, new/ and tmp/).
    #[arg(value_name = "FOLDER", required = true)]
    pub folders: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Messages learned per class, tokens, file size, last update.
    Stats,
    /// Write everything learned to stdout (or FILE) in the documented text format: token counts,
    /// the ledger, the reputation database (IP addresses, cached DNS answers, known
    /// correspondents) and the LR weights.
    Dump {
        /// Write here instead of stdout.
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Replace the databases with a dump read from FILE ('-' for stdin); a version 1 dump (tokens
    /// only) leaves the reputation database as it is. The whole dump is read first: one that is
    /// cut short (no end line, counts that do not match) is refused and nothing is changed.
    Load {
        /// A file written by 'spamfilt db dump'.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Rebuild a damaged token database from the records that still verify; the damaged file
    /// is kept beside it as tokens.db.corrupt-TIME.
    Salvage,
    /// Copy the token counts, the ledger, the LR weights and the IP reputation to another
    /// store: a Redis server (--to redis://HOST:PORT/DB or unix:///PATH) or a database
    /// directory (--to-files DIR). Then point the config file's [store] at it. Cached DNS
    /// answers and the queue stay in the --db directory.
    Migrate {
        /// The Redis store to copy to (a password may be in the URL).
        #[arg(long, value_name = "URL", conflicts_with = "to_files", required_unless_present = "to_files")]
        to: Option<String>,
        /// The database directory to copy to (tokens.db and lr.weights are written there).
        #[arg(long, value_name = "DIR")]
        to_files: Option<PathBuf>,
        /// The key prefix in Redis (default: [store] prefix, or your login name).
        #[arg(long, value_name = "NAME", requires = "to")]
        prefix: Option<String>,
        /// Replace what the target holds already (otherwise a target with anything learned is refused).
        #[arg(long)]
        force: bool,
    },
    /// Drop rare tokens that have not been seen for a long time.
    Expire {
        /// Drop tokens last seen more than this many days ago...
        #[arg(long, value_name = "DAYS", default_value_t = 120)]
        days: u32,
        /// ...whose total count (ham + spam) is at most this.
        #[arg(long, value_name = "N", default_value_t = 2)]
        max_count: u32,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Ham (good mail) to evaluate on, e.g. your Sent folder and inbox archive.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub ham: Vec<String>,

    /// Spam to evaluate on, e.g. your Junk folder.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    pub spam: Vec<String>,

    /// Number of folds: each message is scored by a model trained on the other folds.
    #[arg(long, value_name = "K", default_value_t = 10, value_parser = clap::value_parser!(u16).range(2..=100))]
    pub folds: u16,

    /// Fold assignment seed: the same messages and seed give the same figures.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub seed: u64,

    /// Also report the threshold that would give this false-positive rate.
    #[arg(long, value_name = "RATE", default_value = "0.1%")]
    pub target_fp: String,

    /// Write an SVG with the ham and spam score histograms and the ROC curve (the name must end
    /// in .svg; it is checked before the run, and the path is printed when written).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Print the figures as one JSON object. Every proportion is in percent (0 to 100), in a
    /// field whose name ends in _percent (spam_recall_percent_at_0_1_percent_fp: the spam recall,
    /// in percent, at 0.1% false positives).
    #[arg(long)]
    pub json: bool,

    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,

    #[command(flatten)]
    pub switches: ScoringSwitches,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::Parser;
    use std::ffi::OsString;

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("spamfilt").chain(line.split_whitespace()).map(OsString::from).collect()
    }

    /// Every command line the delivery fast path accepts parses to exactly what clap makes of it,
    /// and what it declines clap either rejects or reads as something other than a delivery.
    #[test]
    fn the_delivery_fast_path_agrees_with_clap() {
        let accepted = [
            "",
            "filter",
            "filter --exit-code",
            "--db /d --config /c.toml",
            "--db=/d --config=/c.toml filter --exit-code",
            "-v -v --verbose filter",
            "-q --no-rules",
            "--no-bayes filter -q",
            "--no-rules --no-bayes",
            "--no-lr filter --exit-code",
            "filter --db /d",
            "filter --exit-code --config c --db d -v",
        ];
        for line in accepted {
            let fast = Cli::parse_delivery(argv(line), |_| None).unwrap_or_else(|| panic!("declined: {line:?}"));
            let slow =
                Cli::try_parse_from(argv(line)).unwrap_or_else(|e| panic!("clap rejects {line:?}: {e}")).finish();
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{line:?}");
        }
        let declined = [
            "--help",
            "-h",
            "--version",
            "check x",
            "train --ham x",
            "--exit-code",
            "filter filter",
            "filter --exit-code --exit-code",
            "-q -v",
            "-q -q",
            "--no-lr --no-lr",
            "--db",
            "--db --quiet",
            "--db a --db b",
            "-vv",
            "--verbose=1",
            "--frobnicate",
            "help",
        ];
        for line in declined {
            assert!(Cli::parse_delivery(argv(line), |_| None).is_none(), "accepted: {line:?}");
            if let Ok(cli) = Cli::try_parse_from(argv(line)) {
                // clap takes `-vv` as two -v; the fast path leaves such spellings to clap.
                let delivery = matches!(cli.command, None | Some(super::Command::Filter(_)));
                assert!(!delivery || line == "-vv", "clap accepts {line:?} as {cli:?}");
            }
        }
    }

    #[test]
    fn the_delivery_fast_path_reads_the_environment_like_clap() {
        let env = |k: &str| match k {
            "SPAMFILT_DB" => Some(OsString::from("/env/db")),
            "SPAMFILT_CONFIG" => Some(OsString::from("/env/c.toml")),
            _ => None,
        };
        let cli = Cli::parse_delivery(argv("--db /flag"), env).unwrap();
        assert_eq!(cli.global.db.as_deref(), Some(std::path::Path::new("/flag")));
        assert_eq!(cli.global.config.as_deref(), Some(std::path::Path::new("/env/c.toml")));
        // An empty variable counts as unset, on the fast path and on clap's.
        let empty = |k: &str| match k {
            "SPAMFILT_DB" => Some(OsString::new()),
            "SPAMFILT_CONFIG" => Some(OsString::from("/env/c.toml")),
            _ => None,
        };
        let cli = Cli::parse_delivery(argv(""), empty).unwrap();
        assert_eq!(cli.global.db, None);
        assert_eq!(cli.global.config.as_deref(), Some(std::path::Path::new("/env/c.toml")));
        let cmd = super::without_empty_env(<Cli as clap::CommandFactory>::command(), &empty);
        let get = |id: &str| cmd.get_arguments().find(|a| a.get_id() == id).unwrap().get_env().is_some();
        assert!(!get("db"), "SPAMFILT_DB is empty: not read");
        assert!(get("config"), "SPAMFILT_CONFIG is not empty: read");
    }

    /// Every argument clap fills from a variable is one `parse_delivery` reads too (or one
    /// outside a delivery), so an empty one counts as unset on both paths.
    #[test]
    fn the_variables_clap_reads_are_the_ones_the_fast_path_reads() {
        fn names(cmd: &clap::Command, out: &mut Vec<String>) {
            out.extend(cmd.get_arguments().filter_map(|a| a.get_env()).map(|n| n.to_string_lossy().into_owned()));
            cmd.get_subcommands().for_each(|c| names(c, out));
        }
        let mut all = Vec::new();
        names(&<Cli as clap::CommandFactory>::command(), &mut all);
        all.sort();
        all.dedup();
        assert_eq!(all, ["SPAMFILT_CONFIG", "SPAMFILT_DB"]);
    }
}
