//! What a blob is: its bytes are sniffed (magic numbers, the `infer` crate) and the result is
//! checked against an allow-list of images, audio, video and PDF. The declared content type must
//! name the same kind of file; what is stored and served is the declared type in its canonical
//! spelling, which is always on the allow-list.
//!
//! Everything a browser could run as a page or script — HTML, SVG (it can carry `<script>`),
//! JavaScript, XML — and everything unknown is refused, whatever it is declared as: the media
//! URL is public and on the host's own origin.

use crate::error::{PlazaError, Result};

/// How a served blob is presented: shown in the page, or only downloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    Inline,
    Attachment,
}

/// One allowed content type.
struct Allowed {
    /// The spelling stored and served.
    canonical: &'static str,
    /// Other spellings accepted as declared types (and the names `infer` uses).
    aliases: &'static [&'static str],
    /// Files of one family share a container format the sniffer cannot always tell apart (an
    /// audio-only MP4 carries the same `ftyp` brands as a video), so any member's declaration
    /// agrees with any member's bytes.
    family: &'static str,
    /// File name extension used in `Content-Disposition`.
    extension: &'static str,
    disposition: Disposition,
}

const ALLOWED: &[Allowed] = &[
    Allowed {
        canonical: "image/jpeg",
        aliases: &["image/jpg", "image/pjpeg"],
        family: "jpeg",
        extension: "jpg",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "image/png",
        aliases: &["image/x-png"],
        family: "png",
        extension: "png",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "image/gif",
        aliases: &[],
        family: "gif",
        extension: "gif",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "image/webp",
        aliases: &[],
        family: "webp",
        extension: "webp",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "image/bmp",
        aliases: &["image/x-bmp", "image/x-ms-bmp"],
        family: "bmp",
        extension: "bmp",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/mpeg",
        aliases: &["audio/mp3", "audio/mpeg3", "audio/x-mp3", "audio/x-mpeg"],
        family: "mp3",
        extension: "mp3",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/mp4",
        aliases: &["audio/m4a", "audio/x-m4a"],
        family: "isobmff",
        extension: "m4a",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/aac",
        aliases: &["audio/x-aac", "audio/aacp"],
        family: "aac",
        extension: "aac",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/amr",
        aliases: &[],
        family: "amr",
        extension: "amr",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/ogg",
        aliases: &["audio/opus", "audio/vorbis", "application/ogg"],
        family: "ogg",
        extension: "ogg",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/wav",
        aliases: &["audio/x-wav", "audio/wave", "audio/vnd.wave"],
        family: "wav",
        extension: "wav",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "audio/webm",
        aliases: &[],
        family: "matroska",
        extension: "webm",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "video/mp4",
        aliases: &["video/x-m4v", "video/m4v"],
        family: "isobmff",
        extension: "mp4",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "video/quicktime",
        aliases: &[],
        family: "isobmff",
        extension: "mov",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "video/webm",
        aliases: &[],
        family: "matroska",
        extension: "webm",
        disposition: Disposition::Inline,
    },
    Allowed {
        canonical: "video/x-matroska",
        aliases: &["video/matroska"],
        family: "matroska",
        extension: "mkv",
        disposition: Disposition::Inline,
    },
    // A PDF viewer runs inside the browser and PDFs can hold scripts and forms: downloaded
    // rather than shown on the host's origin.
    Allowed {
        canonical: "application/pdf",
        aliases: &["application/x-pdf"],
        family: "pdf",
        extension: "pdf",
        disposition: Disposition::Attachment,
    },
];

/// The allow-list in words, for refusals.
pub const ALLOWED_SUMMARY: &str = "images (JPEG, PNG, GIF, WebP, BMP), audio (MP3, AAC/M4A, AMR, \
     Ogg, WAV, WebM), video (MP4, QuickTime MOV, WebM, Matroska) and PDF";

/// `text/HTML; charset=utf-8` → `text/html`.
fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn lookup(content_type: &str) -> Option<&'static Allowed> {
    let e = essence(content_type);
    ALLOWED
        .iter()
        .find(|a| a.canonical == e || a.aliases.contains(&e.as_str()))
}

