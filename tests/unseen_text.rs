//! Words the reader is never shown may accuse but not excuse (attack report F12): ham words
//! hidden with `display:none`, put in the `<title>`, in the text/plain alternative of an HTML
//! spam, or in a text attachment do not carry a learned spam to ham; the same words shown do.

mod common;

use std::fs;

use common::Env;

/// The words of the ham learned here (and the attacker's padding): 200 made-up words, each in
/// about one ham in six.
fn ham_words() -> Vec<String> {
    let (c, v) = (b"bdfgklmnprstvz", b"aeiou");
    (0..200)
        .map(|i: usize| {
            let s = |k: usize| format!("{}{}", c[k % c.len()] as char, v[(k / c.len()) % v.len()] as char);
            format!("{}{}{}", s(i), s(i * 7 + 3), s(i / 3 + 11))
        })
        .collect()
}

fn ham(i: usize) -> String {
    let words = ham_words();
    let body: Vec<&str> = (0..35).map(|k| words[(i * 35 + k) % words.len()].as_str()).collect();
    format!(
        "From: collega{i}@klant.example\nTo: jan@mijn.example\nSubject: notes {i}\nMessage-ID: <h{i}@klant.example>\n\n\
         Hello Jan, {}.\n",
        body.join(" ")
    )
}

/// The spam's shown text: 60 made-up words of its own (no content rule knows them: the score is
/// what was learned).
fn spam_text() -> String {
    let (c, v) = (b"chjwxy", b"aeiou");
    let words: Vec<String> = (0..60)
        .map(|i: usize| {
            let s = |k: usize| format!("{}{}", c[k % c.len()] as char, v[(k / c.len()) % v.len()] as char);
            format!("{}{}{}", s(i), s(i * 5 + 1), s(i / 2 + 7))
        })
        .collect();
    format!("<p>{}</p>", words.join(" "))
}

fn html_spam_header(i: usize) -> String {
    format!("From: promo{i}@deals.example\nTo: jan@mijn.example\nSubject: You won {i}\nMessage-ID: <s{i}@deals.example>\nMIME-Version: 1.0\n")
}

fn spam(i: usize) -> String {
    let text = spam_text();
    format!("{}Content-Type: text/html\n\n<html><body>{text}</body></html>\n", html_spam_header(i))
}

/// The attacker's padding: every ham word.
fn padding() -> String {
    ham_words().join(" ")
}

fn shapes() -> Vec<(&'static str, String)> {
    let (h, pad, text) = (html_spam_header(99), padding(), spam_text());
    vec![
        ("hidden", format!("{h}Content-Type: text/html\n\n<html><body><div style=\"display:none\">{pad}</div>{text}</body></html>\n")),
        ("title", format!("{h}Content-Type: text/html\n\n<html><head><title>{pad}</title></head><body>{text}</body></html>\n")),
        (
            "alternative",
            format!(
                "{h}Content-Type: multipart/alternative; boundary=\"AA\"\n\n--AA\nContent-Type: text/plain\n\n{pad}\n\
                 --AA\nContent-Type: text/html\n\n<html><body>{text}</body></html>\n--AA--\n"
            ),
        ),
        (
            "attachment",
            format!(
                "{h}Content-Type: multipart/mixed; boundary=\"AA\"\n\n--AA\nContent-Type: text/html\n\n<html><body>{text}</body></html>\n\
                 --AA\nContent-Type: text/plain; name=\"terms.txt\"\nContent-Disposition: attachment; filename=\"terms.txt\"\n\n{pad}\n--AA--\n"
            ),
        ),
    ]
}

/// `check`'s verdict and score of a file.
fn check(env: &Env, path: &str) -> (String, f64) {
    let out = env.ok(&["check", path]);
    let f: Vec<&str> = out.trim_end().split('\t').collect();
    (f[1].to_string(), f[2].parse().unwrap())
}

#[test]
fn ham_words_the_reader_never_sees_do_not_carry_a_spam_to_ham() {
    // Bayes at full voice after the 40 of each learned here (without the starter table its voice
    // grows to full at `starter_fade` of each).
    let env = Env::new("use_starter = false\nstarter_fade = 40\n");
    let dir = env.dir();
    let (hd, sd) = (dir.join("ham"), dir.join("spam"));
    fs::create_dir_all(&hd).unwrap();
    fs::create_dir_all(&sd).unwrap();
    for i in 0..40 {
        fs::write(hd.join(format!("{i}.eml")), ham(i)).unwrap();
        fs::write(sd.join(format!("{i}.eml")), spam(i)).unwrap();
    }
    env.ok(&["train", "--ham", hd.to_str().unwrap(), "--spam", sd.to_str().unwrap()]);

    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let plain = write("plain.eml", &spam(99));
    let (verdict, clean) = check(&env, &plain);
    assert_eq!(verdict, "spam", "the spam itself ({clean})");
    // The control: the same words shown to the reader make it ham (they are strong enough to, and
    // only their being unseen keeps them from it; without the fix every shape below was ham too).
    let shown = spam(99).replace("</body>", &format!("<p>{}</p></body>", padding()));
    let (verdict, shown) = check(&env, &write("shown.eml", &shown));
    assert_eq!(verdict, "ham", "shown padding: {shown} (the spam alone {clean})");

    let scores: Vec<(&str, String, f64)> = shapes()
        .into_iter()
        .map(|(name, text)| {
            let (verdict, score) = check(&env, &write(&format!("{name}.eml"), &text));
            (name, verdict, score)
        })
        .collect();
    for (name, verdict, score) in &scores {
        assert_eq!(verdict, "spam", "{name}: {score} (the spam alone {clean}; all: {scores:?})");
    }
}
