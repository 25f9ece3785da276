//! One pass over an HTML body: the text a reader sees, the text hidden from them, links,
//! images, and the active or tracking elements. No regex, linear time, bounded input, and
//! robust to anything (100,000 unclosed tags are just a long flat document).
//!
//! Used by the tokenizer (the invisible text and the `<title>` are tokenized after the shown
//! text, and may accuse but not excuse: invisible text is how spammers feed Bayes words it
//! likes) and by the content rules.

/// A link: where it goes and what it says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Link {
    pub href: String,
    pub text: String,
    /// Inside an element styled invisible, or styled invisible itself.
    pub hidden: bool,
}

/// An image element.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Image {
    pub src: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Styled invisible, or 1×1 / 0×0.
    pub hidden: bool,
}

/// What one pass over an HTML body found.
#[derive(Debug, Clone, Default)]
pub struct HtmlDoc {
    /// Text a reader sees, entities decoded, with spaces where block elements break it.
    pub visible_text: String,
    /// Text styled so the reader does not see it (display:none, visibility:hidden, zero or
    /// tiny font size, text colour equal to the background in effect: the nearest `bgcolor` or
    /// CSS background of the element or those it is in, else the body's).
    pub invisible_text: String,
    /// The parts of `visible_text` that are the document's `<title>` (no mail client shows it):
    /// byte ranges, in order. Its words may accuse but not excuse (attack report F12).
    pub title: Vec<std::ops::Range<usize>>,
    pub links: Vec<Link>,
    pub images: Vec<Image>,
    /// URLs loaded by CSS `url(...)` in style attributes and `<style>` blocks.
    pub css_urls: Vec<String>,
    pub scripts: usize,
    pub iframes: usize,
    pub objects: usize,
    pub forms: usize,
    pub meta_refresh: bool,
    /// `on…=` event handler attributes and `javascript:` URLs.
    pub event_handlers: usize,
    /// Numeric character references that encode plain ASCII letters or digits (`&#105;`).
    pub encoded_ascii: usize,
    /// Number of tags seen.
    pub tags: usize,
    /// The input was longer than the scan limit.
    pub truncated: bool,
}

/// At most this many bytes of HTML are read.
pub const MAX_HTML_BYTES: usize = 256 * 1024;
const MAX_DEPTH: usize = 256;
const MAX_ITEMS: usize = 1000;

/// The open elements, innermost last, at most `MAX_DEPTH` of them: past it the outermost is
/// dropped. Those dropped stay at the start of `v`, before `base`, until there are `MAX_DEPTH` of
/// them, and are then removed at once: one shift of the live elements per `MAX_DEPTH` tags.
/// (`Vec::remove(0)` shifted the 255 others for every tag past 256 levels: 95% of 1.1 billion
/// instructions for 256 KB of `<div>`, docs/reliability.md.)
#[derive(Default)]
struct OpenStack {
    v: Vec<Open>,
    base: usize,
}

impl OpenStack {
    /// The innermost open element.
    fn last(&self) -> Option<&Open> {
        self.v[self.base..].last()
    }

    fn push(&mut self, open: Open) {
        if self.v.len() - self.base >= MAX_DEPTH {
            self.base += 1;
            if self.base >= MAX_DEPTH {
                self.v.drain(..self.base);
                self.base = 0;
            }
        }
        self.v.push(open);
    }

    /// Closes the innermost open element named `name` and those inside it (none if no open
    /// element is so named).
    fn close(&mut self, name: &str) {
        if let Some(pos) = self.v[self.base..].iter().rposition(|o| o.name == name) {
            self.v.truncate(self.base + pos);
        }
    }
}

#[derive(Clone)]
struct Open {
    name: String,
    /// Its text is hidden: styled so (inherited), or coloured like its background.
    hidden: bool,
    /// Styled hidden itself or inside such an element (display:none, tiny fonts, …).
    styled_hidden: bool,
    /// The text colour in effect (normalized), from this element or the nearest one above.
    color: Option<String>,
    /// The background in effect (normalized): this element's `bgcolor` or CSS background, or
    /// the nearest one above, or the body's.
    bg: Option<String>,
    /// Inside `<title>`.
    title: bool,
}

