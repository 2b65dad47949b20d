"""WeCom application messages (应用消息).

- ``GET /cgi-bin/gettoken?corpid=…&corpsecret=…`` → ``access_token`` (``expires_in`` 7200):
  cached, renewed before it runs out and on 40014 / 42001 (invalid, expired).
- ``POST /cgi-bin/message/send`` with ``touser`` (the person's WeCom userid), ``agentid`` and a
  ``textcard`` whose button opens the completion link; WeCom's own duplicate check is on.
  A reply with errcode 0 but the userid in ``invaliduser`` reached nobody: a permanent failure.
- WeCom drops, without an error, what an app sends one member beyond 30 a minute: sends are
  paced per member (providers.Pacer). 45009 / 45033 (frequency, concurrency) are retried later."""
from __future__ import annotations

from notifications.channels import Message
from notifications.providers import Context, HttpApi, Pacer, ProviderError, TokenCache, cut_bytes, links_of

TOKEN_ERRORS = {40014, 42001, 41001}
TRANSIENT = {-1, 45009, 45011, 45033, 45047}


def textcard(msg: Message, agent_id: int, userid: str, base_url: str = "") -> dict:
    links = links_of(msg.text)
    lines = [line.strip() for line in msg.text.splitlines() if line.strip() and "/c/" not in line]
    description = cut_bytes("\n".join(lines[1:] if len(lines) > 1 else lines), 500, "…")
    return {"touser": userid, "msgtype": "textcard", "agentid": agent_id,
            "textcard": {"title": cut_bytes(msg.subject, 128, "…"), "description": description,
                         "url": links[0] if links else (base_url or "https://work.weixin.qq.com"), "btntxt": "办理"},
            "enable_duplicate_check": 1, "duplicate_check_interval": 14400}


class WeComApp:
    name = "wecom-app"

    def __init__(self, corp_id: str, secret: str, agent_id: int, api: str = "https://qyapi.weixin.qq.com",
                 per_member_per_minute: int = 30, timeout: float = 10, pacer: Pacer | None = None):
        self.corp_id, self.secret, self.agent_id = corp_id, secret, agent_id
        self.http = HttpApi(api, "企业微信", timeout)
        self.tokens = TokenCache((api, f"{corp_id}/{agent_id}"), self._fetch_token)
        self.pacer = pacer or Pacer(per_member_per_minute, 60.0)

    def _fetch_token(self) -> tuple[str, int]:
        data = self.http.call("GET", "/cgi-bin/gettoken", params={"corpid": self.corp_id, "corpsecret": self.secret})
        if data.get("errcode", 0) != 0 or not data.get("access_token"):
            code = data.get("errcode")
            raise ProviderError(f"企业微信获取 access_token 失败：errcode={code} {data.get('errmsg', '')}",
                                code=str(code), permanent=code not in TRANSIENT)
        return data["access_token"], int(data.get("expires_in") or 7200)

    def send(self, msg: Message, to: str, ctx: Context) -> str:
        body = textcard(msg, self.agent_id, to)
        token = self.tokens.get()
        self.pacer.wait(to)
        for attempt in (1, 2):
            try:
                data = self.http.call("POST", "/cgi-bin/message/send", params={"access_token": token}, body=body)
            finally:
                self.pacer.done(to)
            code = data.get("errcode", 0)
            if code in TOKEN_ERRORS and attempt == 1:
                self.tokens.drop()
                token = self.tokens.get()
                continue
            break
        if code != 0:
            raise ProviderError(f"企业微信发送应用消息失败：errcode={code} {data.get('errmsg', '')}", code=str(code),
                                permanent=code not in TRANSIENT)
        if to in (data.get("invaliduser") or "").split("|"):
            raise ProviderError(f"企业微信中没有成员 {to}（invaliduser）", code="invaliduser", permanent=True)
        return data.get("msgid") or ""

    def close(self) -> None:
        self.http.close()


def render(agent_id: int):
    return lambda msg, to, ctx: textcard(msg, agent_id, to)
