//! The man page and the shell completions are generated from the clap definitions in
//! src/cli.rs and committed. This test fails when they are stale; regenerate them with
//!
//!     UPDATE_GENERATED=1 cargo test --test generated
//!
//! The prose sections of the man page that clap cannot know (headers, examples, files,
//! environment, exit status) are written here, next to the code that renders them.

use std::fmt::Write as _;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;
use spamfilt::cli::Cli;

fn roff_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, line) in s.lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let line = line.replace('\\', "\\e").replace('-', "\\-");
        if line.starts_with('.') || line.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&line);
    }
    out
}

fn arg_label(arg: &clap::Arg) -> String {
    let mut label = String::new();
    if let Some(s) = arg.get_short() {
        write!(label, "\\fB\\-{s}\\fR").unwrap();
    }
    if let Some(l) = arg.get_long() {
        if !label.is_empty() {
            label.push_str(", ");
        }
        write!(label, "\\fB\\-\\-{}\\fR", l.replace('-', "\\-")).unwrap();
    }
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values()) && !arg.is_positional();
    if let Some(names) = arg.get_value_names().filter(|_| takes_value || arg.is_positional()) {
        let v = names.iter().map(|n| format!("\\fI{n}\\fR")).collect::<Vec<_>>().join(" ");
        if arg.is_positional() {
            label = v;
            if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
                label.push_str("...");
            }
        } else {
            write!(label, " {v}").unwrap();
        }
    }
    label
}

/// The SYNOPSIS line, each option with its value's name as the OPTIONS section shows it
/// (`[--db DIR]`; clap_mangen's own synopsis leaves the value out: `[--db]`).
fn render_synopsis(out: &mut String, cmd: &clap::Command) {
    let mut line = format!("\\fB{}\\fR", cmd.get_name());
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
        let mut names = Vec::new();
        if let Some(s) = arg.get_short() {
            names.push(format!("\\fB\\-{s}\\fR"));
        }
        if let Some(l) = arg.get_long() {
            names.push(format!("\\fB\\-\\-{}\\fR", l.replace('-', "\\-")));
        }
        let mut item = format!("[{}", names.join("|"));
        if arg.get_num_args().is_some_and(|n| n.takes_values()) {
            if let Some(v) = arg.get_value_names() {
                let v: Vec<String> = v.iter().map(|n| format!("\\fI{n}\\fR")).collect();
                write!(item, " {}", v.join(" ")).unwrap();
            }
        }
        item.push(']');
        if matches!(arg.get_action(), clap::ArgAction::Count | clap::ArgAction::Append) {
            item.push_str("...");
        }
        write!(line, " {item}").unwrap();
    }
    if cmd.has_subcommands() {
        line.push_str(" [\\fICOMMAND\\fR]");
    }
    writeln!(out, ".SH SYNOPSIS\n{line}").unwrap();
}

fn render_args(out: &mut String, cmd: &clap::Command) {
    for arg in cmd.get_arguments() {
        if arg.is_hide_set() || arg.is_global_set() && cmd.get_name() != "spamfilt" {
            continue;
        }
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
        writeln!(out, ".TP\n{}", arg_label(arg)).unwrap();
        let mut text = roff_escape(&help);
        let defaults: Vec<String> = arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
        if !defaults.is_empty() && arg.get_num_args().is_some_and(|n| n.takes_values()) {
            write!(text, " [default: {}]", roff_escape(&defaults.join(", "))).unwrap();
        }
        if let Some(env) = arg.get_env() {
            write!(text, " [env: {}]", env.to_string_lossy()).unwrap();
        }
        writeln!(out, "{}", text.replace("\n\n", "\n.IP\n")).unwrap();
    }
}

