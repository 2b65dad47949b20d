"""Sign-in, sign-out and the home redirect."""
from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from sqlmodel import Session

from storage import accounts
from storage.access import Principal
from web.deps import check_csrf, client_address, db, signed_in
from web.pages.common import redirect
from web.templating import render

router = APIRouter(include_in_schema=False)


# ---------------------------------------------------------------- sign-in

@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "login.html", {"user": None, "next": _safe_next(next), "error": None, "username": ""})


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("/"),
          session: Session = db, _: None = Depends(check_csrf)):
    signed = accounts.sign_in(session, username, password, client=client_address(request),
                              throttle=accounts.Throttle.of(request.app.state.settings.web))
    if signed is None:
        # the name typed stays (not the password): the person corrects what was wrong
        return render(request, "login.html", {"user": None, "next": _safe_next(next), "username": username[:64],
                                              "error": accounts.SIGN_IN_REFUSED}, status_code=401)
    if isinstance(request.session.get("sid"), str):      # signing in again: the earlier session ends
        accounts.sign_out(session, request.session["sid"])
    request.session.clear()
    request.session["sid"] = signed.key
    return redirect(_safe_next(next))


@router.post("/logout")
def logout(request: Request, session: Session = db, _: None = Depends(check_csrf)):
    key = request.session.get("sid")
    if isinstance(key, str):
        accounts.sign_out(session, key)
    request.session.clear()
    return redirect("/login")


def _safe_next(url: str) -> str:
    return url if url.startswith("/") and not url.startswith("//") else "/"


@router.get("/")
def home(p: Principal | None = Depends(signed_in)):
    if p is None:
        return redirect("/login")
    return redirect("/dashboard" if p.sees_area else "/inbox")


