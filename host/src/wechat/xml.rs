//! The XML of the protocol: a small element tree read with quick-xml, and a writer that puts
//! strings in CDATA and numbers bare, as WeChat does.
//!
//! Bodies come from the network, so reading is bounded and refuses what WeChat never sends:
//! a DOCTYPE (where entity-expansion attacks live), entities other than XML's five and numeric
//! character references, more than [`MAX_DEPTH`] levels or [`MAX_ELEMENTS`] elements, text
//! outside the root, and anything after it.

use std::borrow::Cow;
use std::io::Cursor;

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

/// Deepest nesting read (WeChat's deepest, `CopyrightCheckResult/ResultList/item/…`, is 5).
pub const MAX_DEPTH: usize = 8;
/// Most elements read from one body.
pub const MAX_ELEMENTS: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed XML: {0}")]
pub struct XmlError(pub String);

fn err(msg: impl Into<String>) -> XmlError {
    XmlError(msg.into())
}

/// One element: its name, its text (CDATA and text joined), its children in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element {
    pub name: String,
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The trimmed text of the first child named `name`, if present.
    pub fn text_of(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    /// Like [`Element::text_of`], absent when empty.
    pub fn non_empty(&self, name: &str) -> Option<&str> {
        self.text_of(name).filter(|t| !t.is_empty())
    }

    /// Children named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }
}

/// Parses a document whose root is any element (WeChat's is `<xml>`). Leading and trailing
/// whitespace and an XML declaration are allowed (some SDKs write them).
pub fn parse(body: &str) -> Result<Element, XmlError> {
    let mut reader = Reader::from_str(body.trim());
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(format!("at byte {}: {e}", reader.buffer_position())))?;
        match event {
            Event::Start(start) => {
                if root.is_some() {
                    return Err(err("content after the root element"));
                }
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(err(format!("more than {MAX_ELEMENTS} elements")));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(err(format!("nested deeper than {MAX_DEPTH} levels")));
                }
                stack.push(Element {
                    name: name_of(&start)?,
                    ..Element::default()
                });
            }
            Event::Empty(start) => {
                if root.is_some() {
                    return Err(err("content after the root element"));
                }
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err(err(format!("more than {MAX_ELEMENTS} elements")));
                }
                let el = Element {
                    name: name_of(&start)?,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let el = stack.pop().ok_or_else(|| err("unexpected end tag"))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                let text = t
                    .decode()
                    .map_err(|e| err(format!("text is not UTF-8: {e}")))?;
                push_text(&mut stack, &text)?;
            }
            Event::CData(c) => {
                let text = c
                    .decode()
                    .map_err(|e| err(format!("CDATA is not UTF-8: {e}")))?;
                push_text(&mut stack, &text)?;
            }
            Event::GeneralRef(r) => {
                let resolved: Cow<'_, str> = if r.is_char_ref() {
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => Cow::Owned(c.to_string()),
                        _ => return Err(err("invalid character reference")),
                    }
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| err(format!("entity name is not UTF-8: {e}")))?;
                    match resolve_predefined_entity(&name) {
                        Some(s) => Cow::Borrowed(s),
                        None => {
                            return Err(err(format!(
                                "entity &{name}; is not allowed (only XML's predefined entities)"
                            )));
                        }
                    }
                };
                push_text(&mut stack, &resolved)?;
            }
            Event::DocType(_) => return Err(err("a DOCTYPE is not allowed")),
            Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(err("the document ends inside an element"));
    }
    root.ok_or_else(|| err("no root element"))
}

fn name_of(start: &BytesStart<'_>) -> Result<String, XmlError> {
    std::str::from_utf8(start.name().as_ref())
        .map(str::to_string)
        .map_err(|_| err("element name is not UTF-8"))
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(el) => {
            el.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err(err("text outside the root element")),
    }
}

