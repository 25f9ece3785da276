//! Settings: defaults < config file < environment < flags.
//!
//! The config file is TOML. Unknown keys are an error (a typo must not silently do nothing),
//! reported with the file name and position.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

mod lenient;

use crate::bayes::BayesParams;
use crate::features::TokenizerSettings;
use crate::lists::AddressList;
use crate::problems::Problem;
use crate::rules::{RuleSettings, RuleSpec};
use crate::sender::{DnsSettings, SenderSettings};
use crate::store::files;
use crate::verdict::ScoringSettings;

/// Everything a command needs to know, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The database directory; empty for the filter when there is none (no `--db` and no home
    /// directory: `has_db_dir`).
    pub db_dir: PathBuf,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The site-wide config file that was read under it, if any (`/etc/spamfilt/config.toml`).
    pub site_config_file: Option<PathBuf>,
    pub scoring: ScoringSettings,
    pub tokenizer: TokenizerSettings,
    pub rules: RuleSettings,
    /// Lists, honeypots, trusted networks, IP reputation and DNS.
    pub sender: SenderSettings,
    /// The allow and block list files (they need not exist).
    pub allow_list: PathBuf,
    pub block_list: PathBuf,
    /// The Postfix policy service (`[policy]`).
    pub policy: crate::policy::PolicySettings,
    /// Put before the Subject of spam (`subject_tag = "[SPAM]"`; off by default).
    pub subject_tag: Option<String>,
    /// `[store] redis`: the token counts, ledger and LR weights are in Redis (`None`: files).
    pub redis: Option<crate::store::RedisConfig>,
    /// `[store] password_file`, as written (read when the settings are loaded).
    redis_password_file: Option<PathBuf>,
}

/// The first number that is not finite (`nan`, `inf`) in a TOML value, with its key path
/// (`required_score`, `scores.HTML_SCRIPT`, `rule[2].score`).
fn non_finite(path: &str, v: &toml::Value) -> Option<(String, f64)> {
    match v {
        toml::Value::Float(f) if !f.is_finite() => Some((path.to_string(), *f)),
        toml::Value::Table(t) => {
            t.iter().find_map(|(k, v)| non_finite(&if path.is_empty() { k.clone() } else { format!("{path}.{k}") }, v))
        }
        toml::Value::Array(a) => a.iter().enumerate().find_map(|(i, v)| non_finite(&format!("{path}[{i}]"), v)),
        _ => None,
    }
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigFile {
    required_score: Option<f64>,
    scan_limit: Option<usize>,
    bayes_points_per_decade: Option<f64>,
    bayes_points_knee: Option<f64>,
    bayes_ham_points_knee: Option<f64>,
    use_starter: Option<bool>,
    starter_fade: Option<u64>,
    rules_trained_weight: Option<f64>,
    bayes: Option<BayesParams>,
    lr: Option<crate::lr::LrSettings>,
    tokenizer: Option<TokenizerSettings>,
    /// Rule score overrides.
    scores: Option<std::collections::BTreeMap<String, f64>>,
    /// Custom rules.
    rule: Option<Vec<RuleSpec>>,
    /// The local URI blocklist file.
    uri_blocklist: Option<PathBuf>,
    /// Networks whose hops are the user's own, added to loopback and the private ranges.
    trusted_networks: Option<Vec<String>>,
    /// Addresses (`a@b`), domains (`@b`) or domains with subdomains (`*.b`) only spammers write to.
    honeypots: Option<Vec<String>>,
    allow_requires_auth: Option<bool>,
    authserv_id: Option<String>,
    ip_expire_days: Option<u32>,
    /// `false`: no LEARNED_SENDER (training still counts learned senders).
    learned_senders: Option<bool>,
    queue: Option<crate::store::queue::QueueLimits>,
    dns: Option<DnsSettings>,
    /// The allow and block list files (default: allow.txt and block.txt beside the config file).
    allow_list: Option<PathBuf>,
    block_list: Option<PathBuf>,
    /// The Postfix policy service.
    policy: Option<crate::policy::PolicySettings>,
    /// SpamAssassin's `rewrite_header Subject`: a tag put before the Subject of spam.
    subject_tag: Option<String>,
    /// Where the store is (files unless `redis` is set).
    store: Option<StoreFile>,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreFile {
    /// `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]` or `unix:///PATH[?db=N]`.
    redis: Option<String>,
    /// A file holding the password (relative to the config file's directory).
    password_file: Option<PathBuf>,
    /// The key prefix (hash tag); default: the user's login name.
    prefix: Option<String>,
    /// Connect and round-trip bound for a delivery (default 200).
    timeout_ms: Option<u64>,
}

/// The user's login name (the effective user's entry in /etc/passwd, else `$USER`, else
/// `uidN`): the default key prefix of the Redis store, so one Redis serves many users.
pub fn login_name() -> String {
    let uid = crate::store::files::euid();
    if let Some(entry) = crate::store::files::passwd_entry(uid).filter(|e| !e.name.is_empty()) {
        return entry.name;
    }
    match std::env::var("USER").or_else(|_| std::env::var("LOGNAME")) {
        Ok(u) if !u.is_empty() => u,
        _ => format!("uid{uid}"),
    }
}

/// The user's home directory: `$HOME` when set and not empty, else the effective user's entry
/// in /etc/passwd (read as a file), else none.
///
/// Not `getpwuid`: the release binary is linked statically, and static glibc asks the next NSS
/// source of /etc/nsswitch.conf (`systemd`, `sss`, `ldap`) for a user that /etc/passwd does not
/// list, which needs `dlopen` and made every command die of SIGSEGV (attack report F19: LDAP,
/// SSSD and nss-systemd users, DynamicUser services). Such a user without `HOME` has no home
/// here: the commands say so and ask for `HOME`, `--db` and `--config`; the filter scores
/// without a database and says so in X-Spam-Degraded.
pub fn home_dir() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(home));
    }
    let uid = crate::store::files::euid();
    crate::store::files::passwd_entry(uid).map(|e| e.home).filter(|h| !h.as_os_str().is_empty())
}

