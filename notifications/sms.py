"""SMS through the providers' official SDKs, with an approved signature and template.

- Aliyun (alibabacloud-dysmsapi20170525): ``SendSms`` with ``SignName``, ``TemplateCode``,
  ``TemplateParam`` (JSON ``{"name", "count", "kind"}``) and ``OutId`` = the outbox key; the reply
  ``Code`` is ``OK`` or an error code (``isv.MOBILE_NUMBER_ILLEGAL`` …), with ``BizId`` and
  ``RequestId``.
- Tencent Cloud (tencentcloud-sdk-python-sms, API 2021-01-11): ``SendSms`` with ``SmsSdkAppId``,
  ``SignName``, ``TemplateId``, ``TemplateParamSet`` = [name, count, kind] and
  ``SessionContext`` = the outbox key; ``Response.SendStatusSet[0].Code`` is ``Ok`` or an error
  code, with ``SerialNo`` and the ``RequestId``.

Variables are cut to ``var_max_chars`` (Aliyun: 35 characters a variable). Links are not sent as
variables (Aliyun refuses them: isv.PARAM_NOT_SUPPORT_URL); the template says where to sign in.
Both SDKs take an endpoint, so tests point them at a loopback server answering like the API."""
from __future__ import annotations

import json

from notifications.channels import Message
from notifications.providers import Context, ProviderError, cut

KIND_WORDS = {"escalate": "逾期督办", "return": "退回重办", "urge": "催办", "overdue": "逾期未办", "due": "今日到期",
              "remind": "即将到期"}
ALIYUN_TRANSIENT = {"isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isv.DAY_LIMIT_CONTROL", "Throttling",
                    "Throttling.User", "ServiceUnavailable", "InternalError"}
TENCENT_TRANSIENT_PREFIXES = ("LimitExceeded.PhoneNumber", "InternalError", "RequestLimitExceeded",
                              "FailedOperation.FailResolvePacket", "ClientNetworkError", "ServerNetworkError")


def variables(msg: Message, ctx: Context, limit: int) -> dict[str, str]:
    """The template's variables: who, how many items, and the most urgent kind."""
    order = ("escalate", "return", "urge", "overdue", "due", "remind")
    kind = next((KIND_WORDS[k] for k in order if k in ctx.kinds), "待办")
    return {"name": cut(msg.name or "", limit), "count": cut(str(ctx.items), limit), "kind": cut(kind, limit)}


def _mobile(to: str) -> str:
    return to.removeprefix("+86")


class AliyunSms:
    name = "aliyun"

    def __init__(self, key_id: str, key_secret: str, sign_name: str, template_code: str, *,
                 endpoint: str | None = None, region: str = "", var_max_chars: int = 35, timeout_ms: int = 10000):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api

        host, protocol = endpoint or "dysmsapi.aliyuncs.com", "https"
        if "://" in host:
            protocol, host = host.split("://", 1)
        self.client = Client(open_api.Config(access_key_id=key_id, access_key_secret=key_secret, endpoint=host,
                                             protocol=protocol, region_id=region or "cn-hangzhou",
                                             connect_timeout=timeout_ms, read_timeout=timeout_ms))
        self.sign_name, self.template_code, self.limit = sign_name, template_code, var_max_chars

    def request(self, msg: Message, to: str, ctx: Context) -> dict:
        return {"PhoneNumbers": _mobile(to), "SignName": self.sign_name, "TemplateCode": self.template_code,
                "TemplateParam": json.dumps(variables(msg, ctx, self.limit), ensure_ascii=False), "OutId": msg.key[:64]}

    def send(self, msg: Message, to: str, ctx: Context) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util.models import RuntimeOptions

        r = self.request(msg, to, ctx)
        req = models.SendSmsRequest(phone_numbers=r["PhoneNumbers"], sign_name=r["SignName"],
                                    template_code=r["TemplateCode"], template_param=r["TemplateParam"], out_id=r["OutId"])
        try:
            body = self.client.send_sms_with_options(req, RuntimeOptions(autoretry=False)).body
        except Exception as exc:  # noqa: BLE001 - the SDK raises TeaException and transport errors alike
            code = getattr(exc, "code", None) or type(exc).__name__
            status = (getattr(exc, "data", None) or {}).get("statusCode") if isinstance(getattr(exc, "data", None), dict) else None
            permanent = bool(status and 400 <= int(status) < 500 and status != 429 and code not in ALIYUN_TRANSIENT)
            unreachable = status is None and "connect" in str(exc).lower()
            raise ProviderError(f"阿里云短信接口调用失败：{code} {getattr(exc, 'message', exc)}"[:400], code=str(code)[:80],
                                permanent=permanent, unreachable=unreachable) from exc
        if body.code != "OK":
            raise ProviderError(f"阿里云短信发送失败：{body.code} {body.message or ''}（RequestId {body.request_id}）",
                                code=body.code, permanent=body.code not in ALIYUN_TRANSIENT)
        return f"{body.request_id}/biz:{body.biz_id}"

    def close(self) -> None:
        pass


class TencentSms:
    name = "tencent"

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str, template_id: str, *,
                 endpoint: str | None = None, region: str = "", var_max_chars: int = 35, timeout: int = 10):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        host, protocol = endpoint or "sms.tencentcloudapi.com", "https"
        if "://" in host:
            protocol, host = host.split("://", 1)
        profile = ClientProfile(httpProfile=HttpProfile(protocol=protocol, endpoint=host, reqTimeout=timeout))
        self.client = sms_client.SmsClient(credential.Credential(secret_id, secret_key), region or "ap-guangzhou",
                                           profile)
        self.sdk_app_id, self.sign_name, self.template_id, self.limit = sdk_app_id, sign_name, template_id, var_max_chars

    def request(self, msg: Message, to: str, ctx: Context) -> dict:
        v = variables(msg, ctx, self.limit)
        return {"PhoneNumberSet": ["+86" + _mobile(to)], "SmsSdkAppId": self.sdk_app_id, "SignName": self.sign_name,
                "TemplateId": self.template_id, "TemplateParamSet": [v["name"], v["count"], v["kind"]],
                "SessionContext": msg.key[:512]}

    def send(self, msg: Message, to: str, ctx: Context) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        req = models.SendSmsRequest()
        req.from_json_string(json.dumps(self.request(msg, to, ctx)))
        try:
            resp = self.client.SendSms(req)
        except TencentCloudSDKException as exc:
            code = exc.get_code() or "TencentCloudSDKException"
            raise ProviderError(f"腾讯云短信接口调用失败：{code} {exc.get_message()}（RequestId {exc.get_request_id()}）"[:400],
                                code=code[:80], permanent=not code.startswith(TENCENT_TRANSIENT_PREFIXES),
                                unreachable=code == "ClientNetworkError") from exc
        except Exception as exc:  # noqa: BLE001 - a transport error below the SDK's own
            raise ProviderError(f"腾讯云短信接口无法访问：{exc}"[:400], code="network", unreachable=True) from exc
        status = (resp.SendStatusSet or [None])[0]
        if status is None:
            raise ProviderError(f"腾讯云短信没有返回发送状态（RequestId {resp.RequestId}）", code="empty")
        if status.Code != "Ok":
            raise ProviderError(f"腾讯云短信发送失败：{status.Code} {status.Message}（RequestId {resp.RequestId}）",
                                code=status.Code[:80], permanent=not status.Code.startswith(TENCENT_TRANSIENT_PREFIXES))
        return f"{resp.RequestId}/serial:{status.SerialNo}"

    def close(self) -> None:
        pass
