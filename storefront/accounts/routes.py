"""Account pages: register, sign in and out, profile, password change, password reset and re-authentication.

Sign-in state lives in the signed session cookie; `User.session_token` is part of the id stored there, so changing
it (sign-out, password change or reset) ends every session of that user, including copied cookies.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import City, User
from storefront.accounts import devices, hub, services
from storefront.accounts.cli import create_admin_command
from storefront.accounts.forms import (
    ChangeEmailForm,
    ChangePasswordForm,
    ConfirmEmailForm,
    LoginForm,
    PhoneCodeForm,
    ProfileForm,
    ReauthForm,
    RegisterForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from storefront.auth import FRESH_LOGIN_MAX_AGE, mark_fresh_login
from storefront.demo import access as demo_access
from storefront.errors import DomainError, error_response, show_on_form
from storefront.extensions import db, limiter
from storefront.i18n import localised
from storefront.security import is_safe_next
from storefront.sms import masked

# `flask users create-admin` (the CLI group is named for what it manages, not the URL prefix).
bp = Blueprint("accounts", __name__, url_prefix="/account", cli_group="users")
bp.cli.add_command(create_admin_command)

# Rate limits (Flask-Limiter; in memory, or Redis when REDIS_URL is set). Sign-in failures slow strangers down without
# ever locking the owner out (README "Lockout design"): failures count per account and address, and per account
# across addresses, but only for browsers the account has not signed in with before; a known device (a signed cookie,
# see devices.py) only answers for its own failures. The windows are short, so a refusal means a wait of minutes.
LOGIN_PER_ADDRESS = "10 per minute"  # every sign-in post from one address, whatever the account
LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = "10 per hour"  # one address cannot use up the account's allowance
LOGIN_FAILURES_PER_ACCOUNT = "4 per 3 minutes"  # unknown devices, all addresses: at most 84 an hour (ASVS V2.2.1)
LOGIN_FAILURES_PER_KNOWN_DEVICE = "5 per minute;20 per hour"
REAUTH_FAILURES_PER_USER = "5 per minute"  # re-auth and password change, for a signed-in user
REGISTER_PER_ADDRESS = "5 per minute;30 per hour"
PHONE_CODES_PER_USER = "3 per 10 minutes;10 per day"  # texts cost money and can pester: few, whatever the number
RESET_PER_ADDRESS = "5 per minute"
RESET_PER_EMAIL = "3 per hour"  # nobody can flood someone's inbox with reset mails

# How long "keep me signed in" lasts; staff get a short one (their remembered sessions can touch stock and prices).
REMEMBER_CUSTOMER = dt.timedelta(days=30)
REMEMBER_STAFF = dt.timedelta(hours=12)


# --- Rate-limit helpers --------------------------------------------------------------------------------------------


def _limits_off() -> bool:
    """Per app, not per process: the limiter object is shared by every app built in this process (tests)."""
    return not current_app.config.get("RATELIMIT_ENABLED", True)


def _too_many_attempts() -> str:
    return _("Too many attempts. For your security, please wait a minute before trying again.")


def _too_many_failures_on_account() -> str:
    return _("Too many failed sign-ins on this account. Please wait a few minutes and try again; a device you have "
             "signed in with before is not held up.")


def _submitted_email() -> str:
    email = services.normalise_email(request.form.get("email", ""))
    return f"email:{email}" if email else f"address:{request.remote_addr}"


def _submitted_email_and_address() -> str:
    return f"{_submitted_email()}|address:{request.remote_addr}"


def _this_device() -> str:
    return f"device:{devices.known_device_id(request.form.get('email', ''))}"


def _from_known_device() -> bool:
    return _limits_off() or devices.known_device_id(request.form.get("email", "")) is not None


def _from_unknown_device() -> bool:
    return _limits_off() or devices.known_device_id(request.form.get("email", "")) is None


def _signed_in_user() -> str:
    return f"user:{current_user.get_id()}" if current_user.is_authenticated else f"address:{request.remote_addr}"


def _attempt_failed(_response: Response) -> bool:
    return bool(g.get("password_attempt_failed"))


def _limit(limit: str, **options: object):  # type: ignore[no-untyped-def]
    """limiter.limit on POST only, with the store's message and the per-app switch (`exempt_when` must include it)."""
    options.setdefault("exempt_when", _limits_off)
    options.setdefault("error_message", _too_many_attempts)
    return limiter.limit(limit, methods=["POST"], **options)  # type: ignore[arg-type]


