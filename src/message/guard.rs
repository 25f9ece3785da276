//! What keeps hostile input cheap and harmless to parse: mail-parser behind `catch_unwind` and,
//! for input that can nest messages, on a stack that grows with it; its tree dropped without
//! recursion; and copies of the input without what mail-parser is slow on (a header block of
//! too many fields, encoded `message/rfc822` parts). Issue 15.

use super::*;

thread_local! {
    static IN_PARSER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside mail-parser: a panic there is caught and handled (the panic
/// hook uses this to stay quiet about it).
pub fn in_parser() -> bool {
    IN_PARSER.with(|f| f.get())
}

/// Drops a parsed message without recursion. mail-parser nests a `message/rfc822` part as a
/// whole message inside its parent, and dropping that tree recurses once per level: 512 KiB of
/// `Content-Type: message/rfc822` lines are 17,000 levels, which overflowed a 1 MiB stack (and
/// a smaller stack with less). Here each nested message's parts are moved out onto a list
/// before it is dropped, so the stack stays flat whatever the depth (issue 15).
pub(super) fn dismantle(msg: mail_parser::Message<'_>) {
    let mut pending = vec![msg.parts];
    while let Some(parts) = pending.pop() {
        for mut part in parts {
            if let PartType::Message(inner) = &mut part.body {
                pending.push(std::mem::take(&mut inner.parts));
            }
        }
    }
}

/// mail-parser behind `catch_unwind`: `Err` when it panicked.
///
/// A `message/rfc822` part (or a digest's part) with a transfer encoding is decoded and parsed
/// as a message of its own, and mail-parser then copies that message's tree into the outer one
/// recursively (`MessagePart::into_owned`), one call per level of nesting inside it: 486 KB of
/// base64 holding 12,000 nested `message/rfc822` parts needed more than the 8 MiB main-thread
/// stack, and the delivery died of SIGSEGV (issue 15; found by examples/fuzz_slow.rs). A message
/// that can nest so (a `Content-Type` field naming `message` or `digest`) and is large enough to
/// matter is parsed on a thread whose stack grows with the input (virtual memory, touched only
/// as deep as the parse goes); everything else, nearly all mail, is parsed here. Should even
/// that thread not start (a tight memory limit), the parse runs here, and a stack overflow then
/// still passes the message through (the binary's SIGSEGV handler, src/main.rs).
///
/// Under an address-space limit (RLIMIT_AS: Dovecot's `vsz_limit`, a `ulimit -v`) the thread's
/// stack is at most an eighth of the room left below it, and when that is less than the main
/// thread's usual 8 MiB the parse runs here: a stack that fits but leaves too little for the
/// parse's own allocations made them fail, and 500 KB of nested `message/rfc822` header blocks
/// passed through unscored under a limit of 80-128 MiB, though they were scored with less
/// (attack report F9; the other half of it, glibc's arena for a second thread, is in
/// src/main.rs). Since encoded nested messages are read unencoded
/// (`neutralize_encoded_messages`), the parse needs little stack (those 500 KB parse within a
/// 256 KiB one); the stack that grows with the input is a margin, not a need.
pub(super) fn guarded_parse(bytes: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    if bytes.len() <= NEST_INLINE || !may_nest_messages(bytes) {
        return guarded_parse_here(bytes);
    }
    let wanted = (2 << 20) + bytes.len().saturating_mul(NEST_STACK_PER_BYTE);
    let room = stack_room();
    if wanted > room && room < 8 << 20 {
        return guarded_parse_here(bytes);
    }
    let stack = wanted.min(room);
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("parse".into())
            .stack_size(stack)
            .spawn_scoped(s, || guarded_parse_here(bytes))
        {
            Ok(t) => t.join().unwrap_or(Err(())),
            Err(_) => guarded_parse_here(bytes),
        }
    })
}

