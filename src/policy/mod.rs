//! The Postfix policy service (`spamfilt policy`): what the filter learned, used at SMTP time.
//!
//! Postfix asks once per recipient (`protocol_state=RCPT`); the answer is one action. The
//! checks, in order, each with its own switch (`reject`, `defer`, `mark`, `off`):
//! 1. known good, never refused: the client is in `trusted_networks` (loopback and the private
//!    ranges always), authenticated (`sasl_username`), the envelope sender is on the allow list
//!    (not with `allow_requires_auth`: nothing is authenticated yet at RCPT time), or the
//!    address carried mail learned as ham (unless it was added by hand with `ip add`, or more
//!    honeypot hits than learned ham came from it);
//! 2. `honeypot`: the recipient is a honeypot: that recipient is refused; the client is
//!    recorded as a honeypot sender in the reputation journal (what the filter does when it sees
//!    such mail) only when its transaction has no real recipient (`Transaction`);
//! 3. `harvest`: the client is refused for a while for directory harvesting;
//! 4. `reputation`: the client is a spam source: added by hand, a honeypot sender within
//!    `ip_expire_days`, or a spam weight (see `IpRecord::spam_weight`) of at least the threshold;
//! 5. `harvest`: the recipient is unknown (not in the `recipients` file, or the
//!    `recipients_command` says so): more than `harvest_limit` within the window refuses the
//!    client for `harvest_refuse_hours`;
//! 6. `no_ptr`: Postfix found no reverse name (`reverse_client_name=unknown`);
//! 7. `dnsbl`: the client is listed by a DNS blocklist of the `dns` table (the filter's cache
//!    first, then the filter's resolver within its deadline, unless that resolver is backed off
//!    after it gave no answer: `commands::resolver`, `dns-resolver.state`).
//!
//! The first refusal decides (later checks are not run); marks add up. In `enforce` mode a
//! refusal is `REJECT 5.7.1 why` or `DEFER_IF_PERMIT 4.7.1 why`; in `warn` mode (the default) it
//! only becomes a header, `PREPEND X-Spamfilt-Policy: would reject: why`, as a mark always does.
//! Any error is the caller's to answer `DUNNO`: the service never refuses mail because it is
//! broken.

pub mod probe;
pub mod protocol;
pub mod state;

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;

use crate::dns::{self, QType, Query};
use crate::lists::AddressList;
use crate::received;
use crate::sender::SenderSettings;
use crate::store::reputation::{Cached, DnsAnswers, IpRecord, ReputationLookup};
use protocol::Request;
use state::{Refusal, State};

/// `warn` (the default) only marks; `enforce` refuses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Warn,
    Enforce,
}

/// What a check does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Act {
    /// `REJECT 5.7.1` (enforce mode).
    Reject,
    /// `DEFER_IF_PERMIT 4.7.1` (enforce mode).
    Defer,
    /// Only the header, in either mode.
    Mark,
    Off,
}

/// The `[policy]` table of the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    pub mode: Mode,
    /// The valid recipients: one address, `@domain` or `*.domain` per line (relative to the
    /// config file's directory).
    pub recipients: Option<PathBuf>,
    /// Or a command that says whether a recipient exists (exit 0: yes, 1: no, anything else or
    /// a timeout: an error), with `%s` standing for the address, e.g.
    /// `["postmap", "-q", "%s", "hash:/etc/postfix/virtual_mailbox"]`. Run without a shell.
    pub recipients_command: Vec<String>,
    pub recipients_timeout_ms: u64,
    /// Unknown recipients from one address within the window before it is refused.
    pub harvest_limit: u32,
    pub harvest_window_minutes: u64,
    /// How long a harvesting address is refused.
    pub harvest_refuse_hours: u64,
    pub reputation: Act,
    /// The spam weight (0..1, see `spamfilt ip show`) from which an address is refused.
    pub reputation_threshold: f64,
    pub honeypot: Act,
    pub harvest: Act,
    pub no_ptr: Act,
    pub dnsbl: Act,
    /// The header field `warn` mode and marks add (for people: the filter never reads it).
    pub header: String,
    /// `spamfilt ip probe`: the admin's own SMTP server (IP:PORT) a proxy is asked to reach.
    pub probe_target: Option<std::net::SocketAddr>,
    /// The recipients file, loaded.
    #[serde(skip)]
    pub valid: Option<AddressList>,
}

impl Default for PolicySettings {
    fn default() -> Self {
        PolicySettings {
            mode: Mode::Warn,
            recipients: None,
            recipients_command: Vec::new(),
            recipients_timeout_ms: 2000,
            harvest_limit: 5,
            harvest_window_minutes: 60,
            harvest_refuse_hours: 24,
            reputation: Act::Reject,
            reputation_threshold: 0.5,
            honeypot: Act::Reject,
            harvest: Act::Defer,
            no_ptr: Act::Mark,
            dnsbl: Act::Reject,
            header: "X-Spamfilt-Policy".into(),
            probe_target: None,
            valid: None,
        }
    }
}

impl PolicySettings {
    /// Checks the values (the config file's loader resolves the recipients file against its
    /// own directory).
    pub fn check(&self) -> Result<()> {
        anyhow::ensure!(self.harvest_limit >= 1, "policy.harvest_limit must be at least 1");
        anyhow::ensure!(self.harvest_window_minutes >= 1, "policy.harvest_window_minutes must be at least 1");
        anyhow::ensure!(
            (0.0..=1.0).contains(&self.reputation_threshold) && self.reputation_threshold > 0.0,
            "policy.reputation_threshold must be above 0 and at most 1"
        );
        anyhow::ensure!(
            (1..=60_000).contains(&self.recipients_timeout_ms),
            "policy.recipients_timeout_ms must be from 1 to 60000"
        );
        let h = &self.header;
        anyhow::ensure!(
            !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b':'),
            "policy.header must be a header field name"
        );
        anyhow::ensure!(
            !h.to_ascii_lowercase().starts_with("x-spam-"),
            "policy.header must not start with X-Spam- (the filter removes those from every message)"
        );
        if !self.recipients_command.is_empty() {
            anyhow::ensure!(
                self.recipients_command.iter().any(|a| a.contains("%s")),
                "policy.recipients_command must contain %s (the recipient address)"
            );
        }
        Ok(())
    }

    /// Reads the recipients file (only the policy service does, not every delivery).
    pub fn load_recipients(&mut self) -> Result<()> {
        if let Some(path) = &self.recipients {
            let text = crate::store::files::read_setting(path, crate::store::files::LIST_CAP)
                .with_context(|| format!("cannot read the policy recipients file {}", path.display()))?;
            self.valid = Some(
                AddressList::parse(&text).with_context(|| format!("bad policy recipients file {}", path.display()))?,
            );
        }
        Ok(())
    }
}