/// `$VAR` when it is an absolute path, else `home/rest` (the XDG base directory rule).
fn xdg_dir(var: &str, rest: &str) -> Option<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => Some(dir),
        None => home_dir().map(|h| h.join(rest)),
    }
}

/// `$XDG_DATA_HOME/spamfilt`, else `~/.local/share/spamfilt`.
fn data_dir() -> Option<PathBuf> {
    xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("spamfilt"))
}

/// `$XDG_CONFIG_HOME/spamfilt`, else `~/.config/spamfilt`.
fn config_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("spamfilt"))
}

/// What to say when there is no home directory to find the database and config file in.
pub fn no_home() -> String {
    format!(
        "cannot find your home directory (HOME is not set and user id {} has no entry in /etc/passwd): set HOME or \
         pass --db DIR / --config FILE",
        crate::store::files::euid()
    )
}

/// Where the database lives when neither `--db` nor `SPAMFILT_DB` says.
pub fn default_db_dir() -> Result<PathBuf> {
    data_dir().ok_or_else(|| anyhow::anyhow!(no_home()))
}

/// The config file read when neither `--config` nor `SPAMFILT_CONFIG` says.
pub fn default_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

/// The site-wide config file, read before the user's, whose settings the user's override:
/// `/etc/spamfilt/config.toml`, or what `SPAMFILT_SITE_CONFIG` names (empty: none). Its
/// allow and block lists and URI blocklist are beside it.
pub const SITE_CONFIG: &str = "/etc/spamfilt/config.toml";

/// The site-wide config file to read, and whether `SPAMFILT_SITE_CONFIG` named it. The default
/// `/etc/spamfilt/config.toml` need not exist (its lists count without it); a file the variable
/// names must: a typo in it would otherwise switch the site's settings off unnoticed.
pub fn site_config_file() -> Option<(PathBuf, bool)> {
    match std::env::var_os("SPAMFILT_SITE_CONFIG") {
        Some(p) if p.is_empty() => None,
        Some(p) => Some((PathBuf::from(p), true)),
        None => Some((PathBuf::from(SITE_CONFIG), false)),
    }
}

/// The lists and URI blocklist of the site-wide config, read with the user's.
#[derive(Default)]
struct SiteFiles {
    allow: Option<PathBuf>,
    block: Option<PathBuf>,
    uri_blocklist: Option<PathBuf>,
}