# --- Session helpers -----------------------------------------------------------------------------------------------


# Preferences, not identity, that survive sign-in and sign-out: the language and the guided demo's position.
KEPT_ACROSS_SESSIONS = ("lang", "demo_tour")


def _clear_session() -> None:
    kept = {key: session[key] for key in KEPT_ACROSS_SESSIONS if key in session}
    session.clear()
    session.update(kept)


def _start_session(user: User, *, remember: bool) -> None:
    """A brand-new session for the signed-in user: nothing from before sign-in survives but the preferences."""
    _clear_session()
    duration = REMEMBER_STAFF if user.is_staff else REMEMBER_CUSTOMER
    login_user(user, remember=remember, duration=duration, fresh=True)
    mark_fresh_login(session)


def _end_session() -> None:
    _clear_session()
    logout_user()  # after the clear: it leaves the note that deletes the remember-me cookie


def _has_remember_cookie() -> bool:
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def _landing(user: User, next_url: str | None) -> str:
    if next_url and is_safe_next(next_url):
        return next_url
    if user.is_staff and "staff.dashboard" in current_app.view_functions:
        return url_for("staff.dashboard")
    return url_for("accounts.profile")


def _locale() -> str:
    return str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])


def _show_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal on the form (on its field when it names one); the user's input stays."""
    db.session.rollback()
    show_on_form(form, error)


def _note_failed_password_attempt() -> None:
    if request.method == "POST":
        g.password_attempt_failed = True


# --- Pages ---------------------------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
@_limit(LOGIN_PER_ADDRESS, exempt_when=_from_known_device)
@_limit(LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, key_func=_submitted_email_and_address, deduct_when=_attempt_failed,
        exempt_when=_from_known_device)
@_limit(LOGIN_FAILURES_PER_ACCOUNT, key_func=_submitted_email, deduct_when=_attempt_failed,
        exempt_when=_from_known_device, error_message=_too_many_failures_on_account)
@_limit(LOGIN_FAILURES_PER_KNOWN_DEVICE, key_func=_this_device, deduct_when=_attempt_failed,
        exempt_when=_from_unknown_device)
def login() -> ResponseReturnValue:
    form = LoginForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_landing(current_user, form.next.data))
    if form.validate_on_submit():
        try:
            user = services.authenticate(db.session, email=form.email.data, password=form.password.data)
            if not demo_access.may_sign_in(user.email):  # demo passwords are public: see storefront/demo/access.py
                raise DomainError(_("Email or password is incorrect."))
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            _start_session(user, remember=form.remember.data)
            response = redirect(_landing(user, form.next.data))
            devices.remember_device(response, user.email)
            return response
    _note_failed_password_attempt()
    return render_template("accounts/login.html", form=form)


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if current_user.is_authenticated:
        services.end_all_sessions(db.session, user=current_user._get_current_object())
        db.session.commit()
    _end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("catalog.home"))