/// The most stack a parse thread may reserve: an eighth of the address space left below the
/// process's RLIMIT_AS (its size now from /proc/self/statm; the whole limit when that cannot be
/// read), or no bound without a limit.
fn stack_room() -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    #[allow(unsafe_code)]
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } == 0;
    if !ok || limit.rlim_cur == libc::RLIM_INFINITY {
        return usize::MAX;
    }
    let limit = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX);
    // SAFETY: sysconf reads a constant of the system.
    #[allow(unsafe_code)]
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let used = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_ascii_whitespace().next()?.parse::<usize>().ok())
        .map_or(0, |pages| pages.saturating_mul(page));
    limit.saturating_sub(used) / 8
}

/// Up to this size nesting cannot go deep enough to matter (about 200 levels: well under any
/// thread's stack), so the parse runs on the caller's stack.
const NEST_INLINE: usize = 8 << 10;
/// Stack per input byte for a parse that may nest messages: a level takes at least 29 bytes of
/// input (`Content-type:message/rfc822` and a blank line) and, measured, under 1.5 KiB of stack
/// in a release build, more in a debug build: 128 bytes per input byte is 3.6 KiB per level.
const NEST_STACK_PER_BYTE: usize = 128;

/// Whether a `Content-Type` field (of the message or of any part, folded or not) names
/// `message` or `digest` (any case): only then can mail-parser nest one message in another.
pub(super) fn may_nest_messages(bytes: &[u8]) -> bool {
    let mut in_content_type = false;
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            in_content_type = line.len() >= 12 && line[..12].eq_ignore_ascii_case(b"content-type");
        }
        if in_content_type && (contains_ignore_case(line, b"message") || contains_ignore_case(line, b"digest")) {
            return true;
        }
        start = end;
    }
    false
}

fn contains_ignore_case(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w.eq_ignore_ascii_case(needle))
}

fn guarded_parse_here(bytes: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    IN_PARSER.with(|f| f.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(bytes)));
    IN_PARSER.with(|f| f.set(false));
    r.map_err(|_| ())
}

/// At most this many fields of the top-level header block are parsed (real mail has up to about
/// 130: the most in the SpamAssassin corpus is 126, most of them `Received`).
pub(super) const MAX_HEADER_FIELDS: usize = 1000;

/// When the header block of `scanned` has more than `MAX_HEADER_FIELDS` fields: a copy of
/// `scanned` with only the first of them (continuation lines kept with their field), then the
/// blank line and the body as they are. `None` (nearly always): parse `scanned` itself.
pub(super) fn capped_header_block(scanned: &[u8], body_offset: Option<usize>) -> Option<Vec<u8>> {
    let header_end = match body_offset {
        // The blank line that ends the block: `\n` or `\r\n`.
        Some(off) if off >= 2 && scanned[off - 2] == b'\r' && (off == 2 || scanned[off - 3] == b'\n') => off - 2,
        Some(off) => off - 1,
        None => scanned.len(),
    };
    let block = &scanned[..header_end];
    // Whole lines only: a line that does not start with white space starts a field.
    let (mut fields, mut at) = (0usize, 0usize);
    while at < block.len() {
        if !matches!(block[at], b' ' | b'\t') {
            if fields == MAX_HEADER_FIELDS {
                let mut copy = Vec::with_capacity(at + scanned.len() - header_end);
                copy.extend_from_slice(&scanned[..at]);
                copy.extend_from_slice(&scanned[header_end..]);
                return Some(copy);
            }
            fields += 1;
        }
        at = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |i| at + i + 1);
    }
    None
}

/// At most this many `=?` that do not start a well-formed encoded word are left in one field.
pub(super) const MAX_LOOSE_ENCODED_WORDS: usize = 16;

/// At most this many bytes of a Content-Type field's `boundary=` value are kept from spoiling
/// (RFC 2046 allows 70), so the slow parse cannot come back through it.
const MAX_BOUNDARY_LEN: usize = 70;