/// Reads a config file onto `settings` (strictly, or as far as it can with `lenient`). `Ok(None)`
/// when it does not exist and need not; `Ok(Some(named URI blocklist))` when it was read.
fn read_config(
    settings: &mut Settings,
    path: &Path,
    must_exist: bool,
    lenient: &mut Option<&mut Vec<Problem>>,
) -> Result<Option<Option<PathBuf>>> {
    match files::read_setting(path, files::CONFIG_CAP) {
        Ok(text) => {
            let named = match lenient.as_deref_mut() {
                Some(problems) => lenient::apply_lenient(settings, &text, path, problems),
                None => lenient::apply_strict(settings, &text, path)?,
            };
            Ok(Some(named))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(None),
        Err(e) => match lenient.as_deref_mut() {
            Some(problems) => {
                problems.push(Problem::new(
                    path,
                    None,
                    format!("cannot read the config file: {e} (defaults are used)"),
                ));
                Ok(None)
            }
            None => Err(e).with_context(|| format!("cannot read config file {}", path.display())),
        },
    }
}

/// The same file (both exist and are one), so that it is not read twice.
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

impl Settings {
    /// Resolves settings from the flags (already merged with the environment by clap).
    /// An explicitly named config file must exist; the default one may be missing.
    pub fn load(db: Option<&Path>, config: Option<&Path>) -> Result<Settings> {
        Self::load_inner(db, config, None, false)
    }

    /// Like `load`, but a config file named explicitly may be missing too (a command that is
    /// about to write it: `import-sa`).
    pub fn load_to_write(db: Option<&Path>, config: Option<&Path>) -> Result<Settings> {
        Self::load_inner(db, config, None, true)
    }

    /// Like `load`, but every problem with the config file, the lists or the URI blocklist is
    /// worked around (the default for a bad key, the other entries of a list) and returned
    /// instead of failing: what the filter and `lint` use (see `problems`). Fails only when
    /// there is no database directory at all.
    pub fn load_degraded(db: Option<&Path>, config: Option<&Path>) -> Result<(Settings, Vec<Problem>)> {
        let mut problems = Vec::new();
        let settings = Self::load_inner(db, config, Some(&mut problems), false)?;
        Ok((settings, problems))
    }

    /// `load_degraded` for a delivery: with no database directory at all (no `--db`, no home
    /// directory: attack report F19) the settings have an empty `db_dir` (`has_db_dir`) and the
    /// first problem says why, so the message is scored with the rules and the starter table and
    /// X-Spam-Degraded says so, instead of passing through unscored.
    pub fn load_for_delivery(db: Option<&Path>, config: Option<&Path>) -> Result<(Settings, Vec<Problem>)> {
        if db.is_some() || default_db_dir().is_ok() {
            return Self::load_degraded(db, config);
        }
        let mut problems =
            vec![Problem::new(Path::new("HOME"), None, format!("{} (scored without a database)", no_home()))];
        let settings = Self::load_inner(Some(Path::new("")), config, Some(&mut problems), false)?;
        Ok((settings, problems))
    }

    fn load_inner(
        db: Option<&Path>,
        config: Option<&Path>,
        mut lenient: Option<&mut Vec<Problem>>,
        may_be_missing: bool,
    ) -> Result<Settings> {
        let (config_file, explicit) = match config {
            Some(p) => (Some(p.to_path_buf()), !may_be_missing),
            None => (default_config_file(), false),
        };
        let mut settings = Settings {
            db_dir: match db {
                Some(d) => d.to_path_buf(),
                None => default_db_dir()?,
            },
            config_file: None,
            site_config_file: None,
            scoring: ScoringSettings::default(),
            tokenizer: TokenizerSettings::default(),
            rules: RuleSettings::default(),
            sender: SenderSettings { ip_expire_days: 30, ..SenderSettings::default() },
            allow_list: PathBuf::new(),
            block_list: PathBuf::new(),
            policy: crate::policy::PolicySettings::default(),
            subject_tag: None,
            redis: None,
            redis_password_file: None,
        };
        let config_dir =
            config_file.as_deref().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
        // Relative to the config file's directory, like a path the config file names (joined below).
        settings.allow_list = PathBuf::from("allow.txt");
        settings.block_list = PathBuf::from("block.txt");
        // The site-wide file first (the user's overrides it), then the user's.
        let mut site = SiteFiles::default();
        // Its lists count even without a config file beside them; a user who names the site
        // file itself as their own (the policy service's --config) reads it once.
        let site_file = site_config_file()
            .filter(|(p, _)| !config_file.as_deref().is_some_and(|c| c == p.as_path() || same_file(p, c)));
        if let Some((path, named_by_env)) = site_file {
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            let mut named_blocklist = None;
            let missing = named_by_env
                && std::fs::symlink_metadata(&path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound);
            if missing {
                let why = "SPAMFILT_SITE_CONFIG names this file, which does not exist (set the variable to the empty \
                           string for no site-wide file)";
                match lenient.as_deref_mut() {
                    // The filter scores with the defaults and the site's lists, and says so.
                    Some(problems) => {
                        problems.push(Problem::new(&path, None, format!("{why}; the site-wide settings are not used")))
                    }
                    None => anyhow::bail!("{}: {why}", path.display()),
                }
            } else if let Some(named) = read_config(&mut settings, &path, false, &mut lenient)? {
                named_blocklist = named;
                settings.site_config_file = Some(path);
            }
            site.uri_blocklist = Some(dir.join(named_blocklist.unwrap_or_else(|| PathBuf::from("uri-blocklist.txt"))));
            // Its lists are beside it (or where it says); the user's keep their own names.
            site.allow = Some(dir.join(std::mem::replace(&mut settings.allow_list, PathBuf::from("allow.txt"))));
            site.block = Some(dir.join(std::mem::replace(&mut settings.block_list, PathBuf::from("block.txt"))));
            if let Some(r) = settings.policy.recipients.as_mut().filter(|r| r.is_relative()) {
                *r = dir.join(&*r);
            }
        }
        let mut blocklist = default_uri_blocklist().filter(|p| p.exists());
        if let Some(path) = config_file {
            if let Some(named) = read_config(&mut settings, &path, explicit, &mut lenient)? {
                if let Some(b) = named {
                    // Relative to the config file's directory.
                    blocklist = Some(path.parent().unwrap_or(Path::new(".")).join(b));
                }
                settings.config_file = Some(path);
            }
        }
        for list in [&mut settings.allow_list, &mut settings.block_list] {
            if list.is_relative() {
                *list = config_dir.join(&*list);
            }
        }
        let site_blocklist = site.uri_blocklist.filter(|p| p.exists());
        let (site_allow, site_block) = (
            site.allow.filter(|p| p.exists()).unwrap_or_default(),
            site.block.filter(|p| p.exists()).unwrap_or_default(),
        );
        match lenient.as_deref_mut() {
            None => {
                for b in site_blocklist.iter().chain(&blocklist) {
                    settings.rules.uri_blocklist.extend(load_uri_blocklist(b)?);
                }
                settings.sender.allow = load_list(&site_allow, "site allow list")?;
                settings.sender.block = load_list(&site_block, "site block list")?;
                let user =
                    (load_list(&settings.allow_list, "allow list")?, load_list(&settings.block_list, "block list")?);
                merge_lists(&mut settings.sender, user);
            }
            Some(problems) => {
                for b in site_blocklist.iter().chain(&blocklist) {
                    settings.rules.uri_blocklist.extend(read_lenient(b, problems, parse_uri_blocklist_lenient));
                }
                settings.sender.allow = read_lenient(&site_allow, problems, AddressList::parse_lenient);
                settings.sender.block = read_lenient(&site_block, problems, AddressList::parse_lenient);
                let user = (
                    read_lenient(&settings.allow_list, problems, AddressList::parse_lenient),
                    read_lenient(&settings.block_list, problems, AddressList::parse_lenient),
                );
                merge_lists(&mut settings.sender, user);
            }
        }
        // The policy service's recipients file, relative to the config file's directory.
        if let Some(r) = settings.policy.recipients.as_mut().filter(|r| r.is_relative()) {
            *r = config_dir.join(&*r);
        }
        if let (Some(cfg), Some(file)) = (settings.redis.as_mut(), settings.redis_password_file.take()) {
            let file = config_dir.join(file);
            match files::read_setting(&file, files::SECRET_CAP) {
                Ok(pw) => cfg.password = Some(pw.trim_end_matches(['\r', '\n']).to_string()),
                Err(e) => {
                    let msg = format!("cannot read the Redis password file: {e}");
                    match lenient {
                        Some(problems) => problems.push(Problem::new(&file, None, msg)),
                        None => anyhow::bail!("{}: {msg}", file.display()),
                    }
                }
            }
        }
        Ok(settings)
    }

    /// Applies the text of a config file on top of the current settings. Returns the URI
    /// blocklist file it names, if any (loading it is the caller's business).
    pub fn apply(&mut self, text: &str) -> Result<Option<PathBuf>> {
        let file: ConfigFile =
            toml::from_str(text).map_err(|e| anyhow::anyhow!(crate::problems::toml_error(text, &e)))?;
        // TOML spells `nan` and `inf`: a threshold of nan makes nothing spam, ever (issue 15).
        // Every number in the file must be finite, whatever its key.
        if let Ok(table) = toml::from_str::<toml::Table>(text) {
            if let Some((key, v)) = non_finite("", &toml::Value::Table(table)) {
                anyhow::bail!("{key}: {v} is not a number (write a finite number)");
            }
        }
        let s = &mut self.scoring;
        if let Some(v) = file.required_score {
            s.required_score = v;
        }
        if let Some(v) = file.scan_limit {
            anyhow::ensure!(v >= 4096, "scan_limit must be at least 4096 bytes");
            s.scan_limit = v;
        }
        if let Some(v) = file.bayes_points_per_decade {
            s.bayes_points_per_decade = v;
        }
        if let Some(v) = file.bayes_points_knee {
            s.bayes_points_knee = v;
        }
        if let Some(v) = file.bayes_ham_points_knee {
            anyhow::ensure!(v > 0.0, "bayes_ham_points_knee must be positive");
            s.bayes_ham_points_knee = v;
        }
        if let Some(v) = file.use_starter {
            s.use_starter = v;
        }
        if let Some(v) = file.starter_fade {
            s.starter_fade = v;
        }
        if let Some(v) = file.rules_trained_weight {
            anyhow::ensure!((0.0..=1.0).contains(&v), "rules_trained_weight must be in [0, 1]");
            s.rules_trained_weight = v;
        }
        if let Some(b) = file.bayes {
            anyhow::ensure!(b.strength > 0.0, "bayes.strength must be positive");
            anyhow::ensure!((0.0..=1.0).contains(&b.unknown_prob), "bayes.unknown_prob must be in [0, 1]");
            anyhow::ensure!((0.0..0.5).contains(&b.min_dev), "bayes.min_dev must be in [0, 0.5)");
            anyhow::ensure!(b.max_clues > 0, "bayes.max_clues must be at least 1");
            anyhow::ensure!((0.0..=1.0).contains(&b.trace_min_share), "bayes.trace_min_share must be in [0, 1]");
            s.bayes = b;
        }
        if let Some(l) = file.lr {
            anyhow::ensure!(l.points_per_decade >= 0.0, "lr.points_per_decade must not be negative");
            anyhow::ensure!(l.points_knee > 0.0, "lr.points_knee must be positive");
            anyhow::ensure!(l.ham_points_knee > 0.0, "lr.ham_points_knee must be positive");
            s.lr = l;
        }
        if let Some(t) = file.tokenizer {
            self.tokenizer = t;
        }
        // Over a site-wide file: scores and rules are merged by name, the later file's winning.
        if let Some(sc) = file.scores {
            self.rules.scores.extend(sc);
        }
        if let Some(r) = file.rule {
            self.rules.custom.retain(|old| !r.iter().any(|new| new.name == old.name));
            self.rules.custom.extend(r);
        }
        let sender = &mut self.sender;
        if let Some(nets) = file.trusted_networks {
            for n in nets {
                sender.trusted.add(&n).map_err(|e| anyhow::anyhow!("trusted_networks: {e}"))?;
            }
        }
        // The Received words come from the fields the user's own servers wrote (a `[tokenizer]`
        // table does not change that).
        self.tokenizer.trace_fields = crate::features::TraceFields::Own(sender.trusted.clone());
        if let Some(h) = file.honeypots {
            let text = h.join("\n");
            // Added to the site-wide file's, as trusted_networks are.
            let more = AddressList::parse(&text).map_err(|e| {
                // Say which entry, not which line of a joined list.
                let bad = h.iter().find(|x| crate::lists::Entry::parse(x).is_err()).cloned().unwrap_or_default();
                anyhow::anyhow!(
                    "honeypots: {bad:?}: {}",
                    e.to_string().split_once(": ").map_or(e.to_string(), |x| x.1.to_string())
                )
            })?;
            sender.honeypots.entries.extend(more.entries);
        }
        if let Some(v) = file.allow_requires_auth {
            sender.allow_requires_auth = v;
        }
        if let Some(v) = file.authserv_id {
            sender.authserv_id = Some(v);
        }
        anyhow::ensure!(
            !sender.allow_requires_auth || sender.authserv_id.is_some(),
            "allow_requires_auth = true needs authserv_id (the name your server writes first in Authentication-Results)"
        );
        if let Some(v) = file.ip_expire_days {
            anyhow::ensure!(v >= 1, "ip_expire_days must be at least 1");
            sender.ip_expire_days = v;
        }
        if let Some(v) = file.learned_senders {
            sender.no_learned_senders = !v;
        }
        if let Some(q) = file.queue {
            anyhow::ensure!(q.max_messages >= 1, "queue.max_messages must be at least 1");
            anyhow::ensure!(q.max_bytes >= 4096, "queue.max_bytes must be at least 4096");
            sender.queue = q;
        }
        if let Some(d) = file.dns {
            anyhow::ensure!((1..=30_000).contains(&d.timeout_ms), "dns.timeout_ms must be from 1 to 30000");
            sender.dns = Some(d);
        }
        if let Some(p) = file.allow_list {
            self.allow_list = p;
        }
        if let Some(p) = file.block_list {
            self.block_list = p;
        }
        if let Some(p) = file.policy {
            p.check()?;
            self.policy = p;
        }
        if let Some(t) = file.subject_tag {
            // Written into the Subject field as it is: one line of printable ASCII. An empty
            // tag turns tagging off (a user's file over a site-wide one).
            let t = t.trim().to_string();
            anyhow::ensure!(
                t.len() <= 64 && t.bytes().all(|b| (b' '..=b'~').contains(&b)),
                "subject_tag: {t:?}: write at most 64 printable ASCII characters (e.g. \"[SPAM]\")"
            );
            self.subject_tag = (!t.is_empty()).then_some(t);
        }
        if let Some(st) = file.store {
            let Some(url) = st.redis else {
                anyhow::bail!("store: password_file, prefix and timeout_ms need redis = \"redis://HOST:PORT/DB\"");
            };
            let prefix = st.prefix.unwrap_or_else(login_name);
            crate::store::redis::check_prefix(&prefix).map_err(|e| anyhow::anyhow!("store.prefix: {e}"))?;
            let mut cfg =
                crate::store::RedisConfig::parse(&url, &prefix).map_err(|e| anyhow::anyhow!("store.redis: {e}"))?;
            if let Some(ms) = st.timeout_ms {
                anyhow::ensure!((1..=60_000).contains(&ms), "store.timeout_ms must be from 1 to 60000");
                cfg.timeout = std::time::Duration::from_millis(ms);
            }
            self.redis = Some(cfg);
            self.redis_password_file = st.password_file;
        }
        // Check the rules now, so that a bad one is reported with the config file's name.
        if !self.rules.custom.is_empty() || !self.rules.scores.is_empty() {
            crate::rules::RuleSet::load(&self.rules)?;
        }
        Ok(file.uri_blocklist)
    }
}

/// Adds the user's allow and block lists to the site-wide ones already in `sender`. The user's
/// entry wins over the same entry in the site's other list (a domain the site allows, the user
/// blocks); otherwise entries of both count, the most specific first (see `lists`).
fn merge_lists(sender: &mut SenderSettings, (allow, block): (AddressList, AddressList)) {
    sender.allow.entries.retain(|e| !block.entries.contains(e));
    sender.block.entries.retain(|e| !allow.entries.contains(e));
    sender.allow.entries.extend(allow.entries);
    sender.block.entries.extend(block.entries);
}

impl Settings {
    /// The database: files in `db_dir`, the tokens in Redis with `[store] redis`.
    pub fn database(&self) -> crate::store::Database {
        crate::store::Database::with_store(&self.db_dir, self.redis.as_ref())
    }

    /// False when `load_for_delivery` found no database directory (no `--db`, no home directory):
    /// the filter then scores with the rules and the starter table, and says so.
    pub fn has_db_dir(&self) -> bool {
        !self.db_dir.as_os_str().is_empty()
    }
}

/// Reads an allow or block list; a missing file (or none, an empty path) is an empty list.
pub fn load_list(path: &Path, what: &str) -> Result<AddressList> {
    if path.as_os_str().is_empty() {
        return Ok(AddressList::default());
    }
    match files::read_setting(path, files::LIST_CAP) {
        Ok(text) => AddressList::parse(&text).with_context(|| format!("bad {what} {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AddressList::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read the {what} {}", path.display())),
    }
}

/// Reads a list file leniently: the good lines, and each bad line (or an unreadable file) as a
/// problem. A missing file is an empty list.
fn read_lenient<T: Default>(
    path: &Path,
    problems: &mut Vec<Problem>,
    parse: impl Fn(&str) -> (T, Vec<(usize, String)>),
) -> T {
    if path.as_os_str().is_empty() {
        return T::default();
    }
    match files::read_setting(path, files::LIST_CAP) {
        Ok(text) => {
            let (value, bad) = parse(&text);
            problems.extend(
                bad.into_iter().map(|(line, msg)| Problem::new(path, Some(line), format!("{msg} (line ignored)"))),
            );
            value
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => T::default(),
        Err(e) => {
            problems.push(Problem::new(path, None, format!("cannot read: {e} (not used)")));
            T::default()
        }
    }
}

/// The URI blocklist read when the config file does not name one (if it exists).
pub fn default_uri_blocklist() -> Option<PathBuf> {
    config_dir().map(|d| d.join("uri-blocklist.txt"))
}

/// Reads a URI blocklist: one domain per line (`evil.example` also blocks `a.b.evil.example`),
/// `#` starts a comment. A line that is not a domain is an error with its line number.
pub fn load_uri_blocklist(path: &Path) -> Result<std::collections::HashSet<String>> {
    let text = files::read_setting(path, files::LIST_CAP)
        .with_context(|| format!("cannot read URI blocklist {}", path.display()))?;
    parse_uri_blocklist(&text).with_context(|| format!("bad URI blocklist {}", path.display()))
}

/// Parses the text of a URI blocklist.
pub fn parse_uri_blocklist(text: &str) -> Result<std::collections::HashSet<String>> {
    let (out, bad) = parse_uri_blocklist_lenient(text);
    if let Some((line, msg)) = bad.into_iter().next() {
        anyhow::bail!("line {line}: {msg}");
    }
    Ok(out)
}

/// Parses the text of a URI blocklist: the good lines, and each bad one's number and problem.
pub fn parse_uri_blocklist_lenient(text: &str) -> (std::collections::HashSet<String>, Vec<(usize, String)>) {
    let mut out = std::collections::HashSet::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let d = line.split('#').next().unwrap_or("").trim().trim_start_matches("*.").trim_end_matches('.');
        if d.is_empty() {
            continue;
        }
        let ok = d.contains('.')
            && d.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if ok {
            out.insert(d.to_ascii_lowercase());
        } else {
            bad.push((i + 1, format!("{d:?} is not a domain name")));
        }
    }
    (out, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Settings {
        Settings {
            db_dir: PathBuf::from("/nonexistent"),
            config_file: None,
            site_config_file: None,
            scoring: ScoringSettings::default(),
            tokenizer: TokenizerSettings::default(),
            rules: RuleSettings::default(),
            sender: SenderSettings { ip_expire_days: 30, ..SenderSettings::default() },
            allow_list: PathBuf::from("/nonexistent/allow.txt"),
            block_list: PathBuf::from("/nonexistent/block.txt"),
            policy: crate::policy::PolicySettings::default(),
            subject_tag: None,
            redis: None,
            redis_password_file: None,
        }
    }

    /// Issue 15: `required_score = nan` was accepted and nothing was ever spam.
    #[test]
    fn numbers_must_be_finite() {
        for (text, key) in [
            ("required_score = nan\n", "required_score"),
            ("required_score = -inf\n", "required_score"),
            ("bayes_points_knee = +inf\n", "bayes_points_knee"),
            ("[scores]\nHTML_SCRIPT = nan\n", "scores.HTML_SCRIPT"),
            ("[bayes]\nstrength = inf\n", "bayes.strength"),
            ("[[rule]]\nname = \"A\"\nscore = nan\nbody = 'x'\n", "rule[0].score"),
        ] {
            let e = format!("{:#}", base().apply(text).unwrap_err());
            assert!(e.starts_with(&format!("{key}: ")) && e.contains("not a number"), "{text:?}: {e}");
        }
        base().apply("required_score = 6.5\n[scores]\nHTML_SCRIPT = -1e3\n").unwrap();
    }

    #[test]
    fn the_content_rules_weight_is_read_and_bounded() {
        let mut s = base();
        assert_eq!(s.scoring.rules_trained_weight, 0.7);
        s.apply("rules_trained_weight = 1\n").unwrap();
        assert_eq!(s.scoring.rules_trained_weight, 1.0);
        s.apply("rules_trained_weight = 0.25\n").unwrap();
        assert_eq!(s.scoring.rules_trained_weight, 0.25);
        for bad in ["-0.1", "1.5"] {
            let e = format!("{:#}", base().apply(&format!("rules_trained_weight = {bad}\n")).unwrap_err());
            assert!(e.contains("rules_trained_weight must be in [0, 1]"), "{bad}: {e}");
        }
        let e = format!("{:#}", base().apply("rules_trained_weight = nan\n").unwrap_err());
        assert!(e.starts_with("rules_trained_weight: ") && e.contains("not a number"), "{e}");
    }

    #[test]
    fn sender_settings() {
        let mut s = base();
        s.apply(
            "trusted_networks = [\"203.0.113.0/24\"]\nhoneypots = [\"oud@mijn.be\", \"@lokaas.be\"]\n\
             authserv_id = \"mx.mijn.be\"\nallow_requires_auth = true\nip_expire_days = 10\n\
             dns = { resolver = \"127.0.0.1:53\", dnsbl = [\"zen.example\"] }\n",
        )
        .unwrap();
        assert!(s.sender.trusted.contains("203.0.113.9".parse().unwrap()));
        assert!(s.sender.trusted.contains("127.0.0.1".parse().unwrap()));
        assert_eq!(s.sender.honeypots.entries.len(), 2);
        assert_eq!(s.sender.ip_expire_days, 10);
        let dns = s.sender.dns.as_ref().unwrap();
        assert_eq!(dns.timeout_ms, 1500);
        assert!(dns.ptr);
        for (bad, says) in [
            ("trusted_networks = [\"10.0.0.0/40\"]", "prefix length"),
            ("honeypots = [\"nobody\"]", "\"nobody\""),
            ("allow_requires_auth = true", "authserv_id"),
            ("dns = { resolver = \"localhost\" }", "dns"),
            ("dns = { resolver = \"127.0.0.1:53\", timeout_ms = 0 }", "timeout_ms"),
        ] {
            let err = format!("{:#}", base().apply(bad).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn subject_tag() {
        let mut s = base();
        assert_eq!(s.subject_tag, None, "off by default");
        s.apply("subject_tag = \" [SPAM] \"\n").unwrap();
        assert_eq!(s.subject_tag.as_deref(), Some("[SPAM]"));
        s.apply("subject_tag = \"\"\n").unwrap();
        assert_eq!(s.subject_tag, None);
        for bad in ["subject_tag = \"[SPAM]\\nBcc: x\"", "subject_tag = \"[SPÄM]\"", "subject_tag = 1"] {
            assert!(format!("{:#}", base().apply(bad).unwrap_err()).contains("subject_tag"), "{bad}");
        }
    }

    #[test]
    fn applies_values() {
        let mut s = base();
        s.apply("required_score = 6.5\n[bayes]\nmax_clues = 50\n").unwrap();
        assert_eq!(s.scoring.required_score, 6.5);
        assert_eq!(s.scoring.bayes.max_clues, 50);
        assert_eq!(s.scoring.bayes.strength, BayesParams::default().strength);
    }

    #[test]
    fn unknown_key_is_an_error_with_position() {
        let err = base().apply("requred_score = 6.5\n").unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("requred_score") && msg.contains("line 1"), "{msg}");
    }

    /// Newcomer's pass: `resolver = "127.0.0.1"` (as resolv.conf names one) was "invalid socket
    /// address syntax". A bare IP is now port 53; anything else says what is wanted.
    #[test]
    fn a_dns_resolver_is_ip_and_port_or_a_bare_ip() {
        let dns = |v: &str| {
            let mut s = base();
            s.apply(&format!("dns = {{ resolver = \"{v}\" }}\n")).map(|_| s.sender.dns.unwrap().resolver.to_string())
        };
        assert_eq!(dns("127.0.0.1:5353").unwrap(), "127.0.0.1:5353");
        assert_eq!(dns("127.0.0.1").unwrap(), "127.0.0.1:53");
        assert_eq!(dns("::1").unwrap(), "[::1]:53");
        assert_eq!(dns("[::1]:5353").unwrap(), "[::1]:5353");
        let err = format!("{:#}", dns("localhost:53").unwrap_err());
        assert!(err.contains("`localhost:53` is not a resolver address: write IP:PORT or an IP"), "{err}");
    }

    #[test]
    fn explicit_missing_config_is_an_error() {
        let err = Settings::load(Some(Path::new("/tmp")), Some(Path::new("/nonexistent/spamfilt.toml"))).unwrap_err();
        assert!(format!("{err:#}").contains("cannot read config file"));
    }

    #[test]
    fn scores_and_custom_rules() {
        let mut s = base();
        s.apply("[scores]\nHTML_SCRIPT = 0\n[[rule]]\nname = \"MY_SUBJECT\"\nscore = 2.0\nheader = \"Subject\"\npattern = 'cheap'\n").unwrap();
        assert_eq!(s.rules.scores["HTML_SCRIPT"], 0.0);
        let err = base().apply("[scores]\nNO_SUCH_RULE = 1\n").unwrap_err();
        assert!(format!("{err:#}").contains("NO_SUCH_RULE"), "{err:#}");
        let err = base().apply("[[rule]]\nname = \"BAD\"\nscore = 1\nbody = '(unclosed'\n").unwrap_err();
        assert!(format!("{err:#}").contains("rule BAD: bad regex"), "{err:#}");
    }

    #[test]
    fn uri_blocklist_lines() {
        let l = parse_uri_blocklist("# spammers\nevil.example\n*.Bad.Example.  # wildcard\n\n").unwrap();
        assert!(l.contains("evil.example") && l.contains("bad.example"));
        let err = parse_uri_blocklist("ok.example\nnot a domain\n").unwrap_err();
        assert!(format!("{err:#}").contains("line 2"));
    }
}