/// The checks, for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    Honeypot,
    Harvest,
    Reputation,
    NoPtr,
    Dnsbl,
}

impl Check {
    pub const ALL: [Check; 5] = [Check::Honeypot, Check::Harvest, Check::Reputation, Check::NoPtr, Check::Dnsbl];

    pub fn name(self) -> &'static str {
        match self {
            Check::Honeypot => "honeypot",
            Check::Harvest => "harvest",
            Check::Reputation => "reputation",
            Check::NoPtr => "no_ptr",
            Check::Dnsbl => "dnsbl",
        }
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: Check,
    pub act: Act,
    pub why: String,
}

/// The answer to one request and what it taught.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// The action, without `action=`.
    pub action: String,
    /// What fired (the refusal, if any, last).
    pub findings: Vec<Finding>,
    /// Why nothing applied to a known-good client, for the log.
    pub known_good: Option<&'static str>,
    /// The recipient is a honeypot (from this client): a trap hit if its transaction has no
    /// real recipient (`Transaction`).
    pub trap: Option<IpAddr>,
    /// The recipient is a real one: not a honeypot, and known (`recipients`/
    /// `recipients_command`; with neither, every recipient is).
    pub real_recipient: bool,
    /// DNS answers to cache in the reputation journal.
    pub new_dns: DnsAnswers,
}

impl Outcome {
    fn dunno() -> Outcome {
        Outcome { action: "DUNNO".into(), ..Default::default() }
    }

    /// The check whose refusal decided, if one did.
    #[cfg(test)]
    pub fn refused_by(&self) -> Option<&Finding> {
        self.findings.last().filter(|f| matches!(f.act, Act::Reject | Act::Defer))
    }
}

/// Everything a request is judged with.
pub struct Context<'a> {
    pub policy: &'a PolicySettings,
    pub sender: &'a SenderSettings,
    /// `None`: no reputation database yet.
    pub reputation: Option<&'a dyn ReputationLookup>,
    pub state: &'a State,
    /// Where DNS blocklist answers the cache does not hold come from (`dns::Udp` to the `dns`
    /// table's resolver in the service).
    pub resolver: &'a dyn dns::Resolver,
    /// Unix seconds.
    pub now: u64,
}

/// Why the reputation database makes `ip` a spam source for the policy, if it does.
pub fn reputation_finding(
    ip: IpAddr,
    r: &IpRecord,
    policy: &PolicySettings,
    expire_days: u32,
    now: u64,
) -> Option<String> {
    if r.manual {
        return Some(format!("client {} is listed as a spam source by the administrator", shown(ip)));
    }
    if r.honeypots_outweigh_ham() && r.last_spam > 0 && now.saturating_sub(r.last_spam) < expire_days as u64 * 86_400 {
        return Some(format!(
            "client {} sent mail to a spam trap ({})",
            shown(ip),
            crate::store::format_utc(r.last_spam)
        ));
    }
    let w = r.spam_weight(now, expire_days);
    if w > 0.0 && w >= policy.reputation_threshold {
        return Some(format!("client {} sent spam here recently (reputation {w:.2})", shown(ip)));
    }
    None
}