fn render_subcommands(out: &mut String, cmd: &clap::Command, prefix: &str) {
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        let full = format!("{prefix} {}", sub.get_name());
        if sub.has_subcommands() {
            writeln!(out, ".SS \"{full} ...\"").unwrap();
            if let Some(about) = sub.get_long_about().or(sub.get_about()) {
                writeln!(out, "{}", roff_escape(&about.to_string())).unwrap();
            }
            render_subcommands(out, sub, &full);
            continue;
        }
        let mut usage = sub.clone().bin_name(full.clone());
        let usage = usage.render_usage().to_string();
        let usage = usage.trim_start_matches("Usage: ").trim();
        writeln!(out, ".SS \"{}\"", roff_escape(usage).replace('"', "\\(dq")).unwrap();
        if let Some(about) = sub.get_long_about().or(sub.get_about()) {
            writeln!(out, "{}", roff_escape(&about.to_string()).replace("\n\n", "\n.PP\n")).unwrap();
        }
        render_args(out, sub);
    }
}

const PROSE: &str = r#".SH HEADERS
Every message that is scored gets, at the end of its header block:
.PP
.nf
.RS
X\-Spam\-Status: Yes|No, score=\fIS\fR required=\fIR\fR tests=\fIA,B,...\fR version=spamfilt\-\fIX.Y.Z\fR
X\-Spam\-Level: one * per whole point of score
X\-Spam\-Flag: YES            (on spam only)
.RE
.fi
.PP
These are the headers SpamAssassin writes, so existing procmail, maildrop and Sieve recipes keep working:
\fIS\fR and \fIR\fR with one decimal as SpamAssassin writes them (a ham whose score rounds to \fIR\fR shows
\fIR\fR less 0.1; \fBcheck\fR prints the score with three decimals), and tests=none when no test hit.
X\-Spam\-Status is folded as SpamAssassin folds it: past 78 characters it goes on in lines that start with a tab,
so the test names may not be on its first line.
The BAYES_*, LR_* and SPAMFILT_DEGRADED names in tests= are not rules and have no [scores] entry: Bayes's weight
is \fBbayes_points_per_decade\fR, the logistic regression's \fB[lr] points_per_decade\fR.
Any X\-Spam\-* field that arrived with the message is removed first and never read as evidence: senders forge them.
The rest of the message is left byte for byte as it came (an mbox From line, CRLF or LF line ends, 8\-bit bytes).
.SH INPUT
A PATH is a message file, a directory (Maildir cur/ and new/, MH, or every file of a plain directory), an mbox
file, \fB\-\fR for standard input, or \fB@\fR\fILIST\fR for a file of paths. An mbox is split only at real From_
lines (From SENDER Mon Jan  1 00:00:00 2024, a time zone before or after the year allowed), not at a body line
that merely starts with "From ". A file that is not mail (no header
block with From, To, Subject, Date, Message\-ID or Received first: a note, an image, empty input) is skipped with its
reason and counted as "skipped (not mail)". A path that cannot be read (missing, no permission, an @\fILIST\fR
that cannot be read, or a path in it) is named in an error line and counted as unreadable, as an unreadable file
in a folder is; the other paths are still processed. A path where no message was found is named; \fBtrain\fR
and \fBforget\fR exit 2 when they found none at all. Folders inside a named folder are not read; those that look like mail folders (a Maildir's
\&.Junk, a Maildir inside a plain folder) are pointed out.
.SH WHEN SOMETHING IS BROKEN
A mistake in the configuration never switches filtering off. The filter scores with what still works and says
what it did without: a config key that is wrong keeps its default (a config file that is not TOML at all: every
default), a bad line of allow.txt, block.txt or the URI blocklist is left out and the rest of the list used, and an
unreadable or damaged tokens.db (or reputation.db) is scored without: rules plus the starter table. Such a message
gets the test \fBSPAMFILT_DEGRADED\fR (0.001 points) in X\-Spam\-Status and a field naming the cause, e.g.
.PP
.nf
.RS
X\-Spam\-Degraded: config.toml line 3: requred_score: unknown field `requred_score` (did you mean `required_score`?)
.RE
.fi
.PP
and the same goes to standard error with the full path. The filter checks every token record it reads (counts no
larger than the messages learned, a plausible day, in order), so a damaged record is noticed without reading the
whole file. \fBtrain\fR, \fBforget\fR, \fBpurge\fR and the other commands refuse to run until the problem is
fixed, naming the file and line. \fBspamfilt lint\fR prints every problem as \fIFILE\fR:\fILINE\fR: message and
exits 1; \fBspamfilt db salvage\fR rebuilds a damaged tokens.db from the records and ledger entries that verify and
keeps the damaged file beside it.
.SH EXAMPLES
Learn from your own folders in one run: as ham your Sent folder \fIand\fR the mail you kept (the inbox, archive
folders; Sent alone teaches that every mailing list is spam), as spam your Junk folder. Train a few hundred of
each before you trust the verdicts; \fBdb stats\fR counts them. Run it as the user whose mail it is, with the
HOME (or \fB\-\-db\fR) the deliveries have: a delivery that finds no database scores with the rules and the
starter table only, and says nothing.
.PP
.nf
.RS
spamfilt train \-\-ham ~/Maildir/.Sent ~/Maildir/cur \-\-spam ~/Maildir/.Junk
spamfilt db stats
.RE
.fi
.PP
Filter with procmail, ~/.procmailrc (contrib/procmailrc in the source tree; procmail's PATH does not have
~/.cargo/bin, and a Maildir folder needs no lock file):
.PP
.nf
.RS
PATH=$HOME/.cargo/bin:/usr/local/bin:/usr/bin:/bin
MAILDIR=$HOME/Maildir/
DEFAULT=$MAILDIR