/// The canonical spelling of an allowed content type (`image/jpg` → `image/jpeg`), `None` when
/// the type is not allowed.
pub fn canonical(content_type: &str) -> Option<&'static str> {
    lookup(content_type).map(|a| a.canonical)
}

/// How a stored content type is served (inline for images, audio and video; attachment for PDF
/// and anything else).
pub fn disposition(content_type: &str) -> Disposition {
    lookup(content_type)
        .map(|a| a.disposition)
        .unwrap_or(Disposition::Attachment)
}

/// The file name extension for a stored content type (`bin` when unknown).
pub fn extension(content_type: &str) -> &'static str {
    lookup(content_type).map(|a| a.extension).unwrap_or("bin")
}

/// The content type a file name's extension suggests (for `plaza media upload` without
/// `--type`); `None` when the extension names nothing allowed.
pub fn for_extension(file_name: &str) -> Option<&'static str> {
    let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
    let by_ext = match ext.as_str() {
        "jpeg" | "jpe" => "image/jpeg",
        "m4v" => "video/mp4",
        "opus" | "oga" => "audio/ogg",
        "qt" => "video/quicktime",
        // `.webm` is usually video; an audio WebM can be uploaded with `--type audio/webm`.
        "webm" => "video/webm",
        other => ALLOWED.iter().find(|a| a.extension == other)?.canonical,
    };
    Some(by_ext)
}

/// What the bytes look like, in words, for a refusal: the sniffed type when known, with the
/// dangerous text formats named explicitly.
pub fn describe(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(1024)];
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    // Valid UTF-8, allowing a character cut in two at the end of the head.
    let looks_textual = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    // Markup first: SVG is XML to the sniffer, and a page can contain another format's magic.
    if looks_textual && text.contains("<svg") {
        return "an SVG image (image/svg+xml), which can carry scripts".into();
    }
    if looks_textual
        && ["<html", "<!doctype", "<script", "<body", "<iframe", "<head"]
            .iter()
            .any(|tag| text.contains(tag))
    {
        return "HTML (text/html)".into();
    }
    if let Some(t) = infer::get(bytes) {
        return match t.mime_type() {
            "text/html" => "HTML (text/html)".into(),
            "text/xml" => "XML (text/xml)".into(),
            other => format!("{} ({other})", t.extension()),
        };
    }
    if looks_textual {
        return "text (it could be a script or a page)".into();
    }
    "no known file format".into()
}

/// Checks `bytes` against the allow-list and `declared` against what the bytes are. Returns the
/// content type to store: the declared type in its canonical spelling.
pub fn check(bytes: &[u8], declared: &str) -> Result<&'static str> {
    let sniffed = infer::get(bytes).and_then(|t| lookup(t.mime_type()));
    // Some magic numbers are weak (two bytes for BMP, `%PDF` anywhere in the first KiB), so a
    // page could pass for one of them. Markup at the start, or a PDF whose header is not at the
    // start, is refused outright; the serving headers (`nosniff`, a sandboxing CSP) are the
    // second line of defence for what remains.
    let starts_with_markup = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'<');
    let misplaced_pdf = sniffed.is_some_and(|s| s.family == "pdf") && !bytes.starts_with(b"%PDF-");
    let sniffed = sniffed.filter(|_| !starts_with_markup && !misplaced_pdf);
    let Some(sniffed) = sniffed else {
        return Err(PlazaError::invalid(format!(
            "the bytes look like {}, which is not allowed; allowed are {ALLOWED_SUMMARY}",
            describe(bytes)
        )));
    };
    let Some(declared_kind) = lookup(declared) else {
        return Err(PlazaError::invalid(format!(
            "declared content type {:?} is not allowed (the bytes look like {}); allowed are \
             {ALLOWED_SUMMARY}",
            essence(declared),
            sniffed.canonical
        )));
    };
    if declared_kind.family != sniffed.family {
        return Err(PlazaError::invalid(format!(
            "declared content type {} does not match the bytes, which look like {}",
            declared_kind.canonical, sniffed.canonical
        )));
    }
    Ok(declared_kind.canonical)
}

