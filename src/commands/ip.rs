//! `spamfilt ip show|list|add|remove|expire`: the IP reputation database.

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::{GlobalArgs, IpCommand};
use crate::config::Settings;
use crate::policy::state::{Refusal, State};
use crate::policy::{self, Act, Mode};
use crate::received;
use crate::store::now_secs;
use crate::store::reputation::{self, DnsKey, IpRecord, Reputation, ReputationLookup, Wanted};

fn parse_ip(s: &str) -> Result<IpAddr> {
    s.trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .map(received::canonical)
        .with_context(|| format!("`{s}` is not an IPv4 or IPv6 address"))
}

pub fn run(settings: &Settings, g: &GlobalArgs, cmd: &IpCommand) -> Result<ExitCode> {
    let mut notes = crate::store::Notes::new();
    let done = run_noting(settings, g, cmd, &mut notes);
    super::print_notes(&notes);
    done
}

/// `run`, with what reading and writing the reputation database noted for the user.
fn run_noting(
    settings: &Settings,
    g: &GlobalArgs,
    cmd: &IpCommand,
    notes: &mut crate::store::Notes,
) -> Result<ExitCode> {
    let db = settings.database();
    let now = now_secs();
    let days = settings.sender.ip_expire_days;
    match cmd {
        IpCommand::Show { address } => {
            let ip = parse_ip(address)?;
            let rep = db.load_reputation(notes)?;
            let state = State::at(db.dir());
            let refusal = state.refused(ip, now)?;
            let senders = state.sender_refusals(ip, now)?;
            // The reputation of its block (an IPv6 address's /64), the DNS answers of the
            // address itself.
            let record = rep.ip(ip);
            let mut cache = rep.dns_cache(ip);
            if let (Some(r), Some(d)) = (db.redis(), &settings.sender.dns) {
                // The cached DNS answers of the address, in Redis under their own keys.
                let mut dns: Vec<DnsKey> = d.dnsbl.iter().map(|z| DnsKey::Dnsbl(ip, z.clone())).collect();
                dns.push(DnsKey::Ptr(ip));
                let cached = r.fetch_reputation(&Wanted { keys: Vec::new(), dns }).map_err(anyhow::Error::msg)?;
                if let Some(c) = cached.dns_cache(ip) {
                    let rec = cache.get_or_insert_with(IpRecord::default);
                    rec.ptr = c.ptr.or(rec.ptr.take());
                    if !c.dnsbl.is_empty() {
                        rec.dnsbl = c.dnsbl;
                    }
                }
            }
            let cache = cache.filter(|c| c.ptr.is_some() || !c.dnsbl.is_empty());
            let probed = state.probed(ip)?;
            if record.is_none() && cache.is_none() && refusal.is_none() && senders.is_empty() && probed.is_none() {
                println!("{}: not in the reputation database", reputation::ip_shown(ip));
                return Ok(ExitCode::from(1));
            }
            print_details(ip, record.as_ref(), cache.as_ref(), now, days);
            if let Some((when, result)) = probed {
                println!("probed:       {}: {result}", date(when));
            }
            print_policy(ip, record.as_ref(), refusal.as_ref(), settings, now);
            if settings.policy.harvest != Act::Off {
                for r in &senders {
                    println!(
                        "policy:       one sender refused since {} until {}: {}",
                        date(r.since),
                        date(r.until),
                        super::Shown(&r.reason)
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        IpCommand::List { spam } => {
            let rep = db.load_reputation(notes)?;
            let mut rows: Vec<(IpAddr, &IpRecord)> =
                rep.ips().filter(|(_, r)| !spam || r.spam_weight(now, days) > 0.0).collect();
            rows.sort_by(|a, b| b.1.spam_weight(now, days).total_cmp(&a.1.spam_weight(now, days)).then(a.0.cmp(&b.0)));
            if rows.is_empty() && !g.quiet {
                eprintln!(
                    "spamfilt: no {}addresses in {}",
                    if *spam { "spam-source " } else { "" },
                    match db.redis() {
                        Some(r) => format!("{} (keys {{{}}}:rep)", r.cfg.shown(), r.cfg.prefix),
                        None => Reputation::path(db.dir()).display().to_string(),
                    }
                );
            }
            let relayed = rep.relayed();
            let mut own = Vec::new();
            for (ip, r) in rows {
                let own_relay = r.looks_like_own_relay(relayed);
                if own_relay {
                    own.push((ip, r.share(relayed)));
                }
                println!(
                    "{}\tspam={}\tham={}\thoneypot={}\tweight={:.2}\tlast_seen={}{}{}",
                    reputation::ip_label(ip),
                    r.spam,
                    r.ham,
                    r.honeypot,
                    if own_relay { 0.0 } else { r.spam_weight(now, days) },
                    date(r.last_seen),
                    if r.manual { "\tmanual" } else { "" },
                    if own_relay { "\town-relay?" } else { "" }
                );
            }
            if !g.quiet {
                // One the user has put in trusted_networks, as the note says, is said no more.
                for (ip, share) in own.into_iter().filter(|(ip, _)| !settings.sender.trusted.contains(*ip)) {
                    eprintln!("spamfilt: {}", own_relay_note(ip, share, settings));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        IpCommand::Add { addresses } => {
            let ips: Vec<IpAddr> = addresses.iter().map(|a| parse_ip(a)).collect::<Result<_>>()?;
            let edit = |rep: &mut Reputation| -> Result<Vec<String>> {
                let mut changed = Vec::new();
                for ip in &ips {
                    let r = rep.ip_mut(*ip, now);
                    if !r.manual {
                        r.manual = true;
                        r.last_seen = now;
                        changed.push(reputation::ip_label(*ip));
                    }
                }
                Ok(changed)
            };
            let changed = db.update_reputation(notes, edit, |_| {})?;
            if !g.quiet {
                // An IPv6 address is marked with its /64 (reputation is kept per /64): say so.
                let v6 = ips.iter().any(|ip| ip.is_ipv6());
                println!(
                    "marked as spam sources: {} addresses{}",
                    changed.len(),
                    if v6 && !changed.is_empty() { format!(" ({})", changed.join(", ")) } else { String::new() }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        IpCommand::Remove { dry_run, addresses } => {
            let mut ips: Vec<IpAddr> = addresses.iter().map(|a| parse_ip(a)).collect::<Result<_>>()?;
            // One /64 once, however many of its addresses are named.
            let mut seen = std::collections::HashSet::new();
            ips.retain(|ip| seen.insert(reputation::ip_block(*ip)));
            let key = reputation::ip_key;
            let state = State::at(db.dir());
            // What each address had, said as it is removed (under the lock with the real run).
            let describe = |ip: IpAddr, r: Option<&IpRecord>, refused: bool| -> Option<String> {
                let mut what: Vec<String> = Vec::new();
                if let Some(r) = r {
                    what.push(format!(
                        "spam={} ham={} honeypot={}{}, last seen {}",
                        r.spam,
                        r.ham,
                        r.honeypot,
                        if r.manual { " manual" } else { "" },
                        date(r.last_seen)
                    ));
                }
                if refused {
                    what.push("refused by the policy service".into());
                }
                (!what.is_empty()).then(|| format!("{} ({})", named(ip), what.join("; ")))
            };
            let edit = |rep: &mut Reputation| -> Result<(Vec<String>, Vec<IpAddr>)> {
                let (mut said, mut missing) = (Vec::new(), Vec::new());
                for &ip in &ips {
                    let refused = state.refused(ip, now)?.is_some();
                    let found = describe(ip, rep.ip(ip).as_ref(), refused);
                    // The policy service's refusal (and what else it keeps of the address: a
                    // probe's result, unknown-recipient counts) is lifted whether or not there
                    // was a record.
                    let lifted = if *dry_run { state.holds(ip)? } else { state.lift(ip)? };
                    if !dry_run {
                        rep.records.remove(&key(ip));
                        rep.records.remove(&reputation::exact_key(ip));
                    }
                    match found {
                        Some(d) => said.push(d),
                        None if lifted => said.push(format!("{} (the policy service's records of it)", named(ip))),
                        None => missing.push(ip),
                    }
                }
                Ok((said, missing))
            };
            // With Redis, this host's cached DNS answers of a removed address go too.
            let local = |rep: &mut Reputation| {
                for ip in &ips {
                    rep.records.remove(&key(*ip));
                    rep.records.remove(&reputation::exact_key(*ip));
                }
            };
            let (said, missing) = super::remove_reputation(&db, notes, *dry_run, edit, local)?;
            if !g.quiet {
                let verb = if *dry_run { "would remove" } else { "removed" };
                for d in &said {
                    println!("{verb} {d}");
                }
            }
            for ip in &missing {
                eprintln!("spamfilt: {} is not in the reputation database", named(*ip));
            }
            Ok(if missing.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        IpCommand::Probe { address, ports, target, timeout } => {
            let ip = parse_ip(address)?;
            let target: std::net::SocketAddr = match target {
                Some(t) => t.parse().with_context(|| format!("--target {t}: not IP:PORT"))?,
                None => settings.policy.probe_target.context(
                    "say which server a proxy should reach: your own MX, with --target IP:PORT or probe_target in [policy]",
                )?,
            };
            let state = State::at(db.dir());
            if let Some((when, result)) = state.probed(ip)? {
                if now.saturating_sub(when) < days as u64 * 86_400 {
                    println!(
                        "{ip}: probed on {}: {result} (once per {days} days: not again before {})",
                        date(when),
                        date(when + days as u64 * 86_400)
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            }
            let ports: Vec<u16> = if ports.is_empty() { policy::probe::DEFAULT_PORTS.to_vec() } else { ports.clone() };
            let found = policy::probe::probe(ip, &ports, target, std::time::Duration::from_secs((*timeout).max(1)));
            let result = match &found {
                Some(f) => format!("open proxy: {} on port {} relayed to {target}", f.kind.name(), f.port),
                None => {
                    format!("no open proxy on ports {}", ports.iter().map(u16::to_string).collect::<Vec<_>>().join(","))
                }
            };
            state.record_probe(ip, now, &result)?;
            if found.is_some() {
                let mark = |rep: &mut Reputation| {
                    let r = rep.ip_mut(ip, now);
                    r.manual = true;
                    r.last_seen = now;
                    Ok(())
                };
                db.update_reputation(notes, mark, |_| {})?;
            }
            println!("{ip}: {result}");
            Ok(ExitCode::SUCCESS)
        }
        IpCommand::Expire => {
            let (dropped, left) = db.expire_reputation(notes, now, days)?;
            State::at(db.dir()).expire(now, settings.policy.harvest_window_minutes * 60)?;
            if !g.quiet {
                println!("dropped {dropped} records; {left} left");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An address as `ip remove` names what it removes: an IPv6 address's /64 with the address
/// (`2001:db8:1:2::/64 (for 2001:db8:1:2::5)`), its first address as the /64 alone.
fn named(ip: IpAddr) -> String {
    let label = reputation::ip_label(ip);
    if ip.is_ipv6() && reputation::ip_block(ip) != ip {
        format!("{label} (for {ip})")
    } else {
        label
    }
}

/// What `ip show` says: the reputation `r` of the address's block and the cached DNS answers
/// `dns` of the address itself.
fn print_details(ip: IpAddr, r: Option<&IpRecord>, dns: Option<&IpRecord>, now: u64, days: u32) {
    match ip {
        IpAddr::V6(_) => println!("address:      {ip} (its reputation is its /64's: {})", reputation::ip_label(ip)),
        IpAddr::V4(_) => println!("address:      {ip}"),
    }
    let Some(r) = r else {
        println!("learned:      nothing");
        print_dns(dns);
        return;
    };
    println!("first seen:   {}", date(r.first_seen));
    println!("last seen:    {}", date(r.last_seen));
    println!("learned:      {} spam, {} ham", r.spam, r.ham);
    println!("honeypot:     {} hits", r.honeypot);
    println!("last spam:    {}", date(r.last_spam));
    println!("manual:       {}", if r.manual { "yes (spamfilt ip add)" } else { "no" });
    println!("spam weight:  {:.2} (IP_SPAM_SOURCE scores this share of its points)", r.spam_weight(now, days));
    print_dns(dns);
}

fn print_dns(r: Option<&IpRecord>) {
    let none = IpRecord::default();
    let r = r.unwrap_or(&none);
    match &r.ptr {
        Some(c) => {
            println!(
                "reverse DNS:  {} (cached until {})",
                super::Shown(c.value.as_deref().unwrap_or("none")),
                date(c.expires)
            )
        }
        None => println!("reverse DNS:  not looked up"),
    }
    for (zone, c) in &r.dnsbl {
        println!("{zone}: {} (cached until {})", if c.value { "listed" } else { "not listed" }, date(c.expires));
    }
}

/// Whether and why the policy service (`spamfilt policy`) refuses the address, and since when.
fn print_policy(ip: IpAddr, r: Option<&IpRecord>, refusal: Option<&Refusal>, settings: &Settings, now: u64) {
    let p = &settings.policy;
    let verb = if p.mode == Mode::Enforce { "refused" } else { "would be refused (warn mode)" };
    if settings.sender.trusted.contains(ip) {
        println!("policy:       never refused (trusted network)");
        return;
    }
    if r.is_some_and(|r| r.ham > 0 && !r.manual && !r.honeypots_outweigh_ham()) {
        println!("policy:       never refused (it carried mail learned as ham)");
        return;
    }
    let mut any = false;
    if let Some(f) = refusal.filter(|_| p.harvest != Act::Off) {
        println!("policy:       {verb} since {} until {}: {}", date(f.since), date(f.until), super::Shown(&f.reason));
        any = true;
    }
    if let Some(r) = r.filter(|_| p.reputation != Act::Off) {
        if let Some(why) = policy::reputation_finding(ip, r, p, settings.sender.ip_expire_days, now) {
            let since = if r.manual { r.first_seen } else { r.last_spam };
            println!("policy:       {verb} since {}: {}", date(since), super::Shown(&why));
            any = true;
        }
    }
    if !any {
        println!("policy:       not refused");
    }
}

fn date(secs: u64) -> String {
    if secs == 0 {
        "never".into()
    } else {
        crate::store::format_utc(secs)
    }
}

/// What `ip list` and `lint` say about an address that looks like one of the user's own relays:
/// with the config file to edit and the line to write there (a newcomer does not know either).
pub fn own_relay_note(ip: IpAddr, share: f64, settings: &Settings) -> String {
    let config = settings.config_file.clone().or_else(crate::config::default_config_file);
    let config = config.map_or_else(|| "config.toml".to_string(), |p| p.display().to_string());
    let label = reputation::ip_label(ip);
    format!(
        "{label} carried {:.0}% of the mail learned with a relay: it looks like one of your own relays (or your \
         provider's), so it never counts as a spam source; if it is yours, add it to trusted_networks in {config} \
         (trusted_networks = [\"{label}\"], beside any you have) so the hop before it is judged instead",
        share * 100.0
    )
}