/// Writes a protocol document: `<xml>` and its fields, strings in CDATA, numbers bare.
pub struct XmlWriter {
    writer: Writer<Cursor<Vec<u8>>>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with the `<xml>` root open.
    pub fn new() -> Self {
        let mut w = XmlWriter {
            writer: Writer::new(Cursor::new(Vec::new())),
        };
        w.open("xml");
        w
    }

    // Writing into a Vec cannot fail, so the io::Result of each event is dropped.
    pub fn open(&mut self, name: &str) -> &mut Self {
        let _ = self.writer.write_event(Event::Start(BytesStart::new(name)));
        self
    }

    pub fn close(&mut self, name: &str) -> &mut Self {
        let _ = self.writer.write_event(Event::End(BytesEnd::new(name)));
        self
    }

    /// `<name><![CDATA[value]]></name>` (a value containing `]]>` is split across sections).
    pub fn cdata(&mut self, name: &str, value: &str) -> &mut Self {
        self.open(name);
        for part in BytesCData::escaped(value) {
            let _ = self.writer.write_event(Event::CData(part));
        }
        self.close(name)
    }

    /// `<name>value</name>` with the value escaped (numbers, as WeChat writes them bare).
    pub fn bare(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        self.open(name);
        let text = value.to_string();
        let _ = self.writer.write_event(Event::Text(BytesText::new(&text)));
        self.close(name)
    }

    /// Closes `<xml>` and returns the document.
    pub fn finish(mut self) -> String {
        self.close("xml");
        String::from_utf8(self.writer.into_inner().into_inner()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_push_with_cdata_bare_numbers_and_nesting() {
        let doc = parse(
            "\n  <xml><ToUserName><![CDATA[gh_1]]></ToUserName><CreateTime>1348831860</CreateTime>\
             <ScanCodeInfo><ScanType><![CDATA[qrcode]]></ScanType></ScanCodeInfo>\
             <Content><![CDATA[a]]>&amp;<![CDATA[b]]>&#20320;</Content><Empty/></xml>  \n",
        )
        .unwrap();
        assert_eq!(doc.name, "xml");
        assert_eq!(doc.text_of("ToUserName"), Some("gh_1"));
        assert_eq!(doc.text_of("CreateTime"), Some("1348831860"));
        assert_eq!(
            doc.child("ScanCodeInfo")
                .and_then(|s| s.text_of("ScanType")),
            Some("qrcode")
        );
        assert_eq!(doc.text_of("Content"), Some("a&b你"));
        assert_eq!(doc.text_of("Empty"), Some(""));
        assert_eq!(doc.non_empty("Empty"), None);
    }

    #[test]
    fn refuses_hostile_and_broken_documents() {
        let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><xml><Content>&lol2;</Content></xml>"#;
        for (doc, why) in [
            (billion_laughs, "DOCTYPE"),
            ("<xml><Content>&lol;</Content></xml>", "entity"),
            ("<xml><Content>x</Content>", "ends inside"),
            ("<xml><a></b></xml>", "mismatch"),
            ("<xml></xml><xml></xml>", "after the root"),
            ("text<xml></xml>", "outside"),
            ("", "no root"),
            ("{\"json\":true}", "no root"),
        ] {
            assert!(parse(doc).is_err(), "{why}: {doc}");
        }
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(parse(&deep).unwrap_err().0.contains("deeper"));
        let wide = format!("<xml>{}</xml>", "<a/>".repeat(MAX_ELEMENTS));
        assert!(parse(&wide).unwrap_err().0.contains("elements"));
    }

    #[test]
    fn writes_cdata_strings_bare_numbers_and_survives_a_cdata_terminator() {
        let mut w = XmlWriter::new();
        w.cdata("Content", "a]]>b<c>&").bare("CreateTime", 12);
        let doc = w.finish();
        assert!(doc.starts_with("<xml><Content><![CDATA["), "{doc}");
        assert!(doc.contains("<CreateTime>12</CreateTime>"), "{doc}");
        assert_eq!(parse(&doc).unwrap().text_of("Content"), Some("a]]>b<c>&"));
    }
}
