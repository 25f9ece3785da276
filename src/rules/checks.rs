//! Built-in checks: what a regex cannot see (HTML structure, URL anatomy, MIME construction,
//! dates, scripts of characters). Each is a pure function of the message context; rules in
//! `data/rules.toml` name them with `check = "..."`.

use std::collections::HashSet;

use super::context::{Context, UrlSource};
use super::RuleSet;
use crate::features::urls;
use crate::features::PartContent;
use crate::hash::phrase_word_hash;
use crate::message::Body;
use crate::received::{self, Rdns};
use crate::sender::ListVerdict;

mod construction;
mod links;
mod patterns;
mod tables;
mod text;

use construction::*;
use links::*;
use patterns::*;
use tables::*;
use text::*;

/// A built-in check.
pub type Check = fn(&Context, &RuleSet) -> bool;

/// A graded check: how strongly it applies, from 0 (not at all) to 1 (the rule's full score).
pub type Weighted = fn(&Context) -> f64;

/// Graded checks by name.
pub const WEIGHTED: &[(&str, Weighted)] = &[
    ("ip_spam_source", |c| c.sender.map_or(0.0, |s| s.ip_weight)),
    ("learned_sender", |c| c.sender.map_or(0.0, crate::sender::learned_sender_weight)),
];

pub fn weighted_by_name(name: &str) -> Option<Weighted> {
    WEIGHTED.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Every built-in check by name.
pub const ALL: &[(&str, Check)] = &[
    // Sender (facts gathered by `sender::gather`; the lists themselves decide before rules run)
    ("allowlisted", |c, _| c.sender.is_some_and(|s| matches!(s.list, Some(ListVerdict::Allow { .. })))),
    ("blocklisted", |c, _| c.sender.is_some_and(|s| matches!(s.list, Some(ListVerdict::Block { .. })))),
    ("honeypot", |c, _| c.sender.is_some_and(|s| s.honeypot.is_some())),
    ("honeypot_cc", |c, _| c.sender.is_some_and(|s| s.honeypot_named.is_some())),
    ("known_correspondent", |c, _| c.sender.is_some_and(|s| s.known_correspondent)),
    ("rcvd_in_dnsbl", |c, _| c.sender.is_some_and(|s| !s.dnsbl.is_empty())),
    ("uri_in_dnsbl", |c, _| c.sender.is_some_and(|s| !s.uribl.is_empty())),
    ("rdns_none", |c, _| c.sender.is_some_and(|s| s.rdns == Some(Rdns::Missing))),
    ("rdns_dynamic", |c, _| {
        c.sender.is_some_and(|s| match (&s.rdns, &s.relay) {
            (Some(Rdns::Name(n)), Some(r)) => received::looks_dynamic(n, r.ip),
            _ => false,
        })
    }),
    ("helo_bare_ip", |c, _| {
        c.sender
            .and_then(|s| s.relay.as_ref())
            .and_then(|r| r.helo.as_deref())
            .is_some_and(|h| received::helo_ip(h).is_some())
    }),
    ("helo_not_fqdn", |c, _| {
        c.sender
            .and_then(|s| s.relay.as_ref())
            .and_then(|r| r.helo.as_deref())
            .is_some_and(|h| received::helo_ip(h).is_none() && !h.contains('.'))
    }),
    ("helo_mismatch", |c, _| {
        c.sender.is_some_and(|s| s.relay.as_ref().is_some_and(|r| crate::sender::helo_mismatch(r, s.rdns.as_ref())))
    }),
    // Links
    ("uri_click_php_id", |c, _| c.urls.iter().any(|u| script_with_long_id(&u.url.raw))),
    ("uri_exe_download", |c, _| c.urls.iter().any(|u| links_executable(&u.url.raw))),
    ("uri_blocklisted", |c, rs| c.urls.iter().any(|u| !u.url.domain.is_empty() && blocklisted(&u.url.host, rs))),
    ("uri_ip_literal", |c, _| c.urls.iter().any(|u| u.url.host_is_ip && u.source != UrlSource::Image)),
    ("uri_userinfo", |c, _| c.urls.iter().any(|u| u.url.has_userinfo && u.url.scheme.starts_with("http"))),
    ("uri_shortener", |c, _| c.urls.iter().any(|u| SHORTENERS.contains(&u.url.host.trim_start_matches("www.")))),
    ("uri_text_mismatch", |c, _| c.urls.iter().any(link_text_mismatch)),
    ("uri_many_domains", uri_many_domains),
    ("uri_encoded_host", |c, _| c.urls.iter().any(|u| u.url.host_was_encoded)),
    ("uri_encoded_letters", |c, _| c.urls.iter().any(|u| encoded_letters(&u.url.raw) >= 3)),
    ("uri_odd_port", |c, _| {
        c.urls.iter().any(|u| u.url.scheme.starts_with("http") && u.url.port.is_some_and(|p| p != 80 && p != 443))
    }),
    ("uri_obfuscated_ip", |c, _| c.urls.iter().any(|u| u.url.host_is_ip && !is_dotted_quad(&u.url.host))),
    ("uri_suspicious_tld", |c, _| {
        c.urls.iter().any(|u| u.url.host.rsplit('.').next().is_some_and(|t| SUSPICIOUS_TLDS.contains(&t)))
    }),
    ("uri_digit_host", |c, _| c.urls.iter().any(|u| !u.url.host_is_ip && digit_heavy_host(&u.url.host))),
    ("uri_redirector", |c, _| c.urls.iter().any(|u| redirector(&u.url))),
    ("uri_mailto_remove", |c, _| {
        c.urls.iter().any(|u| {
            u.url.scheme == "mailto" && {
                let l = u.url.raw.to_ascii_lowercase();
                l.contains("remove") || l.contains("unsubscribe") || l.contains("afmelden")
            }
        }) && c.urls.iter().all(|u| u.url.scheme == "mailto" || !u.url.raw.to_ascii_lowercase().contains("unsubscribe"))
    }),
    ("uri_free_hosting", |c, _| c.urls.iter().any(|u| free_hosting(&u.url.host))),
    // Tracking
    ("html_remote_image", |c, _| {
        c.urls.iter().any(|u| u.source == UrlSource::Image && u.url.scheme.starts_with("http"))
    }),
    ("html_web_bug", |c, _| c.html().any(|d| d.images.iter().any(|i| i.hidden && i.src.contains("://")))),
    ("html_tracking_query", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Image && tracking_query(&u.url))),
    ("html_css_remote", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Css && u.url.scheme.starts_with("http"))),
    ("html_image_only", |c, _| {
        c.html().any(|d| !d.images.is_empty())
            && c.text.chars().filter(|&ch| crate::features::chars::is_alphabetic(ch)).take(200).count() < 200
    }),
    ("html_many_images", |c, _| c.urls.iter().filter(|u| u.source == UrlSource::Image).count() >= 8),
    ("html_image_ip", |c, _| c.urls.iter().any(|u| u.source == UrlSource::Image && u.url.host_is_ip)),
    // Active content
    ("html_script", |c, _| c.html().any(|d| d.scripts > 0)),
    ("html_iframe", |c, _| c.html().any(|d| d.iframes > 0)),
    ("html_object", |c, _| c.html().any(|d| d.objects > 0)),
    ("html_form", |c, _| c.html().any(|d| d.forms > 0)),
    ("html_meta_refresh", |c, _| c.html().any(|d| d.meta_refresh)),
    ("html_event_handler", |c, _| c.html().any(|d| d.event_handlers > 0)),
    ("uri_javascript", |c, _| c.urls.iter().any(|u| u.url.scheme == "javascript")),
    ("uri_data", |c, _| c.urls.iter().any(|u| u.url.scheme == "data" && u.source != UrlSource::Image)),
    ("attach_executable", |c, _| attachment_names(c).any(|n| ext_in(&n, EXECUTABLE_EXTS))),
    ("attach_double_ext", |c, _| attachment_names(c).any(|n| double_extension(&n))),
    ("attach_archive_executable", |c, _| archive_with_executable(c)),
    ("attach_exe_disguised", |c, _| exe_disguised(c)),
    ("attach_office_macro", |c, _| attachment_names(c).any(|n| ext_in(&n, MACRO_EXTS))),
    ("attach_html", |c, _| {
        c.msg.parts.iter().any(|p| {
            p.is_attachment && p.filename.as_deref().is_some_and(|n| ext_in(n, &["htm", "html", "shtml", "svg"]))
        })
    }),
    ("attach_disk_image", |c, _| attachment_names(c).any(|n| ext_in(&n, &["iso", "img", "vhd", "vhdx"]))),
    ("attach_rtl_override", |c, _| attachment_names(c).any(|n| n.contains('\u{202e}'))),
    // Construction
    ("missing_message_id", |c, _| c.msg.header("message-id").is_none()),
    ("malformed_message_id", |c, _| c.msg.header("message-id").is_some_and(|m| !well_formed_msgid(m))),
    ("missing_date", |c, _| c.msg.header("date").is_none()),
    ("malformed_date", |c, _| c.msg.header("date").is_some() && c.msg.date.is_none()),
    ("date_no_numeric_zone", |c, _| {
        c.msg.date.is_some() && c.msg.header("date").is_some_and(|d| !crate::date::has_numeric_zone(d))
    }),
    ("date_in_future", |c, _| date_skew(c).is_some_and(|s| s > 12 * 3600)),
    ("date_in_past", |c, _| date_skew(c).is_some_and(|s| s < -4 * 86400)),
    ("missing_from", |c, _| from_address(c).is_none()),
    ("missing_subject", |c, _| c.msg.header("subject").is_none()),
    ("missing_to", |c, _| c.msg.header("to").is_none() && c.msg.header("cc").is_none()),
    ("to_undisclosed", |c, _| c.msg.header("to").is_some_and(|t| t.to_ascii_lowercase().contains("undisclosed"))),
    ("to_empty_list", |c, _| c.msg.header("to").is_some_and(|t| t.trim().is_empty() || t.trim() == ":;")),
    ("forged_outlook_msgid", forged_outlook),
    ("outlook_express_no_mimeole", |c, _| {
        let m = mailer(c);
        m.contains("outlook express") && windows_outlook(&m) && c.msg.header("x-mimeole").is_none()
    }),
    ("mime_missing_boundary", |c, _| c.msg.mime_problem),
    ("mime_excessive_parts", |c, _| c.msg.excessive_parts),
    ("mime_deep_nesting", |c, _| c.msg.deep_nesting),
    ("mime_bad_encoding", |c, _| c.msg.parts.iter().any(|p| p.encoding_problem)),
    // A text part sent in base64 for no reason, read whole: a part cut off by the scan limit or
    // a missing closing boundary is judged on nothing it was not sent with.
    ("mime_base64_text", |c, _| {
        c.msg.parts.iter().any(|p| {
            !p.is_attachment
                && !p.cut_off
                && p.transfer_encoding.as_deref() == Some("base64")
                && matches!(&p.body, Body::Text(t) | Body::Html(t) if t.is_ascii())
        })
    }),
    ("mime_html_only", |c, _| {
        c.msg.parts.iter().any(|p| matches!(p.body, Body::Html(_)) && !p.is_attachment)
            && !c.msg.parts.iter().any(|p| p.content_type == "text/plain" && !p.is_attachment)
    }),
    ("mime_alternatives_differ", alternatives_differ),
    ("mime_charset_mismatch", |c, _| {
        c.msg.parts.iter().any(|p| match (&p.body, p.charset.as_deref()) {
            (Body::Text(t) | Body::Html(t), Some(cs)) => {
                (cs.eq_ignore_ascii_case("us-ascii") && !t.is_ascii()) || t.contains('\u{fffd}')
            }
            _ => false,
        })
    }),
    ("charset_asian", |c, _| {
        c.msg.parts.iter().filter_map(|p| p.charset.as_deref()).any(|cs| {
            let l = cs.to_ascii_lowercase();
            ["gb2312", "gbk", "gb18030", "big5", "euc-kr", "ks_c_5601", "iso-2022-jp", "shift_jis", "euc-jp"]
                .iter()
                .any(|a| l.contains(a))
        }) || raw_header_charset_asian(c)
    }),
    ("header_8bit", |c, _| {
        c.msg
            .headers
            .iter()
            .any(|h| ["subject", "from", "to"].iter().any(|n| h.name.eq_ignore_ascii_case(n)) && !h.raw.is_ascii())
    }),
    ("from_name_has_address", from_name_has_address),
    ("from_digits_localpart", |c, _| {
        from_address(c)
            .and_then(|a| a.split_once('@'))
            .is_some_and(|(l, _)| l.bytes().filter(u8::is_ascii_digit).count() >= 5)
    }),
    ("replyto_freemail_differs", |c, _| {
        let rt = c.msg.first_address("reply-to").map(domain_of);
        let from = from_address(c).map(domain_of);
        matches!((rt, from), (Some(r), Some(f)) if r != f && FREEMAIL.contains(&r))
    }),
    ("subject_all_caps", |c, _| {
        let letters: Vec<char> = c.subject.chars().filter(|&ch| crate::features::chars::is_alphabetic(ch)).collect();
        letters.len() >= 10 && letters.iter().all(|ch| !ch.is_lowercase())
    }),
    ("subject_exclamations", |c, _| c.subject.contains("!!") || c.subject.matches('!').count() >= 3),
    ("subject_trailing_id", subject_trailing_id),
    ("subject_money", |c, _| c.subject.contains("$$") || c.subject.contains("€€")),
    ("x_priority_high", |c, _| {
        c.msg.header("x-priority").is_some_and(|p| p.trim_start().starts_with('1'))
            || c.msg.header("x-msmail-priority").is_some_and(|p| p.to_ascii_lowercase().contains("high"))
    }),
    // Body style
    ("body_mostly_caps", |c, _| {
        let (letters, upper) = if c.text.is_ascii() {
            ascii_letters_and_capitals(c.text.as_bytes())
        } else {
            letters_and_capitals(&c.text)
        };
        letters >= 200 && upper * 2 > letters
    }),
    ("body_many_exclamations", |c, _| {
        // Non-overlapping "!!" three times, or 15 of '!' in all; searched with memchr, stopping
        // as soon as the answer is known.
        let t = c.text.as_bytes();
        memchr::memmem::find_iter(t, b"!!").take(3).count() == 3 || memchr::memchr_iter(b'!', t).take(15).count() == 15
    }),
    ("body_money_amounts", |c, _| money_amounts(&c.text) >= 4),
    ("body_empty", |c, _| {
        c.text.trim().is_empty() && !c.msg.parts.iter().any(|p| p.is_attachment) && c.html().count() == 0
    }),
    ("body_short_with_link", |c, _| {
        c.urls.iter().any(|u| u.url.scheme.starts_with("http") && u.source != UrlSource::Image)
            && (1..40).contains(&c.word_count_up_to(40))
    }),
    // Obfuscation
    ("html_invisible_text", |c, _| {
        c.invisible_text.chars().filter(|&ch| crate::features::chars::is_alphabetic(ch)).take(20).count() >= 20
    }),
    ("html_invisible_text_long", |c, _| c.invisible_text.split(' ').filter(|w| w.len() >= 3).take(40).count() >= 40),
    ("text_zero_width", |c, _| zero_width(&c.text) >= 3 || zero_width(&c.subject) >= 1),
    ("text_mixed_script", |c, _| mixed_script_words(&c.text) >= 2),
    ("subject_mixed_script", |c, _| mixed_script_words(&c.subject) >= 1),
    ("text_split_words", |c, _| split_words(&c.text) >= 2),
    ("subject_split_word", |c, _| split_words(&c.subject) >= 1),
    ("mailer_bulk", |c, _| bulk_mailer(c)),
    ("html_font_size_zero", |c, _| font_size_zero(&c.raw_body)),
    ("html_comment_in_word", |c, _| comment_in_word(&c.raw_body)),
    ("html_tag_in_word", |c, _| empty_tag_in_word(&c.raw_body)),
    ("html_entity_letters", |c, _| c.html().any(|d| d.encoded_ascii >= 10)),
    ("subject_encoded_ascii", |c, _| header_encoded_ascii(c, "subject")),
    ("from_encoded_ascii", |c, _| header_encoded_ascii(c, "from")),
];