:0fw
| spamfilt

:0
* ^X\-Spam\-Flag: YES
\&.Junk/
.RE
.fi
.PP
or with maildrop, ~/.mailfilter, mode 600 (contrib/mailfilter):
.PP
.nf
.RS
PATH="$HOME/.cargo/bin:/usr/local/bin:/usr/bin:/bin"
DEFAULT="$HOME/Maildir"

xfilter "spamfilt"

if (/^X\-Spam\-Flag: YES/)
{
  to "$HOME/Maildir/.Junk"
}
.RE
.fi
.PP
or with Dovecot's Sieve and the sieve_extprograms plugin (contrib/dovecot/: the configuration, this script, and
the program spamfilt\-filter, which runs \fBspamfilt filter\fR as the mail user with HOME set to the mailbox's
home, so that mailbox's database is used):
.PP
.nf
.RS
require ["vnd.dovecot.filter", "fileinto", "mailbox"];
filter "spamfilt\-filter";
if header :is "X\-Spam\-Flag" "YES" {
  fileinto :create "Junk";
  stop;
}
.RE
.fi
.PP
Every night, learn what stayed in Junk for 10 days as spam and delete it (crontab; cron's PATH is /usr/bin:/bin,
so name the binary by its full path, which \fBcommand \-v spamfilt\fR prints, e.g. /usr/local/bin/spamfilt).
With \fB\-q\fR it prints only errors (a message in Junk you trained as ham is kept, not deleted, and said
only without \fB\-q\fR), so cron mails you only when something went wrong:
.PP
.nf
.RS
17 3 * * *  "$HOME/.cargo/bin/spamfilt" \-q purge \-\-older\-than 10d "$HOME/Maildir/.Junk"
.RE
.fi
.PP
and, its mirror, learn as ham the mail you kept: messages you have seen in the inbox that arrived more than 10
days ago and that the filter, scoring them now as \fBcheck\fR does, puts below 0 points (a message learned
before, in either class, is passed over unscored; \fB\-\-balanced 0.4\fR learns at most 0.4 ham per spam
learned, the newest first, and leaves the rest unread for a later night; \fB\-v\fR says what was learned and
passed over, and why):
.PP
.nf
.RS
27 3 * * *  "$HOME/.cargo/bin/spamfilt" \-q train \-\-ham "$HOME/Maildir/cur" \-\-older\-than 10d \-\-below 0 \-\-balanced 0.4
.RE
.fi
.PP
Score a folder without changing anything, and correct a mistake:
.PP
.nf
.RS
spamfilt check ~/Maildir/.Junk
spamfilt train \-\-ham ~/Maildir/.Junk/cur/1700000000.M1P2.host:2,S
.RE
.fi
.PP
Always accept a friend and a whole school, always refuse a domain, and look at the worst senders:
.PP
.nf
.RS
spamfilt list allow add jan@klant.be '*.school.be'
spamfilt list block add @cheap\-meds.example
spamfilt ip list \-\-spam
spamfilt ip show 198.51.100.23
.RE
.fi
.PP
Drop a spammer that got in as a known correspondent, after seeing what would go:
.PP
.nf
.RS
spamfilt address list \-\-correspondents | grep deals
spamfilt address remove \-\-dry\-run promo@deals.example
spamfilt address remove promo@deals.example
.RE
.fi
.PP
Take back the learned senders (LEARNED_SENDER) of a correspondent whose account was hijacked, or whose
forged mail you learned as ham: see them, then drop them (with its correspondent record):
.PP
.nf
.RS
spamfilt address show piet@klant.be
spamfilt address remove piet@klant.be
.RE
.fi
.SH FILES
.TP
\fI~/.local/share/spamfilt/\fR
The database directory: \fB\-\-db\fR, else \fBSPAMFILT_DB\fR, else $XDG_DATA_HOME/spamfilt, else
~/.local/share/spamfilt of the HOME spamfilt runs with (for a delivery, the HOME the delivery agent gives it; for
Dovecot, the mailbox's home; with HOME unset or empty, the home of the user's line in /etc/passwd; with neither,
the filter scores without a database and says so in X\-Spam\-Degraded, and other commands ask for HOME, \fB\-\-db\fR
or \fB\-\-config\fR). It holds \fItokens.db\fR (token counts and the ledger of learned messages, replaced
atomically by every write), \fIlr.weights\fR (the logistic regression's weights, replaced atomically by every
training run), \fIreputation.db\fR (IP addresses with their spam, ham and honeypot counts, known correspondents,
cached DNS answers), \fIreputation.journal\fR (DNS answers and honeypot hits appended by filters, folded into
reputation.db by the next training run) with \fIreputation.journal.lock\fR (shared by the filters appending,
exclusive while a training run folds the journal in), \fIqueue/\fR (honeypot hits waiting for the next training
run), \fIpolicy/\fR (the policy service's harvesting state), \fIdns\-resolver.state\fR (while the DNS resolver gives
no answer: until when deliveries do not ask it), \fIpurge\-seen.state\fR (when \fBpurge\fR first saw each message
in Junk: its age counts from then), \fIlint\-told.state\fR (the addresses \fBlint \-q\fR has pointed out as looking
like your own relays: it does not repeat them), \fIlr.redis\-cache\fR (with a Redis store: the local
copy of the LR weights) and \fIlock\fR (taken by writers only; filters never wait for it). While a run replaces
several of these files, \fIcommit\fR names them: a run killed between the renames is completed by the next
command that writes the database. A damaged file that
was set aside is kept beside them as \fIFILE.corrupt\-TIME\fR. A directory with no database in it is not an
error: the filter scores with the rules and the starter table (\fBspamfilt db stats\fR shows what it holds).
.TP
\fI~/.config/spamfilt/allow.txt\fR, \fI~/.config/spamfilt/block.txt\fR
The allow and block lists, beside the configuration file: one entry per line, an address (jan@klant.be), a domain
(@klant.be, or SpamAssassin's *@klant.be) or a domain and its subdomains (*.klant.be or *@*.klant.be); \fB#\fR
starts a comment. Matched on From, Sender and
Return\-Path; the allow list makes a message ham (ALLOWLIST) and the block list spam (BLOCKLIST), instead of any
other test. Edit them by hand or with \fBspamfilt list\fR.
.TP
\fI~/.config/spamfilt/uri\-blocklist.txt\fR
Domains of spammer sites, one per line (URI_BLOCKLISTED).
.TP
\fI~/.config/spamfilt/config.toml\fR
The configuration file (\fB\-\-config\fR, else \fBSPAMFILT_CONFIG\fR, else $XDG_CONFIG_HOME/spamfilt/config.toml,
else ~/.config/spamfilt/config.toml of the HOME spamfilt runs with); missing is fine. It and the lists are not
read when every user can write them or, without the sticky bit, their directory (\fBchmod o\-w\fR; the filter scores
without them and says so). Keys: \fBrequired_score\fR
(5.0), \fBscan_limit\fR (bytes of a message that are scored, 524288), \fBbayes_points_per_decade\fR (4.0),
\fBbayes_points_knee\fR (8.0: Bayes's points for spam grow only logarithmically past it),
\fBbayes_ham_points_knee\fR (2.0: the same for its points for ham, past \-2.0), \fBuse_starter\fR (true: blend in the starter table built into the binary while
your own database is small; false: Bayes's points grow with what you learn instead, in full from \fBstarter_fade\fR
of each), \fBstarter_fade\fR (200: the starter fades out linearly as you learn this many ham
and spam), \fBrules_trained_weight\fR (0.7: what the built\-in content rules' points for spam count for once
\fBstarter_fade\fR ham and spam are learned, from 1 with nothing learned; sender checks, lists, custom rules,
\fB[scores]\fR and the rules with hand\-set scores, such as URI_BLOCKLISTED and ATTACH_*, keep theirs; 1 keeps them
in full), \fBtrusted_networks\fR (CIDR blocks of your own relays, added to loopback and the private ranges),
\fBhoneypots\fR (addresses and @domains only spammers write to: HONEYPOT), \fBallow_requires_auth\fR (false; true:
an allow entry counts only when \fBauthserv_id\fR's Authentication\-Results says DKIM or SPF passed for its domain),
\fBauthserv_id\fR, \fBip_expire_days\fR (30), \fBlearned_senders\fR (true; false: no LEARNED_SENDER, the ham
evidence for a From address through the relay block its learned ham came by), \fBsubject_tag\fR (none; e.g. "[SPAM]": put before the Subject
of spam, as SpamAssassin's rewrite_header Subject), \fBallow_list\fR and \fBblock_list\fR (file names),
\fBuri_blocklist\fR, \fBdns\fR (off unless given: \fB{ resolver = "127.0.0.1:53", timeout_ms = 1500, dnsbl =
["zen.spamhaus.org"], uribl = ["dbl.spamhaus.org"], ptr = true }\fR, \fBresolver\fR an IP:PORT, or an IP for
port 53; a resolver that answered none of a
delivery's queries is not asked for 60 seconds, then 2, 4, 8 and at most 15 minutes while it stays silent: those
deliveries score without live DNS and say so in X\-Spam\-Degraded; the policy service's dnsbl check asks nothing
then and its log says so once per back\-off), and the sections \fB[bayes]\fR
(\fBstrength\fR, \fBunknown_prob\fR, \fBmin_dev\fR, \fBmax_clues\fR, \fBmin_learned\fR, \fBtrace_min_share\fR and
\fBtrace_min_learned\fR (0.5 and 100: the words of the Received fields count only once at least half of the ham
and of the spam learned, and 100 of each, had them; ham from a Sent folder has none)), \fB[lr]\fR (the
logistic regression: \fBenabled\fR (true), \fBpoints_per_decade\fR (1.0), \fBpoints_knee\fR (1.0),
\fBham_points_knee\fR (8.0), \fBfade\fR (200: its say grows until this many ham and spam are learned)),
\fB[tokenizer]\fR (\fBmax_part_bytes\fR (65536), \fBmax_tokens\fR (4000), \fBheaders\fR (the header fields whose
words are tokens); change them before training, not after: a message then gives tokens the database never
learned), \fB[queue]\fR (the honeypot
queue: \fBmax_messages\fR (200), \fBmax_bytes\fR (16777216)), \fB[policy]\fR (see \fBspamfilt policy\fR),
\fB[scores]\fR (RULE = points; 0 disables), \fB[[rule]]\fR (custom rules) and \fB[store]\fR (\fBredis\fR =
"redis://[:PASSWORD@]HOST:PORT/DB" or "unix:///PATH?db=N" keeps the token counts, the ledger and the LR weights in
a Redis server several hosts share; \fBpassword_file\fR, \fBprefix\fR (the key prefix, your login name),
\fBtimeout_ms\fR (200: a delivery waits at most this for Redis, then scores without it, marked degraded)).
Unknown keys are an error.
.TP
\fI/etc/spamfilt/config.toml\fR
The site\-wide configuration (\fBSPAMFILT_SITE_CONFIG\fR), with \fIallow.txt\fR, \fIblock.txt\fR and
\fIuri\-blocklist.txt\fR beside it, read before the user's file, which overrides it: a key the user sets replaces
the site's value, [scores] and [[rule]] are merged by name, trusted_networks and honeypots add up, and the site's
list entries count unless the user wrote the same entry in the other list.
.SH ENVIRONMENT
A variable set to the empty string counts as unset (procmail exports every variable a recipe assigns, so
SPAMFILT_DB=$SPAMDB with SPAMDB unset gives an empty one); an empty flag (\fB\-\-db ''\fR) is an error.
.TP
\fBSPAMFILT_DB\fR
The database directory, as \fB\-\-db\fR (empty: the default).
.TP
\fBSPAMFILT_CONFIG\fR
The configuration file, as \fB\-\-config\fR (empty: the default).
.TP
\fBSPAMFILT_SITE_CONFIG\fR
The site\-wide configuration file read before it (default \fI/etc/spamfilt/config.toml\fR, which need not exist;
empty: none). A file the variable names must exist: when it does not, the commands refuse to run, naming it, and the
filter scores without the site's settings (its lists beside it still count), marked SPAMFILT_DEGRADED.
.TP
\fBSPAMFILT_PROGRESS_DELAY_MS\fR
How long a job runs before its progress bar appears on a terminal (1000; 0: at once).
.TP
\fBHOME\fR
Where the database directory and the configuration file are found by default (see FILES). For a delivery it is
the HOME the delivery agent gives spamfilt (procmail and maildrop: the recipient's; Dovecot: the mailbox's home
in the userdb). Unset or empty: the home of the user's line in \fI/etc/passwd\fR.
.TP
\fBXDG_DATA_HOME\fR, \fBXDG_CONFIG_HOME\fR
When set to an absolute path: the database directory is $XDG_DATA_HOME/spamfilt, and the configuration file
$XDG_CONFIG_HOME/spamfilt/config.toml with its lists beside it, instead of those under HOME.
.TP
\fBUSER\fR, \fBLOGNAME\fR
With a Redis store and no \fBprefix\fR: the key prefix is the login name, from \fI/etc/passwd\fR, else these.
.SH EXIT STATUS
.TP
\fB0\fR
Success. In filter mode: whatever is wrong with the configuration or the databases (they are scored without and
marked, see WHEN SOMETHING IS BROKEN; an internal error, or a command line it cannot read, passes the message
through unchanged; the reason, and for a command line the command to fix, is written to standard error), and for
ham with \fB\-\-exit\-code\fR: the filter's only other statuses are 1 for spam with \fB\-\-exit\-code\fR and 75. The other commands also end with 0 when the reader of their output goes away (| head).
.TP
\fB1\fR
Filter mode with \fB\-\-exit\-code\fR: the message is spam. \fBtrain\fR, \fBforget\fR, \fBpurge\fR: some messages
(or paths named) could not be read, were not mail, or could not be deleted (the others were processed). \fBlint\fR: a problem
was found. \fBip show\fR, \fBaddress show\fR: the address is not in the reputation database. \fBip remove\fR,
\fBaddress remove\fR, \fBlist allow\fR|\fBblock remove\fR: an address or entry named was not there (the others
were removed). Adding what is already there is not an error (0).
.TP
\fB2\fR
An error: a bad argument or configuration file, or a database that cannot be read or written. Nothing was
changed. \fBcheck\fR: some messages (or paths named) could not be read or were not mail; the others were scored.
\fBtrain\fR, \fBforget\fR: no message was found (none could be read as mail) at all.
.TP
\fB75\fR
Filter mode only: the message could not be read from standard input or written to standard output whole
(EX_TEMPFAIL), e.g. a full disk or a reader that went away. The delivery agent keeps its copy: procmail delivers
it as it came, maildrop's xfilter defers it and the MTA retries.
.PP
The rule for the commands that change something (\fBtrain\fR, \fBforget\fR, \fBpurge\fR, \fBlist\fR, \fBip\fR,
\fBaddress\fR): 0 when everything named was done, 1 when some of it could not be (each named on standard error)
and the rest was done, 2 when nothing could be done.
.SH NOTES
spamfilt never bounces a message and never drops one: spam is delivered to the Junk folder.
Bounces to forged senders are backscatter.
.SH SEE ALSO
\fBprocmail\fR(1), \fBmaildrop\fR(1), \fBprocmailrc\fR(5), \fBbogofilter\fR(1), \fBspamassassin\fR(1)
"#;

/// The date in the man page's title line (`.TH spamfilt 1 DATE`), if it has one.
fn man_date(page: &str) -> Option<String> {
    let date = page.lines().find_map(|l| l.strip_prefix(".TH spamfilt 1 "))?.split(' ').next()?;
    let b = date.as_bytes();
    (b.len() == 10 && b[4] == b'-' && b[7] == b'-').then(|| date.to_string())
}

/// Today's date (UTC) as YYYY-MM-DD.
fn today() -> String {
    spamfilt::store::format_utc(spamfilt::store::now_secs())[..10].to_string()
}

fn render_man(date: &str) -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone()).date(date);
    let mut buf: Vec<u8> = Vec::new();
    man.render_title(&mut buf).unwrap();
    man.render_name_section(&mut buf).unwrap();
    let mut out = String::from_utf8(std::mem::take(&mut buf)).unwrap();
    render_synopsis(&mut out, &cmd);
    man.render_description_section(&mut buf).unwrap();
    out.push_str(&String::from_utf8(buf).unwrap());
    out.push_str(".SH OPTIONS\nThese apply to every command.\n");
    render_args(&mut out, &cmd);
    out.push_str(".SH COMMANDS\n");
    render_subcommands(&mut out, &cmd, "spamfilt");
    out.push_str(PROSE);
    let mut buf = Vec::new();
    man.render_version_section(&mut buf).unwrap();
    out.push_str(&String::from_utf8(buf).unwrap());
    out
}

fn completions(shell: Shell) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "spamfilt", &mut buf);
    String::from_utf8(buf).unwrap()
}

