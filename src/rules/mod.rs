//! Content rules: named checks that each add points when they fire.
//!
//! A rule is data (name, family, description, score, and what it looks at) plus, for what a
//! regex cannot see, a built-in check written in Rust (`checks`). The default set is
//! `data/rules.toml`, embedded in the binary; the config file overrides scores (`[scores]`,
//! 0 disables a rule) and adds custom rules (`[[rule]]`) of the same shape.
//!
//! Cost: the rule set is compiled once per process. Keyword rules are phrase lists matched
//! word by word (case-insensitive, whole words) through one index keyed by each phrase's first
//! word, over the subject and the body text (one hash lookup per word of text). The default set
//! has no regex rules (compiling a regex costs more than scoring a message, on every delivery);
//! custom regex rules are compiled at load time, so that a bad one is an error then. They use
//! regex-lite: linear in the text whatever the pattern (O(pattern × text)), ASCII case folding
//! and ASCII `\w \d \s`, no Unicode classes.

/// What a name that looks like a rule in `tests=` but is none is, for the error that refuses it
/// as a score (`[scores]`, `import-sa`'s `score` lines): SpamAssassin users set `BAYES_99`'s
/// score there (newcomer's pass: "there is no rule called BAYES_99" said nothing of where
/// Bayes's weight is). Empty for any other name.
pub fn not_a_rule(name: &str) -> &'static str {
    if name.starts_with("BAYES_") {
        "; BAYES_* in tests= names the band Bayes's spam probability fell in: its weight in the score is \
         bayes_points_per_decade (and the knees bayes_points_knee, bayes_ham_points_knee)"
    } else if name.starts_with("LR_") {
        "; LR_* in tests= names the band the second classifier's spam probability fell in: its weight in the score \
         is points_per_decade in [lr]"
    } else if name == "SPAMFILT_DEGRADED" {
        "; SPAMFILT_DEGRADED marks a message scored without part of its config or databases (0.001 points, \
         always)"
    } else {
        ""
    }
}

pub mod checks;
pub mod context;
pub mod phrases;
pub mod words;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use anyhow::{bail, Context as _, Result};
use regex_lite::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

pub use context::Context;

use crate::verdict::Hit;

/// The default rule set as written (turned into `BUILT_IN` and `BUILT_IN_PHRASES` by build.rs).
#[cfg(test)]
const DEFAULT_RULES: &str = include_str!("../../data/rules.toml");

/// What a rule is about (for listing and reporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Links to spammer sites and link tricks.
    Uri,
    /// Remote elements that tell the sender the mail was read.
    Tracking,
    /// Scripts, frames, forms and dangerous attachments.
    Active,
    /// Forged or broken construction: headers, dates, MIME.
    Construction,
    /// Keywords and phrases, English and Dutch.
    Keywords,
    /// Hiding words from the reader or from filters.
    Obfuscation,
    /// Who sent it: the user's lists, honeypots, the sending relay's reputation and DNS.
    Sender,
    /// Rules from the user's config file.
    Custom,
}

impl Family {
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Uri => "uri",
            Family::Tracking => "tracking",
            Family::Active => "active",
            Family::Construction => "construction",
            Family::Keywords => "keywords",
            Family::Obfuscation => "obfuscation",
            Family::Sender => "sender",
            Family::Custom => "custom",
        }
    }
}

/// Where a phrase list is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Subject,
    Body,
}

/// A rule as written in `data/rules.toml` or the config file (`[[rule]]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default = "custom_family")]
    pub family: Family,
    #[serde(default)]
    pub description: String,
    pub score: f64,
    /// A built-in check (see `checks::by_name`).
    pub check: Option<String>,
    /// Whole-word phrases (ASCII case-insensitive) looked for in `scope`.
    pub phrases: Option<Vec<String>>,
    /// How many different phrases must occur (default 1).
    pub min_phrases: Option<usize>,
    pub scope: Option<Scope>,
    /// A header field (`ALL`: the whole raw header block) whose decoded value `pattern` is
    /// matched against.
    pub header: Option<String>,
    /// The regex for a `header` rule.
    pub pattern: Option<String>,
    /// A regex on the decoded body text (text parts and the visible text of HTML parts).
    pub body: Option<String>,
    /// A regex on the raw body (still encoded, HTML tags in).
    pub raw_body: Option<String>,
    /// A regex on every URL in the message (as written).
    pub uri: Option<String>,
    /// A built-in rule's score set by hand, not fitted (data/rules.toml; not for custom rules).
    #[serde(default)]
    pub prior: bool,
}