/// What `spoil_loose_encoded_words` made: the spoiled copy, and whether a Content-Type field was
/// changed in it (which can change the message's MIME structure: a `MIME_*` problem).
pub(super) struct Spoiled {
    pub copy: Vec<u8>,
    pub content_type_changed: bool,
}

/// A copy of `bytes` in which no field holds more than `MAX_LOOSE_ENCODED_WORDS` `=?` that do not
/// start a well-formed RFC 2047 encoded word (`=?charset?Q|B?text?=`, no white space or `?`
/// inside): the `=` of the others becomes `?` (same length). `None` (nearly always) when no
/// field has more.
///
/// mail-parser tries to decode an encoded word at every `=?` a header value's words start with,
/// and a try that fails (`=?ab?q?x`, no `?=` after it) reads to the end of the field before it
/// gives up, so a field of such pieces cost time quadratic in its length: 400 KB of ` =?ab?q?x`
/// in a From, To or Subject took 45-58 s. Well-formed words end where they say, and a few loose
/// ones (a name with a space inside an encoded word, as old mailers wrote) are still decoded.
/// A field here is a line and the lines after it that start with white space, anywhere in
/// `bytes`: a MIME part's header block counts too, and a body line that looks like one is
/// changed in the copy as well, which costs nothing that matters (both bytes separate words).
///
/// The value of a Content-Type field's first `boundary=` parameter (at most
/// `MAX_BOUNDARY_LEN` bytes) is never changed: the body's delimiter lines must still match it,
/// or the parts are lost (16 junk `=?` in a made-up parameter before `boundary="=?b"`). Any other
/// change to a Content-Type field is reported (`content_type_changed`), as it can still change
/// what mail-parser makes of the structure.
pub(super) fn spoil_loose_encoded_words(bytes: &[u8]) -> Option<Spoiled> {
    let mut copy: Option<Vec<u8>> = None;
    let mut content_type_changed = false;
    let (mut loose, mut last) = (0usize, 0usize);
    // The current field's start, and the boundary value it protects (worked out once a field
    // first needs spoiling: each field is read once more at most, so this stays linear).
    let mut field = 0usize;
    let mut protected: Option<Option<(bool, std::ops::Range<usize>)>> = None;
    let mut at = 0;
    while let Some(i) = memchr::memmem::find(&bytes[at..], b"=?").map(|i| at + i) {
        // A new field began since the last `=?`: a line end followed by a byte that is not white space.
        if let Some(n) = memchr::memchr_iter(b'\n', &bytes[last..i])
            .rfind(|n| !matches!(bytes.get(last + n + 1), Some(b' ' | b'\t')))
        {
            loose = 0;
            field = last + n + 1;
            protected = None;
        }
        last = i;
        match encoded_word_len(&bytes[i..]) {
            Some(len) => at = i + len,
            None => {
                loose += 1;
                if loose > MAX_LOOSE_ENCODED_WORDS {
                    let (is_ct, keep) = protected
                        .get_or_insert_with(|| protected_boundary(bytes, field))
                        .clone()
                        .unwrap_or((false, 0..0));
                    if !keep.contains(&i) {
                        copy.get_or_insert_with(|| bytes.to_vec())[i] = b'?';
                        content_type_changed |= is_ct;
                    }
                }
                at = i + 2;
            }
        }
    }
    copy.map(|copy| Spoiled { copy, content_type_changed })
}

/// At most this many `*` and as many `\'` are left in one Content-Type or Content-Disposition
/// field (real ones have a few: `filename*0*=utf-8\'\'...; filename*1*=...`).
pub(super) const MAX_PARAMETER_MARKS: usize = 64;

