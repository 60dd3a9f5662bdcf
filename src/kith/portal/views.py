"""The customer portal's pages (thin: access, services, queries, templates).

Every page but the public ones (log in, sign up, verify, password reset) goes through
``portal_view``: a signed-in portal user, in their time zone, audit channel "portal".
Staff who open a portal page get a 404 (they have the staff UI); anonymous visitors are
sent to the portal's own log-in page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from kith.accounts import services as account_services
from kith.accounts.services import login_with_password
from kith.collab import access as collab_access
from kith.collab import queries as collab_queries
from kith.collab import services as collab_services
from kith.core import timezones
from kith.core.context import channel as audit_channel
from kith.core.errors import KithError, NotFound, Throttled, ValidationFailed
from kith.insights import referrals
from kith.service import access as service_access
from kith.service import services as service_services
from kith.service.models import Attachment, CsatResponse, Status

from . import queries


def portal_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Wrap a portal page: a signed-in customer, their time zone, the "portal" channel."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            login_url = reverse("portal:login")
            if getattr(request, "htmx", False):
                page = request.htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(page, login_url).url)
            return redirect_to_login(request.get_full_path(), login_url)
        if not getattr(request.user, "is_portal", False) or not request.user.is_active:
            raise NotFound("Not found.")
        with audit_channel("portal"), timezone.override(timezones.of_user(request.user)):
            return view(request, *args, **kwargs)

    return wrapper


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("portal:home")


# ---------------------------------------------------------------- home


@portal_view
def home(request: HttpRequest) -> HttpResponse:
    user = request.user
    return render(
        request,
        "portal/home.html",
        {
            "nav": "home",
            "cases": queries.my_cases(user, limit=5),
            "notifications": queries.my_notifications(user, limit=5),
        },
    )


# ---------------------------------------------------------------- log in / out


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    """The portal's log-in form (by e-mail), sharing the staff login's throttle."""
    if request.user.is_authenticated and request.method == "GET":
        if getattr(request.user, "is_portal", False):
            return redirect(_safe_next(request))
        return redirect("home")
    context = {"next": _safe_next(request), "email": "", "error": "", "locked": False, "nav": ""}
    status = 200
    if request.method == "POST":
        email = request.POST.get("email", "").strip()
        context["email"] = email
        try:
            # Customers' user names are their sign-up address, lower-cased.
            username = email.casefold() if "@" in email else email
            user = login_with_password(
                request,
                username=username,
                password=request.POST.get("password", ""),
                ip=client_ip(request),
            )
        except Throttled as exc:
            context.update(error=exc.message, locked=True)
            status = exc.status
        except ValidationFailed as exc:
            context["error"] = "Wrong e-mail or password."
            status = exc.status
        else:
            auth_login(request, user)
            if not user.is_portal:
                return redirect("home")
            return redirect(_safe_next(request))
    return render(request, "portal/login.html", context, status=status)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    auth_logout(request)
    return redirect("portal:login")


def _errors(exc: KithError) -> dict[str, str]:
    """Field → message, for showing errors beside the form fields."""
    out: dict[str, str] = {}
    for err in exc.errors:
        out.setdefault(err.field, err.message)
    return out


# ---------------------------------------------------------------- sign-up and verification


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    """Sign up: the same "check your e-mail" answer whether or not the address is known."""
    if request.user.is_authenticated:
        return redirect("portal:home")
    # A referral code: typed, or from a referral link (?ref= or remembered in the session).
    if request.method == "POST":
        code = request.POST.get("referral_code", "")
    else:
        code = request.GET.get("ref") or request.session.get("referral_code", "")
    form = {
        "email": request.POST.get("email", "").strip(),
        "given_name": request.POST.get("given_name", "").strip(),
        "family_name": request.POST.get("family_name", "").strip(),
        "referral_code": str(code).strip()[:40],
    }
    context = {"form": form, "errors": {}, "error": ""}
    status = 200
    if request.method == "POST":
        try:
            fields = {
                "email": form["email"],
                "password": request.POST.get("password", ""),
                "given_name": form["given_name"],
                "family_name": form["family_name"],
                "ip": client_ip(request),
            }
            if form["referral_code"]:
                referrals.signup_with_code(referral_code=form["referral_code"], **fields)
            else:
                account_services.request_signup(**fields)
        except Throttled as exc:
            context["error"] = exc.message
            status = exc.status
        except ValidationFailed as exc:
            context["errors"] = _errors(exc)
            status = exc.status
        else:
            return render(request, "portal/check_email.html", {"email": form["email"]})
    return render(request, "portal/signup.html", context, status=status)


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, token: str) -> HttpResponse:
    """The link from the verification e-mail: a button (POST), so mail scanners that
    open links do not spend it; then the new customer is logged in."""
    if request.method == "GET":
        return render(request, "portal/verify.html", {"token": token})
    try:
        user = account_services.verify_signup(token=token)
    except KithError as exc:
        return render(
            request, "portal/verify.html", {"token": "", "error": exc.message}, status=exc.status
        )
    referrals.claim_pending(user=user)  # signed up through a referral code: record it
    auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(request, "Your e-mail address is confirmed. Welcome!")
    return redirect("portal:home")


# ---------------------------------------------------------------- password reset


@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    context = {"email": request.POST.get("email", "").strip(), "errors": {}, "error": ""}
    status = 200
    if request.method == "POST":
        try:
            account_services.request_password_reset(email=context["email"], ip=client_ip(request))
        except Throttled as exc:
            context["error"] = exc.message
            status = exc.status
        except ValidationFailed as exc:
            context["errors"] = _errors(exc)
            status = exc.status
        else:
            return render(
                request, "portal/check_email.html", {"email": context["email"], "reset": True}
            )
    return render(request, "portal/password_reset.html", context, status=status)


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    try:
        account_services.user_for_reset_link(uidb64, token)
    except NotFound as exc:
        return render(
            request, "portal/password_reset_confirm.html", {"invalid": exc.message}, status=404
        )
    context = {"errors": {}}
    status = 200
    if request.method == "POST":
        try:
            account_services.reset_password(
                uidb64=uidb64, token=token, password=request.POST.get("password", "")
            )
        except ValidationFailed as exc:
            context["errors"] = _errors(exc)
            status = exc.status
        else:
            messages.success(request, "Your password is changed. Log in with the new one.")
            return redirect("portal:login")
    return render(request, "portal/password_reset_confirm.html", context, status=status)


# ---------------------------------------------------------------- profile


@portal_view
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    person = user.person
    form = {
        "given_name": request.POST.get("given_name", person.given_name),
        "family_name": request.POST.get("family_name", person.family_name),
        "locale": request.POST.get("locale", person.locale),
        "timezone": request.POST.get("timezone", user.timezone),
    }
    context = {
        "nav": "profile",
        "form": form,
        "errors": {},
        "contact_email": queries.contact_email(user),
    }
    status = 200
    if request.method == "POST":
        try:
            account_services.update_portal_profile(
                actor=user,
                given_name=form["given_name"],
                family_name=form["family_name"],
                locale=form["locale"],
                timezone_name=form["timezone"],
            )
        except ValidationFailed as exc:
            context["errors"] = _errors(exc)
            status = exc.status
        else:
            messages.success(request, "Profile saved.")
            return redirect("portal:profile")
    context["timezones"] = timezones.choices()
    return render(request, "portal/profile.html", context, status=status)


@portal_view
@require_POST
def change_email(request: HttpRequest) -> HttpResponse:
    try:
        account_services.request_email_change(
            actor=request.user, email=request.POST.get("email", ""), ip=client_ip(request)
        )
    except KithError as exc:
        messages.error(request, exc.errors[0].message if exc.errors else exc.message)
    else:
        messages.success(request, "We sent a confirmation link to the new address.")
    return redirect("portal:profile")


@portal_view
@require_http_methods(["GET", "POST"])
def confirm_email(request: HttpRequest, token: str) -> HttpResponse:
    if request.method == "GET":
        return render(request, "portal/confirm_email.html", {"nav": "profile", "token": token})
    account_services.confirm_email_change(actor=request.user, token=token)
    messages.success(request, "Your contact e-mail is changed.")
    return redirect("portal:profile")


# ---------------------------------------------------------------- my cases


@portal_view
@require_GET
def cases(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    return render(
        request,
        "portal/cases.html",
        {"nav": "cases", "cases": queries.my_cases(request.user, status=status), "status": status},
    )


@portal_view
@require_http_methods(["GET", "POST"])
def new_case(request: HttpRequest) -> HttpResponse:
    """Open a case in two steps: the subject first, then community answers that may
    already solve it (the deflection step), then the full form."""
    user = request.user
    source = request.POST if request.method == "POST" else request.GET
    # Not cut short: an over-long subject is an error naming the field, not silently trimmed.
    subject = " ".join(source.get("subject", "")[:2000].split())
    context = {
        "nav": "cases",
        "subject": subject,
        "body": request.POST.get("body", ""),
        "errors": {},
        "deflection": source.get("deflection", ""),
        "suggestions": [],
        "max_bytes": service_services.max_customer_file_bytes(),
        "max_files": service_services.MAX_CUSTOMER_FILES,
    }
    status = 200
    if request.method == "POST":
        try:
            case = service_services.open_case_as_customer(
                actor=user,
                subject=subject,
                body=context["body"],
                files=request.FILES.getlist("files"),
                deflection_id=context["deflection"] or None,
            )
        except ValidationFailed as exc:
            context["errors"] = _errors(exc)
            status = exc.status
        else:
            messages.success(request, f"Your case {case.token} is open. We will answer soon.")
            return redirect("portal:case", public_id=case.public_id)
    elif subject:
        suggestions = queries.suggested_answers(user, subject)
        if suggestions:
            shown = service_services.record_deflection_shown(
                actor=user, subject=subject, suggestions=suggestions
            )
            context["deflection"] = str(shown.public_id)
            context["suggestions"] = shown.suggested
    context["step"] = 2 if subject or request.method == "POST" else 1
    return render(request, "portal/new_case.html", context, status=status)


@portal_view
@require_GET
def deflection_view(request: HttpRequest, public_id, topic: str) -> HttpResponse:
    """A suggested answer, opened from the deflection step: counted (and put on the
    customer's timeline), then shown here with "solved" and "still need help"."""
    chosen = service_services.record_deflection_view(
        actor=request.user, deflection_id=public_id, topic_id=topic
    )
    row, question, answer = queries.suggested_answer(request.user, chosen["id"])
    return render(
        request,
        "portal/suggested_answer.html",
        {
            "nav": "cases",
            "deflection": public_id,
            "topic": row,
            "question": question,
            "answer": answer,
            "community_url": chosen["url"],
            "subject": chosen["subject"],
        },
    )


@portal_view
@require_POST
def deflection_solved(request: HttpRequest, public_id) -> HttpResponse:
    service_services.confirm_deflection(actor=request.user, deflection_id=public_id)
    messages.success(request, "Glad that helped! No case was opened.")
    return redirect("portal:cases")


def _case_context(request: HttpRequest, case) -> dict:
    user = request.user
    thread = list(
        service_access.customer_messages(user, case)
        .select_related("author")
        .prefetch_related("attachments")
        .order_by("occurred_at", "id")
    )
    rated = CsatResponse.objects.filter(case=case).first()
    return {
        "nav": "cases",
        "case": case,
        "thread": thread,
        "is_requester": case.requester_id == user.person_id,
        "can_close": case.status != Status.CLOSED,
        "can_rate": case.requester_id == user.person_id
        and case.status in (Status.RESOLVED, Status.CLOSED)
        and rated is None,
        "rating": rated,
        "max_bytes": service_services.max_customer_file_bytes(),
        "max_files": service_services.MAX_CUSTOMER_FILES,
        "errors": {},
    }


@portal_view
@require_GET
def case_detail(request: HttpRequest, public_id) -> HttpResponse:
    case = service_access.get_customer_case(request.user, public_id)
    return render(request, "portal/case.html", _case_context(request, case))


@portal_view
@require_GET
def case_thread(request: HttpRequest, public_id) -> HttpResponse:
    """The conversation alone, re-fetched by portal.js when a notification arrives (a
    staff reply notifies the customer), so an open case page shows replies live."""
    case = service_access.get_customer_case(request.user, public_id)
    return render(request, "portal/_thread.html", _case_context(request, case))


@portal_view
@require_POST
def case_reply(request: HttpRequest, public_id) -> HttpResponse:
    case = service_access.get_customer_case(request.user, public_id)
    try:
        service_services.reply_as_customer(
            actor=request.user,
            case=case,
            body=request.POST.get("body", ""),
            files=request.FILES.getlist("files"),
        )
    except ValidationFailed as exc:
        context = _case_context(request, case)
        context.update(errors=_errors(exc), body=request.POST.get("body", ""))
        return render(request, "portal/case.html", context, status=exc.status)
    messages.success(request, "Your message is sent.")
    return redirect("portal:case", public_id=case.public_id)


@portal_view
@require_POST
def case_close(request: HttpRequest, public_id) -> HttpResponse:
    case = service_access.get_customer_case(request.user, public_id)
    service_services.close_as_customer(actor=request.user, case=case)
    messages.success(request, "The case is closed. Thank you!")
    return redirect("portal:case", public_id=case.public_id)


@portal_view
@require_POST
def case_rate(request: HttpRequest, public_id) -> HttpResponse:
    case = service_access.get_customer_case(request.user, public_id)
    try:
        service_services.rate_as_customer(
            actor=request.user,
            case=case,
            rating=request.POST.get("rating", ""),
            comment=request.POST.get("comment", ""),
        )
    except ValidationFailed as exc:
        context = _case_context(request, case)
        context["errors"] = _errors(exc)
        return render(request, "portal/case.html", context, status=exc.status)
    messages.success(request, "Thank you for your rating!")
    return redirect("portal:case", public_id=case.public_id)


@portal_view
@require_GET
def case_attachment(request: HttpRequest, public_id) -> HttpResponse:
    """A file of a public message of a case the customer may see; internal notes' files
    are as invisible as the notes."""
    row = Attachment.objects.select_related("message__case").filter(public_id=public_id).first()
    if row is None or not row.message.is_public:
        raise NotFound("No such file.")
    service_access.get_customer_case(request.user, row.message.case.public_id)
    return FileResponse(
        row.file.open("rb"),
        as_attachment=True,
        filename=row.filename,
        content_type="application/octet-stream",
    )


# ---------------------------------------------------------------- groups and notifications


@portal_view
@require_GET
def groups(request: HttpRequest) -> HttpResponse:
    return render(
        request, "portal/groups.html", {"nav": "groups", "groups": queries.my_groups(request.user)}
    )


@portal_view
@require_GET
def group(request: HttpRequest, public_id) -> HttpResponse:
    row = collab_access.get_group(request.user, public_id)
    page = collab_queries.record_feed(request.user, row, cursor=request.GET.get("cursor"), limit=20)
    return render(
        request,
        "portal/group.html",
        {
            "nav": "groups",
            "group": row,
            "posts": page.items,
            "next_cursor": page.next_cursor,
            "is_member": collab_access.is_member(request.user, row),
        },
    )


@portal_view
@require_POST
def group_post(request: HttpRequest, public_id) -> HttpResponse:
    """Write in a group the customer belongs to (kith.collab decides who may)."""
    row = collab_access.get_group(request.user, public_id)
    try:
        collab_services.create_post(
            actor=request.user, target=row, body=request.POST.get("body", "")
        )
    except ValidationFailed as exc:
        messages.error(request, exc.errors[0].message if exc.errors else exc.message)
    else:
        messages.success(request, "Posted.")
    return redirect("portal:group", public_id=row.public_id)


@portal_view
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        ids = request.POST.getlist("id") or None
        collab_services.mark_read(actor=request.user, ids=ids)
        return redirect("portal:notifications")
    return render(
        request,
        "portal/notifications.html",
        {"nav": "notifications", "items": queries.my_notifications(request.user, limit=50)},
    )


@portal_view
@require_GET
def notifications_list(request: HttpRequest) -> HttpResponse:
    """The list alone, re-fetched by portal.js when the event stream says something new."""
    try:
        limit = max(1, min(50, int(request.GET.get("limit", 50))))
    except ValueError:
        limit = 50
    return render(
        request,
        "portal/_notifications.html",
        {"items": queries.my_notifications(request.user, limit=limit)},
    )