fn custom_family() -> Family {
    Family::Custom
}

/// A default rule, as build.rs writes it from data/rules.toml.
pub(crate) struct BuiltIn {
    pub name: &'static str,
    pub family: Family,
    pub description: &'static str,
    pub score: f64,
    /// A score set by hand (`prior = true` in data/rules.toml: the corpus never fires the rule).
    pub prior: bool,
    pub test: BuiltInTest,
}

/// What a default rule tests: a built-in check, or phrases (indexed in `BUILT_IN_PHRASES`).
pub(crate) enum BuiltInTest {
    Check(&'static str),
    #[cfg_attr(not(test), allow(dead_code))]
    Phrases {
        scope: Scope,
        min: usize,
        list: &'static [&'static str],
    },
}

include!(concat!(env!("OUT_DIR"), "/default_rules.rs"));

/// What a compiled rule tests.
enum Test {
    Check(checks::Check),
    /// A check whose hit scores a fraction (0..1] of the rule's score.
    Weighted(checks::Weighted),
    /// Phrases, found through the keyword indexes (`BUILT_IN_PHRASES`, `RuleSet::phrases`).
    Phrases {
        scope: Scope,
        min: usize,
    },
    Regex {
        target: RegexTarget,
        regex: Regex,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RegexTarget {
    Header(String),
    AllHeaders,
    Body,
    RawBody,
    Uri,
}

/// One compiled rule.
pub struct Rule {
    pub name: Cow<'static, str>,
    pub family: Family,
    pub description: Cow<'static, str>,
    pub score: f64,
    /// The score before the user's `[scores]` override.
    pub default_score: f64,
    /// Whether its points for spam give way as the user trains (`RuleSet::evaluate_weighted`):
    /// a built-in content rule whose score was fitted on the corpus and not set in `[scores]`.
    pub weighed: bool,
    test: Test,
}

impl Rule {
    /// What the rule looks at, for `spamfilt rules`.
    pub fn kind(&self) -> String {
        match &self.test {
            Test::Check(_) => "check".into(),
            Test::Weighted(_) => "check (graded)".into(),
            Test::Phrases { scope: Scope::Subject, .. } => "subject phrases".into(),
            Test::Phrases { scope: Scope::Body, .. } => "body phrases".into(),
            Test::Regex { target, .. } => match target {
                RegexTarget::Header(h) => format!("header {h}"),
                RegexTarget::AllHeaders => "header ALL".into(),
                RegexTarget::Body => "body regex".into(),
                RegexTarget::RawBody => "raw body regex".into(),
                RegexTarget::Uri => "uri regex".into(),
            },
        }
    }
}

/// What the config file says about rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSettings {
    /// Score overrides by rule name (0 disables).
    pub scores: BTreeMap<String, f64>,
    /// Custom rules.
    pub custom: Vec<RuleSpec>,
    /// Registrable domains of spammer sites (`URI_BLOCKLISTED`).
    pub uri_blocklist: HashSet<String>,
}

#[cfg(test)]
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    rule: Vec<RuleSpec>,
}

/// The compiled rule set.
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// The phrases of custom phrase rules, indexed by their first word (the default rules'
    /// phrases are in `BUILT_IN_PHRASES`).
    phrases: phrases::PhraseIndex,
    pub uri_blocklist: HashSet<String>,
    /// The length of the blocklist's longest entry (0 when empty), worked out once here, not
    /// per message: a host's parent domains longer than it are never looked up.
    pub uri_blocklist_longest: usize,
}