/// A copy of `bytes` in which no Content-Type or Content-Disposition field holds more than
/// `MAX_PARAMETER_MARKS` `*` or more than as many `\'`: the others become `_` (same length).
/// `None` (nearly always) when no such field has more.
///
/// mail-parser reads these fields' RFC 2231 parameters at a cost quadratic in the field: each
/// continuation (`name*7=...`) is looked for among the parameters read so far and appended to
/// its value by copying it whole, and each `\'` of an encoded value (`name*=utf-8\'en\'...`)
/// looks for a `name-language` parameter among all of them: 256 KB of `a=x; ` then `\'`s cost
/// 1.3 s, 500 KB of `f*1=a; f*2=a; ...` 100 ms. A `*` past the limit ends no parameter name
/// (the parameter is read as a plain one) and a `\'` past it separates nothing. A field is a
/// line and the lines after it that start with white space, anywhere in `bytes` (as in
/// `spoil_loose_encoded_words`). A Content-Type field's boundary value is never changed (see
/// `content_type_boundary`); any other change to a Content-Type field is reported.
pub(super) fn spoil_parameter_marks(bytes: &[u8]) -> Option<Spoiled> {
    let mut copy: Option<Vec<u8>> = None;
    let mut content_type_changed = false;
    let (mut stars, mut quotes) = (0usize, 0usize);
    // The current field's start, whether it is one of the two, and the boundary value it
    // protects (worked out once, when the field first needs spoiling).
    let (mut field, mut in_params) = (0usize, false);
    let mut protected: Option<Option<(bool, std::ops::Range<usize>)>> = None;
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if !matches!(line[0], b' ' | b'\t') {
            (field, stars, quotes, protected) = (start, 0, 0, None);
            in_params =
                starts_with_ignore_case(line, b"content-type") || starts_with_ignore_case(line, b"content-disposition");
        }
        if in_params {
            for i in memchr::memchr2_iter(b'*', b'\'', line).map(|i| start + i) {
                let seen = if bytes[i] == b'*' { &mut stars } else { &mut quotes };
                *seen += 1;
                if *seen > MAX_PARAMETER_MARKS {
                    let (is_ct, keep) = protected
                        .get_or_insert_with(|| protected_boundary(bytes, field))
                        .clone()
                        .unwrap_or((false, 0..0));
                    if !keep.contains(&i) {
                        copy.get_or_insert_with(|| bytes.to_vec())[i] = b'_';
                        content_type_changed |= is_ct;
                    }
                }
            }
        }
        start = end;
    }
    copy.map(|copy| Spoiled { copy, content_type_changed })
}

/// At most this many multipart Content-Type fields whose boundary no delimiter line after them
/// names are left as they are (broken mail has one or two: a boundary declared and never used).
pub(super) const MAX_UNCLOSED_MULTIPARTS: usize = 16;