/// Parses an HTML body.
pub fn parse(html: &str) -> HtmlDoc {
    let mut doc = HtmlDoc::default();
    let mut input = html;
    if input.len() > MAX_HTML_BYTES {
        input = &input[..input.floor_char_boundary(MAX_HTML_BYTES)];
        doc.truncated = true;
    }
    let bytes = input.as_bytes();
    let mut stack = OpenStack::default();
    let mut link: Option<Link> = None;
    let mut body_bg: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = byte_position(b'<', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            let hidden = stack.last().is_some_and(|o| o.hidden);
            let text = decode_entities(&input[i..end], &mut doc.encoded_ascii);
            if hidden {
                doc.invisible_text.push_str(&text);
            } else {
                let start = doc.visible_text.len();
                doc.visible_text.push_str(&text);
                if stack.last().is_some_and(|o| o.title) {
                    push_range(&mut doc.title, start..doc.visible_text.len());
                }
            }
            if let Some(l) = link.as_mut() {
                if l.text.len() < 500 {
                    l.text.push_str(&text);
                }
            }
            i = end;
            continue;
        }
        // Comments and declarations.
        if input[i..].starts_with("<!--") {
            i = input[i + 4..].find("-->").map_or(bytes.len(), |p| i + 4 + p + 3);
            continue;
        }
        if input[i..].starts_with("<!") || input[i..].starts_with("<?") {
            i = byte_position(b'>', &bytes[i..]).map_or(bytes.len(), |p| i + p + 1);
            continue;
        }
        let Some(tag) = parse_tag(input, i) else {
            // A lone '<' is text.
            let target =
                if stack.last().is_some_and(|o| o.hidden) { &mut doc.invisible_text } else { &mut doc.visible_text };
            target.push('<');
            i += 1;
            continue;
        };
        i = tag.end;
        doc.tags += 1;
        let name = tag.name.as_str();
        if is_block(name) {
            doc.visible_text.push(' ');
            doc.invisible_text.push(' ');
        }
        if tag.closing {
            if name == "a" {
                if let Some(l) = link.take() {
                    if doc.links.len() < MAX_ITEMS {
                        doc.links.push(l);
                    }
                }
            }
            stack.close(name);
            continue;
        }
        for (k, v) in &tag.attrs {
            if k.starts_with("on") {
                doc.event_handlers += 1;
            }
            if v.trim_start().to_ascii_lowercase().starts_with("javascript:") {
                doc.event_handlers += 1;
            }
        }
        let style = tag.attr("style").map(str::to_ascii_lowercase);
        if let Some(st) = &style {
            collect_css_urls(st, &mut doc.css_urls);
        }
        match name {
            "script" => {
                doc.scripts += 1;
                i = skip_raw_text(input, i, "script");
                continue;
            }
            "style" => {
                let end = skip_raw_text(input, i, "style");
                collect_css_urls(&input[i..end].to_ascii_lowercase(), &mut doc.css_urls);
                i = end;
                continue;
            }
            "iframe" | "frame" => doc.iframes += 1,
            "object" | "embed" | "applet" => doc.objects += 1,
            "form" => doc.forms += 1,
            "meta" if tag.attr("http-equiv").is_some_and(|v| v.eq_ignore_ascii_case("refresh")) => {
                doc.meta_refresh = true;
            }
            "body" => {
                body_bg = tag
                    .attr("bgcolor")
                    .map(normalize_color)
                    .or_else(|| style.as_deref().and_then(|s| css_value(s, "background-color")).map(normalize_color))
            }
            "a" => {
                if let Some(l) = link.take() {
                    if doc.links.len() < MAX_ITEMS {
                        doc.links.push(l);
                    }
                }
                if let Some(href) = tag.attr("href") {
                    let hidden =
                        stack.last().is_some_and(|o| o.hidden) || style.as_deref().is_some_and(is_hidden_style);
                    let href = decode_entities(href.trim(), &mut doc.encoded_ascii);
                    link = Some(Link { href, text: String::new(), hidden });
                }
            }
            "img" => {
                let width = tag.attr("width").and_then(parse_px);
                let height = tag.attr("height").and_then(parse_px);
                let styled_hidden = style.as_deref().is_some_and(is_hidden_style);
                let tiny = matches!(width, Some(0..=1)) || matches!(height, Some(0..=1));
                if let Some(src) = tag.attr("src") {
                    if doc.images.len() < MAX_ITEMS {
                        doc.images.push(Image {
                            src: decode_entities(src.trim(), &mut doc.encoded_ascii),
                            width,
                            height,
                            hidden: styled_hidden || tiny,
                        });
                    }
                }
            }
            _ => {}
        }
        if is_void(name) || tag.self_closing {
            continue;
        }
        let parent = stack.last();
        let title = name == "title" || parent.is_some_and(|o| o.title);
        let styled_hidden = parent.is_some_and(|o| o.styled_hidden) || style.as_deref().is_some_and(is_hidden_style);
        // The colours in effect: this element's, else its parent's (a table cell's `bgcolor`
        // shows the text on it whatever the body's colour is: newsletters' white cells on a
        // coloured page are not hidden text).
        let color = own_color(style.as_deref(), tag.attr("color")).or_else(|| parent.and_then(|o| o.color.clone()));
        let bg = own_background(style.as_deref(), tag.attr("bgcolor"))
            .or_else(|| parent.and_then(|o| o.bg.clone()))
            .or_else(|| body_bg.clone());
        let hidden = styled_hidden || color.as_ref().is_some_and(|c| *c == *bg.as_deref().unwrap_or("ffffff"));
        stack.push(Open { name: name.to_string(), hidden, styled_hidden, color, bg, title });
    }
    if let Some(l) = link.take() {
        if doc.links.len() < MAX_ITEMS {
            doc.links.push(l);
        }
    }
    doc
}

