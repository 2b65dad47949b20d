"""A loopback HTTP server answering like the providers' documented APIs, for the channel tests:

- DingTalk: ``GET /gettoken`` (appkey, appsecret → access_token, expires_in 7200),
  ``POST /topapi/v2/user/getbymobile`` (60121 for an unknown number) and
  ``POST /topapi/message/corpconversation/asyncsend_v2`` (task_id, request_id); a token it
  expired answers 42001, an unknown one 40014. Like DingTalk, a second message with the same
  content to the same person the same day is answered ok and not delivered (``dropped``).
- WeCom: ``GET /cgi-bin/gettoken`` and ``POST /cgi-bin/message/send`` (msgid; unknown members in
  ``invaliduser``); like WeCom, what goes over ``limit`` messages to one member in ``period``
  seconds is answered ok and dropped.
- Aliyun dysmsapi ``SendSms`` (the SDK's ACS3 request: action in ``x-acs-action``, parameters
  in the query): ``Code``/``Message``/``BizId``/``RequestId``; isv.MOBILE_NUMBER_ILLEGAL,
  isv.PARAM_LENGTH_LIMIT (a variable over 35 characters), isv.SMS_TEMPLATE_ILLEGAL.
- Tencent Cloud SMS ``SendSms`` 2021-01-11 (``X-TC-Action``, JSON body):
  ``Response.SendStatusSet`` and ``Response.RequestId``; a bad number's status is
  InvalidParameterValue.IncorrectPhoneNumber.

``script[kind]`` holds replies to give before the normal answer (kinds: ding-token, ding-send,
wecom-send, aliyun, tencent). ``stop()`` and ``start()`` play an outage on the same port."""
from __future__ import annotations

import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import free_port


