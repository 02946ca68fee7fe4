"""The email-link pages Parse Server serves under /apps: verify email, choose a new password."""

from __future__ import annotations

import html
from urllib.parse import urlencode

from engine.errors import HTTPDenied, ParseError
from engine.http.call import ApiCall, ApiResult, redirect
from engine.pipeline import email_flows

HTML = "text/html; charset=utf-8"
PAGES = {
    "verify_email_success.html": ("Email verified", "Your email address has been verified."),
    "invalid_verification_link.html": ("Invalid link", "This verification link is invalid or has expired."),
    "invalid_link.html": ("Invalid link", "This link is invalid or has expired."),
    "password_reset_success.html": ("Password changed", "Your password has been changed."),
    "link_send_success.html": ("Email sent", "A new verification link has been sent if the account exists."),
    "link_send_fail.html": ("Email not sent", "No verification link could be sent."),
}


def _page(title: str, body: str) -> ApiResult:
    doc = (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return ApiResult(doc, media_type=HTML, headers={"X-Frame-Options": "DENY", "Cache-Control": "no-store"})


def _to(call: ApiCall, page: str, **params: str) -> ApiResult:
    base = f"{call.services.settings.links_url()}/apps/{page}"
    return redirect(f"{base}?{urlencode(params)}" if params else base)


def _check_app(call: ApiCall) -> None:
    if call.params.get("app_id") != call.services.settings.app_id:
        raise HTTPDenied(404, "Not found.")


def _arg(call: ApiCall, name: str) -> object:
    return call.body.get(name, call.query.get(name))


async def static_page(call: ApiCall) -> ApiResult:
    page = PAGES.get(call.params["page"])
    if page is None:
        raise HTTPDenied(404, "Not found.")
    return _page(page[0], f"<p>{html.escape(page[1])}</p>")


async def verify_email(call: ApiCall) -> ApiResult:
    _check_app(call)
    ok = await email_flows.verify_email(call.services, call.query.get("token"))
    username = str(call.query.get("username", ""))
    return _to(call, "verify_email_success.html" if ok else "invalid_verification_link.html", username=username)


async def resend_verification(call: ApiCall) -> ApiResult:
    _check_app(call)
    email = _arg(call, "email") or _arg(call, "username")
    try:
        await email_flows.request_verification(call.services, email)
    except ParseError:
        return _to(call, "link_send_fail.html")
    return _to(call, "link_send_success.html")


async def reset_link(call: ApiCall) -> ApiResult:
    _check_app(call)
    token = call.query.get("token")
    if await email_flows.reset_token_user(call.services, token) is None:
        return _to(call, "invalid_link.html")
    return _to(call, "choose_password", token=str(token), username=str(call.query.get("username", "")),
               app=call.services.settings.app_id)


async def choose_password(call: ApiCall) -> ApiResult:
    token = html.escape(str(call.query.get("token", "")), quote=True)
    username = html.escape(str(call.query.get("username", "")), quote=True)
    action = html.escape(f"{call.services.settings.links_url()}/apps/{call.services.settings.app_id}"
                         "/request_password_reset", quote=True)
    error = call.query.get("error")
    note = f"<p role=alert>{html.escape(str(error))}</p>" if error else ""
    form = (f"{note}<form method=post action=\"{action}\">"
            f"<input type=hidden name=token value=\"{token}\"><input type=hidden name=username value=\"{username}\">"
            "<label>New password <input type=password name=new_password autocomplete=new-password></label>"
            "<button type=submit>Change password</button></form>")
    return _page("Choose a new password", form)


async def reset_password(call: ApiCall) -> ApiResult:
    _check_app(call)
    token = _arg(call, "token")
    try:
        await email_flows.reset_password(call.services, token, _arg(call, "new_password"))
    except ParseError as exc:
        if await email_flows.reset_token_user(call.services, token) is None:
            return _to(call, "invalid_link.html")
        return _to(call, "choose_password", token=str(token), username=str(_arg(call, "username") or ""),
                   app=call.services.settings.app_id, error=exc.message)
    return _to(call, "password_reset_success.html", username=str(_arg(call, "username") or ""))