/// Looks a check up by name.
pub fn by_name(name: &str) -> Option<Check> {
    ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

#[cfg(test)]
mod regex_equivalence {
    //! The hand-written checks above against the regexes they replaced (run by regex-lite, which
    //! like the checks folds case and reads `\s`, `\d` as ASCII).
    fn re(p: &str) -> regex_lite::Regex {
        regex_lite::RegexBuilder::new(p).case_insensitive(true).build().unwrap()
    }

    fn agree(name: &str, pattern: &str, check: fn(&str) -> bool, inputs: &[&str]) {
        let r = re(pattern);
        let (mut yes, mut no) = (0, 0);
        for s in inputs {
            assert_eq!(check(s), r.is_match(s), "{name} disagrees with its regex on {s:?}");
            if r.is_match(s) {
                yes += 1
            } else {
                no += 1
            }
        }
        assert!(yes >= 3 && no >= 3, "{name}: the inputs must exercise both outcomes ({yes} match, {no} not)");
    }

    #[test]
    fn url_checks_agree_with_their_regexes() {
        agree(
            "uri_click_php_id",
            r"\.(php|asp|cgi|pl)\?[^ ]*=[a-z0-9]{20,}",
            super::script_with_long_id,
            &[
                "http://x.example/click.php?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.PHP?a=1&id=A8F7D6S5A4F3G2H1J0K9L8",
                "http://x.example/c.php?id=a8f7d6s5a4f3g2h1j0k9",
                "http://x.example/c.pl?x=y&z=0123456789abcdefghij",
                "http://x.example/c.cgi?id=short",
                "http://x.example/c.asp?id= a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?id=a8f7d6s5a4f3g2h1j0k9l8m7 x",
                "http://x.example/c.phpx?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?id=a8f7-d6s5a4f3g2h1j0k9l8m7",
                "http://x.example/c.php?a=b=a8f7d6s5a4f3g2h1j0k9l8m7é",
                "http://x.example/page.html?id=a8f7d6s5a4f3g2h1j0k9l8m7",
                "",
            ],
        );
        agree(
            "uri_exe_download",
            r"\.(exe|scr|bat|cmd|vbs|js|jar|msi|apk|hta)(\?|$)",
            super::links_executable,
            &[
                "http://files.example/factuur.exe",
                "http://files.example/factuur.EXE?dl=1",
                "http://files.example/app.apk",
                "http://files.example/x.js",
                "http://files.example/x.json",
                "http://files.example/x.exe/",
                "http://files.example/x.exe#a",
                "http://files.example.exe.example/",
                "http://files.example/x.html",
                "http://files.example/x.hta?",
                "",
            ],
        );
    }

    #[test]
    fn bulk_mailer_agrees_with_its_regex() {
        agree(
            "mailer_bulk",
            "(mass ?mail|bulk ?mail|group ?mail|send-?safe|atlas ?mailer|massmailer|emailer platinum|stealth ?mail|dynamic mail|advanced mass sender|aureate|floodgate|extractor)",
            super::bulk_mailer_name,
            &[
                "Advanced Mass Sender 4.2",
                "MassMail Pro",
                "Send-Safe Bulk",
                "sendsafe",
                "Atlas Mailer 2",
                "Email Extractor",
                "Microsoft Outlook Express 6.00",
                "Mozilla Thunderbird",
                "Mass  mail",
                "send safe",
                "",
            ],
        );
    }

    #[test]
    fn html_checks_agree_with_their_regexes() {
        agree(
            "html_font_size_zero",
            r#"font-size:\s*(0(px|pt|em)?|1px|0?\.\d+(px|em|pt)?)\s*[;"]"#,
            super::font_size_zero,
            &[
                r#"<span style="font-size:0px;">x</span>"#,
                r#"<span style="font-size: 0">x</span>"#,
                r#"<span style="FONT-SIZE:1PX ;">x</span>"#,
                r#"<span style="font-size:.5em">x</span>"#,
                r#"<span style="font-size:0.25pt;">x</span>"#,
                r#"<span style="font-size:0.pt;">x</span>"#,
                r#"<span style="font-size:10px;">x</span>"#,
                r#"<span style="font-size:0px">x</span>"#,
                r#"<span style="font-size:01px;">x</span>"#,
                r#"<span style="font-size:1px">x</span>"#,
                r#"<span style="font-size:2px;">x</span>"#,
                r#"<span style="font-size:0.5 ;">x</span>"#,
                r#"<span style="font-size:0vh;">x</span>"#,
                "font-size:",
                "",
            ],
        );
        agree(
            "html_comment_in_word",
            r"[a-z]<!--[^>]{0,40}-->[a-z]",
            super::comment_in_word,
            &[
                "<p>Buy vi<!-- x -->agra now</p>",
                "vi<!---->agra",
                "vi<!--ééééééééééééééééééééééééééééééééééééééé-->agra",
                "vi<!--éééééééééééééééééééééééééééééééééééééééé-->agra",
                "vi<!-- x -> y -->agra",
                "vi <!-- x -->agra",
                "vi<!-- x --> agra",
                "vi<!--->agra",
                "vi<!-->agra-->x",
                "x<!-- a --><!-- b -->y",
                "<!-- x -->a",
                "",
            ],
        );
        agree(
            "html_tag_in_word",
            r"[a-z]{2}<(b|i|u|s|em|font|span|strong|small)( [^>]{0,20})?></(b|i|u|s|em|font|span|strong|small)>[a-z]{2}",
            super::empty_tag_in_word,
            &[
                "<p>Nu gr<b></b>atis</p>",
                "gr<SPAN class=x></span>atis",
                "gr<span></b>atis",
                "gr<strong style='a'></strong>atis",
                "gr<font color=\"#ffffff\" size=1></font>atis",
                "gr<font color=\"#ffffff\" size=12></font>atis",
                "g<b></b>atis",
                "gr<b></b>a",
                "gr<br></br>atis",
                "gr<b>x</b>atis",
                "gr<b ></b>atis",
                "gr<sup></sup>atis",
                "",
            ],
        );
    }
}

/// Issue 15: the checks that look for a pattern from each of many starting points look only a
/// bounded distance from each, so their work grows with the text, not with its square.
#[cfg(test)]
mod linear_work {
    use crate::work::assert_linear;

    #[test]
    fn the_html_and_url_scans_are_linear() {
        type Check = fn(&str) -> bool;
        let shapes: [(&str, Check); 7] = [
            ("a<!--", super::comment_in_word),
            ("a<!--a-", super::comment_in_word),
            ("ab<b ", super::empty_tag_in_word),
            ("ab<span x", super::empty_tag_in_word),
            (".php?", super::script_with_long_id),
            (".php?=", super::script_with_long_id),
            (".asp?a=b", super::script_with_long_id),
        ];
        for (unit, check) in shapes {
            assert_linear(unit, 20_000, |n| unit.repeat(n / unit.len()), |t| assert!(!check(t)));
        }
    }

    /// A run of letters and separators that is no split word (`a.a.a.…a1`: a digit right after
    /// it) is walked once, not again from each of its letters (quadratic before: 64 KB of text
    /// cost 2.2 s, a 128 KB Subject 7.6 s).
    #[test]
    fn split_words_are_linear() {
        for (unit, end) in [("a.", "a1"), ("a ", "ab1"), ("ab-", "a"), ("a.b-", "c1"), ("a.", "")] {
            assert_linear(
                unit,
                20_000,
                |n| format!("{}{end}", unit.repeat(n / unit.len())),
                |t| {
                    super::split_words(t);
                },
            );
        }
    }

    /// The same count as trying a split word from every letter that may start one (the walk
    /// before the run was skipped), on random mixtures of letters, digits and separators.
    #[test]
    fn split_words_agree_with_trying_every_start() {
        fn every_start(t: &str) -> usize {
            let chars: Vec<char> = t.chars().collect();
            // std's own tests, not the tables the code uses: the reference stays independent.
            let (alpha, alnum) = (|c: &char| c.is_alphabetic(), |c: &char| c.is_alphanumeric());
            (0..chars.len())
                .filter(|&i| {
                    alpha(&chars[i])
                        && (i == 0 || !alnum(&chars[i - 1]))
                        && chars.get(i + 1).is_some_and(|s| s.is_ascii() && super::text::is_split_separator(*s as u8))
                })
                .fold((0, 0), |(n, from), i| match super::text::split_run_at(&chars, i, alpha, alnum) {
                    Ok(j) if i >= from => (n + 1, j + 1),
                    _ => (n, from),
                })
                .0
        }
        let pieces = ["a", "b", "é", "ν", "1", ".", "-", " ", "_", "ab", "a.", "a-", "a ", "x1", "!"];
        let mut next = crate::test_rng::xorshift(0x5917);
        for _ in 0..50_000 {
            let t: String = (0..next() % 24).map(|_| pieces[next() as usize % pieces.len()]).collect();
            assert_eq!(super::split_words(&t), every_start(&t), "{t:?}");
        }
    }

    /// The bounded windows give what the regexes give, also at and around their edges and on
    /// random mixtures of the pieces these patterns are made of.
    #[test]
    fn bounded_windows_agree_with_the_regexes() {
        let re = |p: &str| regex_lite::RegexBuilder::new(p).case_insensitive(true).build().unwrap();
        let comment = re(r"[a-z]<!--[^>]{0,40}-->[a-z]");
        let tag = re(
            r"[a-z]{2}<(b|i|u|s|em|font|span|strong|small)( [^>]{0,20})?></(b|i|u|s|em|font|span|strong|small)>[a-z]{2}",
        );
        let php = re(r"\.(php|asp|cgi|pl)\?[^ ]*=[a-z0-9]{20,}");
        let pieces = [
            "a",
            "B",
            "<!--",
            "-->",
            "--",
            "-",
            ">",
            "<",
            "</",
            "<b",
            "<span",
            "<s",
            "</b>",
            "</small>",
            " ",
            "x",
            "é",
            "\u{1F600}",
            "=",
            ".php?",
            ".PL?",
            ".cgi",
            "?",
            "abcdefghij",
            "0123456789",
            "\n",
        ];
        let mut next = crate::test_rng::xorshift(0x1157);
        for _ in 0..20_000 {
            let t: String = (0..next() % 16).map(|_| pieces[next() as usize % pieces.len()]).collect();
            assert_eq!(super::comment_in_word(&t), comment.is_match(&t), "comment {t:?}");
            assert_eq!(super::empty_tag_in_word(&t), tag.is_match(&t), "tag {t:?}");
            assert_eq!(super::script_with_long_id(&t), php.is_match(&t), "php {t:?}");
        }
        for k in [0, 1, 19, 20, 21, 39, 40, 41, 60] {
            for fill in ["x", "é", "\u{1F600}", "-"] {
                let c = format!("vi<!--{}-->agra", fill.repeat(k));
                assert_eq!(super::comment_in_word(&c), comment.is_match(&c), "{c:?}");
                let t = format!("gr<font {}></font>atis", fill.repeat(k));
                assert_eq!(super::empty_tag_in_word(&t), tag.is_match(&t), "{t:?}");
                let u = format!("http://a.example/x.php?{}=abcdefghij0123456789", fill.repeat(k));
                assert_eq!(super::script_with_long_id(&u), php.is_match(&u), "{u:?}");
            }
        }
    }
}

#[cfg(test)]
mod fast_paths {
    /// Random ASCII texts built to contain split words and near misses.
    fn texts() -> Vec<String> {
        let pieces = [
            "v.i.a.g.r.a",
            "f r e e",
            "c-a-s-h",
            "U.S.A.",
            "J. R. R.",
            "a",
            "I",
            "x_y_z_w",
            "ab",
            "1",
            " ",
            "|",
            "/",
            "*",
        ];
        let mut next = crate::test_rng::xorshift(0x1234_5678_9abc_def1);
        (0..3000)
            .map(|_| (0..next() % 24).map(|_| pieces[next() as usize % pieces.len()]).collect::<Vec<_>>().join(""))
            .collect()
    }

    #[test]
    fn split_words_are_counted() {
        for (t, n) in [
            ("buy v.i.a.g.r.a now", 1),
            ("f r e e, c-a-s-h", 2),
            ("the U.S.A. and J. R. R. Tolkien", 0),
            ("x_y_z_w, v.i.a.g.r.a.", 2),
            ("v.i.a.g.r.a1", 0),
            ("ν.ι.α.γ.ρ", 1),
        ] {
            assert_eq!(super::split_words(t), n, "{t:?}");
        }
    }

    /// Texts mixing ASCII with Latin-1, Cyrillic, Greek, CJK and non-letters.
    fn unicode_texts() -> Vec<String> {
        let pieces = [
            "pay",
            "раураl",
            "Ρaypal",
            "ОПЛАТА",
            "é",
            "ÉCOLE",
            "naïve",
            "中文",
            "ß",
            " ",
            ".",
            "-",
            "1",
            "’",
            "Σ",
            "x",
        ];
        let mut next = crate::test_rng::xorshift(0x0bad_cafe_1234_5678);
        (0..3000).map(|_| (0..next() % 20).map(|_| pieces[next() as usize % pieces.len()]).collect()).collect()
    }

    #[test]
    fn mixed_script_count_agrees_with_splitting_every_word() {
        let reference = |t: &str| t.split(|c: char| !c.is_alphabetic()).filter(|w| super::is_mixed_script(w)).count();
        let mut found = 0;
        for t in unicode_texts() {
            assert_eq!(super::mixed_script_words(&t), reference(&t), "{t:?}");
            found += reference(&t);
        }
        assert!(found > 300, "the texts must contain mixed words ({found})");
    }

    #[test]
    fn exclamations_counted_as_str_matches_does() {
        let check = super::ALL.iter().find(|(n, _)| *n == "body_many_exclamations").unwrap().1;
        let rules = crate::rules::RuleSet::load(&Default::default()).unwrap();
        for body in
            ["!!!!!", "!!!!!!", "!! !! !!", "!!! !!", "a!b!c!", &"!x".repeat(14), &"!x".repeat(15), "", "é!!é!!é!!"]
        {
            let raw = format!("Subject: x\n\n{body}\n");
            let msg = crate::message::Message::parse(raw.as_bytes(), 1 << 20);
            let content = crate::features::Content::extract(&msg, &Default::default());
            let cx = crate::rules::Context::new(&msg, &content);
            let want = cx.text.matches("!!").count() >= 3 || cx.text.matches('!').count() >= 15;
            assert_eq!(check(&cx, &rules), want, "{body:?}");
        }
    }

    #[test]
    fn money_and_zero_width_counts_agree_with_a_char_walk() {
        let money = |t: &str| {
            let mut n = 0;
            let mut prev_currency = false;
            for c in t.chars() {
                n += (prev_currency && c.is_ascii_digit()) as usize;
                prev_currency = matches!(c, '$' | '€' | '£');
            }
            n
        };
        let zero = |t: &str| {
            t.chars()
                .filter(|c| {
                    matches!(
                        c,
                        '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}' | '\u{034f}' | '\u{180e}'
                    )
                })
                .count()
        };
        let extra = ["$100 €50 £3 $x €€5 $$9", "a\u{200b}b\u{200c}c\u{feff}\u{ad}\u{34f}\u{180e}\u{2060}", "€", "$"];
        let mut found = 0;
        for t in unicode_texts().iter().map(String::as_str).chain(extra).map(|t| t.replace('x', "$1€2£")) {
            assert_eq!(super::money_amounts(&t), money(&t), "{t:?}");
            assert_eq!(super::zero_width(&t), zero(&t), "{t:?}");
            found += money(&t) + zero(&t);
        }
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn letter_counts_agree_with_a_char_count() {
        for t in unicode_texts() {
            let want =
                t.chars().fold((0, 0), |(l, u), c| (l + c.is_alphabetic() as usize, u + c.is_uppercase() as usize));
            assert_eq!(super::letters_and_capitals(&t), want, "{t:?}");
        }
    }

    #[test]
    fn ascii_letter_counts_agree_with_a_plain_count() {
        let all: Vec<u8> = (0..128u8).cycle().take(1000).collect();
        for t in texts().iter().map(|t| t.as_bytes()).chain([&all[..]]) {
            let letters = t.iter().filter(|b| b.is_ascii_alphabetic()).count();
            let upper = t.iter().filter(|b| b.is_ascii_uppercase()).count();
            assert_eq!(super::ascii_letters_and_capitals(t), (letters, upper));
        }
    }
}