/// A copy of `bytes` in which, past the first `MAX_UNCLOSED_MULTIPARTS`, a multipart
/// Content-Type field whose boundary no line after it opens (`--` and the boundary, alone or
/// with `--` after it) no longer says multipart: its `m` becomes `x` (same length).
/// `None` (nearly always) when there are no more than that.
///
/// mail-parser looks for a multipart part's first delimiter from the part's body to the end of
/// the message and, when it is not there, goes back and reads the part another way: each such
/// part costs a read of the rest of the message, so sibling parts that each declare a boundary
/// nobody uses cost time quadratic in their number: 400 KB of `--B` + `Content-Type:
/// multipart/mixed; boundary=NOPE` parts took 1.85 s, and a mutated message found by
/// examples/fuzz_slow.rs 1.5 s a delivery. A field is a line and the lines after it that start
/// with white space, anywhere in `bytes` (as in `spoil_loose_encoded_words`); its type is found
/// as mail-parser finds it ([`multipart_type`]: also on a folded line, or after a comment: 500 KB
/// of `Content-Type:` folded before `multipart/mixed` cost 4.3 s when only the first line was
/// looked at). Every change is to a Content-Type field, and is reported. Two passes over the
/// lines, and two reads of each Content-Type field at most: linear.
pub(super) fn spoil_unclosed_multiparts(bytes: &[u8]) -> Option<Spoiled> {
    // Where each delimiter line's boundary is last opened or closed (a line of `--` and the
    // boundary, with `--` after it when it closes).
    let mut last_delimiter: std::collections::HashMap<&[u8], usize> = std::collections::HashMap::new();
    // The multipart Content-Type fields: where the `m` of `multipart` is, and the boundary.
    let mut multiparts: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    let mut start = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if let Some(rest) = line.strip_prefix(b"--") {
            let token = rest.trim_ascii_end();
            last_delimiter.insert(token, start);
            if let Some(open) = token.strip_suffix(b"--") {
                last_delimiter.insert(open, start);
            }
        } else if starts_with_ignore_case(line, b"content-type") {
            if let Some((true, boundary)) = content_type_boundary(bytes, start) {
                let value = memchr::memchr(b':', line).map(|c| start + c + 1);
                if let Some(ty) = value.and_then(|v| multipart_type(bytes, v)) {
                    if !boundary.is_empty() {
                        multiparts.push((ty, boundary));
                    }
                }
            }
        }
        start = end;
    }
    let mut copy: Option<Vec<u8>> = None;
    let mut unclosed = 0usize;
    for (ty, boundary) in multiparts {
        if last_delimiter.get(&bytes[boundary]).is_some_and(|&at| at > ty) {
            continue;
        }
        unclosed += 1;
        if unclosed > MAX_UNCLOSED_MULTIPARTS {
            copy.get_or_insert_with(|| bytes.to_vec())[ty] = b'x';
        }
    }
    copy.map(|copy| Spoiled { copy, content_type_changed: true })
}

/// Where the type of the Content-Type field whose value starts at `value` begins, if it is
/// `multipart` (any case): the type as mail-parser 0.11.9 reads it (`parse_content_type`), which
/// passes over white space, CR, a line end followed by white space (a fold), `"` and `\`, and
/// comments (nested; a `\` escapes nothing in them), to the first other byte. A line end in a
/// comment, or one not followed by white space (the field's end), leaves the field with no type
/// for mail-parser: `None`. Reads the field once, at most to its end.
fn multipart_type(bytes: &[u8], value: usize) -> Option<usize> {
    let mut i = value;
    let mut depth = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\n' if depth > 0 || !matches!(bytes.get(i + 1), Some(b' ' | b'\t')) => return None,
            b'(' => depth += 1,
            b')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            b' ' | b'\t' | b'\r' | b'\n' | b'"' | b'\\' => {}
            _ => return starts_with_ignore_case(&bytes[i..], b"multipart").then_some(i),
        }
        i += 1;
    }
    None
}

/// [`content_type_boundary`] with a boundary longer than `MAX_BOUNDARY_LEN` left unprotected
/// (empty): what the spoilers of a field keep from changing.
fn protected_boundary(bytes: &[u8], start: usize) -> Option<(bool, std::ops::Range<usize>)> {
    content_type_boundary(bytes, start).map(|(ct, v)| (ct, if v.len() <= MAX_BOUNDARY_LEN { v } else { 0..0 }))
}

