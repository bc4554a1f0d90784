"""Plays WeChat's servers against Plaza's bridge channel (`/wechat/{account}`), with wechatpy
1.8.18 doing the signing, encryption and decryption: Plaza is checked by an independent
implementation of the protocol, not by its own.

Usage: wechat_server.py '<json>' where the JSON names
  url, token, appid, mode ("plain" | "compatible" | "secure"), encoding_aes_key (encrypted modes),
  xml (the push, plain), and optionally: handshake (echostr: do a GET handshake instead),
  tamper ("signature" | "msg_signature" | "appid" | "base64"), timestamp, nonce.
Prints one JSON object: status, body, and for a reply its fields (decrypted when encrypted) plus
"encrypted" and "signature_ok".
"""

import json
import sys
import time

import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner


def sign(*parts):
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def main():
    args = json.loads(sys.argv[1])
    token = args["token"]
    timestamp = str(args.get("timestamp") or int(time.time()))
    nonce = str(args.get("nonce") or "1372623149")
    params = {"signature": sign(token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    tamper = args.get("tamper")
    if tamper == "signature":
        params["signature"] = "0" * 40
    if "handshake" in args:
        params["echostr"] = args["handshake"]
        r = requests.get(args["url"], params=params, timeout=30)
        print(json.dumps({"status": r.status_code, "body": r.text}))
        return
    xml = args["xml"]
    fields = xmltodict.parse(xml)["xml"]
    params["openid"] = fields.get("FromUserName", "")
    mode = args["mode"]
    crypto = None
    if mode != "plain":
        appid = args["appid"] if tamper != "appid" else "wx0000000000000000"
        crypto = WeChatCrypto(token, args["encoding_aes_key"], appid)
        sealed = xmltodict.parse(crypto.encrypt_message(xml, nonce, timestamp))["xml"]
        encrypt = sealed["Encrypt"]
        if tamper == "base64":
            encrypt = "!!not base64!!"
        params["encrypt_type"] = "aes"
        params["msg_signature"] = sign(token, timestamp, nonce, encrypt)
        if tamper == "msg_signature":
            params["msg_signature"] = "0" * 40
        if mode == "secure":
            body = "<xml><ToUserName><![CDATA[%s]]></ToUserName><Encrypt><![CDATA[%s]]></Encrypt></xml>" % (
                fields.get("ToUserName", ""),
                encrypt,
            )
        else:
            body = xml.replace("</xml>", "<Encrypt><![CDATA[%s]]></Encrypt></xml>" % encrypt)
    else:
        body = xml
    r = requests.post(args["url"], params=params, data=body.encode("utf-8"),
                      headers={"Content-Type": "text/xml"}, timeout=30)
    out = {"status": r.status_code, "body": r.text, "encrypted": False}
    text = r.text.strip()
    if r.status_code == 200 and text.startswith("<xml>"):
        doc = xmltodict.parse(text)["xml"]
        if "Encrypt" in doc:
            out["encrypted"] = True
            # Checked against the reply's own timestamp and nonce, as SDKs do.
            out["signature_ok"] = doc["MsgSignature"] == sign(
                token, doc["TimeStamp"], doc["Nonce"], doc["Encrypt"])
            plain = WeChatCrypto(token, args["encoding_aes_key"], args["appid"]).decrypt_message(
                text, doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"])
            doc = xmltodict.parse(plain)["xml"]
        out["reply"] = doc
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
