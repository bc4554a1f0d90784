"""wechatpy 1.8.18 driving Plaza's WeChat-compatible API, as bot code written for WeChat would.

Usage: wechat_client.py BASE_URL APPID SECRET SCENARIO [ARGS…]; prints one JSON object.
The client is pointed at Plaza by subclassing WeChatClient (API_BASE_URL, and fetch_access_token,
whose URL is absolute in wechatpy 1.8.18) and, since the data cube API has an absolute base of its
own, by setting the instance's datacube.API_BASE_URL too.
"""
import datetime
import json
import sys

from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException


def client_for(base, appid, secret):
    class PlazaClient(WeChatClient):
        API_BASE_URL = base + "/cgi-bin/"

        # wechatpy 1.8.18 fetches tokens from an absolute URL, not from API_BASE_URL.
        def fetch_access_token(self):
            return self._fetch_access_token(
                url=self.API_BASE_URL + "token",
                params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
            )

    client = PlazaClient(appid, secret)
    client.datacube.API_BASE_URL = base + "/datacube/"
    return client


def attempt(f):
    try:
        return {"ok": f()}
    except WeChatClientException as e:
        return {"errcode": e.errcode, "errmsg": e.errmsg}


def scenario_all(client, inside, outside, template_id):
    out = {}
    out["token"] = client.fetch_access_token()
    out["followers"] = list(client.user.iter_followers())
    out["batch"] = client.user.get_batch([inside, outside])
    out["send_inside"] = attempt(lambda: client.message.send_text(inside, "hello from wechatpy 你好"))
    out["send_outside"] = attempt(lambda: client.message.send_text(outside, "are you there?"))
    tag = client.tag.create("vip")
    out["tag"] = tag
    out["tag_user"] = client.tag.tag_user(tag["id"], [inside])
    out["tag_users"] = list(client.tag.iter_tag_users(tag["id"]))
    out["tags_of_inside"] = client.tag.get_user_tag(inside)
    out["mass_group"] = client.message.send_mass_text(tag["id"], "to the vips")
    out["mass_all"] = client.message.send_mass_text(None, "to everyone", is_to_all=True)
    out["template"] = attempt(
        lambda: client.message.send_template(
            inside, template_id, {"order": {"value": "A-1", "color": "#173177"}}, url="https://example.com/o/1"
        )
    )
    out["template_unknown"] = attempt(
        lambda: client.message.send_template(inside, "no_such_template", {"order": {"value": "x"}})
    )
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    out["summary"] = client.datacube.get_user_summary(yesterday - datetime.timedelta(days=2), yesterday)
    out["cumulate"] = client.datacube.get_user_cumulate(yesterday - datetime.timedelta(days=2), yesterday)
    return out


def scenario_menu(client, tag_id):
    out = {}
    out["get_none"] = attempt(client.menu.get)
    menu = {"button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
            {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"}]}]}
    out["create"] = attempt(lambda: client.menu.create(menu))
    out["get"] = attempt(client.menu.get)
    out["too_many"] = attempt(lambda: client.menu.create(
        {"button": [{"type": "click", "name": "b%d" % i, "key": "k%d" % i} for i in range(4)]}))
    out["bad_type"] = attempt(lambda: client.menu.create({"button": [{"type": "dance", "name": "x", "key": "k"}]}))
    out["conditional"] = attempt(lambda: client.menu.add_conditional(
        {"button": [{"type": "click", "name": "VIP", "key": "VIP_ONLY"}], "matchrule": {"tag_id": str(tag_id)}}))
    out["get_with_conditional"] = attempt(client.menu.get)
    out["del_conditional"] = attempt(lambda: client.menu.del_conditional(out["conditional"]["ok"]["menuid"]))
    out["delete"] = attempt(client.menu.delete)
    out["get_after_delete"] = attempt(client.menu.get)
    return out


def main():
    base, appid, secret, scenario, *args = sys.argv[1:]
    client = client_for(base, appid, secret)
    if scenario == "all":
        out = scenario_all(client, *args)
    elif scenario == "menu":
        out = scenario_menu(client, *args)
    elif scenario == "followers":
        out = {"followers": list(client.user.iter_followers())}
    elif scenario == "template":
        out = attempt(lambda: client.message.send_template(args[0], args[1], {"order": {"value": "x"}}))
    else:
        raise SystemExit("unknown scenario " + scenario)
    print(json.dumps(out, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