/// Judges one request. Errors (an unreadable state file, a failing recipients command) are
/// for the caller to answer `DUNNO`.
pub fn evaluate(req: &Request, cx: &Context) -> Result<Outcome> {
    let mut out = Outcome::dunno();
    let p = cx.policy;
    let kind = req.get("request");
    if !kind.is_empty() && kind != "smtpd_access_policy" {
        return Ok(out);
    }
    if !req.get("protocol_state").eq_ignore_ascii_case("RCPT") {
        return Ok(out);
    }
    let Ok(ip) = req.get("client_address").trim().parse::<IpAddr>() else { return Ok(out) };
    let ip = received::canonical(ip);
    if cx.sender.trusted.contains(ip) {
        out.known_good = Some("trusted network");
        return Ok(out);
    }
    if !req.get("sasl_username").trim().is_empty() {
        out.known_good = Some("authenticated");
        return Ok(out);
    }
    let sender = req.get("sender").trim().to_ascii_lowercase();
    if !cx.sender.allow_requires_auth
        && !sender.is_empty()
        && cx.sender.allow.best_match(std::slice::from_ref(&sender)).is_some()
    {
        out.known_good = Some("allow list");
        return Ok(out);
    }
    let record = cx.reputation.and_then(|r| r.ip(ip));
    if let Some(r) = &record {
        if r.ham > 0 && !r.manual && !r.honeypots_outweigh_ham() {
            out.known_good = Some("carried ham");
            return Ok(out);
        }
    }
    let rcpt = req.get("recipient").trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();

    // Each check in turn; the first refusal ends the evaluation.
    let mut findings = Vec::new();
    let mut found = |check: Check, act: Act, why: String| -> bool {
        findings.push(Finding { check, act, why });
        matches!(act, Act::Reject | Act::Defer)
    };
    let mut done = false;
    let honeypot = !rcpt.is_empty() && cx.sender.honeypots.best_match(std::slice::from_ref(&rcpt)).is_some();
    if honeypot && p.honeypot != Act::Off {
        out.trap = Some(ip);
        done = found(Check::Honeypot, p.honeypot, format!("<{rcpt}> is a spam trap"));
    }
    // The harvest check counts per envelope sender through a client whose reverse name is
    // forward-confirmed (a provider's shared relay: one of its users mistyping addresses must
    // not defer everyone else on it), per client otherwise (attack report F20; see
    // `harvest_key`).
    let per_sender = harvest_per_sender(req);
    let sender_shown = if sender.is_empty() { "<>".to_string() } else { format!("<{sender}>") };
    if !done && p.harvest != Act::Off {
        if let Some(r) = cx.state.refusal(ip, per_sender.then_some(sender.as_str()), cx.now)? {
            done = found(Check::Harvest, p.harvest, r.reason.clone());
        }
    }
    if !done && p.reputation != Act::Off {
        if let Some(why) = record.as_ref().and_then(|r| reputation_finding(ip, r, p, cx.sender.ip_expire_days, cx.now))
        {
            done = found(Check::Reputation, p.reputation, why);
        }
    }
    let mut known = None;
    if !done && p.harvest != Act::Off && !honeypot && !rcpt.is_empty() && !*known.insert(recipient_known(p, &rcpt)?) {
        let window = p.harvest_window_minutes * 60;
        let n = cx.state.count_unknown(ip, &sender, per_sender, cx.now, window)?;
        // What other clients left that no longer counts, at most once per window (state::sweep).
        // By the real clock, as the files' modification times are (`cx.now` is the request's);
        // a failure costs this request nothing: `ip expire` and `lint` say what is wrong there.
        let _ = cx.state.sweep(crate::store::now_secs(), window, p.harvest_refuse_hours * 3600);
        if n > p.harvest_limit {
            let until = cx.now + p.harvest_refuse_hours * 3600;
            let (minutes, until_shown) = (p.harvest_window_minutes, crate::store::format_utc(until));
            let why = if per_sender {
                format!(
                    "client {} tried {n} unknown recipients from {sender_shown} within {minutes} minutes; mail from \
                     {sender_shown} through {} refused until {until_shown}",
                    shown(ip),
                    req.get("client_name").trim()
                )
            } else {
                format!(
                    "client {} tried {n} unknown recipients within {minutes} minutes; refused until {until_shown}",
                    shown(ip)
                )
            };
            let refusal = Refusal { since: cx.now, until, reason: why.clone() };
            if per_sender {
                cx.state.refuse_sender(ip, &sender, &refusal)?;
                cx.state.clear_unknown(ip, Some(&sender))?;
            } else {
                cx.state.refuse(ip, &refusal)?;
                cx.state.clear_unknown(ip, None)?;
            }
            done = found(Check::Harvest, p.harvest, why);
        }
    }
    if !done && p.no_ptr != Act::Off && req.get("reverse_client_name").trim().eq_ignore_ascii_case("unknown") {
        done = found(Check::NoPtr, p.no_ptr, format!("client {ip} has no reverse DNS name"));
    }
    if !done && p.dnsbl != Act::Off {
        if let Some(d) = cx.sender.dns.as_ref().filter(|d| !d.dnsbl.is_empty()) {
            // The address's own cached answers (a DNS blocklist answers for an address).
            let cached = cx.reputation.and_then(|r| r.dns_cache(ip));
            let (listed, new) = dnsbl(ip, cached.as_ref(), d, cx.resolver, cx.now);
            out.new_dns = new;
            if let Some(zone) = listed {
                found(Check::Dnsbl, p.dnsbl, format!("client {ip} is listed by {zone}"));
            }
        }
    }
    out.real_recipient = !honeypot
        && !rcpt.is_empty()
        && match known {
            Some(k) => k,
            // Not asked by the harvest check: a failing command counts the recipient as real
            // (then no trap hit is recorded; never the other way round).
            None => recipient_known(p, &rcpt).unwrap_or(true),
        };
    out.action = action(p, &findings);
    out.findings = findings;
    Ok(out)
}

/// `ip` as refusals name it: an IPv6 client with the /64 its reputation and harvest counts are
/// kept for (`2001:db8:1:2::5 (2001:db8:1:2::/64)`).
fn shown(ip: IpAddr) -> String {
    crate::store::reputation::ip_shown(ip)
}

/// Whether the harvest check counts the request's envelope sender through its client rather
/// than the client as a whole: when Postfix found the client's reverse name forward-confirmed
/// (`client_name` is the verified name, `unknown` otherwise; `reverse_client_name` alone is
/// not verified). A forward-confirmed name is what shared relays of mail providers have, and
/// what postscreen and the Postfix documentation treat as the stronger evidence
/// (`reject_unknown_client_hostname`); a provider's relay carries many users, so one of them
/// writing to made-up or mistyped addresses must not defer the others (attack report F20). A
/// client without one (most spam bots, hosts with a dynamic name mismatch) is counted as a
/// whole, as before. The cost: a harvester on a host whose name is forward-confirmed that
/// changes its envelope sender for each message gets `harvest_limit` tries per sender; the
/// honeypot and reputation checks, and Postfix's own `smtpd_client_recipient_rate_limit`,
/// still apply to the client.
fn harvest_per_sender(req: &Request) -> bool {
    let name = req.get("client_name").trim();
    !name.is_empty() && !name.eq_ignore_ascii_case("unknown")
}

/// What one connection knows of the SMTP transaction its requests belong to. Postfix asks
/// once per recipient, every request of one transaction with the same `instance`, over one
/// connection. A honeypot recipient is a trap hit, the client recorded as a honeypot sender
/// (and refused from then on as a spam source), only when its transaction has no real
/// recipient: mail for honeypots (and unknown addresses) only. A real message that Cc's an old
/// address that is now a honeypot has the user as a real recipient too: only the honeypot
/// recipient is refused, the client is not recorded (review R2: it was, at the honeypot's
/// RCPT, and refused for `ip_expire_days`). As the answer to a recipient cannot wait for the
/// next one, the hit is decided when the transaction is over: a request of the client with
/// another `instance` (on any connection, in any process: the pending trap is kept in
/// `policy/trap/`), or the end of this connection. A request without `instance` is a
/// transaction of its own.
#[derive(Debug, Default)]
pub struct Transaction {
    client: Option<IpAddr>,
    instance: String,
    real: bool,
    /// The honeypot recipient this connection left pending for `client`.
    trap: Option<String>,
}