#[cfg(test)]
pub(crate) mod samples {
    //! Smallest byte strings each sniffer recognises, for tests.

    pub fn png() -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        v.extend_from_slice(&[0; 16]);
        v
    }
    pub fn jpeg() -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F', b'I', b'F', 0];
        v.extend_from_slice(&[0; 16]);
        v
    }
    pub fn gif() -> Vec<u8> {
        b"GIF89a\x01\0\x01\0\0\0\0;".to_vec()
    }
    pub fn webp() -> Vec<u8> {
        b"RIFF\x1a\0\0\0WEBPVP8 \0\0\0\0\0\0\0\0\0\0".to_vec()
    }
    pub fn bmp() -> Vec<u8> {
        let mut v = b"BM".to_vec();
        v.extend_from_slice(&[0; 30]);
        v
    }
    pub fn mp3() -> Vec<u8> {
        let mut v = b"ID3\x03\0\0\0\0\0\0".to_vec();
        v.extend_from_slice(&[0; 16]);
        v
    }
    fn ftyp(brand: &[u8; 4]) -> Vec<u8> {
        let mut v = vec![0, 0, 0, 0x18];
        v.extend_from_slice(b"ftyp");
        v.extend_from_slice(brand);
        v.extend_from_slice(&[0; 16]);
        v
    }
    pub fn mp4() -> Vec<u8> {
        ftyp(b"isom")
    }
    pub fn m4a() -> Vec<u8> {
        ftyp(b"M4A ")
    }
    pub fn mov() -> Vec<u8> {
        ftyp(b"qt  ")
    }
    pub fn aac() -> Vec<u8> {
        vec![0xFF, 0xF1, 0x50, 0x80, 0, 0x1F, 0xFC, 0, 0]
    }
    pub fn amr() -> Vec<u8> {
        b"#!AMR\n\0\0\0\0\0\0\0\0".to_vec()
    }
    pub fn ogg() -> Vec<u8> {
        let mut v = b"OggS\0\x02".to_vec();
        v.extend_from_slice(&[0; 40]);
        v
    }
    pub fn wav() -> Vec<u8> {
        let mut v = b"RIFF\x24\0\0\0WAVEfmt ".to_vec();
        v.extend_from_slice(&[0; 16]);
        v
    }
    /// An EBML header naming `doc_type` (`webm` or `matroska`); the sniffer wants 257 bytes.
    fn ebml(doc_type: &[u8]) -> Vec<u8> {
        let mut v = vec![
            0x1A,
            0x45,
            0xDF,
            0xA3,
            0x9F,
            0x42,
            0x82,
            0x80 | doc_type.len() as u8,
        ];
        v.extend_from_slice(doc_type);
        v.resize(300, 0);
        v
    }
    pub fn webm() -> Vec<u8> {
        ebml(b"webm")
    }
    pub fn mkv() -> Vec<u8> {
        ebml(b"matroska")
    }
    pub fn pdf() -> Vec<u8> {
        b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n".to_vec()
    }
    pub fn html() -> Vec<u8> {
        b"<html><script>alert(document.cookie)</script></html>".to_vec()
    }
    pub fn svg() -> Vec<u8> {
        b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    #[test]
    fn every_allowed_format_is_recognised_under_its_declared_type() {
        let cases: &[(Vec<u8>, &str, &str)] = &[
            (png(), "image/png", "image/png"),
            (jpeg(), "image/jpeg", "image/jpeg"),
            (jpeg(), "image/jpg", "image/jpeg"),
            (gif(), "image/gif", "image/gif"),
            (webp(), "image/webp", "image/webp"),
            (bmp(), "image/bmp", "image/bmp"),
            (mp3(), "audio/mpeg", "audio/mpeg"),
            (mp3(), "audio/mp3", "audio/mpeg"),
            (m4a(), "audio/m4a", "audio/mp4"),
            (m4a(), "audio/x-m4a", "audio/mp4"),
            // An audio-only MP4 carries video brands: the declaration decides.
            (mp4(), "audio/mp4", "audio/mp4"),
            (mp4(), "video/mp4", "video/mp4"),
            (mov(), "video/quicktime", "video/quicktime"),
            (aac(), "audio/aac", "audio/aac"),
            (amr(), "audio/amr", "audio/amr"),
            (ogg(), "audio/ogg", "audio/ogg"),
            (wav(), "audio/wav", "audio/wav"),
            (wav(), "audio/x-wav", "audio/wav"),
            (webm(), "video/webm", "video/webm"),
            (webm(), "audio/webm", "audio/webm"),
            (mkv(), "video/x-matroska", "video/x-matroska"),
            (pdf(), "application/pdf", "application/pdf"),
            (png(), "Image/PNG; charset=binary", "image/png"),
        ];
        for (bytes, declared, stored) in cases {
            assert_eq!(
                check(bytes, declared).map_err(|e| e.to_string()),
                Ok(*stored),
                "{declared}"
            );
        }
    }

    #[test]
    fn html_svg_scripts_and_unknown_bytes_are_refused_whatever_is_declared() {
        let js = b"fetch('/api/v1/accounts').then(r => r.json())".to_vec();
        let cases: &[(Vec<u8>, &str, &str)] = &[
            (html(), "text/html", "HTML"),
            (html(), "image/png", "HTML"),
            (svg(), "image/svg+xml", "SVG"),
            (svg(), "image/png", "SVG"),
            (js, "text/javascript", "text"),
            (
                vec![0, 1, 2, 3, 250, 251],
                "image/png",
                "no known file format",
            ),
            (b"PK\x03\x04\x14\0\0\0".to_vec(), "application/zip", "zip"),
            // A page that mentions `%PDF` early would pass the PDF sniffer.
            (
                b"<html><script>x()</script>%PDF-1.4</html>".to_vec(),
                "application/pdf",
                "HTML",
            ),
        ];
        for (bytes, declared, named) in cases {
            let err = check(bytes, declared).expect_err(declared);
            let PlazaError::Invalid(m) = &err else {
                panic!("{err}")
            };
            assert!(m.contains(named), "{declared}: {m}");
            assert!(m.contains("allowed are images"), "{m}");
        }
    }

    #[test]
    fn a_declaration_that_disagrees_with_the_bytes_is_refused() {
        let err = check(&png(), "image/jpeg").unwrap_err().to_string();
        assert!(
            err.contains("image/jpeg") && err.contains("image/png"),
            "{err}"
        );
        let err = check(&png(), "text/html").unwrap_err().to_string();
        assert!(err.contains("\"text/html\" is not allowed"), "{err}");
        let err = check(&pdf(), "application/octet-stream")
            .unwrap_err()
            .to_string();
        assert!(err.contains("application/pdf"), "{err}");
        assert!(check(&mp4(), "audio/mpeg").is_err());
        assert!(check(&webm(), "video/mp4").is_err());
    }

    #[test]
    fn served_presentation_follows_the_type() {
        assert_eq!(disposition("image/png"), Disposition::Inline);
        assert_eq!(disposition("video/mp4"), Disposition::Inline);
        assert_eq!(disposition("audio/amr"), Disposition::Inline);
        assert_eq!(disposition("application/pdf"), Disposition::Attachment);
        assert_eq!(disposition("text/html"), Disposition::Attachment);
        assert_eq!(extension("audio/mp4"), "m4a");
        assert_eq!(for_extension("a/b/clip.MP4"), Some("video/mp4"));
        assert_eq!(for_extension("photo.jpeg"), Some("image/jpeg"));
        assert_eq!(for_extension("voice.amr"), Some("audio/amr"));
        assert_eq!(for_extension("page.html"), None);
        assert_eq!(for_extension("README"), None);
    }
}