/// Adds `r` to `ranges`, merged with the last range when they touch.
fn push_range(ranges: &mut Vec<std::ops::Range<usize>>, r: std::ops::Range<usize>) {
    match ranges.last_mut() {
        Some(last) if last.end == r.start => last.end = r.end,
        _ if r.is_empty() => {}
        _ => ranges.push(r),
    }
}

struct Tag {
    name: String,
    closing: bool,
    self_closing: bool,
    attrs: Vec<(String, String)>,
    end: usize,
}

impl Tag {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Parses a tag starting at `s[start] == '<'`. `None` when it is not a tag (e.g. `a < b`).
fn parse_tag(s: &str, start: usize) -> Option<Tag> {
    let b = s.as_bytes();
    let mut i = start + 1;
    let closing = b.get(i) == Some(&b'/');
    if closing {
        i += 1;
    }
    let name_start = i;
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
        i += 1;
    }
    if i == name_start || !b[name_start].is_ascii_alphabetic() {
        return None;
    }
    let name = s[name_start..i].to_ascii_lowercase();
    let mut attrs = Vec::new();
    let mut self_closing = false;
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            if b[i] == b'/' {
                self_closing = true;
            }
            i += 1;
        }
        if i >= b.len() {
            return Some(Tag { name, closing, self_closing, attrs, end: b.len() });
        }
        if b[i] == b'>' {
            return Some(Tag { name, closing, self_closing, attrs, end: i + 1 });
        }
        self_closing = false;
        let k_start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let key = s[k_start..i].to_ascii_lowercase();
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let v_start = i + 1;
                let v_end = byte_position(q, &b[v_start..]).map_or(b.len(), |p| v_start + p);
                value = s[v_start..v_end].to_string();
                i = (v_end + 1).min(b.len());
            } else {
                let v_start = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                    i += 1;
                }
                value = s[v_start..i].to_string();
            }
        }
        if attrs.len() < 32 && !key.is_empty() {
            attrs.push((key, value));
        }
    }
}

/// Skips the content of a raw-text element (`script`, `style`) up to its closing tag; returns
/// the offset after it.
fn skip_raw_text(s: &str, from: usize, name: &str) -> usize {
    let lower_close = format!("</{name}");
    let hay = &s.as_bytes()[from..];
    let mut k = 0;
    while let Some(p) = byte_position(b'<', &hay[k..]) {
        let at = k + p;
        if hay.len() >= at + lower_close.len()
            && hay[at..at + lower_close.len()].eq_ignore_ascii_case(lower_close.as_bytes())
        {
            let close = byte_position(b'>', &hay[at..]).map_or(hay.len(), |q| at + q + 1);
            return from + close;
        }
        k = at + 1;
    }
    s.len()
}

/// Where `needle` first occurs in `hay`.
fn byte_position(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|&b| b == needle)
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "br" | "hr" | "img" | "meta" | "link" | "input" | "area" | "base" | "col" | "wbr" | "source" | "param"
    )
}

fn is_block(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "tr"
            | "td"
            | "th"
            | "li"
            | "ul"
            | "ol"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "blockquote"
            | "pre"
            | "title"
            | "body"
            | "head"
            | "center"
            | "dd"
            | "dt"
    )
}

fn parse_px(v: &str) -> Option<u32> {
    let v = v.trim().trim_end_matches("px");
    v.parse().ok()
}

