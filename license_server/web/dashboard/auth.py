"""Sign in (password, then TOTP), sign out, invitations, resets, the account page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from license_server import errors
from license_server.services import staff, staff_links, staff_signin
from license_server.web.common import forms, sessions
from license_server.web.dashboard import access, bp

KIND = access.KIND


def _safe_next(target: str | None) -> str:
    """Follow ``next`` only to a dashboard path of this site."""
    if target and target.startswith("/dashboard") and not urlsplit(target).netloc:
        return target
    return url_for("dashboard.overview")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Show the sign-in form; sign in with e-mail and password."""
    if request.method == "GET":
        if g.staff_user is not None:
            return redirect(_safe_next(request.args.get("next")))
        return render_template("dashboard/login.html", next=request.args.get("next"))
    email = forms.text("email")
    try:
        _, token = staff_signin.sign_in(
            keyring=sessions.keyring(),
            email=email,
            password=request.form.get("password", ""),
            address=sessions.client_address(),
            policy=sessions.policy(),
            now=sessions.now(),
            hasher=sessions.password_hasher(),
        )
    except (staff_signin.SignInRefused, staff_signin.SignInThrottled) as exc:
        page = render_template(
            "dashboard/login.html",
            error=exc.text,
            email=email,
            next=request.form.get("next"),
        )
        return page, exc.status_code
    sessions.remember(KIND, token)
    session["next"] = _safe_next(request.form.get("next"))
    return redirect(session["next"])


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor() -> Any:
    """Ask for the TOTP code of a user who enrolled one."""
    if not g.staff_session.pending_second_factor:
        return redirect(url_for("dashboard.overview"))
    if request.method == "GET":
        return render_template("dashboard/second_factor.html")
    try:
        staff_signin.second_factor(
            keyring=sessions.keyring(),
            session=g.staff_session,
            user=access.user(),
            code=forms.text("code"),
            address=sessions.client_address(),
            now=sessions.now(),
        )
    except (staff_signin.SignInRefused, staff_signin.SignInThrottled) as exc:
        page = render_template("dashboard/second_factor.html", error=exc.text)
        return page, exc.status_code
    return redirect(_safe_next(session.get("next")))


@bp.post("/logout")
def logout() -> Response:
    """Sign this browser out."""
    sessions.forget(KIND)
    flash("You are signed out.", "ok")
    return redirect(url_for("dashboard.login"))


@bp.post("/logout-everywhere")
def logout_everywhere() -> Response:
    """Sign out every browser of the signed-in user, this one included."""
    ended = staff.sign_out_everywhere(
        keyring=sessions.keyring(), user=access.user(), now=sessions.now()
    )
    sessions.drop(KIND)
    flash(f"Signed out everywhere ({ended} sessions ended).", "ok")
    return redirect(url_for("dashboard.login"))


@bp.get("/account")
def account() -> str:
    """Show the signed-in user's account: second factor, sessions."""
    return render_template("dashboard/account.html")


@bp.route("/account/totp", methods=["GET", "POST"])
def enrol_totp() -> Any:
    """Enrol an authenticator app: show a secret, then check one code."""
    user = access.user()
    if request.method == "GET":
        secret = staff_signin.new_totp_secret()
        session["totp_pending"] = secret
        uri = staff_signin.totp_uri(secret=secret, user=user)
        return render_template("dashboard/totp.html", secret=secret, uri=uri)
    pending = session.get("totp_pending")
    if not isinstance(pending, str):
        return redirect(url_for("dashboard.enrol_totp"))
    secret = pending
    try:
        staff_signin.enable_totp(
            keyring=sessions.keyring(),
            user=user,
            secret=secret,
            code=forms.text("code"),
            now=sessions.now(),
        )
    except errors.ValidationFailed as exc:
        uri = staff_signin.totp_uri(secret=secret, user=user)
        page = render_template(
            "dashboard/totp.html", secret=secret, uri=uri, error=exc.text
        )
        return page, 422
    session.pop("totp_pending", None)
    flash("Two-step sign-in is on: you will be asked for a code.", "ok")
    return redirect(url_for("dashboard.account"))


@bp.post("/account/totp/disable")
def disable_totp() -> Response:
    """Turn off two-step sign-in for the signed-in user."""
    staff_signin.disable_totp(
        keyring=sessions.keyring(), user=access.user(), now=sessions.now()
    )
    flash("Two-step sign-in is off.", "ok")
    return redirect(url_for("dashboard.account"))


def _set_password(purpose: str, token: str) -> Any:
    template = f"dashboard/{purpose}.html"
    link = staff_links.find(
        keyring=sessions.keyring(), purpose=purpose, token=token, now=sessions.now()
    )
    if request.method == "GET":
        return render_template(template, link=link)
    password = request.form.get("password", "")
    if password != request.form.get("password_again", ""):
        fields = {"password_again": ["The two passwords differ."]}
        return render_template(template, link=link, errors=fields), 422
    try:
        if purpose == staff_links.INVITE:
            staff_links.accept_invitation(
                keyring=sessions.keyring(),
                token=token,
                name=forms.text("name"),
                password=password,
                now=sessions.now(),
                hasher=sessions.password_hasher(),
            )
        else:
            staff_links.reset_password(
                keyring=sessions.keyring(),
                token=token,
                password=password,
                now=sessions.now(),
                hasher=sessions.password_hasher(),
            )
    except errors.ValidationFailed as exc:
        fields = forms.field_errors(exc)
        return render_template(template, link=link, errors=fields), 422
    sessions.drop(KIND)
    flash("Your password is set. Sign in with it now.", "ok")
    return redirect(url_for("dashboard.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> Any:
    """Join a vendor's team from an invitation link: choose a password."""
    return _set_password(staff_links.INVITE, token)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> Any:
    """Choose a new password from a reset link; every session ends."""
    return _set_password(staff_links.RESET, token)