/// What the end of a transaction (or a honeypot beside a real recipient) means, for the caller
/// to record and log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrapEnd {
    /// Honeypots only: a trap hit from the client.
    Hit(IpAddr, String),
    /// A honeypot beside a real recipient: logged, nothing recorded.
    Beside(IpAddr, String),
    /// A pending trap older than [`state::TRAP_MAX_AGE`] when its client came back: dropped,
    /// logged, nothing recorded.
    Expired(IpAddr, String),
}

fn client_of(req: &Request) -> Option<IpAddr> {
    req.get("client_address").trim().parse::<IpAddr>().ok().map(received::canonical)
}

impl Transaction {
    /// Before a request is judged (at `now`): a pending trap of this client from another
    /// transaction is over, a hit (recorded before the request is judged, so that it counts for
    /// it); one older than [`state::TRAP_MAX_AGE`] is dropped without a hit.
    pub fn before(&mut self, req: &Request, state: &State, now: u64) -> Result<Option<TrapEnd>> {
        let Some(ip) = client_of(req) else { return Ok(None) };
        let instance = req.get("instance").trim();
        if self.client != Some(ip) || self.instance != instance || instance.is_empty() {
            *self = Transaction { client: Some(ip), instance: instance.to_string(), ..Default::default() };
        }
        match state.pending_trap(ip)? {
            Some(t) if t.instance != instance || instance.is_empty() => {
                let end = if t.stale(now) { TrapEnd::Expired(ip, t.rcpt) } else { TrapEnd::Hit(ip, t.rcpt) };
                Ok(state.take_pending_trap(ip)?.then_some(end))
            }
            _ => Ok(None),
        }
    }

    /// After a request was judged (`out`).
    pub fn after(&mut self, req: &Request, out: &Outcome, state: &State, now: u64) -> Result<Option<TrapEnd>> {
        let Some(ip) = self.client else { return Ok(None) };
        let rcpt = req.get("recipient").trim().trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase();
        if out.real_recipient && !self.real {
            self.real = true;
            if let Some(rcpt) = self.trap.take() {
                // The honeypot came first; this transaction is for the user too.
                state.take_pending_trap(ip)?;
                return Ok(Some(TrapEnd::Beside(ip, rcpt)));
            }
        }
        if out.trap.is_none() {
            return Ok(None);
        }
        if self.real {
            return Ok(Some(TrapEnd::Beside(ip, rcpt)));
        }
        if self.instance.is_empty() {
            return Ok(Some(TrapEnd::Hit(ip, rcpt)));
        }
        if self.trap.is_none() {
            state.set_pending_trap(
                ip,
                &state::PendingTrap { instance: self.instance.clone(), rcpt: rcpt.clone(), since: now },
            )?;
            self.trap = Some(rcpt);
        }
        Ok(None)
    }

    /// When the connection ends: this connection's pending trap is a hit.
    pub fn end(&mut self, state: &State) -> Result<Option<TrapEnd>> {
        let (Some(ip), Some(rcpt)) = (self.client, self.trap.take()) else { return Ok(None) };
        let ours = state.pending_trap(ip)?.is_some_and(|t| t.instance == self.instance);
        Ok((ours && state.take_pending_trap(ip)?).then_some(TrapEnd::Hit(ip, rcpt)))
    }
}

/// The answer for what was found.
fn action(p: &PolicySettings, findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "DUNNO".into();
    }
    let refusal = findings.iter().find(|f| matches!(f.act, Act::Reject | Act::Defer));
    if p.mode == Mode::Enforce {
        if let Some(f) = refusal {
            return match f.act {
                Act::Reject => format!("REJECT 5.7.1 {}", f.why),
                _ => format!("DEFER_IF_PERMIT 4.7.1 {}", f.why),
            };
        }
    }
    let text: Vec<String> = findings
        .iter()
        .map(|f| match f.act {
            Act::Reject => format!("would reject: {} ({})", f.why, f.check.name()),
            Act::Defer => format!("would defer: {} ({})", f.why, f.check.name()),
            _ => format!("{} ({})", f.why, f.check.name()),
        })
        .collect();
    format!("PREPEND {}: {}", p.header, text.join("; "))
}

/// Whether `rcpt` is a valid recipient; `true` when no source of valid recipients is set.
fn recipient_known(p: &PolicySettings, rcpt: &str) -> Result<bool> {
    if let Some(list) = &p.valid {
        if list.best_match(&[rcpt.to_string()]).is_some() {
            return Ok(true);
        }
        if p.recipients_command.is_empty() {
            return Ok(false);
        }
    }
    if p.recipients_command.is_empty() {
        return Ok(true);
    }
    run_recipient_command(&p.recipients_command, rcpt, Duration::from_millis(p.recipients_timeout_ms))
}