fn check(path: &str, expected: String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    if actual != expected {
        let failed = path.with_extension("failed");
        std::fs::write(&failed, &expected).unwrap();
        panic!(
            "{} is stale; the current output is in {}. Regenerate with: UPDATE_GENERATED=1 cargo test --test generated",
            path.display(),
            failed.display()
        );
    }
}

#[test]
fn man_page_is_current() {
    // The page's date is the day its text last changed: it is rendered with the date the committed
    // page has, and UPDATE_GENERATED=1 writes today's date (UTC) only when the text changed.
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("man/spamfilt.1")).unwrap_or_default();
    let mut page = render_man(&man_date(&committed).unwrap_or_else(today));
    if std::env::var_os("UPDATE_GENERATED").is_some() && page != committed {
        page = render_man(&today());
    }
    check("man/spamfilt.1", page);
}

#[test]
fn man_date_is_read_from_the_title_line() {
    assert_eq!(man_date(".ie x\n.TH spamfilt 1 2026-11-22 \"spamfilt 0.1.0\" \n").as_deref(), Some("2026-11-22"));
    assert_eq!(man_date(".TH spamfilt 1 \"spamfilt 0.1.0\"\n"), None);
    let t = today();
    assert!(t.len() == 10 && t.starts_with("20"), "{t}");
}