/// The value of a CSS property in a lower-cased style string.
fn css_value<'s>(style: &'s str, prop: &str) -> Option<&'s str> {
    style.split(';').find_map(|decl| {
        let (k, v) = decl.split_once(':')?;
        (k.trim() == prop).then(|| v.trim().trim_end_matches("!important").trim())
    })
}

fn is_hidden_style(style: &str) -> bool {
    let compact: String = style.chars().filter(|c| !c.is_whitespace()).collect();
    compact.contains("display:none")
        || compact.contains("visibility:hidden")
        || compact.contains("opacity:0;")
        || compact.ends_with("opacity:0")
        || css_value(style, "font-size").is_some_and(|v| {
            let num: String = v.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            num.parse::<f32>().is_ok_and(|n| n < 2.0)
        })
        || css_value(style, "max-height").is_some_and(|v| v.starts_with('0'))
}

fn normalize_color(c: &str) -> String {
    let c = c.trim().trim_start_matches('#');
    // Not a colour: kept short, as every open element carries the colours in effect.
    let c = if c.len() > 32 { "?" } else { c }.to_ascii_lowercase();
    match c.as_str() {
        "white" => "ffffff".into(),
        "black" => "000000".into(),
        "fff" => "ffffff".into(),
        "000" => "000000".into(),
        _ => c,
    }
}

/// The text colour an element sets (CSS `color`, or a `<font color>`), normalized.
fn own_color(style: Option<&str>, font_color: Option<&str>) -> Option<String> {
    style.and_then(|s| css_value(s, "color")).or(font_color).map(normalize_color)
}

/// The background an element sets (CSS `background-color` or `background`, or a `bgcolor`
/// attribute), normalized.
fn own_background(style: Option<&str>, bgcolor: Option<&str>) -> Option<String> {
    style
        .and_then(|s| css_value(s, "background-color").or_else(|| css_value(s, "background")))
        .or(bgcolor)
        .map(normalize_color)
}

fn collect_css_urls(css: &str, out: &mut Vec<String>) {
    let mut rest = css;
    while let Some(p) = rest.find("url(") {
        let after = &rest[p + 4..];
        let end = after.find(')').unwrap_or(after.len());
        let u = after[..end].trim().trim_matches(|c| c == '"' || c == '\'').to_string();
        if !u.is_empty() && out.len() < MAX_ITEMS {
            out.push(u);
        }
        rest = &after[end..];
    }
}