@bp.route("/register", methods=["GET", "POST"])
@_limit(REGISTER_PER_ADDRESS)
def register() -> ResponseReturnValue:
    """Sign up: the account is made when the link mailed to the address is opened. A taken address answers
    exactly like a free one (its owner gets a mail instead), so the form reveals no accounts."""
    form = RegisterForm(next=request.args.get("next", ""))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("accounts.profile"))
    if form.validate_on_submit():
        try:
            services.register(db.session, email=form.email.data, password=form.password.data,
                              name=form.name.data or "", locale=_locale(), next_url=form.next.data or "")
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Almost done: we have emailed a link to %(email)s. Open it within %(hours)d hours to finish "
                    "creating your account.", email=services.normalise_email(form.email.data),
                    hours=services.REGISTRATION_HOURS), "info")
            return redirect(url_for("accounts.login"))
    return render_template("accounts/register.html", form=form)


@bp.route("/register/<token>", methods=["GET", "POST"])
def confirm_registration(token: str) -> ResponseReturnValue:
    """The link from the sign-up mail: shows the account it makes, and makes it on POST (mail scanners that
    open links change nothing), then signs the new shopper in."""
    form = ConfirmEmailForm()
    try:
        pending = services.registration_link(db.session, token=token)
    except DomainError as error:
        form.form_errors.append(error.user_message)
        return _private(render_template("accounts/register_confirm.html", form=form, pending=None), 400)
    if form.validate_on_submit():
        try:
            user = services.confirm_registration(db.session, token=token, locale=_locale())
        except DomainError as error:
            _show_error(form, error)
            return _private(render_template("accounts/register_confirm.html", form=form, pending=None), 409)
        db.session.commit()
        _start_session(user, remember=False)
        flash(_("Welcome to Flagship! Your account is ready."), "success")
        return redirect(_landing(user, pending.next_url))
    return _private(render_template("accounts/register_confirm.html", form=form, pending=pending))


class _ProfileForms(NamedTuple):
    """The forms of the profile page; the one whose endpoint was posted to is bound to the request."""

    details: ProfileForm
    password: ChangePasswordForm
    email: ChangeEmailForm
    phone: PhoneCodeForm


def _profile_forms() -> _ProfileForms:
    user = current_user
    profile_form = ProfileForm(
        formdata=request.form if request.endpoint == "accounts.profile" and request.method == "POST" else None,
        name=user.name, phone=user.phone, preferred_city=str(user.preferred_city_id or ""),
    )
    cities = db.session.scalars(select(City).order_by(City.sort_order, City.id)).all()
    profile_form.preferred_city.choices = [("", _("No preference"))] + [(str(c.id), localised(c, "name"))
                                                                       for c in cities]
    password_form = ChangePasswordForm(
        prefix="pw", formdata=request.form if request.endpoint == "accounts.change_password" else None
    )
    email_form = ChangeEmailForm(
        prefix="em", formdata=request.form if request.endpoint == "accounts.change_email" else None
    )
    phone_form = PhoneCodeForm(
        prefix="ph",
        formdata=request.form if request.endpoint in ("accounts.send_phone_code", "accounts.verify_phone") else None,
    )
    if not phone_form.next.data and is_safe_next(request.args.get("next", "")):
        phone_form.next.data = request.args.get("next", "")
    return _ProfileForms(profile_form, password_form, email_form, phone_form)


def _profile_page(forms: _ProfileForms, status: int = 200) -> ResponseReturnValue:
    page = render_template("accounts/profile.html", form=forms.details, password_form=forms.password,
                           email_form=forms.email, phone_form=forms.phone)
    return page, status


@bp.get("/")
@login_required
def hub_page() -> str:
    """我的: everything the member has going, newest first, with links to each full list and the profile."""
    user = current_user._get_current_object()
    city = db.session.get(City, user.preferred_city_id) if user.preferred_city_id else None
    return render_template("accounts/hub.html", hub=hub.overview(db.session, user=user), preferred_city=city)


@bp.route("/profile", methods=["GET", "POST"])
@login_required
def profile() -> ResponseReturnValue:
    forms = _profile_forms()
    form = forms.details
    if form.validate_on_submit():
        city_id = int(form.preferred_city.data) if form.preferred_city.data else None
        try:
            services.update_profile(db.session, user=current_user._get_current_object(), name=form.name.data or "",
                                    phone=form.phone.data or "", preferred_city_id=city_id)
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Your details have been saved."), "success")
            # On the way somewhere (a presale sent the shopper here): keep the way, it goes on after verifying.
            return redirect(url_for("accounts.profile", next=forms.phone.next.data or None))
    return _profile_page(forms)