#[test]
fn completions_are_current() {
    check("completions/spamfilt.bash", completions(Shell::Bash));
    check("completions/_spamfilt", completions(Shell::Zsh));
    check("completions/spamfilt.fish", completions(Shell::Fish));
}

/// Newcomer's pass: ENVIRONMENT listed the SPAMFILT_* variables but not HOME, XDG_DATA_HOME or
/// XDG_CONFIG_HOME, which decide which database a delivery uses. Every variable the source
/// reads (`var("X")`, `var_os("X")`, `xdg_dir("X"`, clap's `env = "X"`) but the test switches
/// must have an entry there.
#[test]
fn man_page_environment_names_every_variable_read() {
    let man = render_man("2026-01-01");
    let env_section = man.split(".SH ENVIRONMENT\n").nth(1).unwrap().split("\n.SH ").next().unwrap();
    let mut vars = std::collections::BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for opener in ["var(\"", "var_os(\"", "xdg_dir(\"", "env = \""] {
                for rest in text.split(opener).skip(1) {
                    let name: String = rest.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
                    if rest[name.len()..].starts_with('"') && name.len() > 1 && !name.starts_with("SPAMFILT_TEST_") {
                        vars.insert(name);
                    }
                }
            }
        }
    }
    for v in ["HOME", "XDG_DATA_HOME", "SPAMFILT_DB"] {
        assert!(vars.contains(v), "{v} not found in the source: {vars:?}");
    }
    for v in &vars {
        assert!(env_section.contains(&format!("\\fB{}\\fR", v.replace('-', "\\-"))), "{v} missing in ENVIRONMENT");
    }
}