/// Decodes character references. Counts numeric ones that encode plain ASCII letters/digits.
pub fn decode_entities(s: &str, encoded_ascii: &mut usize) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        rest = &rest[p..];
        let end = rest[1..].find(|c: char| c == ';' || c.is_whitespace() || c == '&').map(|e| e + 1);
        let Some(end) = end.filter(|&e| e <= 12 && rest[e..].starts_with(';')) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = if let Some(num) = name.strip_prefix('#') {
            let code = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse().ok(),
            };
            let c = code.and_then(char::from_u32);
            if c.is_some_and(|c| c.is_ascii_alphanumeric()) {
                *encoded_ascii += 1;
            }
            c
        } else {
            match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                "euro" => Some('€'),
                "copy" => Some('©'),
                "reg" => Some('®'),
                "eacute" => Some('é'),
                "egrave" => Some('è'),
                "euml" => Some('ë'),
                "agrave" => Some('à'),
                "ccedil" => Some('ç'),
                "ouml" => Some('ö'),
                "uuml" => Some('ü'),
                "auml" => Some('ä'),
                "zwnj" => Some('\u{200c}'),
                "zwj" => Some('\u{200d}'),
                _ => None,
            }
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The open-element stack keeps what the `Vec` with `remove(0)` past `MAX_DEPTH` kept, in
    /// the same order, over a long pseudo-random run of opening and closing tags.
    #[test]
    fn the_open_element_stack_drops_the_outermost_past_its_depth() {
        let open = |name: &str| Open {
            name: name.to_string(),
            hidden: false,
            styled_hidden: false,
            color: None,
            bg: None,
            title: false,
        };
        let (mut stack, mut model): (OpenStack, Vec<String>) = (OpenStack::default(), Vec::new());
        let (mut x, mut full) = (7u32, 0);
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let name = ["div", "b", "span", "x"][(x >> 16) as usize % 4];
            if (x >> 20) % 8 == 0 {
                stack.close(name);
                if let Some(pos) = model.iter().rposition(|n| n == name) {
                    model.truncate(pos);
                }
            } else {
                stack.push(open(name));
                if model.len() >= MAX_DEPTH {
                    model.remove(0);
                }
                model.push(name.to_string());
            }
            let live: Vec<&str> = stack.v[stack.base..].iter().map(|o| o.name.as_str()).collect();
            assert_eq!(live, model);
            assert!(stack.v.len() < 2 * MAX_DEPTH);
            full += (model.len() == MAX_DEPTH) as usize;
        }
        assert!(full > 1000, "the run reached the depth {full} times");
    }

    #[test]
    fn visible_and_invisible_text() {
        let d = parse(
            r##"<html><body bgcolor="#FFFFFF"><p>Klik hier voor uw <b>gratis</b> lening</p>
            <div style="display: none">zomer vakantie rapport</div>
            <font color="#ffffff">white on white</font><span style="font-size:1px">tiny</span>
            <p>Caf&eacute; &amp; more &#105;&#110;</p></body></html>"##,
        );
        assert!(d.visible_text.contains("Klik hier voor uw gratis lening"), "{}", d.visible_text);
        assert!(d.visible_text.contains("Café & more in"));
        for w in ["zomer vakantie rapport", "white on white", "tiny"] {
            assert!(d.invisible_text.contains(w), "{w}: {}", d.invisible_text);
            assert!(!d.visible_text.contains(w), "{w}");
        }
        assert_eq!(d.encoded_ascii, 2);
    }

    /// The colours in effect are inherited: text coloured like the page but on a cell of its own
    /// colour is seen (a newsletter's white cells on a coloured page, hard-ham-1/00234), text
    /// coloured like the cell it is on is not, and `<title>` text is set apart.
    #[test]
    fn colours_are_those_in_effect() {
        let d = parse(
            r##"<html><head><title>Shop news</title></head><body bgcolor="#183C8C"><font color="#183C8C">
            <table bgcolor="#FFFFFF"><tr><td>Dear customer, our opening hours</td></tr></table>
            page coloured <table><tr><td bgcolor="#ffffcc"><font color="#FFFFCC">cell coloured</font>
            <span style="color:#000">black on cell</span></td></tr></table></font></body></html>"##,
        );
        assert!(d.visible_text.contains("Dear customer, our opening hours"), "{}", d.visible_text);
        assert!(d.visible_text.contains("black on cell"), "{}", d.visible_text);
        for w in ["page coloured", "cell coloured"] {
            assert!(d.invisible_text.contains(w), "{w}: {}", d.invisible_text);
        }
        let title: Vec<&str> = d.title.iter().map(|r| &d.visible_text[r.clone()]).collect();
        assert_eq!(title, ["Shop news"]);
    }

    #[test]
    fn links_images_and_active_content() {
        let d = parse(
            r#"<a href="http://evil.example/x?id=1">http://www.mybank.example</a>
            <img src="http://t.example/p.gif" width="1" height="1"><img src='logo.png' width=200>
            <script>var a = "<a href='no'>";</script><iframe src="x"></iframe><form action="y">
            <div style="background: url('http://track.example/bg.png')">x</div>
            <meta http-equiv="Refresh" content="0; url=http://x"><a href="javascript:void(0)" onclick="x()">j</a>"#,
        );
        assert_eq!(d.links.len(), 2);
        assert_eq!(
            d.links[0],
            Link { href: "http://evil.example/x?id=1".into(), text: "http://www.mybank.example".into(), hidden: false }
        );
        assert_eq!(d.images.len(), 2);
        assert!(d.images[0].hidden && !d.images[1].hidden);
        assert_eq!((d.scripts, d.iframes, d.forms), (1, 1, 1));
        assert!(d.meta_refresh);
        assert_eq!(d.css_urls, ["http://track.example/bg.png"]);
        assert_eq!(d.event_handlers, 2);
        assert!(!d.visible_text.contains("no'"), "script content is not text");
    }

    #[test]
    fn survives_hostile_input() {
        let many = "<div>".repeat(100_000);
        let d = parse(&many);
        assert!(d.tags > 0);
        let _ = parse("<");
        let _ = parse("<a href=");
        let _ = parse("<<<>>>&&&;;;&#99999999999;&#x110000;");
        let _ = parse("<!-- unterminated");
        let _ = parse("<script>never closed");
        let d = parse("1 < 2 and 3 > 2");
        assert!(d.visible_text.contains("1 < 2"));
    }
}