@bp.post("/profile/phone/code")
@login_required
@_limit(PHONE_CODES_PER_USER, key_func=_signed_in_user)
def send_phone_code() -> ResponseReturnValue:
    """Text a code to the profile's mobile number. No SMS gateway is configured (storefront/sms.py): the demo store
    shows the code on the page instead, labelled as such."""
    forms = _profile_forms()
    if not forms.phone.validate_on_submit():
        return _profile_page(forms, 400)
    try:
        code = services.send_phone_code(db.session, user=current_user._get_current_object(), locale=_locale())
    except DomainError as error:
        _show_error(forms.phone, error)
        return _profile_page(forms, 409)
    db.session.commit()
    flash(_("We have texted a 6-digit code to %(phone)s. It works for %(minutes)s minutes.",
            phone=masked(current_user.phone), minutes=services.PHONE_CODE_MINUTES), "success")
    if current_app.config.get("ENV_NAME") != "production" or demo_access.presenter_unlocked():
        flash(_("Demo store: no text message is sent. Your code is %(code)s.", code=code), "info")
    return redirect(url_for("accounts.profile", next=forms.phone.next.data or None))  # the notes are on top


@bp.post("/profile/phone/verify")
@login_required
@_limit(REAUTH_FAILURES_PER_USER, key_func=_signed_in_user, deduct_when=_attempt_failed)
def verify_phone() -> ResponseReturnValue:
    forms = _profile_forms()
    form = forms.phone
    if form.validate_on_submit():
        problem = services.verify_phone(db.session, user=current_user._get_current_object(), code=form.code.data or "")
        db.session.commit()  # a wrong code uses up a try: keep the count
        if problem is None:
            flash(_("Your mobile number is verified."), "success")
            next_url = form.next.data or ""
            return redirect(next_url if is_safe_next(next_url) else url_for("accounts.profile"))
        form.code.errors = [problem]
    _note_failed_password_attempt()
    return _profile_page(forms, 422)


@bp.post("/password")
@login_required
@_limit(REAUTH_FAILURES_PER_USER, key_func=_signed_in_user, deduct_when=_attempt_failed)
def change_password() -> ResponseReturnValue:
    forms = _profile_forms()
    password_form = forms.password
    if password_form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(db.session, user=user, current_password=password_form.current_password.data,
                                     new_password=password_form.new_password.data, locale=_locale())
        except DomainError as error:
            _show_error(password_form, error)
        else:
            db.session.commit()
            _start_session(user, remember=_has_remember_cookie())  # this browser stays signed in, others are out
            flash(_("Your password has been changed. Any other device signed in to your account has been signed "
                    "out."), "success")
            return redirect(url_for("accounts.profile"))
    _note_failed_password_attempt()
    return _profile_page(forms)


@bp.post("/email")
@login_required
@_limit(REAUTH_FAILURES_PER_USER, key_func=_signed_in_user, deduct_when=_attempt_failed)
def change_email() -> ResponseReturnValue:
    """Ask to move the account to a new address: a link goes to that inbox; nothing changes until it is opened."""
    forms = _profile_forms()
    email_form = forms.email
    if email_form.validate_on_submit():
        try:
            token = services.request_email_change(
                db.session, user=current_user._get_current_object(), new_email=email_form.new_email.data,
                password=email_form.password.data, locale=_locale())
        except DomainError as error:
            _show_error(email_form, error)
        else:
            db.session.commit()
            flash(_("We have emailed a link to %(email)s. Open it within %(hours)d hours to start using that address; "
                    "until then you keep signing in with %(current)s.", email=token.new_email,
                    hours=services.EMAIL_CHANGE_HOURS, current=current_user.email), "info")
            return redirect(url_for("accounts.profile"))
    _note_failed_password_attempt()
    return _profile_page(forms)