#[test]
fn man_page_documents_every_command_and_flag() {
    let man = render_man("2026-01-01");
    let mut cmd = Cli::command();
    cmd.build();
    fn walk(cmd: &clap::Command, man: &str) {
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                if long != "help" && long != "version" && !arg.is_hide_set() {
                    assert!(man.contains(&format!("\\-\\-{}", long.replace('-', "\\-"))), "--{long} missing");
                }
            }
        }
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            assert!(man.contains(&sub.get_name().replace('-', "\\-")), "command {} missing", sub.get_name());
            walk(sub, man);
        }
    }
    walk(&cmd, &man);
    // The SYNOPSIS gives each option's value as the OPTIONS section does (on fbb856a: `[--db]`).
    let synopsis = man.split(".SH SYNOPSIS\n").nth(1).unwrap().lines().next().unwrap();
    assert!(synopsis.contains("[\\fB\\-\\-db\\fR \\fIDIR\\fR]"), "{synopsis}");
    assert!(synopsis.contains("[\\fB\\-\\-config\\fR \\fIFILE\\fR]"), "{synopsis}");
    for section in ["EXAMPLES", "FILES", "ENVIRONMENT", "EXIT STATUS", "HEADERS"] {
        assert!(man.contains(&format!(".SH {section}")), "section {section} missing");
    }
}
