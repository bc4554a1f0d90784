//! The WeChat official-account protocol, as both sides speak it: signatures, secure-mode
//! crypto, the XML of pushes and passive replies, and the identity a Plaza account shows in it.
//! The channels (`channels::wechat`, the developer-server push) and the WeChat-compatible API
//! build on these; nothing here touches storage. See `reference/wechat-protocol.md`.

pub mod crypto;
pub mod identity;
pub mod signature;
pub mod xml;