/// Whether the field at `start` of `bytes` is a Content-Type field and, if it is, where the value
/// of its first `boundary=` parameter lies (empty if none).
/// Parameters are read as mail-parser reads them: `;` separates them outside quoted strings
/// (with `\` escapes) and comments; a value is a quoted string or runs to `;` or white space.
/// Comments nest, a `\` escapes nothing in them, and a line end ends them (a fold puts
/// mail-parser among the parameters); in the type, before the first `;`, a `"` opens nothing
/// (mail-parser passes over it there: `Content-Type: "multipart/mixed; boundary=x` is a multipart
/// with a boundary, and `(a\) multipart/mixed; ...` one after a comment; both escaped the
/// unclosed-multipart guard at first, 0.27-0.30 s at 128 KB). Reads the field once (to its end
/// at most).
fn content_type_boundary(bytes: &[u8], start: usize) -> Option<(bool, std::ops::Range<usize>)> {
    const NAME: &[u8] = b"content-type";
    let name = bytes.get(start..start + NAME.len())?;
    if !name.eq_ignore_ascii_case(NAME) {
        return None;
    }
    let mut j = start + NAME.len();
    while matches!(bytes.get(j), Some(b' ' | b'\t')) {
        j += 1;
    }
    if bytes.get(j) != Some(&b':') {
        return None;
    }
    j += 1;
    // The field's end: a line end followed by a byte that is not white space.
    let end = memchr::memchr_iter(b'\n', &bytes[j..])
        .map(|n| j + n)
        .find(|&n| !matches!(bytes.get(n + 1), Some(b' ' | b'\t')))
        .unwrap_or(bytes.len());
    let f = &bytes[..end];
    let ws = |b: u8| b.is_ascii_whitespace();
    // Skips a quoted string (at its opening quote) or a comment (at its `(`): the index after it.
    let skip = |mut k: usize, close: u8| {
        k += 1;
        if close == b')' {
            let mut depth = 1usize;
            while k < f.len() && f[k] != b'\n' {
                match f[k] {
                    b'(' => depth += 1,
                    b')' if depth == 1 => return k + 1,
                    b')' => depth -= 1,
                    _ => {}
                }
                k += 1;
            }
            return (k + 1).min(f.len());
        }
        while k < f.len() && f[k] != close {
            k += if f[k] == b'\\' { 2 } else { 1 };
        }
        (k + 1).min(f.len())
    };
    // Past the type: to the first `;` outside comments.
    let mut param_start = None;
    while j < f.len() {
        match f[j] {
            b'(' => j = skip(j, b')'),
            b';' => {
                param_start = Some(j + 1);
                break;
            }
            _ => j += 1,
        }
    }
    let Some(mut j) = param_start else { return Some((true, 0..0)) };
    while j < f.len() {
        // A parameter's name, to its `=` (or `;`: no value).
        while j < f.len() && ws(f[j]) {
            j += 1;
        }
        let name_start = j;
        while j < f.len() && !matches!(f[j], b'=' | b';' | b'"' | b'(') {
            j += 1;
        }
        if j >= f.len() || f[j] != b'=' {
            match f.get(j) {
                Some(b'"') => j = skip(j, b'"'),
                Some(b'(') => j = skip(j, b')'),
                _ => j += 1,
            }
            continue;
        }
        let is_boundary = f[name_start..j].trim_ascii().eq_ignore_ascii_case(b"boundary");
        j += 1;
        while j < f.len() && ws(f[j]) {
            j += 1;
        }
        let value = if f.get(j) == Some(&b'"') {
            let v = j + 1;
            j = skip(j, b'"');
            v..(j - 1).max(v)
        } else {
            let v = j;
            while j < f.len() && !ws(f[j]) && f[j] != b';' {
                j += 1;
            }
            v..j
        };
        if is_boundary {
            return Some((true, value));
        }
        // To the next `;` outside quotes and comments.
        while j < f.len() && f[j] != b';' {
            match f[j] {
                b'"' => j = skip(j, b'"'),
                b'(' => j = skip(j, b')'),
                _ => j += 1,
            }
        }
        j += 1;
    }
    Some((true, 0..0))
}

/// The length of the well-formed encoded word `w` starts with (`=?charset?Q?text?=`; no white
/// space or `?` in the charset or the text), if it starts with one. Reads at most to the third
/// `?` after the start, so every `=?` of a field is looked at in time linear in the field.
fn encoded_word_len(w: &[u8]) -> Option<usize> {
    let plain = |b: &u8| !b.is_ascii_whitespace() && *b != b'?';
    let charset = w.get(2..)?.iter().take_while(|b| plain(b)).count();
    let mut j = 2 + charset;
    if charset == 0 || w.get(j) != Some(&b'?') || !matches!(w.get(j + 1), Some(b'q' | b'Q' | b'b' | b'B')) {
        return None;
    }
    j += 2;
    if w.get(j) != Some(&b'?') {
        return None;
    }
    j += 1;
    j += w[j..].iter().take_while(|b| plain(b)).count();
    (w.get(j..j + 2) == Some(b"?=")).then_some(j + 2)
}