impl RuleSet {
    /// The default rules with the user's overrides and custom rules. A bad custom rule or an
    /// override of a rule that does not exist is an error naming it.
    pub fn load(settings: &RuleSettings) -> Result<RuleSet> {
        let mut rules = Vec::with_capacity(BUILT_IN.len() + settings.custom.len());
        for b in BUILT_IN {
            rules.push(Rule::built_in(b)?);
        }
        let mut custom_phrases = Vec::new();
        for spec in &settings.custom {
            if spec.check.is_some() {
                bail!(
                    "custom rule {}: `check` names built-in Rust checks; use header, body, raw_body or uri",
                    spec.name
                );
            }
            if spec.prior {
                bail!(
                    "custom rule {}: `prior` marks a built-in rule's hand-set score; a custom rule keeps its score as written",
                    spec.name
                );
            }
            let rule = compile_custom(spec).context("bad custom rule in the config file")?;
            if rules.iter().any(|r| r.name == spec.name.as_str()) {
                bail!(
                    "rule {} is defined twice (a custom rule cannot reuse a built-in name; set its score in [scores])",
                    spec.name
                );
            }
            if let Some(list) = &spec.phrases {
                custom_phrases.extend(list.iter().map(|p| (rules.len(), p.as_str())));
            }
            rules.push(rule);
        }
        for (name, score) in &settings.scores {
            let Some(r) = rules.iter_mut().find(|r| r.name == name.as_str()) else {
                bail!("[scores]: there is no rule called {name} (see `spamfilt rules`){}", not_a_rule(name));
            };
            if !score.is_finite() {
                bail!("[scores]: the score of {name} must be a number");
            }
            r.score = *score;
            r.weighed = false;
        }
        let phrases = phrases::PhraseIndex::build(custom_phrases);
        let uri_blocklist_longest = settings.uri_blocklist.iter().map(String::len).max().unwrap_or(0);
        Ok(RuleSet { rules, phrases, uri_blocklist: settings.uri_blocklist.clone(), uri_blocklist_longest })
    }

    /// Runs every rule with a non-zero score on a message; the hits, in rule order.
    pub fn evaluate(&self, cx: &Context) -> Vec<Hit> {
        self.evaluate_weighted(cx, 1.0)
    }

    /// Evaluates every rule, with the points for spam of the rules that give way to training
    /// ([`Rule::weighed`]: built-in content rules with fitted scores, not set in `[scores]`)
    /// times `content_weight` (see `verdict::content_rules_weight`).
    pub fn evaluate_weighted(&self, cx: &Context, content_weight: f64) -> Vec<Hit> {
        self.evaluate_weighted_and_full(cx, content_weight).0
    }

    /// [`RuleSet::evaluate_weighted`], and the points the same hits have in full (weight 1):
    /// what the rules score alone, as [`RuleSet::evaluate`] sums them (`spamfilt eval`'s rules
    /// column, beside the weighed points in the fused score).
    pub fn evaluate_weighted_and_full(&self, cx: &Context, content_weight: f64) -> (Vec<Hit>, f64) {
        let mut in_full = 0.0;
        let mut weigh = |r: &Rule, score: f64| -> f64 {
            in_full += score;
            if content_weight != 1.0 && r.weighed && score > 0.0 {
                (score * content_weight * 1000.0).round() / 1000.0
            } else {
                score
            }
        };
        let mut fired = vec![false; self.rules.len()];
        {
            // Distinct phrases found per rule, in the scope the rule looks at.
            let mut found: Vec<Vec<usize>> = vec![Vec::new(); self.rules.len()];
            for (scope, text) in [(Scope::Subject, cx.subject.as_str()), (Scope::Body, cx.text.as_str())] {
                for index in [&BUILT_IN_PHRASES, &self.phrases] {
                    index.scan(text, |rule, phrase| {
                        if let Test::Phrases { scope: s, .. } = self.rules[rule].test {
                            if s == scope && !found[rule].contains(&phrase) {
                                found[rule].push(phrase);
                            }
                        }
                    });
                }
            }
            for (i, r) in self.rules.iter().enumerate() {
                if let Test::Phrases { min, .. } = r.test {
                    fired[i] = found[i].len() >= min;
                }
            }
        }
        let mut hits = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if r.score == 0.0 {
                continue;
            }
            let on = match &r.test {
                Test::Phrases { .. } => fired[i],
                Test::Check(c) => c(cx, self),
                Test::Weighted(w) => {
                    let x = w(cx).clamp(0.0, 1.0);
                    if x > 0.0 {
                        let score = (r.score * x * 1000.0).round() / 1000.0;
                        hits.push(r.hit(weigh(r, score)));
                    }
                    false
                }
                Test::Regex { target, regex } => regex_fires(cx, target, regex),
            };
            if on {
                hits.push(r.hit(weigh(r, r.score)));
            }
        }
        (hits, in_full)
    }
}

