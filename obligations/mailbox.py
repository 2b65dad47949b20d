"""Names and addresses that go into mail headers, checked where they enter (the contacts
workbook, directory.yaml) and formatted by the email library where a message is made. Pure.

A display name is plain text: no address, comma, semicolon, angle bracket, quote or line break
(so it can never add a recipient or a header); an address is one mailbox (addr-spec) as the email
library reads it, nothing around it."""
from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

MAX_NAME = 40
_BAD_IN_NAME = re.compile(r"[\r\n\t\x00-\x1f\x7f,，;；<>@\"]")


def check_name(value: str | None, column: str) -> str | None:
    """A person's name or title: plain text, no address, comma, angle bracket or line break."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > MAX_NAME:
        raise ValueError(f"{column}过长（{len(text)} 个字，最多 {MAX_NAME} 个）")
    if _BAD_IN_NAME.search(text):
        raise ValueError(f"{column}中不能有逗号、分号、尖括号、引号、@ 或换行：{text!r}")
    return text


def check_email(value: str | None) -> str | None:
    """One mailbox (addr-spec), as the email library reads it; nothing around it."""
    text = str(value or "").strip()
    if not text:
        return None
    if any(ch in text for ch in "\r\n,;<>\"() ") or text.count("@") != 1:
        raise ValueError(f"{text!r} 不是一个邮箱地址（只写一个地址，不带姓名或括号）")
    try:
        address = Address(addr_spec=text)
    except (HeaderParseError, ValueError, IndexError):
        raise ValueError(f"{text!r} 不是有效的邮箱地址") from None
    if "." not in address.domain or address.addr_spec != text:
        raise ValueError(f"{text!r} 不是有效的邮箱地址")
    return text


def mailbox(name: str | None, address: str) -> Address:
    """The recipient as the email library's Address: the address must be one valid mailbox and
    the name plain text (see check_name), else ValueError — never a header that says more."""
    addr = check_email(address)
    if addr is None:
        raise ValueError("没有邮箱地址")
    shown = check_name(name, "收件人名称") or ""
    return Address(display_name=shown, addr_spec=addr)
