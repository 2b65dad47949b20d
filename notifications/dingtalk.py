"""DingTalk work notices (工作通知) through an enterprise internal app.

- ``GET /gettoken?appkey=…&appsecret=…`` → ``access_token`` (valid ``expires_in`` = 7200 s):
  cached (providers.TokenCache), renewed before it runs out and when DingTalk answers
  40014 (invalid token) or 42001 (expired).
- The recipient is the person's DingTalk userid from the contacts workbook, or found by
  mobile (``POST /topapi/v2/user/getbymobile``; 60121: nobody with that number).
- ``POST /topapi/message/corpconversation/asyncsend_v2`` with ``agent_id``, ``userid_list``
  and an ``action_card`` message whose button opens the completion link; the reply's
  ``request_id`` and ``task_id`` are recorded.

DingTalk's own rules (one app, one person: the same content at most once a day, 500 messages a
day; beyond them the API still says ok and nothing arrives) are kept before sending, in
notifications.routing."""
from __future__ import annotations

import re

from notifications.channels import Message
from notifications.providers import Context, HttpApi, ProviderError, TokenCache, cut, links_of

TOKEN_ERRORS = {40014, 42001, 40001, 41001}        # invalid, expired, wrong credential, missing token
TRANSIENT = {-1, 88, 90002, 90006, 90018, 130101, 143103}   # system busy, flow control: retry later
NO_USER = 60121
MARKDOWN_LIMIT = 5000
_MOBILE = re.compile(r"^1[3-9]\d{9}$")


def action_card(msg: Message, agent_id: int, userid: str) -> dict:
    """The request body of one work notice: the digest as markdown, a button to its first link."""
    links = links_of(msg.text)
    text = msg.text
    for link in links:
        text = text.replace(link, f"[办理]({link})")
    # one paragraph a line, no indentation (four spaces would make a code block)
    body = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    markdown = cut(f"### {msg.subject}\n\n" + body, MARKDOWN_LIMIT,
                   "\n\n……内容过长，其余事项请登录督办系统查看。")
    card = {"title": cut(msg.subject, 64), "markdown": markdown}
    if links:
        card |= {"single_title": "查看并办理", "single_url": links[0]}
    else:
        card |= {"single_title": "登录督办系统", "single_url": "dingtalk://dingtalkclient/page/link"}
    return {"agent_id": agent_id, "userid_list": userid, "msg": {"msgtype": "action_card", "action_card": card}}


class DingTalkApp:
    name = "ding-app"

    def __init__(self, app_key: str, app_secret: str, agent_id: int, api: str = "https://oapi.dingtalk.com",
                 timeout: float = 10):
        self.app_key, self.app_secret, self.agent_id = app_key, app_secret, agent_id
        self.http = HttpApi(api, "钉钉", timeout)
        self.tokens = TokenCache((api, app_key), self._fetch_token)
        self._userids: dict[str, str] = {}

    def _fetch_token(self) -> tuple[str, int]:
        data = self.http.call("GET", "/gettoken", params={"appkey": self.app_key, "appsecret": self.app_secret})
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            code = data.get("errcode")
            raise ProviderError(f"钉钉获取 access_token 失败：errcode={code} {data.get('errmsg', '')}",
                                code=str(code), permanent=code not in TRANSIENT)
        return data["access_token"], int(data.get("expires_in") or 7200)

    def _call(self, path: str, body: dict) -> dict:
        """POST with the access token; once more with a fresh token when DingTalk calls it
        expired or invalid."""
        for attempt in (1, 2):
            data = self.http.call("POST", path, params={"access_token": self.tokens.get()}, body=body)
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and attempt == 1:
                self.tokens.drop()
                continue
            return data
        return data  # pragma: no cover

    @staticmethod
    def _failure(what: str, data: dict) -> ProviderError:
        code = data.get("errcode")
        return ProviderError(f"钉钉{what}失败：errcode={code} {data.get('errmsg', '')}".strip(), code=str(code),
                             permanent=code not in TRANSIENT)

    def userid(self, to: str) -> str:
        """The userid itself, or the one DingTalk has for a mobile number."""
        if not _MOBILE.match(to):
            return to
        if to not in self._userids:
            data = self._call("/topapi/v2/user/getbymobile", {"mobile": to})
            if data.get("errcode", 0) != 0:
                raise self._failure(f"按手机号 {to} 查找用户", data)
            userid = (data.get("result") or {}).get("userid")
            if not userid:
                raise ProviderError(f"钉钉中没有手机号为 {to} 的用户", code=str(NO_USER), permanent=True)
            self._userids[to] = userid
        return self._userids[to]

    def send(self, msg: Message, to: str, ctx: Context) -> str:
        data = self._call("/topapi/message/corpconversation/asyncsend_v2", action_card(msg, self.agent_id,
                                                                                       self.userid(to)))
        if data.get("errcode", 0) != 0:
            raise self._failure("发送工作通知", data)
        return f"{data.get('request_id') or ''}/task:{data.get('task_id')}"

    def close(self) -> None:
        self.http.close()


def render(agent_id: int):
    """The request body the file sink records in place of the API."""
    return lambda msg, to, ctx: action_card(msg, agent_id, to)