impl RuleSet {
    /// The hit of one rule by name, as if it had fired; `None` when it is disabled (score 0).
    pub fn hit_named(&self, name: &str) -> Option<Hit> {
        let r = self.rules.iter().find(|r| r.name == name)?;
        (r.score != 0.0).then(|| r.hit(r.score))
    }
}

/// The hit of a default rule by name with its default score (for `--no-rules` runs, where the
/// allow and block lists still decide).
pub fn default_hit(name: &str) -> Option<Hit> {
    BUILT_IN.iter().find(|b| b.name == name).map(|b| Hit {
        name: Cow::Borrowed(b.name),
        score: b.score,
        description: Cow::Borrowed(b.description),
    })
}

fn build_regex(source: &str) -> Result<Regex, regex_lite::Error> {
    RegexBuilder::new(source).case_insensitive(true).size_limit(1 << 20).build()
}

/// How much of one header field's value a custom `header` rule sees. A regex costs its compiled
/// size times the text's length, and `.{0,2000}` multiplies the size by 2,000: on a 500 KB
/// Subject such a rule took 1.7 s of CPU per delivery (attack report F17). No real field's value
/// is longer (folded Received and DKIM fields are a few hundred bytes); body rules see at most
/// `max_part_bytes` per part and `header ALL` the first 64 KiB of the header block.
pub const MAX_HEADER_RULE_TEXT: usize = 8 * 1024;

fn regex_fires(cx: &Context, target: &RegexTarget, re: &Regex) -> bool {
    let field = |t: &str| -> usize { t.floor_char_boundary(MAX_HEADER_RULE_TEXT) };
    let texts: Vec<&str> = match target {
        RegexTarget::Header(name) => cx.msg.headers_named(name).map(|h| &h.text[..field(&h.text)]).collect(),
        RegexTarget::AllHeaders => vec![cx.header_block()],
        RegexTarget::Body => vec![cx.text.as_str()],
        RegexTarget::RawBody => vec![cx.raw_body.as_ref()],
        RegexTarget::Uri => cx.urls.iter().map(|u| u.url.raw.as_str()).collect(),
    };
    texts.iter().any(|t| re.is_match(t))
}

