"""A WeChat bot written with wechatpy 1.8.18, exactly as one is written for WeChat: the example
developer server of the README ("Attach your existing WeChat bot") and the peer of
tests/tests/developer_server.rs.

It answers a text with "echo: <content>", a subscribe event with an empty body (no reply), and
anything else with "success". Every POST is checked as wechatpy's own examples do:
check_signature on every request, and in encrypted pushes (encrypt_type=aes) decrypt_message
with the msg_signature; the reply then goes back encrypted.

    python dev_server.py --token TOKEN [--key ENCODING_AES_KEY --appid APPID] [--port 8765]
                         [--log requests.jsonl] [--fail-first N | --always-fail | --hang | --garbage]

The first line on stdout is the port it listens on (127.0.0.1). With --log, every request is
appended as one JSON line: {"query", "body", "plain", "msg_id", "status"} ("plain" is the
decrypted message in encrypted pushes, else the body).
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

args = None
crypto = None
lock = threading.Lock()
posts = 0


def record(entry):
    if not args.log:
        return
    with lock:
        with open(args.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            f.flush()


class Bot(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, body=b"", entry=None):
        if entry is not None:
            entry["status"] = status
            record(entry)
        self.send_response(status)
        self.send_header("Content-Type", "application/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        global posts
        with lock:
            posts += 1
            attempt = posts
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode("utf-8")
        entry = {
            "query": query,
            "body": body,
            "content_type": self.headers.get("Content-Type"),
        }
        if args.hang:
            record(dict(entry, status=None))
            time.sleep(3600)
            return
        if args.always_fail or attempt <= args.fail_first:
            return self.answer(500, b"try again", entry)
        try:
            check_signature(
                args.token, query.get("signature", ""), query.get("timestamp", ""),
                query.get("nonce", ""),
            )
        except InvalidSignatureException:
            return self.answer(403, b"bad signature", entry)
        encrypted = query.get("encrypt_type") == "aes"
        plain = body
        if encrypted:
            try:
                plain = crypto.decrypt_message(
                    body, query.get("msg_signature", ""), query["timestamp"], query["nonce"]
                )
            except (InvalidSignatureException, InvalidAppIdException) as e:
                return self.answer(403, str(e).encode(), entry)
        entry["plain"] = plain
        msg = parse_message(plain)
        entry["msg_id"] = getattr(msg, "id", None)
        entry["type"] = msg.type
        if args.garbage:
            return self.answer(200, b'{"reply": "this is not XML"}', entry)
        if msg.type == "event" and msg.event in ("subscribe", "subscribe_scan"):
            return self.answer(200, b"", entry)
        if msg.type == "text":
            xml = create_reply("echo: " + msg.content, message=msg).render()
            if encrypted:
                xml = crypto.encrypt_message(xml, query["nonce"])
            return self.answer(200, xml.encode("utf-8"), entry)
        return self.answer(200, b"success", entry)


def main():
    global args, crypto
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--token", required=True)
    p.add_argument("--key", help="EncodingAESKey (compatible and secure mode)")
    p.add_argument("--appid", help="the AppID `plaza developer-server show` prints")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", help="append every request here as a JSON line")
    p.add_argument("--fail-first", type=int, default=0, help="answer the first N POSTs with HTTP 500")
    p.add_argument("--always-fail", action="store_true", help="answer every POST with HTTP 500")
    p.add_argument("--hang", action="store_true", help="never answer")
    p.add_argument("--garbage", action="store_true", help="answer with a malformed reply")
    args = p.parse_args()
    if args.key:
        crypto = WeChatCrypto(args.token, args.key, args.appid)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Bot)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