@bp.route("/email/<token>", methods=["GET", "POST"])
def confirm_email(token: str) -> ResponseReturnValue:
    """The link from the new inbox: shows the change, and makes it on POST (no sign-in needed: the link is the
    proof of the new inbox, the password was given when the change was asked for)."""
    pending, problem = services.email_change_link(db.session, raw_token=token)
    if pending is None:
        return _private(render_template(
            "accounts/reset_invalid.html", message=problem, again_url=url_for("accounts.profile"),
            again_label=_("Go to my account")), 400)
    form = ConfirmEmailForm()
    if form.validate_on_submit():
        try:
            user = services.confirm_email_change(db.session, raw_token=token, locale=_locale())
        except DomainError as error:
            _show_error(form, error)
            return _private(render_template("accounts/email_confirm.html", form=form, pending=None), 409)
        db.session.commit()
        flash(_("Your email address is now %(email)s: use it to sign in.", email=user.email), "success")
        return redirect(url_for("accounts.profile" if current_user.is_authenticated else "accounts.login"))
    return _private(render_template("accounts/email_confirm.html", form=form, pending=pending))


@bp.route("/reauth", methods=["GET", "POST"])
@login_required
@_limit(REAUTH_FAILURES_PER_USER, key_func=_signed_in_user, deduct_when=_attempt_failed)
def reauth() -> ResponseReturnValue:
    """Type the password again before a sensitive change (see storefront.auth.fresh_login_required)."""
    form = ReauthForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            services.confirm_password(user=current_user, password=form.password.data)
        except DomainError as error:
            _show_error(form, error)
        else:
            mark_fresh_login(session)
            return redirect(_landing(current_user, form.next.data))
    _note_failed_password_attempt()
    return render_template("accounts/reauth.html", form=form,
                           minutes=int(FRESH_LOGIN_MAX_AGE.total_seconds() // 60))


@bp.route("/reset", methods=["GET", "POST"])
@_limit(RESET_PER_ADDRESS)
@_limit(RESET_PER_EMAIL, key_func=_submitted_email)
def reset_request() -> ResponseReturnValue:
    form = ResetRequestForm()
    if form.validate_on_submit():
        services.request_password_reset(db.session, email=form.email.data, locale=_locale())
        db.session.commit()
        # The same answer whether or not the account exists.
        flash(_("If an account exists for %(email)s, we have emailed it a link to choose a new password. The link "
                "works for %(minutes)d minutes.", email=form.email.data, minutes=services.RESET_LINK_MINUTES), "info")
        return redirect(url_for("accounts.login"))
    return render_template("accounts/reset_request.html", form=form, minutes=services.RESET_LINK_MINUTES)


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> ResponseReturnValue:
    problem = services.reset_link_problem(db.session, raw_token=token)
    if problem:
        return _private(render_template("accounts/reset_invalid.html", message=problem), 400)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(db.session, raw_token=token, new_password=form.password.data, locale=_locale())
        except DomainError as error:
            _show_error(form, error)
        else:
            db.session.commit()
            flash(_("Your password has been changed. Please sign in with your new password."), "success")
            return redirect(url_for("accounts.login"))
    return _private(render_template("accounts/reset_password.html", form=form, token=token))


def _private(body: str, status: int = 200) -> Response:
    """A page whose URL holds a secret: never cached, never sent on as a Referer."""
    response = current_app.make_response((body, status))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.app_errorhandler(CSRFError)
def csrf_refused(error: CSRFError) -> ResponseReturnValue:
    """Every form in the store: a POST without a valid token is refused with a page that says what to do."""
    return error_response(400, "csrf_failed", _("This form has expired or did not come from this site. Please go "
                                                 "back, reload the page and try again."))