/// A copy of `bytes` in which mail-parser will not decode a `message/rfc822` part, when it has
/// one with a transfer encoding; `None` (nearly always) when it has none.
///
/// mail-parser decodes such a part (base64 or quoted-printable), parses it as a message of its
/// own and then copies that message into the outer one, and the copy of each nested level
/// copies the whole decoded text again (`Message::into_owned`): 200 KB of quoted-printable
/// holding 5,700 nested `message/rfc822` parts took 1.3 s and 970 MB, 600 KB took 12 s and
/// 8 GB (found by examples/fuzz_slow.rs; issue 15). RFC 2046 allows no transfer encoding but
/// 7bit, 8bit and binary on message/rfc822, so the copy spoils the encoding's name in such a
/// part's header block (`base64` → `xase64`, same length) and mail-parser reads the part as an
/// unencoded message, borrowing it: no copies, linear. A header block counts when it names
/// `message` in its Content-Type, or has no Content-Type while the message has a digest (whose
/// parts are messages by default). A header block here is a run of non-empty lines; a body
/// line that looks like one is spoiled in the copy too, which costs nothing that matters.
pub(super) fn neutralize_encoded_messages(bytes: &[u8]) -> Option<Vec<u8>> {
    if !may_nest_messages(bytes) {
        return None;
    }
    let digest = has_digest(bytes);
    let mut patches = Vec::new();
    let (mut ct_message, mut has_ct, mut encoded) = (false, false, Vec::new());
    let mut field = Field::Other;
    let mut start = 0;
    while start <= bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i + 1);
        let line = &bytes[start..end];
        if line.is_empty() || line == b"\n" || line == b"\r\n" {
            if !encoded.is_empty() && (ct_message || (!has_ct && digest)) {
                patches.append(&mut encoded);
            }
            (ct_message, has_ct) = (false, false);
            encoded.clear();
            field = Field::Other;
            if end == bytes.len() {
                break;
            }
        } else {
            if !matches!(line[0], b' ' | b'\t') {
                field = if starts_with_ignore_case(line, b"content-type") {
                    has_ct = true;
                    Field::ContentType
                } else if starts_with_ignore_case(line, b"content-transfer-encoding") {
                    Field::Encoding
                } else {
                    Field::Other
                };
            }
            match field {
                Field::ContentType => ct_message |= contains_ignore_case(line, b"message"),
                Field::Encoding => {
                    for name in [&b"base64"[..], b"quoted-printable"] {
                        if let Some(i) = line.windows(name.len()).position(|w| w.eq_ignore_ascii_case(name)) {
                            encoded.push(start + i);
                        }
                    }
                }
                Field::Other => {}
            }
        }
        start = end;
    }
    if patches.is_empty() {
        return None;
    }
    let mut copy = bytes.to_vec();
    for at in patches {
        copy[at] = b'x';
    }
    Some(copy)
}

#[derive(Clone, Copy)]
enum Field {
    ContentType,
    Encoding,
    Other,
}

fn starts_with_ignore_case(line: &[u8], name: &[u8]) -> bool {
    line.len() >= name.len() && line[..name.len()].eq_ignore_ascii_case(name)
}

/// Whether a Content-Type field names `digest` (any case).
fn has_digest(bytes: &[u8]) -> bool {
    let mut in_ct = false;
    bytes.split_inclusive(|&b| b == b'\n').any(|line| {
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            in_ct = starts_with_ignore_case(line, b"content-type");
        }
        in_ct && contains_ignore_case(line, b"digest")
    })
}