/// A custom rule from the config file: phrases or a regex (checks are for default rules).
fn compile_custom(spec: &RuleSpec) -> Result<Rule> {
    let name = spec.name.clone();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') {
        bail!("rule name {name:?} must be UPPER_SNAKE_CASE (A-Z, 0-9, _)");
    }
    if !spec.score.is_finite() {
        bail!("rule {name}: score must be a number");
    }
    let kinds = [
        spec.check.is_some(),
        spec.phrases.is_some(),
        spec.header.is_some(),
        spec.body.is_some(),
        spec.raw_body.is_some(),
        spec.uri.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        bail!("rule {name}: give exactly one of check, phrases, header, body, raw_body or uri");
    }
    let test = if let Some(p) = &spec.phrases {
        if p.is_empty() || p.iter().any(|p| p.trim().is_empty()) {
            bail!("rule {name}: phrases must be non-empty");
        }
        let min = spec.min_phrases.unwrap_or(1);
        if min == 0 || min > p.len() {
            bail!("rule {name}: min_phrases must be between 1 and the number of phrases");
        }
        if let Some(bad) = p.iter().find(|p| words::split_phrase(p).is_none()) {
            bail!("rule {name}: phrase {bad:?} has no words");
        }
        Test::Phrases { scope: spec.scope.unwrap_or(Scope::Body), min }
    } else {
        let (target, source) = if let Some(h) = &spec.header {
            let t = if h == "ALL" { RegexTarget::AllHeaders } else { RegexTarget::Header(h.clone()) };
            (t, spec.pattern.clone().with_context(|| format!("rule {name}: a header rule needs a pattern"))?)
        } else if let Some(b) = &spec.body {
            (RegexTarget::Body, b.clone())
        } else if let Some(b) = &spec.raw_body {
            (RegexTarget::RawBody, b.clone())
        } else {
            (RegexTarget::Uri, spec.uri.clone().unwrap_or_default())
        };
        let regex = build_regex(&source).map_err(|e| anyhow::anyhow!("rule {name}: bad regex: {e}"))?;
        Test::Regex { target, regex }
    };
    if spec.pattern.is_some() && spec.header.is_none() {
        bail!("rule {name}: pattern goes with header; body, raw_body and uri take the regex directly");
    }
    Ok(Rule {
        name: Cow::Owned(name),
        family: Family::Custom,
        description: Cow::Owned(spec.description.clone()),
        score: spec.score,
        default_score: spec.score,
        weighed: false,
        test,
    })
}

impl Rule {
    /// A default rule; its check must exist.
    fn built_in(b: &BuiltIn) -> Result<Rule> {
        let test = match b.test {
            BuiltInTest::Check(c) => match (checks::by_name(c), checks::weighted_by_name(c)) {
                (Some(check), _) => Test::Check(check),
                (None, Some(w)) => Test::Weighted(w),
                (None, None) => bail!("rule {}: no built-in check called {c:?}", b.name),
            },
            BuiltInTest::Phrases { scope, min, .. } => Test::Phrases { scope, min },
        };
        Ok(Rule {
            name: Cow::Borrowed(b.name),
            family: b.family,
            description: Cow::Borrowed(b.description),
            score: b.score,
            default_score: b.score,
            weighed: !b.prior && !matches!(b.family, Family::Sender | Family::Custom),
            test,
        })
    }