class ProviderServer:
    def __init__(self):
        self.port = free_port()
        self.requests: list[dict] = []
        self.script: dict[str, list[tuple[int, dict]]] = defaultdict(list)
        self.token_calls: dict[str, int] = defaultdict(int)
        self.tokens: set[str] = set()
        self.expired: set[str] = set()
        self.ding_app = ("dingkey", "dingsecret", 4242)
        self.ding_users_by_mobile: dict[str, str] = {}
        self.ding_delivered: list[dict] = []
        self.ding_dropped: list[dict] = []
        self._ding_seen: set[tuple[str, str]] = set()
        self.wecom_app = ("wwcorp", "wecomsecret", 1000002)
        self.wecom_members: set[str] = set()
        self.wecom_delivered: list[dict] = []
        self.wecom_dropped: list[dict] = []
        self.wecom_limit, self.wecom_period = 30, 60.0
        self._wecom_times: dict[str, list[float]] = defaultdict(list)
        self.sms_sign, self.sms_template = "督办系统", "SMS_468000001"
        self.sms_delivered: list[dict] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.httpd = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # ------------------------------------------------------------ lifecycle

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server._handle(self, "GET")

            def do_POST(self):
                server._handle(self, "POST")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        if self.httpd:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def expire_tokens(self):
        with self._lock:
            self.expired |= self.tokens
            self.tokens.clear()

    # ------------------------------------------------------------ dispatch

    def _handle(self, h: BaseHTTPRequestHandler, method: str):
        url = urllib.parse.urlsplit(h.path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        body = json.loads(raw) if raw else {}
        headers = {k.lower(): v for k, v in h.headers.items()}
        with self._lock:
            self.requests.append({"method": method, "path": url.path, "query": query, "body": body,
                                  "headers": headers})
            status, payload = self._answer(method, url.path, query, body, headers)
        data = json.dumps(payload, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _scripted(self, kind: str):
        return self.script[kind].pop(0) if self.script[kind] else None

    def _answer(self, method, path, query, body, headers):
        if headers.get("x-acs-action") == "SendSms":
            return self._scripted("aliyun") or self._aliyun(query)
        if headers.get("x-tc-action") == "SendSms":
            return self._scripted("tencent") or self._tencent(body)
        if path == "/gettoken":
            self.token_calls["dingtalk"] += 1
            return self._scripted("ding-token") or self._token(query.get("appkey"), query.get("appsecret"),
                                                               self.ding_app, "ding")
        if path == "/cgi-bin/gettoken":
            self.token_calls["wecom"] += 1
            return self._token(query.get("corpid"), query.get("corpsecret"), self.wecom_app, "wx")
        token_error = self._check_token(query.get("access_token"))
        if token_error:
            return token_error
        if path == "/topapi/v2/user/getbymobile":
            userid = self.ding_users_by_mobile.get(body.get("mobile"))
            if userid is None:
                return 200, {"errcode": 60121, "errmsg": "找不到该用户", "request_id": self._rid()}
            return 200, {"errcode": 0, "errmsg": "ok", "result": {"userid": userid}, "request_id": self._rid()}
        if path == "/topapi/message/corpconversation/asyncsend_v2":
            return self._scripted("ding-send") or self._ding_send(body)
        if path == "/cgi-bin/message/send":
            return self._scripted("wecom-send") or self._wecom_send(body)
        return 404, {"errcode": 404, "errmsg": "not found"}

    def _rid(self) -> str:
        return uuid.uuid4().hex[:12]

    def _token(self, key, secret, app, prefix):
        if (key, secret) != app[:2]:
            code = 40089 if prefix == "ding" else 40001
            return 200, {"errcode": code, "errmsg": "invalid appkey or appsecret"}
        token = f"{prefix}-token-{next(self._ids)}"
        self.tokens.add(token)
        return 200, {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}

    def _check_token(self, token):
        if token in self.expired:
            return 200, {"errcode": 42001, "errmsg": "access_token expired"}
        if token not in self.tokens:
            return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
        return None

    def _ding_send(self, body):
        if body.get("agent_id") != self.ding_app[2]:
            return 200, {"errcode": 40056, "errmsg": "不合法的agentid"}
        card = body["msg"]["action_card"]
        task = next(self._ids)
        for userid in str(body.get("userid_list", "")).split(","):
            entry = {"userid": userid, "msg": body["msg"], "task_id": task}
            seen = (userid, card["markdown"])
            (self.ding_dropped if seen in self._ding_seen else self.ding_delivered).append(entry)
            self._ding_seen.add(seen)
        return 200, {"errcode": 0, "errmsg": "ok", "task_id": task, "request_id": self._rid()}

    def _wecom_send(self, body):
        if body.get("agentid") != self.wecom_app[2]:
            return 200, {"errcode": 40056, "errmsg": "invalid agentid"}
        invalid, now = [], time.monotonic()
        for userid in body["touser"].split("|"):
            if userid not in self.wecom_members:
                invalid.append(userid)
                continue
            times = [t for t in self._wecom_times[userid] if t > now - self.wecom_period]
            entry = {"userid": userid, "textcard": body.get("textcard"), "at": now}
            (self.wecom_dropped if len(times) >= self.wecom_limit else self.wecom_delivered).append(entry)
            self._wecom_times[userid] = times + [now]
        return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "invalidparty": "",
                     "invalidtag": "", "unlicenseduser": "", "msgid": f"msg{next(self._ids)}", "response_code": ""}

    def _aliyun(self, q):
        rid = str(uuid.uuid4()).upper()
        if q.get("SignName") != self.sms_sign:
            return 200, {"Code": "isv.SMS_SIGNATURE_ILLEGAL", "Message": "该账号下找不到对应签名", "RequestId": rid}
        if q.get("TemplateCode") != self.sms_template:
            return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "该账号下找不到对应模板", "RequestId": rid}
        if not re.fullmatch(r"1[3-9]\d{9}", q.get("PhoneNumbers", "")):
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": rid}
        params = json.loads(q.get("TemplateParam") or "{}")
        if any(len(str(v)) > 35 for v in params.values()):
            return 200, {"Code": "isv.PARAM_LENGTH_LIMIT", "Message": "参数超出长度限制", "RequestId": rid}
        biz = f"{next(self._ids):06d}^0"
        self.sms_delivered.append({"provider": "aliyun", "mobile": q["PhoneNumbers"], "params": params,
                                   "out_id": q.get("OutId"), "biz_id": biz})
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz, "RequestId": rid}

    def _tencent(self, body):
        rid = str(uuid.uuid4())
        statuses = []
        for phone in body.get("PhoneNumberSet", []):
            if not re.fullmatch(r"\+861[3-9]\d{9}", phone):
                statuses.append({"SerialNo": "", "PhoneNumber": phone, "Fee": 0, "SessionContext": "",
                                 "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                                 "Message": "手机号格式错误", "IsoCode": "CN"})
                continue
            serial = f"2433:{next(self._ids)}"
            self.sms_delivered.append({"provider": "tencent", "mobile": phone, "params": body.get("TemplateParamSet"),
                                       "session": body.get("SessionContext"), "serial": serial})
            statuses.append({"SerialNo": serial, "PhoneNumber": phone, "Fee": 1,
                             "SessionContext": body.get("SessionContext", ""), "Code": "Ok",
                             "Message": "send success", "IsoCode": "CN"})
        return 200, {"Response": {"SendStatusSet": statuses, "RequestId": rid}}