/// Runs the recipients command: exit 0 known, 1 unknown, anything else an error.
pub fn run_recipient_command(argv: &[String], rcpt: &str, timeout: Duration) -> Result<bool> {
    use std::process::{Command, Stdio};
    // The address comes from the SMTP client: no option-like or control characters reach argv.
    if rcpt.starts_with('-') || rcpt.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Ok(false);
    }
    let args: Vec<String> = argv.iter().map(|a| a.replace("%s", rcpt)).collect();
    let mut child = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot run the recipients command {}", args[0]))?;
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("cannot wait for the recipients command")? {
            return match status.code() {
                Some(0) => Ok(true),
                Some(1) => Ok(false),
                _ => bail!("the recipients command {} failed ({status})", args[0]),
            };
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the recipients command {} took longer than {} ms", args[0], timeout.as_millis());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The first DNS blocklist that lists `ip` (cached answers first, then one batch of queries
/// within the filter's deadline), and the new answers to cache.
fn dnsbl(
    ip: IpAddr,
    record: Option<&IpRecord>,
    d: &crate::sender::DnsSettings,
    resolver: &dyn dns::Resolver,
    now: u64,
) -> (Option<String>, DnsAnswers) {
    let mut new = DnsAnswers::default();
    let mut queries = Vec::new();
    let mut zones = Vec::new();
    for zone in &d.dnsbl {
        let cached =
            record.and_then(|r| r.dnsbl.iter().find(|(z, c)| z == zone && c.expires > now).map(|(_, c)| c.value));
        match cached {
            Some(true) => return (Some(zone.clone()), new),
            Some(false) => {}
            None => {
                queries.push(Query { name: format!("{}.{zone}", dns::reversed(ip)), qtype: QType::A });
                zones.push(zone.clone());
            }
        }
    }
    if queries.is_empty() {
        return (None, new);
    }
    let answers = resolver.resolve(&queries, Duration::from_millis(d.timeout_ms));
    let mut hit = None;
    for (zone, a) in zones.into_iter().zip(answers) {
        let Some((listed, ttl)) = crate::sender::listed(&a) else { continue };
        if listed && hit.is_none() {
            hit = Some(zone.clone());
        }
        new.dnsbl.push((ip, zone, Cached { value: listed, expires: now + ttl as u64 }));
    }
    (hit, new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::received::v4;
    use crate::store::reputation::Reputation;

    fn req(ip: &str, rcpt: &str, extra: &[(&str, &str)]) -> Request {
        let mut r = Request::from_pairs([
            ("request", "smtpd_access_policy"),
            ("protocol_state", "RCPT"),
            ("client_address", ip),
            ("client_name", "mail.example"),
            ("reverse_client_name", "mail.example"),
            ("sender", "someone@elsewhere.example"),
            ("recipient", rcpt),
        ]);
        for (k, v) in extra {
            r.attrs.insert(k.to_string(), v.to_string());
        }
        r
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        state: State,
        policy: PolicySettings,
        sender: SenderSettings,
        rep: Reputation,
    }

    impl Fixture {
        fn new(mode: Mode) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let state = State::at(dir.path());
            let policy = PolicySettings {
                mode,
                valid: Some(AddressList::parse("info@mijn.example\n@team.example\n").unwrap()),
                ..Default::default()
            };
            let sender = SenderSettings {
                honeypots: AddressList::parse("oud@mijn.example\n").unwrap(),
                allow: AddressList::parse("@vriend.example\n").unwrap(),
                ip_expire_days: 30,
                ..Default::default()
            };
            Fixture { _dir: dir, state, policy, sender, rep: Reputation::default() }
        }

        fn ask(&self, r: &Request, now: u64) -> Outcome {
            let cx = Context {
                policy: &self.policy,
                sender: &self.sender,
                reputation: Some(&self.rep),
                state: &self.state,
                resolver: &dns::CacheOnly,
                now,
            };
            evaluate(r, &cx).unwrap()
        }
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn spam_sources_are_refused_and_known_good_never() {
        let mut f = Fixture::new(Mode::Enforce);
        f.rep.ip_mut(v4(192, 0, 2, 1), NOW).manual = true;
        f.rep.count_learned(v4(192, 0, 2, 2), true, 1, NOW); // weight 1/3: below the threshold
        for _ in 0..3 {
            f.rep.count_learned(v4(192, 0, 2, 3), true, 1, NOW);
        }
        f.rep.honeypot_hit(v4(192, 0, 2, 4), NOW - 86_400);
        f.rep.count_learned(v4(192, 0, 2, 5), true, 1, NOW);
        f.rep.count_learned(v4(192, 0, 2, 5), true, 1, NOW);
        f.rep.count_learned(v4(192, 0, 2, 5), true, 1, NOW);
        f.rep.count_learned(v4(192, 0, 2, 5), false, 1, NOW);
        let a = |f: &Fixture, ip: &str| f.ask(&req(ip, "info@mijn.example", &[]), NOW).action;
        assert!(a(&f, "192.0.2.1").starts_with("REJECT 5.7.1 client 192.0.2.1 is listed"), "{}", a(&f, "192.0.2.1"));
        assert_eq!(a(&f, "192.0.2.2"), "DUNNO");
        assert!(a(&f, "192.0.2.3").contains("reputation 1.00"), "{}", a(&f, "192.0.2.3"));
        assert!(a(&f, "192.0.2.4").contains("spam trap"), "{}", a(&f, "192.0.2.4"));
        assert_eq!(a(&f, "192.0.2.5"), "DUNNO", "an address that carried ham is never refused");
        assert_eq!(a(&f, "::ffff:192.0.2.1"), a(&f, "192.0.2.1"));
        // Trusted, authenticated, allowed senders pass even from a listed address.
        f.sender.trusted.add("192.0.2.1").unwrap();
        assert_eq!(a(&f, "192.0.2.1"), "DUNNO");
        let r = req("192.0.2.3", "info@mijn.example", &[("sasl_username", "jan")]);
        assert_eq!(f.ask(&r, NOW).known_good, Some("authenticated"));
        let r = req("192.0.2.3", "info@mijn.example", &[("sender", "Jan@Vriend.example")]);
        assert_eq!(f.ask(&r, NOW).action, "DUNNO");
        f.sender.allow_requires_auth = true;
        assert!(f.ask(&r, NOW).action.starts_with("REJECT"), "unauthenticated allow entries do not count");
        // Other protocol states and requests are not judged.
        let r = req("192.0.2.3", "info@mijn.example", &[("protocol_state", "DATA")]);
        assert_eq!(f.ask(&r, NOW).action, "DUNNO");
        let r = req("unknown", "info@mijn.example", &[]);
        assert_eq!(f.ask(&r, NOW).action, "DUNNO");
    }

    #[test]
    fn warn_mode_only_marks() {
        let mut f = Fixture::new(Mode::Warn);
        f.rep.ip_mut(v4(192, 0, 2, 1), NOW).manual = true;
        let o = f.ask(&req("192.0.2.1", "info@mijn.example", &[]), NOW);
        assert_eq!(
            o.action,
            "PREPEND X-Spamfilt-Policy: would reject: client 192.0.2.1 is listed as a spam source by the administrator (reputation)"
        );
        assert_eq!(o.refused_by().unwrap().check, Check::Reputation);
        let o = f.ask(&req("198.51.100.1", "info@mijn.example", &[("reverse_client_name", "unknown")]), NOW);
        assert_eq!(o.action, "PREPEND X-Spamfilt-Policy: client 198.51.100.1 has no reverse DNS name (no_ptr)");
        f.policy.no_ptr = Act::Defer;
        f.policy.mode = Mode::Enforce;
        let o = f.ask(&req("198.51.100.1", "info@mijn.example", &[("reverse_client_name", "unknown")]), NOW);
        assert_eq!(o.action, "DEFER_IF_PERMIT 4.7.1 client 198.51.100.1 has no reverse DNS name");
    }

    #[test]
    fn honeypot_recipients_are_refused_and_recorded() {
        let f = Fixture::new(Mode::Enforce);
        let o = f.ask(&req("198.51.100.7", "Oud@Mijn.example", &[]), NOW);
        assert!(o.action.starts_with("REJECT 5.7.1 <oud@mijn.example> is a spam trap"), "{}", o.action);
        assert_eq!(o.trap, Some(v4(198, 51, 100, 7)));
    }

    /// Review R2a: a honeypot recipient is a trap hit (the client recorded, and refused from
    /// then on) only when its transaction has no real recipient; beside a real one only the
    /// honeypot recipient is refused.
    #[test]
    fn a_honeypot_beside_a_real_recipient_records_nothing() {
        let mut f = Fixture::new(Mode::Enforce);
        f.policy.valid = None; // every non-honeypot recipient is real
        let ip = v4(198, 51, 100, 20);
        // One connection's requests through a transaction: the answers and what ended.
        let run = |f: &Fixture, tx: &mut Transaction, instance: &str, rcpt: &str| {
            let r = req("198.51.100.20", rcpt, &[("instance", instance)]);
            let mut ends = vec![tx.before(&r, &f.state, NOW).unwrap()];
            let o = f.ask(&r, NOW);
            ends.push(tx.after(&r, &o, &f.state, NOW).unwrap());
            (o.action, ends.into_iter().flatten().collect::<Vec<_>>())
        };
        let beside = |r: &str| vec![TrapEnd::Beside(ip, r.into())];
        let hit = |r: &str| vec![TrapEnd::Hit(ip, r.into())];
        // The F15 message, To: info, Cc: oud, in either order: only oud is refused, no hit.
        let mut tx = Transaction::default();
        assert_eq!(run(&f, &mut tx, "1.1", "info@mijn.example"), ("DUNNO".into(), vec![]));
        let (a, e) = run(&f, &mut tx, "1.1", "oud@mijn.example");
        assert!(a.starts_with("REJECT 5.7.1 <oud@mijn.example> is a spam trap"), "{a}");
        assert_eq!(e, beside("oud@mijn.example"));
        assert_eq!(run(&f, &mut tx, "1.2", "info@mijn.example"), ("DUNNO".into(), vec![]));
        let (_, e) = run(&f, &mut tx, "1.3", "oud@mijn.example");
        assert!(e.is_empty(), "pending: {e:?}");
        assert_eq!(run(&f, &mut tx, "1.3", "info@mijn.example").1, beside("oud@mijn.example"));
        assert_eq!(tx.end(&f.state).unwrap(), None);
        assert_eq!(f.state.pending_trap(ip).unwrap(), None);
        // Honeypots only: a hit when the transaction is over: the client's next transaction
        // (on any connection: the pending trap is in the state directory)...
        assert!(run(&f, &mut tx, "2.1", "oud@mijn.example").1.is_empty());
        let mut other = Transaction::default();
        assert_eq!(run(&f, &mut other, "2.2", "info@mijn.example").1, hit("oud@mijn.example"));
        assert_eq!(tx.end(&f.state).unwrap(), None, "recorded once");
        // ...or the end of the connection.
        let mut tx = Transaction::default();
        assert!(run(&f, &mut tx, "3.1", "oud@mijn.example").1.is_empty());
        assert_eq!(tx.end(&f.state).unwrap(), Some(TrapEnd::Hit(ip, "oud@mijn.example".into())));
        // Without `instance` a request is a transaction of its own.
        let mut tx = Transaction::default();
        assert_eq!(run(&f, &mut tx, "", "oud@mijn.example").1, hit("oud@mijn.example"));
        // Unknown recipients are not real: honeypot + unknown is a hit.
        f.policy.valid = Some(AddressList::parse("info@mijn.example\n").unwrap());
        let mut tx = Transaction::default();
        assert!(run(&f, &mut tx, "4.1", "nobody@mijn.example").1.is_empty());
        assert!(run(&f, &mut tx, "4.1", "oud@mijn.example").1.is_empty());
        assert_eq!(tx.end(&f.state).unwrap(), Some(TrapEnd::Hit(ip, "oud@mijn.example".into())));
    }

    /// A trap left pending (the connection's end missed: the process killed) is a hit when the
    /// client comes back within a day; later it is dropped without one.
    #[test]
    fn a_pending_trap_older_than_a_day_is_no_hit() {
        let f = Fixture::new(Mode::Enforce);
        let ip = v4(198, 51, 100, 21);
        let back = |t: u64| {
            let r = req("198.51.100.21", "info@mijn.example", &[("instance", "9.9")]);
            Transaction::default().before(&r, &f.state, t).unwrap()
        };
        for (age, end) in [
            (state::TRAP_MAX_AGE - 1, TrapEnd::Hit(ip, "oud@mijn.example".into())),
            (state::TRAP_MAX_AGE, TrapEnd::Expired(ip, "oud@mijn.example".into())),
        ] {
            let trap = state::PendingTrap { instance: "1.1".into(), rcpt: "oud@mijn.example".into(), since: NOW };
            f.state.set_pending_trap(ip, &trap).unwrap();
            assert_eq!(back(NOW + age), Some(end), "after {age} s");
            assert_eq!(f.state.pending_trap(ip).unwrap(), None, "taken");
        }
    }

    /// The harvest check sweeps what other clients left that no longer counts (`State::sweep`),
    /// by the real clock, once a sweep is due.
    #[test]
    fn an_unknown_recipient_sweeps_stale_client_files() {
        use std::time::{Duration, UNIX_EPOCH};
        let f = Fixture::new(Mode::Enforce);
        assert_eq!(f.ask(&req("203.0.113.1", "nobody@mijn.example", &[]), NOW).action, "DUNNO");
        let unknown = f._dir.path().join(state::DIR).join("unknown");
        let now = crate::store::now_secs();
        let stale = unknown.join("198.51.100.1");
        std::fs::write(&stale, format!("{} 0123456789abcdef\n", now - 3 * 3600)).unwrap();
        let file = std::fs::File::options().write(true).open(&stale).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(now - 3 * 3600)).unwrap();
        // The last sweep two hours ago: one is due.
        std::fs::write(f._dir.path().join(state::DIR).join("swept"), format!("{}\n", now - 2 * 3600)).unwrap();
        assert_eq!(f.ask(&req("203.0.113.2", "nobody@mijn.example", &[]), NOW).action, "DUNNO");
        assert!(!stale.exists(), "swept");
        assert!(unknown.join("203.0.113.1").exists() && unknown.join("203.0.113.2").exists());
    }

    #[test]
    fn harvesting_is_counted_and_refused_for_a_while() {
        let f = Fixture::new(Mode::Enforce);
        let ask = |rcpt: &str, t: u64| f.ask(&req("203.0.113.9", rcpt, &[]), t).action;
        for i in 0..5 {
            assert_eq!(ask(&format!("nobody{i}@mijn.example"), NOW + i), "DUNNO");
        }
        assert_eq!(ask("info@mijn.example", NOW + 5), "DUNNO");
        assert_eq!(ask("x@team.example", NOW + 5), "DUNNO", "@domain entries are valid recipients");
        let sixth = ask("nobody6@mijn.example", NOW + 6);
        assert!(sixth.starts_with("DEFER_IF_PERMIT 4.7.1 client 203.0.113.9 tried 6 unknown recipients"), "{sixth}");
        assert!(ask("info@mijn.example", NOW + 7).starts_with("DEFER_IF_PERMIT"), "a valid one is refused now too");
        assert!(ask("info@mijn.example", NOW + 23 * 3600).starts_with("DEFER_IF_PERMIT"));
        assert_eq!(ask("info@mijn.example", NOW + 25 * 3600), "DUNNO", "the refusal ends");
        // Another address is not affected; spread out over more than the window, nothing happens.
        for i in 0..10 {
            assert_eq!(f.ask(&req("203.0.113.10", "no@mijn.example", &[]), NOW + i * 1000).action, "DUNNO");
        }
    }

    /// Attack report F20: six users of one provider's relay (its reverse name forward-confirmed:
    /// Postfix's `client_name`) each mistyping one address do not defer the relay; six unknown
    /// recipients from one sender through it defer that sender only; through a client whose
    /// name is not confirmed (`client_name=unknown`) six from six senders still defer it.
    #[test]
    fn harvesting_through_a_shared_relay_is_counted_per_sender() {
        let f = Fixture::new(Mode::Enforce);
        let gmail = [("client_name", "mail-sor-f41.google.com"), ("reverse_client_name", "mail-sor-f41.google.com")];
        let ask = |ip: &str, sender: &str, rcpt: &str, confirmed: bool, t: u64| {
            let name = if confirmed { gmail[0] } else { ("client_name", "unknown") };
            f.ask(&req(ip, rcpt, &[name, gmail[1], ("sender", sender)]), t).action
        };
        let relay = "209.85.220.41";
        for i in 1..=7 {
            let a = ask(relay, &format!("someone{i}@gmail.example"), &format!("old{i}@mijn.example"), true, NOW + i);
            assert_eq!(a, "DUNNO", "sender {i}");
        }
        assert_eq!(ask(relay, "friend@gmail.example", "info@mijn.example", true, NOW + 8), "DUNNO");
        // One sender trying six: that sender is deferred, the others are not.
        for i in 1..=5 {
            assert_eq!(
                ask(relay, "harvester@gmail.example", &format!("x{i}@mijn.example"), true, NOW + 10 + i),
                "DUNNO"
            );
        }
        let sixth = ask(relay, "Harvester@gmail.example", "x6@mijn.example", true, NOW + 16);
        assert!(
            sixth.starts_with(
                "DEFER_IF_PERMIT 4.7.1 client 209.85.220.41 tried 6 unknown recipients from <harvester@gmail.example>"
            ),
            "{sixth}"
        );
        assert!(
            ask(relay, "harvester@gmail.example", "info@mijn.example", true, NOW + 17).starts_with("DEFER_IF_PERMIT")
        );
        assert_eq!(ask(relay, "friend@gmail.example", "info@mijn.example", true, NOW + 17), "DUNNO");
        // Not forward-confirmed: counted per client, whoever the senders are.
        let bot = "198.51.100.66";
        for i in 1..=5 {
            assert_eq!(ask(bot, &format!("s{i}@x.example"), &format!("y{i}@mijn.example"), false, NOW + i), "DUNNO");
        }
        let a = ask(bot, "s6@x.example", "y6@mijn.example", false, NOW + 6);
        assert!(a.starts_with("DEFER_IF_PERMIT 4.7.1 client 198.51.100.66 tried 6 unknown recipients within"), "{a}");
        assert!(ask(bot, "other@x.example", "info@mijn.example", false, NOW + 7).starts_with("DEFER_IF_PERMIT"));
        // No client_name at all (an older Postfix, a test): as unconfirmed.
        let r = req("198.51.100.67", "z@mijn.example", &[]);
        let mut r2 = r.clone();
        r2.attrs.remove("client_name");
        for i in 1..=6 {
            let mut q = r2.clone();
            q.attrs.insert("sender".into(), format!("s{i}@x.example"));
            let a = f.ask(&q, NOW + i);
            assert_eq!(a.action.starts_with("DEFER_IF_PERMIT"), i == 6, "{i}: {}", a.action);
        }
    }

    /// Attack report F16: an IPv6 client's reputation, honeypot hits and harvest counts are its
    /// /64's: the next address of the /64 is refused too; IPv4 stays per address.
    #[test]
    fn ipv6_clients_are_judged_per_64() {
        let mut f = Fixture::new(Mode::Enforce);
        let o = f.ask(&req("2001:db8:1:2::5", "oud@mijn.example", &[]), NOW);
        let hit = o.trap.unwrap();
        f.rep.honeypot_hit(hit, NOW);
        for ip in ["2001:db8:1:2::5", "2001:db8:1:2::6", "2001:db8:1:2:dead:beef:1:1"] {
            let a = f.ask(&req(ip, "info@mijn.example", &[]), NOW + 1).action;
            assert!(
                a.starts_with(&format!("REJECT 5.7.1 client {ip} (2001:db8:1:2::/64) sent mail to a spam trap")),
                "{a}"
            );
        }
        assert_eq!(f.ask(&req("2001:db8:1:3::5", "info@mijn.example", &[]), NOW + 1).action, "DUNNO");
        f.rep.honeypot_hit(v4(192, 0, 2, 5), NOW);
        assert_eq!(f.ask(&req("192.0.2.6", "info@mijn.example", &[]), NOW + 1).action, "DUNNO");
        // Harvest counts: six addresses of one /64 (not forward-confirmed) are one client.
        let unconfirmed = [("client_name", "unknown")];
        for i in 1..=6u64 {
            let a = f.ask(&req(&format!("2001:db8:7:7::{i}"), &format!("n{i}@mijn.example"), &unconfirmed), NOW + i);
            assert_eq!(a.action.starts_with("DEFER_IF_PERMIT"), i == 6, "{i}: {}", a.action);
        }
        let a = f.ask(&req("2001:db8:7:7::99", "info@mijn.example", &unconfirmed), NOW + 10).action;
        assert!(a.starts_with("DEFER_IF_PERMIT 4.7.1 client 2001:db8:7:7::6 (2001:db8:7:7::/64) tried 6"), "{a}");
    }

    /// Answers from a table (NXDOMAIN otherwise) and counts the questions.
    struct Table(Vec<(&'static str, dns::Answer)>, std::sync::atomic::AtomicU32);

    impl dns::Resolver for Table {
        fn resolve(&self, queries: &[Query], _: Duration) -> Vec<dns::Answer> {
            self.1.fetch_add(queries.len() as u32, std::sync::atomic::Ordering::Relaxed);
            queries
                .iter()
                .map(|q| {
                    self.0.iter().find(|(n, _)| *n == q.name).map_or(dns::Answer::Empty { ttl: 60 }, |(_, a)| a.clone())
                })
                .collect()
        }
    }

    #[test]
    fn dns_blocklists_cached_first() {
        let mut f = Fixture::new(Mode::Enforce);
        f.sender.dns = Some(crate::sender::DnsSettings {
            resolver: "127.0.0.1:9".parse().unwrap(),
            timeout_ms: 100,
            dnsbl: vec!["zen.test".into(), "other.test".into()],
            uribl: vec![],
            ptr: true,
        });
        let listed = dns::Answer::A { addrs: vec![std::net::Ipv4Addr::new(127, 0, 0, 2)], ttl: 600 };
        let table = Table(vec![("5.2.0.192.other.test", listed)], Default::default());
        let ask = |f: &Fixture, ip: &str| {
            let cx = Context {
                policy: &f.policy,
                sender: &f.sender,
                reputation: Some(&f.rep),
                state: &f.state,
                resolver: &table,
                now: NOW,
            };
            evaluate(&req(ip, "info@mijn.example", &[]), &cx).unwrap()
        };
        let o = ask(&f, "192.0.2.5");
        assert_eq!(o.action, "REJECT 5.7.1 client 192.0.2.5 is listed by other.test");
        assert_eq!(o.new_dns.dnsbl.len(), 2, "both answers are for the cache");
        assert_eq!(table.1.load(std::sync::atomic::Ordering::Relaxed), 2);
        // Cached (as the journal would make it): nothing is asked.
        f.rep.merge_dns(&o.new_dns, NOW);
        assert!(ask(&f, "192.0.2.5").action.starts_with("REJECT"));
        assert_eq!(table.1.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(ask(&f, "192.0.2.6").action, "DUNNO");
    }

    #[test]
    fn recipients_command() {
        let argv: Vec<String> = ["sh", "-c", "test \"$0\" = info@mijn.example", "%s"].map(String::from).to_vec();
        assert!(run_recipient_command(&argv, "info@mijn.example", Duration::from_secs(5)).unwrap());
        assert!(!run_recipient_command(&argv, "nobody@mijn.example", Duration::from_secs(5)).unwrap());
        assert!(!run_recipient_command(&argv, "-rf@x", Duration::from_secs(5)).unwrap());
        let failing: Vec<String> = ["sh", "-c", "exit 75", "%s"].map(String::from).to_vec();
        assert!(run_recipient_command(&failing, "a@b", Duration::from_secs(5)).is_err());
        let slow: Vec<String> = ["sh", "-c", "sleep 10", "%s"].map(String::from).to_vec();
        let t = std::time::Instant::now();
        assert!(run_recipient_command(&slow, "a@b", Duration::from_millis(100)).is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rcpt.txt"), "info@mijn.example\n@team.example\n").unwrap();
        let mut p: PolicySettings =
            toml::from_str("mode = \"enforce\"\nrecipients = \"rcpt.txt\"\nharvest_limit = 3\nno_ptr = \"defer\"\n")
                .unwrap();
        p.check().unwrap();
        p.recipients = Some(dir.path().join("rcpt.txt"));
        p.load_recipients().unwrap();
        assert_eq!((p.mode, p.harvest_limit, p.no_ptr), (Mode::Enforce, 3, Act::Defer));
        assert_eq!(p.valid.as_ref().unwrap().entries.len(), 2);
        for bad in ["mode = \"block\"", "dnsbl = \"maybe\"", "harvest_limt = 3"] {
            assert!(toml::from_str::<PolicySettings>(bad).is_err(), "{bad}");
        }
        for (bad, says) in [
            ("harvest_limit = 0", "harvest_limit"),
            ("header = \"X-Spam-Policy\"", "X-Spam-"),
            ("recipients_command = [\"postmap\", \"-q\"]", "%s"),
            ("recipients = \"missing.txt\"", "missing.txt"),
        ] {
            let mut p: PolicySettings = toml::from_str(bad).unwrap();
            if let Some(r) = &p.recipients {
                p.recipients = Some(dir.path().join(r));
            }
            let err = format!("{:#}", p.check().and_then(|_| p.load_recipients()).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }
}