    fn hit(&self, score: f64) -> Hit {
        Hit { name: self.name.clone(), score, description: self.description.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_used() {
        let file: RuleFile = toml::from_str(DEFAULT_RULES).unwrap();
        for (name, _) in checks::ALL {
            assert!(file.rule.iter().any(|r| r.check.as_deref() == Some(name)), "check {name} is unused");
        }
    }

    #[test]
    fn generated_defaults_match_the_rules_file() {
        let file: RuleFile = toml::from_str(DEFAULT_RULES).unwrap();
        assert_eq!(file.rule.len(), BUILT_IN.len());
        for (spec, b) in file.rule.iter().zip(BUILT_IN) {
            assert_eq!((spec.name.as_str(), spec.family, spec.description.as_str()), (b.name, b.family, b.description));
            assert_eq!(spec.score, b.score, "{}", b.name);
            assert_eq!(spec.prior, b.prior, "{}", b.name);
            match &b.test {
                BuiltInTest::Check(c) => assert_eq!(spec.check.as_deref(), Some(*c), "{}", b.name),
                BuiltInTest::Phrases { scope, min, list } => {
                    assert_eq!(spec.phrases.as_deref().unwrap_or_default(), *list, "{}", b.name);
                    assert_eq!((spec.scope.unwrap_or(Scope::Body), spec.min_phrases.unwrap_or(1)), (*scope, *min));
                }
            }
        }
    }

    /// build.rs indexes the default phrases ahead of time; the filter must find them exactly as
    /// an index built at run time from the same lists would.
    #[test]
    fn the_built_in_phrase_index_is_the_one_the_lists_give() {
        let pairs = BUILT_IN.iter().enumerate().flat_map(|(i, b)| match b.test {
            BuiltInTest::Phrases { list, .. } => list.iter().map(move |p| (i, *p)).collect::<Vec<_>>(),
            BuiltInTest::Check(_) => Vec::new(),
        });
        let runtime = phrases::PhraseIndex::build(pairs);
        assert_eq!(runtime.parts(), BUILT_IN_PHRASES.parts());
        assert!(!BUILT_IN_PHRASES.is_empty());
    }

    #[test]
    fn overrides_and_custom_rules() {
        let custom: RuleFile = toml::from_str(
            "[[rule]]\nname = \"MY_CHEAP\"\nscore = 2.5\ndescription = \"cheap\"\nheader = \"Subject\"\npattern = 'che+ap'\n\
             [[rule]]\nname = \"MY_TWO\"\nscore = 1\nphrases = [\"unique offer\", \"act now\", \"zebra\"]\nmin_phrases = 2\n\
             [[rule]]\nname = \"MY_THREE\"\nscore = 1\nphrases = [\"unique offer\", \"act now\", \"zebra\"]\nmin_phrases = 3\n\
             [[rule]]\nname = \"MY_SUBJECT\"\nscore = 1\nscope = \"subject\"\nphrases = [\"act now\"]\n",
        )
        .unwrap();
        let settings = RuleSettings {
            scores: [("HTML_SCRIPT".to_string(), 0.0), ("MISSING_DATE".to_string(), 3.0)].into(),
            custom: custom.rule,
            ..RuleSettings::default()
        };
        let rs = RuleSet::load(&settings).unwrap();
        let get = |n: &str| rs.rules.iter().find(|r| r.name == n).unwrap();
        assert_eq!(get("HTML_SCRIPT").score, 0.0);
        assert_eq!(get("MISSING_DATE").score, 3.0);
        assert_eq!(get("MY_CHEAP").family, Family::Custom);
        let raw = b"Subject: Cheeeap stuff\nFrom: a@b.example\n\n<script>x</script> A UNIQUE offer: act now!\n";
        let msg = crate::message::Message::parse(raw, 1 << 20);
        let content = crate::features::Content::extract(&msg, &Default::default());
        let hits = rs.evaluate(&Context::new(&msg, &content));
        let names: Vec<&str> = hits.iter().map(|h| h.name.as_ref()).collect();
        assert!(names.contains(&"MY_CHEAP") && names.contains(&"MISSING_DATE"), "{names:?}");
        assert!(!names.contains(&"HTML_SCRIPT"));
        // Custom phrase rules, indexed at load time beside the built-in index.
        assert!(names.contains(&"MY_TWO") && !names.contains(&"MY_THREE"), "{names:?}");
        assert!(!names.contains(&"MY_SUBJECT"), "{names:?}");
    }

    /// Attack report F17: a custom header rule read the whole field however long (1.7 s of CPU
    /// for `.{0,2000}` on a 500 KB Subject). It reads the first `MAX_HEADER_RULE_TEXT` bytes.
    #[test]
    fn custom_header_rules_read_a_bounded_part_of_the_field() {
        let custom: RuleFile = toml::from_str(
            "[[rule]]\nname = \"MY_SUBJ\"\nscore = 1\nheader = \"Subject\"\npattern = 'free.{0,2000}money'\n",
        )
        .unwrap();
        let rs = RuleSet::load(&RuleSettings { custom: custom.rule, ..RuleSettings::default() }).unwrap();
        let fires = |subject: String| {
            let raw = format!("From: a@b.example\nSubject: {subject}\n\nhi\n");
            let msg = crate::message::Message::parse(raw.as_bytes(), 1 << 20);
            let content = crate::features::Content::extract(&msg, &Default::default());
            rs.evaluate(&Context::new(&msg, &content)).iter().any(|h| h.name == "MY_SUBJ")
        };
        let pad = |n: usize| "x".repeat(n);
        assert!(fires(format!("{}free lunch money", pad(MAX_HEADER_RULE_TEXT - 100))));
        assert!(!fires(format!("{}free lunch money", pad(MAX_HEADER_RULE_TEXT))));
        // Cut inside a character: no panic.
        assert!(!fires(format!("{}{}free money", pad(MAX_HEADER_RULE_TEXT - 1), "é".repeat(10))));
    }

    /// The weight of the content rules (`verdict::content_rules_weight`) scales the points for
    /// spam of the built-in content rules with fitted scores only: not a sender check, not a
    /// custom rule, not a score set by hand (`prior`: the user's URI blocklist, the attachment
    /// rules), not a score the user set in `[scores]`, even to its default value.
    #[test]
    fn the_content_weight_scales_fitted_built_in_content_points_only() {
        let custom: RuleFile =
            toml::from_str("[[rule]]\nname = \"MY_CHEAP\"\nscore = 2\nheader = \"Subject\"\npattern = 'che+ap'\n")
                .unwrap();
        let remove = BUILT_IN.iter().find(|b| b.name == "BODY_EN_REMOVE").unwrap().score;
        let settings = RuleSettings {
            scores: [("BODY_EN_REMOVE".to_string(), remove)].into(),
            custom: custom.rule,
            uri_blocklist: ["evil-shop.example".to_string()].into(),
        };
        let rs = RuleSet::load(&settings).unwrap();
        let raw = b"Subject: Cheeeap stuff\nFrom: a@b.example\n\nPlease click here. To be removed from this list reply remove. http://evil-shop.example/x\n";
        let msg = crate::message::Message::parse(raw, 1 << 20);
        let content = crate::features::Content::extract(&msg, &Default::default());
        let cx = Context::new(&msg, &content);
        let points = |w: f64| -> BTreeMap<String, f64> {
            rs.evaluate_weighted(&cx, w).into_iter().map(|h| (h.name.into_owned(), h.score)).collect()
        };
        let (full, weighed) = (points(1.0), points(0.7));
        assert_eq!(full, rs.evaluate(&cx).into_iter().map(|h| (h.name.into_owned(), h.score)).collect());
        let click = rs.rules.iter().find(|r| r.name == "BODY_EN_CLICK").unwrap().score;
        assert_eq!(full["BODY_EN_CLICK"], click);
        assert_eq!(weighed["BODY_EN_CLICK"], (click * 0.7 * 1000.0).round() / 1000.0, "{weighed:?}");
        for name in ["MY_CHEAP", "BODY_EN_REMOVE", "URI_BLOCKLISTED", "MISSING_DATE"] {
            assert!(full.contains_key(name), "{name} fires: {full:?}");
            assert_eq!(weighed.get(name), full.get(name), "{name}: {weighed:?}");
        }
        // Which rules give way: the fitted built-in content rules, and nothing else.
        for r in &rs.rules {
            let built_in = BUILT_IN.iter().find(|b| b.name == r.name);
            let fitted_content =
                built_in.is_some_and(|b| !b.prior && !matches!(b.family, Family::Sender | Family::Custom));
            let overridden = settings.scores.contains_key(r.name.as_ref());
            assert_eq!(r.weighed, fitted_content && !overridden, "{}", r.name);
        }
        for name in [
            "URI_BLOCKLISTED",
            "ATTACH_EXECUTABLE",
            "ATTACH_DOUBLE_EXT",
            "BODY_NL_ERFENIS",
            "RCVD_IN_DNSBL",
            "URI_IN_DNSBL",
        ] {
            assert!(!rs.rules.iter().find(|r| r.name == name).unwrap().weighed, "{name}");
        }
    }

    #[test]
    fn bad_rules_are_clear_errors() {
        let bad = |t: &str| {
            let f: RuleFile = toml::from_str(t).unwrap();
            let e = RuleSet::load(&RuleSettings { custom: f.rule, ..RuleSettings::default() }).err().unwrap();
            format!("{e:#}")
        };
        assert!(bad("[[rule]]\nname = \"lower\"\nscore = 1\nbody = 'x'\n").contains("UPPER_SNAKE"));
        assert!(bad("[[rule]]\nname = \"A\"\nscore = 1\nbody = '('\n").contains("bad regex"));
        assert!(bad("[[rule]]\nname = \"A\"\nscore = 1\n").contains("exactly one of"));
        assert!(bad("[[rule]]\nname = \"A\"\nscore = 1\nbody = 'x'\nprior = true\n").contains("hand-set"));
        assert!(bad("[[rule]]\nname = \"HTML_SCRIPT\"\nscore = 1\nbody = 'x'\n").contains("defined twice"));
        assert!(bad("[[rule]]\nname = \"A\"\nscore = 1\nheader = \"Subject\"\n").contains("needs a pattern"));
        // Unicode classes are not supported (regex-lite): an error naming the rule, not a rule
        // that silently never fires.
        let e = bad("[[rule]]\nname = \"GREEK\"\nscore = 1\nbody = '\\p{Greek}+'\n");
        assert!(e.contains("GREEK") && e.contains("bad regex"), "{e}");
    }

    #[test]
    fn phrases_match_whole_words_only() {
        let rs = RuleSet::load(&RuleSettings::default()).unwrap();
        let fire = |raw: &[u8]| {
            let msg = crate::message::Message::parse(raw, 1 << 20);
            let content = crate::features::Content::extract(&msg, &Default::default());
            rs.evaluate(&Context::new(&msg, &content)).into_iter().map(|h| h.name.into_owned()).collect::<Vec<_>>()
        };
        assert!(fire(b"Subject: Uw lening\n\nx\n").contains(&"SUBJ_NL_LENING".to_string()));
        assert!(!fire(b"Subject: Uw leningsoverzicht is klaar\n\nx\n").contains(&"SUBJ_NL_LENING".to_string()));
        assert!(fire(b"Subject: x\n\nPlease   CLICK\n  HERE now\n").contains(&"BODY_EN_CLICK".to_string()));
    }

    /// The From rules read the message's one parse of its addresses (`Message::addresses`):
    /// the comment form and a quoted local part have an address, a list's second address is
    /// not a display name.
    #[test]
    fn the_from_rules_read_the_parsed_addresses() {
        let rs = RuleSet::load(&RuleSettings::default()).unwrap();
        let fire = |head: &str| {
            let raw = format!("{head}\nSubject: x\n\nhi\n");
            let msg = crate::message::Message::parse(raw.as_bytes(), 1 << 20);
            let content = crate::features::Content::extract(&msg, &Default::default());
            rs.evaluate(&Context::new(&msg, &content)).into_iter().map(|h| h.name.into_owned()).collect::<Vec<_>>()
        };
        let has = |head: &str, rule: &str| fire(head).iter().any(|h| h == rule);
        assert!(!has("From: jm@jmason.org (Justin Mason)", "MISSING_FROM"));
        assert!(!has("From: \"sales@bol.com.br\"@dogma.example", "MISSING_FROM"));
        assert!(has("From: Justin Mason", "MISSING_FROM"));
        assert!(has("From: \"jan@bank.example\" <x@evil.example>", "FROM_NAME_HAS_ADDRESS"));
        assert!(!has("From: \"x@evil.example\" <X@Evil.example>", "FROM_NAME_HAS_ADDRESS"));
        assert!(!has("From: a@x.example, \"Inc.\" <b@y.example>", "FROM_NAME_HAS_ADDRESS"));
        assert!(has("From: u1234567@x.example (Jan)", "FROM_DIGITS_LOCALPART"));
        let rt = "From: jan@klant.example (Jan)\nReply-To: \"Jan\" <jan@hotmail.com>";
        assert!(has(rt, "REPLYTO_FREEMAIL_DIFFERS"));
        assert!(!has("From: jan@hotmail.com (Jan)\nReply-To: jan@hotmail.com (Jan)", "REPLYTO_FREEMAIL_DIFFERS"));
    }
}
